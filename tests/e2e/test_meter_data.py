"""Meter data end to end, through the command line as a test team would: a market run, then
``openmhhs data run`` and ``openmhhs dcc check``; the DCC gate across an SDS-led MDR change, a
change of supplier (with the outgoing SDS de-appointed) and a rogue MDR; the supplier's own
DCC role in model 2A; clock-change days; IF-021 against the official YAML."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from openmhhs.days import settlement_period_count
from openmhhs.dip.build import MessageFactory, Sender
from openmhhs.dip.catalogue import event_spec
from openmhhs.dip.parse import encode
from openmhhs.dip.vocabulary import Scenario
from openmhhs.ids import DipId, DipRole, Mpid
from openmhhs.store.database import Database
from openmhhs.store.meterdata_repo import MeterDataStore
from openmhhs.store.tables import mdr_instruction, sds_portfolio
from openmhhs.supplier.requests import request_data_service
from tests.conftest import CliHarness, find_spec_dir
from tests.official_spec import OfficialSpec
from tests.serve_harness import Site

START = date(2025, 7, 1)
D = timedelta(days=1)
AURORA, BEACON, CIRRUS, DAWN, RS = "1111111111", "2222222222", "3333333333", "4444444444", "9000000001"


@pytest.fixture
def market(cli: CliHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliHarness:
    monkeypatch.setenv("OPENMHHS_TODAY", START.isoformat())
    cli(
        "model",
        "run",
        "1a-fully-separated",
        "--mpans",
        "24",
        "--data-days",
        "0",
        "--out",
        str(tmp_path / "run"),
        ok=True,
    )
    return cli


def _db() -> Database:
    return Database()


def _portfolio(mpan: str | None = None) -> list[Any]:
    with _db().read() as connection:
        query = sa.select(sds_portfolio).order_by(sds_portfolio.c.mpan, sds_portfolio.c.valid_from)
        if mpan:
            query = query.where(sds_portfolio.c.mpan == mpan)
        return list(connection.execute(query))


def test_every_day_of_every_appointed_mpan_is_submitted_once(market: CliHarness) -> None:
    first = market.json("data", "run", "--messages", "--from", START.isoformat(), "--days", "7")
    assert first["mpan_days"] > 0 and first["periods"] == first["actual"] + first["estimated"]
    assert first["access_refusals"] == 0 and first["ecs_refused"] == 0
    assert first["if064"] >= first["mpan_days"] - first["unreachable"]
    with _db().read() as connection:
        submissions = MeterDataStore(connection).submissions()
    initial = Counter((x.mpan, x.day) for x in submissions if x.version == 1)
    assert set(initial.values()) == {1}
    served = {
        (row.mpan, START + i * D)
        for row in _portfolio()
        for i in range(7)
        if row.valid_from <= START + i * D and (row.valid_to is None or START + i * D < row.valid_to)
    }
    assert set(initial) == served
    for x in submissions:
        assert x.periods == settlement_period_count(x.day) == x.actual + x.estimated
    by_key: dict[tuple[str, date], list[Any]] = {}
    for x in submissions:
        by_key.setdefault((x.mpan, x.day), []).append(x)
    for versions in by_key.values():
        actual = [v.actual for v in sorted(versions, key=lambda v: v.version)]
        assert actual == sorted(set(actual))  # each amendment brings more actual data
    # running the same days again submits nothing more
    again = market.json("data", "run", "--messages", "--from", START.isoformat(), "--days", "7")
    assert again["if021"] == again["amendments"] == 0


def _dsapp(core: str, *, supplier: str, sds: str, sds_mpid: str, ref: str, effective: date) -> Any:
    with _db().read() as connection:
        row = connection.execute(
            sa.text("select distributor, gsp_group from mpan where mpan = :m"), {"m": core}
        ).one()
    site = Site({"mpan": core, "distributor": row[0], "gsp_group": row[1]})
    return request_data_service(
        MessageFactory(Sender(DipId(supplier), DipRole.SUP), unique_prefix="cos"),
        site=site,
        rs=DipId(RS),
        sds=DipId(sds),
        sds_mpid=Mpid(sds_mpid),
        effective_from=effective,
        scenario=Scenario.COS,
        contract_reference=ref,
        now=datetime.combine(START, datetime.min.time(), tzinfo=UTC) + timedelta(hours=10),
    )


def _check(cli: CliHarness, requester: str, core: str, day: date, via: str = "") -> dict[str, Any]:
    args = ["dcc", "check", "--mdr", requester, "--mpan", core, "--on", day.isoformat()]
    result = cli(*([*args, "--via", via] if via else args), "--json")
    data: dict[str, Any] = orjson.loads(result.stdout)
    assert result.exit_code == (0 if data["allowed"] else 1)
    return data


def test_dcc_gate_across_mdr_change_change_of_supplier_and_de_appointment(
    market: CliHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # an MPAN Beacon serves for Aurora with Cirrus as MDR (the contract's default)
    core = next(r.mpan for r in _portfolio() if r.sds == BEACON and r.mdr == CIRRUS and r.valid_to is None)
    change, cos = START + 2 * D, START + 5 * D
    market(
        "sds",
        "mdr-change",
        "--sds",
        BEACON,
        "--mpan",
        core,
        "--mdr",
        BEACON,
        "--from",
        change.isoformat(),
        ok=True,
    )
    market("mpan", "supplier", core, "--supplier", DAWN, "--from", cos.isoformat(), ok=True)
    request = tmp_path / "cos.json"
    request.write_bytes(
        encode(_dsapp(core, supplier=DAWN, sds=BEACON, sds_mpid="SDSB", ref="C-DAWN-BEACON", effective=cos))
    )
    market("submit", str(request), ok=True)
    monkeypatch.setenv("OPENMHHS_TODAY", (START + 9 * D).isoformat())
    market("market", "run", ok=True)

    expected = {
        (CIRRUS, START + D): True,
        (CIRRUS, change - D): True,
        (CIRRUS, change): False,  # replaced by Beacon from the change
        (BEACON, change - D): False,  # not Beacon's before it
        (BEACON, change): True,
        (BEACON, cos - D): True,
        (BEACON, cos): True,  # Dawn appointed Beacon too, with Beacon as MDR (C-DAWN-BEACON)
    }
    for (requester, day), allowed in expected.items():
        got = _check(market, requester, core, day)
        assert got["allowed"] is allowed, (requester, day, got)
        if not allowed:
            assert got["code"] == "OMH0703"
    # the suppliers' own DCC roles: Aurora's until the change of supplier, Dawn's after
    assert _check(market, AURORA, core, cos - D, "import_supplier")["allowed"]
    assert _check(market, AURORA, core, cos, "import_supplier")["code"] == "OMH0704"
    assert _check(market, DAWN, core, cos, "import_supplier")["allowed"]
    assert _check(market, DAWN, core, cos, "meter_data_retriever")["code"] == "OMH0701"  # no MDR DCC role
    assert _check(market, CIRRUS, core, START - 30 * D)["code"] == "OMH0702"

    # the MDRs were told: Cirrus stops after its last day, Beacon starts at the change
    with _db().read() as connection:
        rows = {
            (r.mdr, r.valid_from, r.valid_to)
            for r in connection.execute(sa.select(mdr_instruction).where(mdr_instruction.c.mpan == core))
        }
    assert any(mdr == CIRRUS and to == change for mdr, _, to in rows), rows
    assert any(mdr == BEACON and start == change for mdr, start, _ in rows), rows

    # a rogue instruction: Cirrus keeps retrieving after its last day; the DCC refuses it
    with _db().begin() as connection:
        connection.execute(
            sa.insert(mdr_instruction),
            {
                "mdr": CIRRUS,
                "mpan": core,
                "sds": BEACON,
                "mdr_mpid": "MDRC",
                "valid_from": change,
                "valid_to": None,
            },
        )
    run = market.json("data", "run", "--messages", "--from", START.isoformat(), "--days", "8")
    assert run["access_refusals"] == 6  # Cirrus for each day from the change to the end
    with _db().read() as connection:
        log = MeterDataStore(connection).access_log(mpan=core)
    refused = [(mpid, day, code) for mpid, _, day, allowed, code, _ in log if not allowed]
    assert (
        refused and {code for _, _, code in refused} == {"OMH0703"} and {m for m, _, _ in refused} == {"MDRC"}
    )
    assert min(day for _, day, _ in refused) == change
    # and every day was still submitted once, from the right MDR's data
    with _db().read() as connection:
        days = Counter(x.day for x in MeterDataStore(connection).submissions(mpan=core) if x.version == 1)
    assert days == dict.fromkeys([START + i * D for i in range(8)], 1)


def test_model_2a_supplier_retrieves_with_its_own_supplier_role(
    cli: CliHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENMHHS_TODAY", START.isoformat())
    cli(
        "model",
        "run",
        "2a-fully-integrated",
        "--mpans",
        "10",
        "--data-days",
        "0",
        "--out",
        str(tmp_path / "run"),
        ok=True,
    )
    run = cli.json("data", "run", "--messages", "--from", START.isoformat(), "--days", "2")
    assert run["access_refusals"] == 0 and run["mpan_days"] == 20
    with _db().read() as connection:
        vias = {(r[0], r[1]) for r in connection.execute(sa.text("select via, allowed from dcc_access_log"))}
    assert ("import_supplier", True) in vias


@pytest.mark.parametrize(
    ("first", "periods"), [(date(2025, 10, 25), [48, 50, 48]), (date(2026, 3, 28), [48, 46, 48])]
)
def test_clock_change_days_end_to_end(market: CliHarness, first: date, periods: list[int]) -> None:
    run = market.json("data", "run", "--messages", "--from", first.isoformat(), "--days", "3", "--no-faults")
    assert run["estimated"] == 0 or run["unreachable"] == 0
    with _db().read() as connection:
        submissions = MeterDataStore(connection).submissions()
    by_day = {x.day: x.periods for x in submissions}
    assert [by_day[first + i * D] for i in range(3)] == periods
    # the IF-021 messages, as logged, against the official YAML (when it is beside us)
    found = find_spec_dir()
    mpan = submissions[0].mpan
    messages = [
        m
        for m in market.json("messages", "--mpan", mpan)
        if m["CommonBlock"]["S0"]["interfaceID"] == "IF-021"
    ]
    counted = [
        sum(len(d["consumptionPeriods"]) for d in m["CustomBlock"]["B900"]["settlementDayConsumptionPeriods"])
        for m in messages
    ]
    assert counted == periods
    if found is not None:
        official = OfficialSpec(found)
        for message in messages:
            spec = event_spec("IF-021", message["CommonBlock"]["S0"]["eventCode"])
            assert official.errors(spec.message_type.SCHEMA_NAME, message) == []
