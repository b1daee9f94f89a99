"""Fast bulk inserts: driver-level ``executemany`` on SQLite, ``COPY`` on PostgreSQL.

SQLAlchemy's generic executemany builds a parameter dictionary per row; for hundreds of
thousands of rows that costs more than the database's own work. Here each column's bind
processor (e.g. ``UtcDateTime``) is applied once per value and rows go to the driver as
tuples, inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

__all__ = ["COPY_THRESHOLD", "bulk_insert", "insert_rows"]

COPY_THRESHOLD = 500
"""Rows from which :func:`bulk_insert` takes the fast path (below it, INSERT is as quick)."""


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
