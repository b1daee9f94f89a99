"""The day's registry snapshot: one extract per settlement day of everything a meter-data task
needs to know about the MPANs it processes, as a pyarrow table, so that no task queries the
market database.

One row per (MPAN, SDS) on the day: the SDS that serves the MPAN and the supplier as the SDS
learnt it (its portfolio), the MDR the SDS instructed and the id that MDR presents to the DCC
(the ISD as of the day, in the DCC user role ``retrieval_role`` gives it), and what the DCC
holds for the day (its records, merged by ``dcc.access.merge``): the MDR in force, that MDR's
4-character id as of the day (``dcc.access.authorise``, the rule of ``dcc access-list``) or
the code of why none is authorised, the registered supplier and the energy direction. Static
site facts (distributor, GSP Group, connection type) ride along.

``gate_records`` turns a row back into the DCC's records of that MPAN for that day, so a task
applies the gate's own decision function (``dcc.access.decide``) to it.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from itertools import islice
from typing import Any, Generic, TypeVar

import pyarrow as pa

from openmhhs.dcc.access import (
    Authorised,
    DccRecords,
    MdrIds,
    MdrNotice,
    NotAuthorised,
    SupplyNotice,
    authorise,
    reading_role,
    supplier_role_for,
)
from openmhhs.identity.registry import DccUserRole
from openmhhs.meterdata.gate import dcc_user_roles, presented_id
from openmhhs.registration.model import MpanRecord
from openmhhs.store import snapshot_reads
from openmhhs.store.database import Database
from openmhhs.store.dcc_repo import DccRepository
from openmhhs.store.identity_repo import load_registry
from openmhhs.store.meterdata_repo import MeterDataStore

__all__ = ["SCHEMA", "RegistrySnapshots", "Snapshot", "annual_wh", "gate_records"]

SCHEMA = pa.schema(
    [
        ("mpan", pa.string()),
        ("sds", pa.string()),
        ("supplier", pa.string()),
        ("mdr", pa.string()),
        ("mdr_via", pa.string()),
        ("mdr_presented_id", pa.string()),
        ("dcc_mdr", pa.string()),
        ("dcc_mdr_id", pa.string()),
        ("dcc_mdr_refusal", pa.string()),
        ("dcc_supplier", pa.string()),
        ("energy_direction", pa.string()),
        ("supplier_via", pa.string()),
        ("supplier_presented_id", pa.string()),
        ("shares_data", pa.bool_()),
        ("distributor", pa.string()),
        ("gsp_group", pa.string()),
        ("connection_type", pa.string()),
        ("connection_from", pa.date32()),
        ("annual_wh", pa.int64()),
        ("export", pa.bool_()),
    ]
)
"""A row per (MPAN, SDS) of the day, in MPAN order."""


@dataclass(frozen=True)
class Snapshot:
    """The day's extract and the DCC user roles each DIP ID holds (small: one entry per
    participant), handed together to every task of the day."""

    day: date
    table: pa.Table
    dcc_roles: Mapping[str, frozenset[DccUserRole]] = field(default_factory=dict)
    mds: str | None = None
    """The Market-wide Data Service's DIP ID (an addressee of every IF-021)."""

    def block(self, start: int, length: int) -> Snapshot:
        """Rows ``start`` to ``start + length``, copied (a slice would carry, and pickle, the
        whole day's buffers to the task)."""
        rows = pa.array(range(start, min(start + length, self.table.num_rows)), type=pa.int64())
        return Snapshot(self.day, self.table.take(rows), self.dcc_roles, self.mds)


@dataclass(frozen=True, slots=True)
class _Site:
    distributor: str
    gsp_group: str
    connection_type: str
    connection_from: date
    energy_direction: str
    annual_wh: int


def annual_wh(record: MpanRecord) -> int:
    """The simulated site's annual consumption (Wh): domestic or not, drawn per MPAN."""
    return _annual_wh(str(record.mpan), domestic=record.domestic)


def _annual_wh(mpan: str, *, domestic: bool) -> int:
    rng = random.Random(f"annual/{mpan}")
    annual = 1800 + rng.random() * 3500 if domestic else 8000 + rng.random() * 40000
    return int(annual * 1000)


_NO_SUPPLIER = date(2000, 1, 1)


def _site_of(site: snapshot_reads.Site) -> _Site:
    """``_site`` of a streamed row."""
    mpan, distributor, gsp_group, connection_type, domestic, direction, first = site
    return _Site(
        distributor,
        gsp_group,
        connection_type,
        first or _NO_SUPPLIER,
        direction,
        _annual_wh(mpan, domestic=domestic),
    )


def _site(record: MpanRecord) -> _Site:
    start = min((p.period.start for p in record.suppliers), default=_NO_SUPPLIER)
    return _Site(
        str(record.distributor),
        str(record.gsp_group),
        record.connection_type.value,
        start,
        record.energy_direction,
        annual_wh(record),
    )


class RegistrySnapshots:
    """Reads the small, participant-sized part once (ISD, DCC user roles, data sharing); each
    ``blocks`` call streams one day's records in MPAN order (the market's MPANs with their
    sites, the DCC's records, the SDSs' portfolios and MDR instructions) and builds the day's
    snapshot one block of MPANs at a time, so that its reader holds a block, never the day."""

    def __init__(self, db: Database) -> None:
        self.db = db
        with db.read() as connection:
            registry = load_registry(connection)
            self.sharing = MeterDataStore(connection).sharing_suppliers()
        self.isd = registry.table
        self.dcc_roles = dcc_user_roles(registry)
        self.mdr_ids = MdrIds(self.isd)
        self.mds = next(
            (str(e.dip_id) for e in registry.table if str(e.dip_role) == "MDS" and e.dip_id), None
        )
        self._presented: dict[tuple[str, DccUserRole, date], str] = {}
        self._authorised: dict[tuple[str | None, date], Authorised | NotAuthorised] = {}
        self._reading: dict[tuple[str, str], DccUserRole] = {}

    def blocks(self, day: date, block_size: int) -> Iterator[tuple[int, Snapshot]]:
        """The day's snapshot block by block: block ``b`` holds the rows of the market's MPANs
        ``b * block_size`` to ``(b + 1) * block_size`` in MPAN order (the same blocks every
        day); a block may have no rows (no MPAN of it served that day)."""
        with self.db.read() as connection:
            sites = snapshot_reads.sites(connection, batch=block_size)
            records = _Ordered(DccRepository(connection).iter_records(batch=block_size))
            served = _Ordered(
                (r[0], r) for r in snapshot_reads.portfolios_on(connection, day, batch=block_size)
            )
            instructed = _Ordered(
                (r[0], r) for r in snapshot_reads.mdr_instructions_on(connection, day, batch=block_size)
            )
            current = list(islice(sites, block_size))
            block = 0
            while current:
                following = list(islice(sites, block_size))
                bound = following[0][0] if following else None
                table = self.table(
                    day,
                    {r[0]: _site_of(r) for r in current},
                    dict(records.until(bound)),
                    [r for _, r in served.until(bound)],
                    [r for _, r in instructed.until(bound)],
                )
                yield block, Snapshot(day, table, self.dcc_roles, self.mds)
                current, block = following, block + 1

    def day(self, day: date, block_size: int = 2000) -> Snapshot:
        """The whole day's snapshot (the blocks' rows together): for a small market or a test."""
        tables = [s.table for _, s in self.blocks(day, block_size)]
        table = pa.concat_tables(tables) if tables else SCHEMA.empty_table()
        return Snapshot(day, table.combine_chunks(), self.dcc_roles, self.mds)

    def table(
        self,
        day: date,
        sites: Mapping[str, _Site],
        records: Mapping[str, DccRecords],
        served: Iterable[tuple[str, str, str]],
        instructed: Iterable[tuple[str, str, str]],
    ) -> pa.Table:
        """The snapshot rows of ``day`` for the MPANs of the records given: (MPAN, SDS,
        supplier) served and (MPAN, SDS, MDR) instructed, with the sites and DCC records of
        those MPANs; a row per (MPAN, SDS), in that order."""
        rows: dict[tuple[str, str], dict[str, Any]] = {}
        for mpan, sds, supplier in served:
            rows[(mpan, sds)] = {"mpan": mpan, "sds": sds, "supplier": supplier, "mdr": None}
        for mpan, sds, mdr in instructed:
            rows.setdefault((mpan, sds), {"mpan": mpan, "sds": sds, "supplier": None})["mdr"] = mdr
        columns: dict[str, list[Any]] = {name: [] for name in SCHEMA.names}
        for key in sorted(rows):
            row = rows[key]
            mpan = row["mpan"]
            self._fill(row, day, sites.get(mpan), records.get(mpan, _NO_RECORDS))
            for name in SCHEMA.names:
                columns[name].append(row.get(name))
        return pa.table(columns, schema=SCHEMA)

    def _presented_id(self, dip_id: str, via: DccUserRole, day: date) -> str:
        key = (dip_id, via, day)
        if key not in self._presented:
            self._presented[key] = presented_id(self.isd, dip_id, via, day)
        return self._presented[key]

    def _authorise(self, mdr: str | None, day: date) -> Authorised | NotAuthorised:
        """``authorise`` once per distinct (MDR, day)."""
        key = (mdr, day)
        if key not in self._authorised:
            self._authorised[key] = authorise(mdr=mdr, day=day, mdr_id=self.mdr_ids)
        return self._authorised[key]

    def _reading_role(self, mdr: str, direction: str) -> DccUserRole:
        """``reading_role`` once per distinct (MDR, energy direction)."""
        key = (mdr, direction)
        if key not in self._reading:
            held = self.dcc_roles.get(mdr, frozenset())
            self._reading[key] = reading_role(held=held, energy_direction=direction)
        return self._reading[key]

    def _fill(self, row: dict[str, Any], day: date, site: _Site | None, records: DccRecords) -> None:
        supply = records.supply_on(day)
        notice = records.mdr_on(day)
        direction = (
            supply.energy_direction if supply is not None else (site.energy_direction if site else "I")
        )
        row["energy_direction"] = direction
        row["dcc_supplier"] = None if supply is None else supply.supplier
        row["dcc_mdr"] = None if notice is None else notice.mdr
        found = self._authorise(row["dcc_mdr"], day)
        if isinstance(found, Authorised):
            row["dcc_mdr_id"], row["dcc_mdr_refusal"] = found.mpid, None
        else:
            row["dcc_mdr_id"], row["dcc_mdr_refusal"] = None, found.code.value
        mdr = row["mdr"]
        if mdr is not None:
            via = self._reading_role(mdr, direction)
            row["mdr_via"] = via.value
            row["mdr_presented_id"] = self._presented_id(mdr, via, day)
        supplier = row["supplier"]
        if supplier is not None:
            via = supplier_role_for(direction)
            row["supplier_via"] = via.value
            row["supplier_presented_id"] = self._presented_id(supplier, via, day)
            row["shares_data"] = supplier in self.sharing and direction != "E"
        else:
            row["shares_data"] = False
        if site is not None:
            row["distributor"] = site.distributor
            row["gsp_group"] = site.gsp_group
            row["connection_type"] = site.connection_type
            row["connection_from"] = site.connection_from
            row["annual_wh"] = site.annual_wh
        row["export"] = direction == "E"


_NO_RECORDS = DccRecords()

_T = TypeVar("_T")


class _Ordered(Generic[_T]):
    """(MPAN, item) pairs in MPAN order, taken a block at a time."""

    def __init__(self, items: Iterator[tuple[str, _T]]) -> None:
        self._items = items
        self._next = next(items, None)

    def until(self, bound: str | None) -> Iterator[tuple[str, _T]]:
        """The pairs whose MPAN sorts before ``bound`` (all that are left if ``None``)."""
        while self._next is not None and (bound is None or self._next[0] < bound):
            yield self._next
            self._next = next(self._items, None)


def gate_records(
    *, mpan: str, day: date, dcc_mdr: str | None, dcc_supplier: str | None, energy_direction: str
) -> DccRecords:
    """What the DCC holds of ``mpan`` as it stands on ``day`` (a snapshot row), as records the
    gate's ``decide`` reads: the notices in force that day."""
    return DccRecords(
        () if dcc_mdr is None else (MdrNotice(mpan, dcc_mdr, day),),
        () if dcc_supplier is None else (SupplyNotice(mpan, dcc_supplier, energy_direction, day),),
    )
