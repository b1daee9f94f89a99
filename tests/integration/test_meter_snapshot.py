"""The day's registry snapshot streamed block by block is the whole day's snapshot, cut: over
several days (a clock-change day, days after MDR changes and changes of supplier, the days an
MDR's ISD row has ended and another MDR's 4-character id has changed), on SQLite and on
PostgreSQL; and the client building it holds a few blocks, not the day: its peak memory does
not grow with the number of MPANs."""

from __future__ import annotations

import dataclasses
import tracemalloc
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pyarrow as pa
import pytest

from openmhhs.cli.model import read_description
from openmhhs.ids import Mpid
from openmhhs.market.driver import run_market
from openmhhs.market.loader import load_market, register_population
from openmhhs.market.population import population
from openmhhs.meterdata.snapshot import SCHEMA, RegistrySnapshots, _site
from openmhhs.periods import Period
from openmhhs.store.database import Database
from openmhhs.store.dcc_repo import DccRepository
from openmhhs.store.identity_repo import ImportMode, import_isd, load_isd
from openmhhs.store.market_repo import MarketStore

D = timedelta(days=1)
LONDON = ZoneInfo("Europe/London")


def _market(db: Database, mpans: int, *, changes: float) -> date:
    """A model market of ``mpans`` MPANs, run through its first days (``changes``: the share of
    MPANs with an MDR change and with a change of supplier); its first day."""
    description, text = read_description("1a-fully-separated")
    members = population(description, size=mpans, seed=7)
    with db.begin() as connection:
        load_market(connection, description, source=text, at=datetime(2025, 7, 1, 9, tzinfo=UTC))
        register_population(connection, members)
    run_market(db, description, members, seed=7, mdr_change_share=changes, change_of_supplier_share=changes)
    return description.start


def _end_isd_rows(db: Database, on: date) -> None:
    """From ``on``, the first MDR (by DIP ID) has no ISD row, the second a new 4-character id."""
    midnight = datetime(on.year, on.month, on.day, tzinfo=LONDON)
    with db.begin() as connection:
        entries = list(load_isd(connection))
        mdrs = sorted({str(e.dip_id) for e in entries if str(e.dip_role) == "MDR" and e.dip_id})
        assert len(mdrs) >= 2, "the model market has two MDRs or more"
        changed: list = []
        for entry in entries:
            if str(entry.dip_id) in mdrs[:2] and str(entry.dip_role) == "MDR" and entry.valid.end is None:
                changed.append(dataclasses.replace(entry, valid=Period(entry.valid.start, midnight)))
                if str(entry.dip_id) == mdrs[1]:
                    changed.append(
                        dataclasses.replace(entry, mpid=Mpid("QZQZ"), valid=Period(midnight, None))
                    )
            else:
                changed.append(entry)
        import_isd(connection, changed, mode=ImportMode.REPLACE)


def _whole_day(snapshots: RegistrySnapshots, db: Database, day: date) -> pa.Table:
    """The day's snapshot as it was built before streaming: the whole day's records at once."""
    with db.read() as connection:
        store = MarketStore(connection)
        sites = {str(r.mpan): _site(r) for r in store.iter_mpans()}
        dcc = DccRepository(connection)
        records = {m: dcc.records(m) for m in sites}  # one MPAN at a time, as the gate reads it
        served = [(m, s, supplier) for s, m, supplier, _, _ in store.portfolios_on(day)]
        instructed = [(m, s, mdr) for mdr, m, s, _ in store.mdr_instructions_on(day)]
    return snapshots.table(day, sites, records, served, instructed)


def test_the_streamed_snapshot_is_the_whole_days(db: Database) -> None:
    start = _market(db, 60, changes=0.2)
    _end_isd_rows(db, start + 4 * D)
    snapshots = RegistrySnapshots(db)
    window = [start, start + 3 * D, start + 4 * D, start + 8 * D, date(2025, 10, 26), date(2026, 3, 29)]
    refusals = set()
    for day in window:
        whole = _whole_day(snapshots, db, day)
        assert whole.num_rows >= 60, "every MPAN served"
        for size in (7, 25, 1000):
            blocks = list(snapshots.blocks(day, size))
            assert [b for b, _ in blocks] == list(range(-(-60 // size)))
            assert all(s.table.schema == SCHEMA and s.day == day for _, s in blocks)
            assert pa.concat_tables([s.table for _, s in blocks]).to_pylist() == whole.to_pylist(), (
                day,
                size,
            )
            for number, snapshot in blocks:  # a block holds its own MPANs only
                ahead = [s.table for b, s in blocks if b > number and s.table.num_rows]
                if snapshot.table.num_rows and ahead:
                    assert max(snapshot.table.column("mpan").to_pylist()) < ahead[0].column("mpan")[0].as_py()
        refusals |= set(whole.column("dcc_mdr_refusal").drop_null().to_pylist())
    # the ended row and the changed id reach the snapshot
    ids = {
        day: set(_whole_day(snapshots, db, day).column("dcc_mdr_id").drop_null().to_pylist())
        for day in (start + 3 * D, start + 4 * D)
    }
    assert "QZQZ" not in ids[start + 3 * D] and "QZQZ" in ids[start + 4 * D]
    assert "OMH0706" in refusals


def _peak(db: Database, day: date, size: int) -> int:
    """The client's peak memory (bytes, over what it held before) building the day's snapshot
    block by block, keeping none."""
    snapshots = RegistrySnapshots(db)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        rows = sum(s.table.num_rows for _, s in snapshots.blocks(day, size))
        assert rows
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def _whole_peak(db: Database, day: date) -> int:
    snapshots = RegistrySnapshots(db)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        assert _whole_day(snapshots, db, day).num_rows
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


@pytest.fixture
def large_url(db_url: str, tmp_path: Path) -> Iterator[str]:
    """A second database beside the test's own, on the same engine."""
    if db_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'large.db'}"
        return
    name = f"openmhhs_t_{uuid.uuid4().hex[:12]}"
    admin = db_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield db_url.rpartition("/")[0] + "/" + name
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_the_clients_memory_does_not_grow_with_mpans(db: Database, large_url: str) -> None:
    """2 blocks or 40 of 10 MPANs: the client's peak while streaming grows by less than an
    eighth of what the whole day's snapshot costs the larger market (measured, not assumed;
    what remains is the interpreter's free lists filling up, bounded)."""
    large = Database(large_url)
    start = _market(db, 20, changes=0.0)
    _market(large, 400, changes=0.0)
    day = start + D
    for market in (db, large):  # warm: first-use caches (SQL compilation, imports) are not the day's
        _peak(market, day, 10)
    small_peak, large_peak = _peak(db, day, 10), _peak(large, day, 10)
    whole = _whole_peak(large, day)
    assert large_peak - small_peak < whole / 8, (small_peak, large_peak, whole)
    large.dispose()
