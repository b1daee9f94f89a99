"""Storage adapters: the embedded SQLite default and PostgreSQL, schema by migrations."""
