"""The reads the day's registry snapshot (``meterdata.snapshot``) streams in MPAN order: what
the SDSs hold of the day (their portfolios and their MDR instructions in force), through the
driver's own cursor (a server-side one on PostgreSQL), so that a client holds a batch of rows,
never the day's."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

from sqlalchemy.engine import Connection

__all__ = ["Site", "mdr_instructions_on", "portfolios_on", "sites"]

Site = tuple[str, str, str, str, bool, str, date | None]
"""(MPAN, distributor, GSP Group, connection type, domestic, energy direction, first day of
its first supplier period or None)."""

_SITES = (
    "SELECT m.mpan, m.distributor, m.gsp_group, m.connection_type, m.domestic, m.energy_direction,"
    " min(p.valid_from) FROM mpan m LEFT JOIN supplier_period p ON p.mpan = m.mpan"
    " GROUP BY m.mpan, m.distributor, m.gsp_group, m.connection_type, m.domestic, m.energy_direction"
    " ORDER BY m.mpan"
)

_IN_FORCE = "valid_from <= {p} AND (valid_to IS NULL OR valid_to > {p})"
_PORTFOLIOS = "SELECT mpan, sds, supplier FROM sds_portfolio WHERE " + _IN_FORCE + " ORDER BY mpan, id"
_INSTRUCTIONS = "SELECT mpan, sds, mdr FROM mdr_instruction WHERE " + _IN_FORCE + " ORDER BY mpan, id"


def sites(connection: Connection, *, batch: int = 20_000) -> Iterator[Site]:
    """Every MPAN of the market with its site facts, in MPAN order."""
    for r in _stream(connection, _SITES, None, "openmhhs_snapshot_sites", batch):
        first = r[6] if r[6] is None or isinstance(r[6], date) else date.fromisoformat(r[6])
        yield (r[0], r[1], r[2], r[3], bool(r[4]), r[5], first)


def portfolios_on(
    connection: Connection, day: date, *, batch: int = 20_000
) -> Iterator[tuple[str, str, str]]:
    """(MPAN, SDS, supplier) of every MPAN an SDS serves on ``day``, in MPAN order."""
    for r in _stream(connection, _PORTFOLIOS, day, "openmhhs_snapshot_portfolios", batch):
        yield (r[0], r[1], r[2])


def mdr_instructions_on(
    connection: Connection, day: date, *, batch: int = 20_000
) -> Iterator[tuple[str, str, str]]:
    """(MPAN, SDS, MDR) of every instruction an SDS gave an MDR in force on ``day``, in MPAN order."""
    for r in _stream(connection, _INSTRUCTIONS, day, "openmhhs_snapshot_instructions", batch):
        yield (r[0], r[1], r[2])


def _stream(connection: Connection, query: str, day: date | None, name: str, batch: int) -> Iterator[Any]:
    """The rows of ``query`` (``{p}`` standing for ``day``), ``batch`` at a time from the driver."""
    raw: Any = connection.connection.dbapi_connection
    if connection.dialect.name == "postgresql":
        cursor = raw.cursor(name=name if day is None else f"{name}_{day:%Y%m%d}")
        cursor.itersize = batch
        cursor.execute(query.format(p="%(day)s"), {"day": day})
    else:
        cursor = raw.cursor()
        cursor.execute(query.format(p=":day"), {"day": None if day is None else day.isoformat()})
    try:
        while rows := cursor.fetchmany(batch):
            yield from rows
    finally:
        cursor.close()
