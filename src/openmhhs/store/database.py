"""Opening the database named by ``OPENMHHS_DB`` and keeping its schema current.

``OPENMHHS_DB`` is ``sqlite:////absolute/path.db`` or a ``postgresql://`` URL; unset, an
SQLite file under the user's data directory is used. Commands create or upgrade the
schema on first use (Alembic migrations in ``store/migrations``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from platformdirs import user_data_dir
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from openmhhs.codes import CodedError, ResponseCode

__all__ = ["Database", "DatabaseUnavailable", "default_url", "normalise_url"]

ENV_VAR = "OPENMHHS_DB"


def default_url() -> str:
    """``OPENMHHS_DB`` if set, else ``openmhhs.db`` under the user's data directory."""
    configured = os.environ.get(ENV_VAR, "").strip()
    if configured:
        return configured
    folder = Path(user_data_dir("openmhhs", appauthor=False))
    return f"sqlite:///{folder / 'openmhhs.db'}"


def normalise_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL whatever spelling the user gave."""
    for prefix in ("postgresql://", "postgres://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


class Database:
    """One database: its engine, its dialect, and transactions on it."""

    def __init__(self, url: str | None = None, *, echo: bool = False) -> None:
        self.url = normalise_url(url or default_url())
        self.is_sqlite = self.url.startswith("sqlite")
        kwargs: dict[str, Any] = {"echo": echo, "future": True}
        if self.is_sqlite:
            path = self.url.split("///", 1)[-1]
            if path and path != ":memory:" and not path.startswith("file:"):
                with _coded_failures():
                    _create_private(Path(path))
        else:
            kwargs["pool_pre_ping"] = True
        self.engine: Engine = sa.create_engine(self.url, **kwargs)
        if self.is_sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
            # SQLite's driver opens transactions lazily; begin explicitly so that a unit
            # of work really is atomic (pysqlite's documented recipe).
            event.listen(self.engine, "connect", _disable_pysqlite_begin)
            event.listen(self.engine, "begin", _emit_begin)
        self._migrated = False

    @property
    def backend(self) -> str:
        return "sqlite" if self.is_sqlite else "postgresql"

    def migrate(self) -> None:
        """Bring the schema to the newest migration (idempotent)."""
        if self._migrated:
            return
        from openmhhs.store.migrate import upgrade  # noqa: PLC0415 - alembic is slow to import

        upgrade(self.engine)
        self._migrated = True

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A transaction: committed when the block ends, rolled back if it raises. A
        database that cannot be written or reached raises ``DatabaseUnavailable`` (OMH0801),
        after the rollback: nothing of the transaction is kept."""
        with _coded_failures():
            self.migrate()
            with self.engine.begin() as connection:
                yield connection

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction. On SQLite it does not take the write lock (a deferred
        BEGIN), so that services polling for work do not queue behind writers."""
        with _coded_failures():
            self.migrate()
            with (
                self.engine.connect().execution_options(openmhhs_read=True) as connection,
                connection.begin(),
            ):
                yield connection

    def dispose(self) -> None:
        self.engine.dispose()


class DatabaseUnavailable(CodedError):
    """The database refused a write or could not be reached (read-only, full, down)."""

    code = ResponseCode.OMH0801
    rule = "store.database.writable"


@contextmanager
def _coded_failures() -> Iterator[None]:
    try:
        yield
    except sa.exc.OperationalError as exc:
        said = str(exc.orig if exc.orig is not None else exc).strip()
        reason = said.splitlines()[0] if said else type(exc).__name__
        raise DatabaseUnavailable(f"the database cannot be used: {reason}") from None
    except OSError as exc:
        raise DatabaseUnavailable(f"the database cannot be used: {exc.strerror or exc}") from None


def _create_private(path: Path) -> None:
    """Create the SQLite file owner-only (0600) before SQLite would create it world-readable;
    never through a link planted at its place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() or path.is_symlink():
        return
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        os.close(os.open(path, flags, 0o600))
    except FileExistsError:
        return  # another process created it first


def _disable_pysqlite_begin(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None


def _emit_begin(connection: Connection) -> None:
    read = connection.get_execution_options().get("openmhhs_read", False)
    connection.exec_driver_sql("BEGIN" if read else "BEGIN IMMEDIATE")
