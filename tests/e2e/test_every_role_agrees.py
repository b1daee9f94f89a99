"""Issue 11, cases 1-5 and 8, through the command line as a user would: every role agrees with
the Registration Service's timeline through every change, learning it only from DIP messages.

1. a pending SDS-led MDR change retired by a CSP from an earlier day: the DCC, the MDRs and the
   access list follow the new SDS and MDR;
2. a change of supplier: the former supplier may no longer read, the new one may, and IF-021
   goes to the supplier of each settlement day; the registered supplier of an MPAN without a
   Data Service may read;
3. an MDR's 4-character id changed in the ISD from a date: checked and listed as of the day;
4. an MDR whose ISD registration ended is no longer authorised;
5. a Supplier-led MDR change (USP) instructs the new MDR once and stops the old one once;
8. energy direction: an export MPAN is read with the Export Supplier role, and ``model check``
   reports a Supplier acting as MDR without the DCC role its MPANs need.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from datetime import date, timedelta
from importlib.resources import files
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from openmhhs.store.database import Database
from openmhhs.store.tables import mdr_instruction
from tests.conftest import CliHarness
from tests.market_harness import AURORA, BEACON, CIRRUS, DAWN, LDSO, TODAY, Market, new_mpan

D = timedelta(days=1)

PARTICIPANTS = """
organisations:
  - {company_number: "01111111", name: Aurora Energy Supply Ltd, sec: acceded,
     dcc_user_roles: [import_supplier, export_supplier]}
  - {company_number: "02222222", name: Beacon Smart Data Services Ltd, sec: acceded,
     dcc_user_roles: [meter_data_retriever]}
  - {company_number: "03333333", name: Cirrus Meter Data Ltd, sec: acceded,
     dcc_user_roles: [meter_data_retriever]}
  - {company_number: "04444444", name: Dawn Power Ltd, sec: acceded, dcc_user_roles: [import_supplier]}
"""


def _isd(tmp: Path, cirrus: list[tuple[str, str, str | None]] | None = None) -> Path:
    """The market's ISD, with Cirrus's MDR rows replaced by ``cirrus`` (MPID, from, to)."""
    rows = json.loads(files("openmhhs.data").joinpath("market_isd.json").read_text())
    if cirrus is not None:
        for company in rows:
            if company["companyRegNumber"] == "03333333":
                company["companyDetails"] = [
                    {
                        "MPID": mpid,
                        "marketRole": None,
                        "DIPID": CIRRUS,
                        "DIPRole": "MDR",
                        "datetimeFrom": start,
                        "datetimeTo": end,
                    }
                    for mpid, start, end in cirrus
                ]
    path = tmp / "isd.json"
    path.write_text(json.dumps(rows))
    return path


@pytest.fixture
def market(cli: CliHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Market:
    monkeypatch.setenv("OPENMHHS_TODAY", TODAY.isoformat())
    m = Market(cli, tmp_path)
    people = tmp_path / "participants.yaml"
    people.write_text(PARTICIPANTS)
    cli("participants", "import", str(people), ok=True)
    m.contract()  # Beacon for Aurora, MDRs Beacon and Cirrus, Beacon by default
    return m


def _advance(market: Market, monkeypatch: pytest.MonkeyPatch, day: date) -> None:
    market.today = day
    monkeypatch.setenv("OPENMHHS_TODAY", day.isoformat())
    market.cli("market", "run", ok=True)


def _check(market: Market, who: str, core: str, day: date, via: str = "") -> dict[str, Any]:
    args = ["dcc", "check", "--mdr", who, "--mpan", core, "--on", day.isoformat()]
    result = market.cli(*([*args, "--via", via] if via else args), "--json")
    data: dict[str, Any] = orjson.loads(result.stdout)
    assert result.exit_code == (0 if data["allowed"] else 1), result.output
    return data


def _listed(market: Market, day: date) -> dict[str, tuple[str, str]]:
    out = market.tmp / f"access-{day}.csv"
    market.cli("dcc", "access-list", "--out", str(out), "--on", day.isoformat(), ok=True)
    with out.open() as f:
        rows = list(csv.DictReader(f))
    assert len({r["mpan"] for r in rows}) == len(rows)  # each MPAN once
    return {r["mpan"]: (r["mdr_dip_id"], r["mdr_id"]) for r in rows}


def _instructed(core: str) -> set[tuple[str, date, date | None]]:
    with Database().read() as connection:
        rows = connection.execute(sa.select(mdr_instruction).where(mdr_instruction.c.mpan == core))
        return {(r.mdr, r.valid_from, r.valid_to) for r in rows}


def _sent(market: Market, core: str, interface: str) -> list[dict[str, Any]]:
    return [
        m
        for m in market.cli.json("messages", "--mpan", core)
        if m["CommonBlock"]["S0"]["interfaceID"] == interface
    ]


def test_case1_a_csp_from_an_earlier_day_retires_a_pending_sds_led_mdr_change(
    market: Market, monkeypatch: pytest.MonkeyPatch
) -> None:
    market.contract("C-AURORA-SELF", sds=AURORA, mdrs=(AURORA, BEACON), default=AURORA)
    core = market.mpan()
    market.appoint(core, sds=AURORA, sds_mpid="SUPA", ref="C-AURORA-SELF")  # Aurora, MDR Aurora
    pending, csp = TODAY + 4 * D, TODAY + 2 * D
    market.submit(market.mdr_update(core, sds=AURORA, mdr=BEACON, effective=pending))
    assert [p["mdr_dip_id"] for p in market.timeline(core) if p["service"] == "DS"] == [AURORA, BEACON]
    assert market.code(market.dsapp(core, sds=BEACON, mdr=CIRRUS, effective=csp)) == "SP000"
    ds = [(p["dip_id"], p["mdr_dip_id"], p["from"]) for p in market.timeline(core) if p["service"] == "DS"]
    assert ds == [(AURORA, AURORA, TODAY.isoformat()), (BEACON, CIRRUS, csp.isoformat())]
    _advance(market, monkeypatch, TODAY + 9 * D)

    for day in (csp, pending, pending + 3 * D):
        assert _check(market, CIRRUS, core, day)["allowed"], day
        assert _check(market, BEACON, core, day)["code"] == "OMH0703", day
        assert _listed(market, day)[core] == (CIRRUS, "MDRC")
    assert _check(market, AURORA, core, csp - D)["allowed"]  # Aurora reads its own days (2A)
    # Beacon's pending instruction was withdrawn, Aurora's ended: only Cirrus from the CSP day
    assert _instructed(core) == {(AURORA, TODAY, csp), (CIRRUS, csp, None)}
    # once per change: Aurora for the MDR change and for the de-appointment, Beacon's withdrawn
    stops = Counter(m["CustomBlock"]["B083"]["assignedMDRDIPID"] for m in _sent(market, core, "IF-063"))
    assert stops == {AURORA: 2, BEACON: 1}

    run = market.cli.json(
        "data", "run", "--messages", "--from", TODAY.isoformat(), "--days", "8", "--no-faults"
    )
    assert run["access_refusals"] == 0 and run["estimated"] == 0 and run["mpan_days"] == 8


def _uk_day(if021: dict[str, Any]) -> str:
    days = if021["CustomBlock"]["B900"]["settlementDayConsumptionPeriods"]
    return str(max(d["settlementDay"]["settlementDayDate"][:10] for d in days))


def test_case2_change_of_supplier_moves_reads_and_settlement_data(
    market: Market, monkeypatch: pytest.MonkeyPatch
) -> None:
    core, bare = market.mpan(), market.mpan()
    market.appoint(core)  # Beacon, MDR Beacon
    cos = TODAY + 3 * D
    market.cli("mpan", "supplier", core, "--supplier", DAWN, "--from", cos.isoformat(), ok=True)
    _advance(market, monkeypatch, TODAY + 7 * D)

    assert _check(market, AURORA, core, cos - D, "import_supplier")["allowed"]
    assert _check(market, AURORA, core, cos, "import_supplier")["code"] == "OMH0704"
    assert _check(market, DAWN, core, cos, "import_supplier")["allowed"]
    assert not _check(market, DAWN, core, cos - D, "import_supplier")["allowed"]
    # an MPAN with no Data Service yet: its registered supplier may read
    assert _check(market, AURORA, bare, TODAY, "import_supplier")["allowed"]

    market.cli(
        "data", "run", "--messages", "--from", TODAY.isoformat(), "--days", "6", "--no-faults", ok=True
    )
    recipients = {
        _uk_day(m): set(m["CommonBlock"]["A0"]["primaryRecipients"]) for m in _sent(market, core, "IF-021")
    }
    assert len(recipients) == 6
    for day, to in recipients.items():
        assert (DAWN in to, AURORA in to) == ((True, False) if day >= cos.isoformat() else (False, True)), day


def test_case3_an_mdr_is_known_by_its_id_of_the_day(market: Market, monkeypatch: pytest.MonkeyPatch) -> None:
    change = TODAY + 3 * D
    market.cli(
        "isd",
        "import",
        str(
            _isd(
                market.tmp,
                [
                    ("MDRC", "2025-04-01T00:00:00+01:00", "2025-07-04T00:00:00+01:00"),
                    ("MDRY", "2025-07-04T00:00:00+01:00", None),
                ],
            )
        ),
        ok=True,
    )
    core = market.mpan()
    market.appoint(core, mdr=CIRRUS)
    _advance(market, monkeypatch, TODAY + 6 * D)
    before, after = _check(market, CIRRUS, core, change - D), _check(market, CIRRUS, core, change)
    assert (before["allowed"], before["requester_mpid"]) == (True, "MDRC")
    assert (after["allowed"], after["requester_mpid"]) == (True, "MDRY")
    assert after["mpid"] == "MDRY"
    assert _listed(market, change - D)[core] == (CIRRUS, "MDRC")
    assert _listed(market, change)[core] == (CIRRUS, "MDRY")
    run = market.cli.json(
        "data", "run", "--messages", "--from", TODAY.isoformat(), "--days", "5", "--no-faults"
    )
    assert run["access_refusals"] == 0 and run["estimated"] == 0


def test_case4_an_ended_isd_registration_ends_authorisation(
    market: Market, monkeypatch: pytest.MonkeyPatch
) -> None:
    end = TODAY + 3 * D
    market.cli(
        "isd",
        "import",
        str(_isd(market.tmp, [("MDRC", "2025-04-01T00:00:00+01:00", "2025-07-04T00:00:00+01:00")])),
        ok=True,
    )
    core = market.mpan()
    market.appoint(core, mdr=CIRRUS)
    assert _check(market, CIRRUS, core, end - D)["allowed"]
    refused = _check(market, CIRRUS, core, end)
    assert refused["code"] == "OMH0706"
    assert core in _listed(market, end - D) and core not in _listed(market, end)
    run = market.cli.json(
        "data", "run", "--messages", "--from", TODAY.isoformat(), "--days", "5", "--no-faults"
    )
    assert run["access_refusals"] == 2  # the 4th and 5th day


def test_case5_a_supplier_led_mdr_change_instructs_each_mdr_once(market: Market) -> None:
    core = market.mpan()
    market.appoint(core)  # MDR Beacon
    outcome = market.submit(market.dsapp(core, scenario="USP", mdr=CIRRUS, mdr_from=TODAY + 2 * D))
    assert outcome["results"][0]["code"] == "SP000"
    told = Counter(
        (m["CommonBlock"]["S0"]["eventCode"], m["CommonBlock"]["A0"]["primaryRecipients"][0])
        for m in outcome["produced"]
        if m["CommonBlock"]["S0"]["interfaceID"] in ("IF-061", "IF-063")
    )
    assert told == {("[MDRStart]", CIRRUS): 1, ("[MDRStop]", BEACON): 1}
    # re-appointing the same SDS and MDR from a later day (a change of supplier) starts nothing
    market.cli("mpan", "supplier", core, "--supplier", DAWN, "--from", (TODAY + 5 * D).isoformat(), ok=True)
    market.contract("C-DAWN-1", supplier=DAWN, default=CIRRUS)
    again = market.submit(
        market.dsapp(core, supplier=DAWN, scenario="COS", ref="C-DAWN-1", effective=TODAY + 5 * D)
    )
    assert again["results"][0]["code"] == "SP000"
    assert [
        m for m in again["produced"] if m["CommonBlock"]["S0"]["interfaceID"] in ("IF-061", "IF-063")
    ] == []
    assert _instructed(core) == {(BEACON, TODAY, TODAY + 2 * D), (CIRRUS, TODAY + 2 * D, None)}


def test_case8_an_export_mpan_is_read_with_the_export_supplier_role(market: Market, cli: CliHarness) -> None:
    export = new_mpan()
    path = market.tmp / "export.csv"
    path.write_text(
        "mpan,distributor,gsp_group,supplier,supplier_from,energy_direction\n"
        f"{export},{LDSO},_H,{AURORA},{(TODAY - 60 * D).isoformat()},E\n"
    )
    cli("mpan", "import", str(path), ok=True)
    assert _check(market, AURORA, export, TODAY, "import_supplier")["code"] == "OMH0708"
    assert _check(market, AURORA, export, TODAY, "export_supplier")["allowed"]
    assert _check(market, AURORA, market.mpan(), TODAY, "export_supplier")["code"] == "OMH0708"
    # mpan add takes the direction too
    added = market.mpan(energy_direction="E")
    assert cli.json("mpan", "show", added)["energy_direction"] == "E"
    assert _check(market, AURORA, added, TODAY)["via"] == "export_supplier"


def test_case8_model_check_reports_a_supplier_mdr_without_the_role_its_mpans_need(
    cli: CliHarness, tmp_path: Path
) -> None:
    text = files("openmhhs.data.scenarios").joinpath("2a-fully-integrated.yaml").read_text()
    roles = "dcc_user_roles: [import_supplier, export_supplier]"
    assert roles in text
    description = tmp_path / "2a-export-only.yaml"
    description.write_text(text.replace(roles, "dcc_user_roles: [export_supplier]", 1))
    result = cli("model", "check", str(description), "--json")
    assert result.exit_code == 1
    problems = orjson.loads(result.stdout)["problems"]
    assert any(p["code"] == "OMH0709" and "import_supplier" in p["message"] for p in problems), problems
    assert cli("model", "check", "2a-fully-integrated").exit_code == 0
