"""The reads the day's registry snapshot (``meterdata.snapshot``) streams in MPAN order: what
the SDSs hold of the day (their portfolios and their MDR instructions in force), through the
driver's own cursor (a server-side one on PostgreSQL), so that a client holds a batch of rows,
never the day's."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

from sqlalchemy.engine import Connection

__all__ = ["mdr_instructions_on", "portfolios_on"]

_IN_FORCE = "valid_from <= {p} AND (valid_to IS NULL OR valid_to > {p})"
_PORTFOLIOS = "SELECT mpan, sds, supplier FROM sds_portfolio WHERE " + _IN_FORCE + " ORDER BY mpan, id"
_INSTRUCTIONS = "SELECT mpan, sds, mdr FROM mdr_instruction WHERE " + _IN_FORCE + " ORDER BY mpan, id"


def portfolios_on(
    connection: Connection, day: date, *, batch: int = 20_000
) -> Iterator[tuple[str, str, str]]:
    """(MPAN, SDS, supplier) of every MPAN an SDS serves on ``day``, in MPAN order."""
    return _stream(connection, _PORTFOLIOS, day, "openmhhs_snapshot_portfolios", batch)


def mdr_instructions_on(
    connection: Connection, day: date, *, batch: int = 20_000
) -> Iterator[tuple[str, str, str]]:
    """(MPAN, SDS, MDR) of every instruction an SDS gave an MDR in force on ``day``, in MPAN order."""
    return _stream(connection, _INSTRUCTIONS, day, "openmhhs_snapshot_instructions", batch)


def _stream(
    connection: Connection, query: str, day: date, name: str, batch: int
) -> Iterator[tuple[str, str, str]]:
    raw: Any = connection.connection.dbapi_connection
    if connection.dialect.name == "postgresql":
        cursor = raw.cursor(name=f"{name}_{day:%Y%m%d}")
        cursor.itersize = batch
        cursor.execute(query.format(p="%(day)s"), {"day": day})
    else:
        cursor = raw.cursor()
        cursor.execute(query.format(p=":day"), {"day": day.isoformat()})
    try:
        while rows := cursor.fetchmany(batch):
            yield from ((r[0], r[1], r[2]) for r in rows)
    finally:
        cursor.close()
