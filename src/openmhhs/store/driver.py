"""The per-message lane's hot statements, run on the driver's own cursor inside the caller's
SQLAlchemy transaction (and savepoints): SQLAlchemy's per-call work (compiling, building
parameter dictionaries, result proxies) would cost more than the database's own work, as it
does for the point query (``store.queries.ServedOn``).

A :class:`Statement` is written once for both databases, with ``?`` for each parameter
(psycopg's ``%s`` on PostgreSQL, where each statement is prepared on the server). Each bound
value is converted by the type of the column it is bound to, and each value read by the type
of the column it is read from, as SQLAlchemy converts them: the same rows are written and read
as through SQLAlchemy (e.g. ``UtcDateTime``, a compressed message body, a date on SQLite).
A driver's error is raised as SQLAlchemy's (``OperationalError``, ``IntegrityError``, …), so
that callers tell a failing database from a failing message as before.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Dialect

from openmhhs.store.types import UtcDateTime

__all__ = ["Driver", "Statement"]

_Process = Callable[[Any], Any]


class Statement:
    """One SQL statement: ``binds``, the column each ``?`` is bound to (in order); ``results``,
    the column each selected value is read from (in order)."""

    __slots__ = ("binds", "results", "sql")

    def __init__(
        self,
        sql: str,
        *,
        binds: Sequence[sa.ColumnElement[Any]] = (),
        results: Sequence[sa.ColumnElement[Any]] = (),
    ) -> None:
        if sql.count("?") != len(binds):
            raise ValueError(f"{len(binds)} binds for {sql.count('?')} parameters: {sql}")
        self.sql = " ".join(sql.split())
        self.binds = tuple(binds)
        self.results = tuple(results)


def _sqlite_day(processors: tuple[_Process, _Process]) -> tuple[_Process, _Process]:
    """A DATE column on SQLite: ISO text both ways (what SQLAlchemy writes), anything else left
    to SQLAlchemy's own ``processors``."""
    bind, read = processors

    def bound(value: Any) -> Any:
        return value.isoformat() if type(value) is date else bind(value)

    def parsed(value: Any) -> Any:
        try:
            return None if value is None else date.fromisoformat(value)
        except (TypeError, ValueError):
            return read(value)

    return bound, parsed


def _sqlite_moment(processors: tuple[_Process, _Process]) -> tuple[_Process, _Process]:
    """A ``UtcDateTime`` column on SQLite: ``YYYY-MM-DD hh:mm:ss.ffffff`` UTC text both ways."""
    bind, read = processors

    def bound(value: Any) -> Any:
        if type(value) is not datetime or value.tzinfo is None:
            return bind(value)  # refused there, as ever
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")

    def parsed(value: Any) -> Any:
        try:
            return None if value is None else datetime.fromisoformat(value).replace(tzinfo=UTC)
        except (TypeError, ValueError):
            return read(value)

    return bound, parsed


def _processors(column: sa.ColumnElement[Any], dialect: Dialect) -> tuple[_Process | None, _Process | None]:
    """How a value bound to ``column`` is converted for the driver, and a value read from it
    converted back: its type's own processors, except on SQLite for dates and ``UtcDateTime``
    instants, whose text the standard library's ISO functions write and read exactly as
    SQLAlchemy's patterns do, in a fraction of the time."""
    kind = column.type
    impl = kind.dialect_impl(dialect)
    bind, read = impl.bind_processor(dialect), impl.result_processor(dialect, None)
    if dialect.name == "sqlite" and bind is not None and read is not None:
        if isinstance(kind, UtcDateTime):
            return _sqlite_moment((bind, read))
        if type(kind) is sa.Date:
            return _sqlite_day((bind, read))
    return bind, read


class _Ready:
    """A statement made ready for one dialect: its SQL and the processors its values need."""

    __slots__ = ("binds", "results", "sql")

    def __init__(self, statement: Statement, dialect: Dialect) -> None:
        self.sql = statement.sql if dialect.name == "sqlite" else statement.sql.replace("?", "%s")
        self.binds: tuple[tuple[int, _Process], ...] = tuple(
            (n, p) for n, c in enumerate(statement.binds) if (p := _processors(c, dialect)[0]) is not None
        )
        self.results: tuple[tuple[int, _Process], ...] = tuple(
            (n, p) for n, c in enumerate(statement.results) if (p := _processors(c, dialect)[1]) is not None
        )

    def bound(self, params: Sequence[Any]) -> Sequence[Any]:
        if not self.binds:
            return params
        converted = list(params)
        for n, process in self.binds:
            value = converted[n]
            if value is not None:
                converted[n] = process(value)
        return converted

    def read(self, row: Sequence[Any]) -> tuple[Any, ...]:
        if not self.results:
            return tuple(row)
        converted = list(row)
        for n, process in self.results:
            converted[n] = process(converted[n])
        return tuple(converted)


class Driver:
    """Statements on one SQLAlchemy connection's driver cursor, in its current transaction."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._dialect = connection.dialect
        self._postgresql = self._dialect.name == "postgresql"
        self._error: type[Exception] = self._dialect.loaded_dbapi.Error
        self._ready: dict[Statement, _Ready] = {}
        self._dbapi: Any = None
        self._cursor: Any = None

    def _prepared(self, statement: Statement) -> _Ready:
        ready = self._ready.get(statement)
        if ready is None:
            ready = self._ready[statement] = _Ready(statement, self._dialect)
        return ready

    def _current_cursor(self) -> Any:
        dbapi: Any = self._connection.connection.dbapi_connection
        if dbapi is not self._dbapi:  # first use, or SQLAlchemy reconnected
            self._dbapi, self._cursor = dbapi, dbapi.cursor()
        return self._cursor

    def _run(self, ready: _Ready, params: Sequence[Any]) -> Any:
        cursor = self._current_cursor()
        bound = ready.bound(params)
        try:
            if self._postgresql:
                cursor.execute(ready.sql, bound, prepare=True)
            else:
                cursor.execute(ready.sql, bound)
        except self._error as exc:
            raise sa.exc.DBAPIError.instance(
                ready.sql, bound, exc, self._error, dialect=self._dialect
            ) from exc
        return cursor

    def execute(self, statement: Statement, params: Sequence[Any] = ()) -> int:
        """Run a statement that returns no rows; how many rows it changed."""
        return int(self._run(self._prepared(statement), params).rowcount)

    def executemany(self, statement: Statement, rows: Iterable[Sequence[Any]]) -> int:
        """Run a statement once per row of parameters, in one call to the driver; how many
        rows it changed in all."""
        ready = self._prepared(statement)
        bound = [ready.bound(row) for row in rows]
        if not bound:
            return 0
        cursor = self._current_cursor()
        try:
            cursor.executemany(ready.sql, bound)
        except self._error as exc:
            raise sa.exc.DBAPIError.instance(
                ready.sql, bound, exc, self._error, dialect=self._dialect, ismulti=True
            ) from exc
        return int(cursor.rowcount)

    def all(self, statement: Statement, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Every row the statement selects, each value read as its column's type reads it."""
        ready = self._prepared(statement)
        rows = self._run(ready, params).fetchall()
        return [ready.read(row) for row in rows] if ready.results else [tuple(r) for r in rows]

    def first(self, statement: Statement, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        """The first row the statement selects (the rest are not read), or None."""
        found = self.all(statement, params)
        return found[0] if found else None
