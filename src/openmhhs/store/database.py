"""Opening the database named by ``OPENMHHS_DB`` and keeping its schema current.

``OPENMHHS_DB`` is ``sqlite:////absolute/path.db`` or a ``postgresql://`` URL; unset, an
SQLite file under the user's data directory is used (its folder is made). Commands create or
upgrade the schema on first use (Alembic migrations in ``store/migrations``). A URL that is
not one of these, an SQLite file in a folder that does not exist (never made for you), or a
database that cannot be reached is a coded error (OMH0404, OMH0405), never a traceback.
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

__all__ = [
    "Database",
    "DatabaseUnavailable",
    "DatabaseUnreachable",
    "DatabaseUrlInvalid",
    "default_url",
    "normalise_url",
    "shown_url",
]

ENV_VAR = "OPENMHHS_DB"


class DatabaseUrlInvalid(CodedError):
    code = ResponseCode.OMH0404
    rule = "store.database.url_valid"


class DatabaseUnreachable(CodedError):
    code = ResponseCode.OMH0405
    rule = "store.database.reachable"


_USAGE = "OPENMHHS_DB must be sqlite:////absolute/path.db or postgresql://user:password@host/name"


def default_url() -> str:
    """``OPENMHHS_DB`` if set, else ``openmhhs.db`` under the user's data directory."""
    configured = os.environ.get(ENV_VAR, "").strip()
    if configured:
        return configured
    return f"sqlite:///{_default_file()}"


def _default_file() -> Path:
    return Path(user_data_dir("openmhhs", appauthor=False)) / "openmhhs.db"


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
        parsed = _parse(self.url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        kwargs: dict[str, Any] = {"echo": echo, "future": True}
        if self.is_sqlite:
            path = parsed.database or ""
            if path and path != ":memory:" and not path.startswith("file:"):
                _sqlite_folder(Path(path), make=Path(path) == _default_file())
                with _coded_failures():
                    _create_private(Path(path))
        else:
            kwargs["pool_pre_ping"] = True
        try:
            self.engine: Engine = sa.create_engine(self.url, **kwargs)
        except (ImportError, sa.exc.ArgumentError) as exc:
            raise DatabaseUrlInvalid(f"{_shown(self.url)}: {exc}. {_USAGE}") from None
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

        try:
            upgrade(self.engine)
        except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
            reason = str(exc.orig or exc).strip().splitlines()[0]
            raise DatabaseUnreachable(f"cannot open {_shown(self.url)}: {reason}") from None
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
    def connect(self) -> Iterator[Connection]:
        """A connection whose transactions the caller begins and ends (a unit of work owns
        it); failures of the database raise ``DatabaseUnavailable`` as in ``begin``."""
        with _coded_failures():
            self.migrate()
            with self.engine.connect() as connection:
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


def _parse(url: str) -> sa.URL:
    """The URL, if it names a database openmhhs runs on (SQLite or PostgreSQL)."""
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError:
        raise DatabaseUrlInvalid(f"{url!r} is not a database URL. {_USAGE}") from None
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise DatabaseUrlInvalid(
            f"{_shown(url)}: openmhhs runs on SQLite or PostgreSQL, not {parsed.get_backend_name()}. {_USAGE}"
        )
    return parsed


def _sqlite_folder(path: Path, *, make: bool) -> None:
    """The default location's folder is made; a folder the user named must already exist."""
    folder = path.parent
    if make:
        folder.mkdir(parents=True, exist_ok=True)
    elif not folder.is_dir():
        raise DatabaseUrlInvalid(f"the folder {folder} for the SQLite database {path.name} does not exist")


def shown_url(url: str) -> str:
    """The URL without its password, for messages."""
    return _shown(url)


def _shown(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return url


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
