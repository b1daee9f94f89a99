"""The day's registry snapshot agrees with the DCC's own access list and with the SDSs'
portfolios and MDR instructions of that day, for a model market, on an ordinary day and on
a day after a change of MDR id is possible (every day of a week)."""

from __future__ import annotations

import csv
from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from openmhhs.codes import ResponseCode
from openmhhs.days import settlement_period_count
from openmhhs.dip.parse import parse
from openmhhs.meterdata.meters import FaultPlan
from openmhhs.meterdata.pipeline import BlockState, process_block
from openmhhs.meterdata.run import DataRun
from openmhhs.meterdata.snapshot import SCHEMA, RegistrySnapshots
from openmhhs.store.database import Database
from openmhhs.store.market_repo import MarketStore
from openmhhs.store.meterdata_repo import MeterDataStore
from tests.conftest import CliHarness

START = date(2025, 7, 1)
DAYS = 6
OUTAGES = FaultPlan(missing_rate=0.05, outage_rate=1.0, exchange_rate=0.1, clock_error_rate=0.05)
"""A 2-5 day outage in every 30 days of every meter: late retrievals within a few days."""


@pytest.fixture
def market(cli: CliHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliHarness:
    monkeypatch.setenv("OPENMHHS_TODAY", START.isoformat())
    cli(
        "model",
        "run",
        "1a-fully-separated",
        "--mpans",
        "12",
        "--data-days",
        "0",
        "--out",
        str(tmp_path / "run"),
        ok=True,
    )
    return cli


def test_snapshot_matches_access_list_and_portfolios(market: CliHarness, tmp_path: Path) -> None:
    snapshots = RegistrySnapshots(Database())
    for offset in (0, 3):
        day = START + timedelta(days=offset)
        snapshot = snapshots.day(day)
        assert snapshot.table.schema == SCHEMA
        rows = snapshot.table.to_pylist()
        assert rows, "a model market serves its MPANs"
        assert [r["mpan"] for r in rows] == sorted(r["mpan"] for r in rows)
        out = tmp_path / f"list-{day}.csv"
        market("dcc", "access-list", "--on", day.isoformat(), "--out", str(out), ok=True)
        with out.open() as f:
            listed = {r["mpan"]: (r["mdr_dip_id"], r["mdr_id"]) for r in csv.DictReader(f)}
        for row in rows:
            if row["dcc_mdr_id"] is not None:
                assert listed[row["mpan"]] == (row["dcc_mdr"], row["dcc_mdr_id"])
                assert row["dcc_mdr_refusal"] is None
            else:
                assert row["mpan"] not in listed and row["dcc_mdr_refusal"] is not None
        with Database().read() as connection:
            store = MarketStore(connection)
            served = {(m, s): sup for s, m, sup, _, _ in store.portfolios_on(day)}
            instructed = {(m, s): mdr for mdr, m, s, _ in store.mdr_instructions_on(day)}
        assert {(r["mpan"], r["sds"]) for r in rows} == set(served) | set(instructed)
        for row in rows:
            key = (row["mpan"], row["sds"])
            assert row["supplier"] == served.get(key)
            assert row["mdr"] == instructed.get(key)
            if row["mdr"] is not None:
                check = market.json(
                    "dcc", "check", "--mdr", row["mdr"], "--mpan", row["mpan"], "--on", day.isoformat()
                )
                assert check["via"] == row["mdr_via"] and check["mpid"] == row["mdr_presented_id"]
            assert row["energy_direction"] in {"I", "E"}


def test_the_block_pipeline_settles_as_the_message_run_does(market: CliHarness) -> None:
    """Over six days with faults (outages of 2-5 days), every served MPAN-day the pipeline
    settles has the values and flags of each IF-021 version the per-message run submits: the
    first, and the amendment when a retried retrieval brings late actual data (the same rules,
    the same retry backlog); blocks of any size give the same, and the gate's refusals are
    coded."""
    snapshots = RegistrySnapshots(Database())
    state = BlockState()
    halves = [BlockState(), BlockState()]
    got: dict[tuple[str, date, int], list[tuple[int, bool]]] = {}
    late = 0
    for offset in range(DAYS):
        day = START + timedelta(days=offset)
        snapshot = snapshots.day(day)
        whole = process_block(snapshot, seed=5, faults=OUTAGES, state=state)
        state = whole.state
        rows = snapshot.table.num_rows
        parts = [
            process_block(snapshot.block(0, rows // 2), seed=5, faults=OUTAGES, state=halves[0]),
            process_block(snapshot.block(rows // 2, rows), seed=5, faults=OUTAGES, state=halves[1]),
        ]
        halves = [p.state for p in parts]
        merged = halves[0].history.merged(halves[1].history)
        assert merged.mpans.tolist() == state.history.mpans.tolist()
        assert merged.values.tolist() == state.history.values.tolist()
        assert pa.concat_tables([p.consumption for p in parts]).to_pylist() == whole.consumption.to_pylist()
        assert sum(p.amendments for p in parts) == whole.amendments
        assert whole.submissions.column("ecs").null_count == whole.submissions.num_rows
        assert set(whole.decisions.column("code").drop_null().to_pylist()) <= {c.value for c in ResponseCode}
        late += whole.late_retrievals
        sent = [parse(body, now=None).message for body in whole.bodies]  # every IF-021 against the schema
        references = whole.submissions.column("reference").drop_null().to_pylist()
        amending = [r for x in whole.late for r in x.submissions.column("reference").drop_null().to_pylist()]
        assert sorted(m.common_block.s1.sender_unique_reference for m in sent) == sorted(
            references + amending
        )
        for table in [whole.consumption, *(x.consumption for x in whole.late)]:
            for row in table.to_pylist():
                settled = (
                    day
                    if table is whole.consumption
                    else next(x.day for x in whole.late if x.consumption is table)
                )
                got.setdefault((row["mpan"], settled, row["version"]), []).append(
                    (row["value_wh"], row["estimated"], row["quality"], row["mdr"])
                )
    assert late > 0, "the faults leave days to retrieve late"
    assert all(len(v) == settlement_period_count(d) for (_, d, _), v in got.items())
    DataRun(Database(), seed=5, faults=OUTAGES).run(START, START + timedelta(days=DAYS - 1))
    with Database().read() as connection:
        submitted = {(x.mpan, x.day, x.version): x for x in MeterDataStore(connection).submissions()}
    assert set(submitted) == set(got)
    assert any(version == 2 for _, _, version in submitted), "late actual data amends a day"
    for key, x in submitted.items():
        diff = [
            (i, got[key][i], x.values_wh[i]) for i in range(len(got[key])) if got[key][i][0] != x.values_wh[i]
        ]
        assert not diff, (key, diff)
        assert sum(not e[1] for e in got[key]) == x.actual, key


@pytest.mark.parametrize(
    ("first", "periods"), [(date(2026, 3, 29), 46), (date(2025, 10, 26), 50), (START, 48)]
)
def test_data_run_show_and_summary_over_the_dataset(
    market: CliHarness, tmp_path: Path, first: date, periods: int
) -> None:
    folder = tmp_path / "ds"
    run = market.json("data", "run", "--from", first.isoformat(), "--days", "2", "--dataset", str(folder))
    assert run["dataset"] == str(folder) and run["values"] > 0 and run["ecs_refused"] == 0
    assert not list(folder.rglob("*.tmp"))
    summary = market.json(
        "data", "summary", "--from", first.isoformat(), "--to", first.isoformat(), "--dataset", str(folder)
    )
    assert summary["values"] == run["by_day"][first.isoformat()]["values"]
    assert 0 < summary["completeness"] <= 1 and summary["completeness"] + summary[
        "estimated_share"
    ] == pytest.approx(1)
    mpan = Database()
    with mpan.read() as connection:
        core = MarketStore(connection).portfolios_on(first)[0][1]
    shown = market.json("data", "show", core, "--day", first.isoformat(), "--dataset", str(folder))
    assert shown["mpan"] == core and [p["period"] for p in shown["periods"]] == list(range(1, periods + 1))
    assert all(isinstance(p["estimated"], bool) and p["value"] >= 0 for p in shown["periods"])
    assert {p["mdr"] for p in shown["periods"] if not p["estimated"]} <= {"3333333333", None}
    missing = market("data", "show", core, "--day", "2020-01-01", "--dataset", str(folder), ok=False)
    assert "Traceback" not in missing.output and "OMH" in missing.output
