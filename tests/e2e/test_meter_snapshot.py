"""The day's registry snapshot agrees with the DCC's own access list and with the SDSs'
portfolios and MDR instructions of that day, for a model market, on an ordinary day and on
a day after a change of MDR id is possible (every day of a week)."""

from __future__ import annotations

import csv
from datetime import date, timedelta
from pathlib import Path

import pytest

from openmhhs.meterdata.snapshot import SCHEMA, RegistrySnapshots
from openmhhs.store.database import Database
from openmhhs.store.market_repo import MarketStore
from tests.conftest import CliHarness

START = date(2025, 7, 1)


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
