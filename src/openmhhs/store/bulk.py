"""Fast bulk inserts: driver-level ``executemany`` on SQLite, ``COPY`` on PostgreSQL.

SQLAlchemy's generic executemany builds a parameter dictionary per row; for hundreds of
thousands of rows that costs more than the database's own work. Here each column's bind
processor (e.g. ``UtcDateTime``) is applied once per value and rows go to the driver as
tuples, inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

__all__ = ["insert_rows"]


def insert_rows(
    connection: Connection, table: sa.Table, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> int:
    """Insert ``rows`` (tuples in ``columns`` order); returns how many were written."""
    dialect = connection.dialect
    processors = [table.c[name].type.bind_processor(dialect) for name in columns]
    names = ", ".join(columns)
    if dialect.name == "postgresql":
        raw = connection.connection.driver_connection
        assert raw is not None
        count = 0
        with raw.cursor() as cursor, cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(
                    [value if p is None else p(value) for p, value in zip(processors, row, strict=True)]
                )
                count += 1
        return count
    processed = [
        tuple(value if p is None else p(value) for p, value in zip(processors, row, strict=True))
        for row in rows
    ]
    if processed:
        marks = ", ".join("?" for _ in columns)
        connection.exec_driver_sql(f"INSERT INTO {table.name} ({names}) VALUES ({marks})", processed)
    return len(processed)
