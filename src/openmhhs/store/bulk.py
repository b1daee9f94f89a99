"""Fast bulk inserts: driver-level ``executemany`` on SQLite, ``COPY`` on PostgreSQL.

SQLAlchemy's generic executemany builds a parameter dictionary per row; for hundreds of
thousands of rows that costs more than the database's own work. Here each column's bind
processor (e.g. ``UtcDateTime``) is applied once per value and rows go to the driver as
tuples, inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Dialect

__all__ = ["COPY_THRESHOLD", "bulk_insert", "insert_rows", "stored_rows"]

COPY_THRESHOLD = 500
"""Rows from which :func:`bulk_insert` takes the fast path (below it, INSERT is as quick)."""


def _converted(values: Iterable[Any], process: Callable[[Any], Any]) -> list[Any]:
    """One column's values through its bind processor; a value equal to the one before reuses
    its answer (bulk rows repeat most of their processed values: every row of a chunk written
    at one instant, to one recipient …); ``None`` stays ``None``."""
    out: list[Any] = []
    append = out.append
    last: Any = _NOTHING
    answer: Any = None
    for value in values:
        if value is None:
            append(None)
        elif value is last or value == last:
            append(answer)
        else:
            last, answer = value, process(value)
            append(answer)
    return out


_NOTHING = object()


def stored_rows(
    dialect: Dialect, table: sa.Table, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> list[tuple[Any, ...]]:
    """``rows`` (in ``columns`` order) as the database stores them: each column's bind
    processor (e.g. ``UtcDateTime``, a compressed body) applied, a column at a time. Pure CPU:
    a writer does it before it takes the write lock."""
    # the dialect's own implementation of each type (e.g. SQLite's DATETIME, which writes the
    # text SQLAlchemy writes everywhere else), not the generic type's
    processors = [table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in columns]
    given: list[Sequence[Any]] = rows if isinstance(rows, list) else list(rows)
    if not given:
        return []
    if all(p is None for p in processors):
        return [row if row.__class__ is tuple else tuple(row) for row in given]
    by_column: list[Any] = list(zip(*given, strict=True))
    for n, process in enumerate(processors):
        if process is not None:
            by_column[n] = _converted(by_column[n], process)
    return list(zip(*by_column, strict=True))


def insert_rows(
    connection: Connection,
    table: sa.Table,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    stored: bool = False,
) -> int:
    """Insert ``rows`` (tuples in ``columns`` order); returns how many were written. The
    columns whose type has a bind processor are converted (``stored_rows``) unless ``stored``
    says the rows already are."""
    if stored:
        processed = rows if isinstance(rows, list) else list(rows)
    else:
        processed = stored_rows(connection.dialect, table, columns, rows)
    if not processed:
        return 0
    dialect = connection.dialect
    names = ", ".join(columns)
    if dialect.name == "postgresql":
        raw: Any = connection.connection.driver_connection
        with raw.cursor() as cursor, cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
            for values in processed:
                copy.write_row(values)
        return len(processed)
    marks = ", ".join("?" for _ in columns)
    connection.exec_driver_sql(f"INSERT INTO {table.name} ({names}) VALUES ({marks})", processed)
    return len(processed)


def bulk_insert(connection: Connection, table: sa.Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``rows`` (dictionaries with the same keys): ``COPY`` on PostgreSQL and the driver's
    executemany on SQLite from :data:`COPY_THRESHOLD` rows, SQLAlchemy's INSERT below it."""
    if not rows:
        return
    if len(rows) < COPY_THRESHOLD:
        connection.execute(sa.insert(table), list(rows))
        return
    columns = list(rows[0])
    insert_rows(connection, table, columns, ([row[c] for c in columns] for row in rows))
