"""Storage of the DCC's own records: the [DCC-MDROutcome] and IF-001 notices it received, kept
as received (never edited) and merged by ``openmhhs.dcc.access.merge`` when read."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from itertools import groupby
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from openmhhs.dcc.access import DccRecords, MdrNotice, SupplyNotice
from openmhhs.store.driver import Driver, Statement
from openmhhs.store.tables import dcc_mdr_notice, dcc_supply_notice

__all__ = ["DccRepository"]

# The notice in force on a day is the latest received of those effective by then (see
# ``dcc.access.merge``): one ordered scan, in the database.
_IN_FORCE_POSTGRESQL = (
    "SELECT DISTINCT ON (mpan) mpan, mdr FROM dcc_mdr_notice WHERE valid_from <= %s ORDER BY mpan, id DESC"
)
_IN_FORCE_SQLITE = (
    "SELECT mpan, mdr, max(id) FROM dcc_mdr_notice WHERE valid_from <= ? GROUP BY mpan ORDER BY mpan"
)

_ALL_MDRS = "SELECT mpan, mdr, valid_from FROM dcc_mdr_notice ORDER BY mpan, id"
_ALL_SUPPLIES = "SELECT mpan, supplier, energy_direction, valid_from FROM dcc_supply_notice ORDER BY mpan, id"

_MDR_NAMES = ("mpan", "mdr", "mdr_mpid", "valid_from", "supplier", "received_at", "transaction_id")
_INSERT_MDR = Statement(
    f"INSERT INTO dcc_mdr_notice ({', '.join(_MDR_NAMES)}) VALUES ({', '.join('?' for _ in _MDR_NAMES)})",
    binds=[dcc_mdr_notice.c[n] for n in _MDR_NAMES],
)
_SUPPLY_NAMES = ("mpan", "supplier", "energy_direction", "valid_from", "received_at", "transaction_id")
_INSERT_SUPPLY = Statement(
    f"INSERT INTO dcc_supply_notice ({', '.join(_SUPPLY_NAMES)}) "
    f"VALUES ({', '.join('?' for _ in _SUPPLY_NAMES)})",
    binds=[dcc_supply_notice.c[n] for n in _SUPPLY_NAMES],
)
_MDR_COLUMNS = (dcc_mdr_notice.c.mpan, dcc_mdr_notice.c.mdr, dcc_mdr_notice.c.valid_from)
_SUPPLY_COLUMNS = (
    dcc_supply_notice.c.mpan,
    dcc_supply_notice.c.supplier,
    dcc_supply_notice.c.energy_direction,
    dcc_supply_notice.c.valid_from,
)


class DccRepository:
    """The DCC's records, inside the caller's transaction."""

    def __init__(self, connection: Connection, *, driver: Driver | None = None) -> None:
        self.connection = connection
        self._driver = driver or Driver(connection)

    def record_mdr(
        self,
        *,
        core: str,
        mdr: str,
        mdr_mpid: str,
        valid_from: date,
        supplier: str,
        at: datetime,
        transaction_id: str,
    ) -> None:
        self._driver.execute(_INSERT_MDR, (core, mdr, mdr_mpid, valid_from, supplier, at, transaction_id))

    def record_supply(
        self,
        *,
        core: str,
        supplier: str,
        energy_direction: str,
        valid_from: date,
        at: datetime,
        transaction_id: str,
    ) -> None:
        self._driver.execute(
            _INSERT_SUPPLY, (core, supplier, energy_direction, valid_from, at, transaction_id)
        )

    def records(self, core: str) -> DccRecords:
        """One MPAN's records."""
        mdrs = self.connection.execute(
            sa.select(*_MDR_COLUMNS).where(dcc_mdr_notice.c.mpan == core).order_by(dcc_mdr_notice.c.id)
        )
        supplies = self.connection.execute(
            sa.select(*_SUPPLY_COLUMNS)
            .where(dcc_supply_notice.c.mpan == core)
            .order_by(dcc_supply_notice.c.id)
        )
        return DccRecords.received((MdrNotice(*r) for r in mdrs), (SupplyNotice(*r) for r in supplies))

    def mdrs_in_force(self, day: date, *, batch: int = 50_000) -> Iterator[list[tuple[str, str]]]:
        """(MPAN, MDR DIP ID) of the [DCC-MDROutcome] in force on ``day`` for every MPAN that has
        one, in MPAN order, in batches, through the driver's own cursor (a server-side one on
        PostgreSQL): for 32 million MPANs, row objects would cost more than the database's work."""
        raw: Any = self.connection.connection.dbapi_connection
        if self.connection.dialect.name == "postgresql":
            cursor = raw.cursor(name="openmhhs_dcc_in_force")
            cursor.itersize = batch
            cursor.execute(_IN_FORCE_POSTGRESQL, (day,))
        else:
            cursor = raw.cursor()
            cursor.execute(_IN_FORCE_SQLITE, (day.isoformat(),))
        try:
            while rows := cursor.fetchmany(batch):
                yield [(r[0], r[1]) for r in rows]
        finally:
            cursor.close()

    def all_records(self) -> dict[str, DccRecords]:
        """Every MPAN's records."""
        return dict(self.iter_records())

    def iter_records(self, *, batch: int = 20_000) -> Iterator[tuple[str, DccRecords]]:
        """(MPAN, records) for every MPAN the DCC has heard of, in MPAN order, streamed
        ``batch`` rows at a time through the driver's own cursors (server-side on PostgreSQL)."""
        mdrs = self._stream(_ALL_MDRS, "openmhhs_dcc_mdrs", MdrNotice, batch)
        supplies = self._stream(_ALL_SUPPLIES, "openmhhs_dcc_supplies", SupplyNotice, batch)
        next_mdr = next(mdrs, None)
        next_supply = next(supplies, None)
        while next_mdr is not None or next_supply is not None:
            core = min(x[0] for x in (next_mdr, next_supply) if x is not None)
            got_mdrs: list[Any] = []
            got_supplies: list[Any] = []
            if next_mdr is not None and next_mdr[0] == core:
                got_mdrs = next_mdr[1]
                next_mdr = next(mdrs, None)
            if next_supply is not None and next_supply[0] == core:
                got_supplies = next_supply[1]
                next_supply = next(supplies, None)
            yield core, DccRecords.received(got_mdrs, got_supplies)

    def _stream(self, query: str, name: str, kind: Any, batch: int) -> Iterator[tuple[str, list[Any]]]:
        raw: Any = self.connection.connection.dbapi_connection
        if self.connection.dialect.name == "postgresql":
            cursor = raw.cursor(name=name)
            cursor.itersize = batch
        else:
            cursor = raw.cursor()
        cursor.execute(query)
        try:
            rows = (r for chunk in iter(lambda: cursor.fetchmany(batch), []) for r in chunk)
            for core, group in groupby(rows, key=lambda r: r[0]):
                yield core, [kind(*r[:-1], _day(r[-1])) for r in group]
        finally:
            cursor.close()


def _day(value: date | str) -> date:
    """A DATE column's value (SQLite's driver hands it back as text)."""
    return value if isinstance(value, date) else date.fromisoformat(value)
