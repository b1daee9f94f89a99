"""Whole exchanges through the command line: change of supplier with de-appointment,
prospective appointments becoming active as days pass, lapses, clock-change days, and the
scripting contract of ``timeline``, ``messages``, ``gaps`` and ``mpan import``."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import orjson
import pytest

from tests.conftest import CliHarness
from tests.market_harness import AURORA, BEACON, CIRRUS, DAWN, RS, TODAY, Market, new_mpan

D = timedelta(days=1)


@pytest.fixture
def market(cli: CliHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Market:
    monkeypatch.setenv("OPENMHHS_TODAY", TODAY.isoformat())
    m = Market(cli, tmp_path)
    m.contract()
    return m


def advance(market: Market, monkeypatch: pytest.MonkeyPatch, day: date) -> dict[str, object]:
    market.today = day
    monkeypatch.setenv("OPENMHHS_TODAY", day.isoformat())
    return market.cli.json("market", "run")  # type: ignore[no-any-return]


def events(market: Market, core: str) -> list[str]:
    return [m["CommonBlock"]["S0"]["eventCode"] for m in market.cli.json("messages", "--mpan", core)]


def test_full_appointment_exchange_in_order(market: Market) -> None:
    core = market.mpan()
    outcome = market.submit(market.dsapp(core))
    produced = [m["CommonBlock"]["S0"]["eventCode"] for m in outcome["produced"]]
    assert produced == [
        "[DSAppInitialResp]",
        "[DSAppSPRequest]",
        "[DSAppSPResponse]",
        "[DSAppAccepted]",
        "[SDS-MDROutcome]",
        "[DCC-MDROutcome]",
        "[MDRStart]",  # the SDS instructs the assigned MDR (IF-061)...
        "[MDRStartResponse]",  # ...which accepts (IF-062)
        "[DSAppActive]",
    ]
    correlation = {m["CommonBlock"]["S1"]["senderCorrelationID"] for m in outcome["produced"]}
    assert len(correlation) == 1  # one exchange, one correlation id
    dcc = market.produced(outcome, "[DCC-MDROutcome]")[0]
    assert "9000000002" in dcc["CommonBlock"]["A0"]["primaryRecipients"]


def test_change_of_supplier_deappoints_the_outgoing_sds(
    market: Market, monkeypatch: pytest.MonkeyPatch
) -> None:
    market.contract("C-AURORA-SELF", sds=AURORA, mdrs=(AURORA,), default=AURORA)
    core = market.mpan()
    market.appoint(core, sds=AURORA, sds_mpid="SUPA", ref="C-AURORA-SELF")  # model 2A: in-house
    ssd = TODAY + 7 * D
    market.cli("mpan", "supplier", core, "--supplier", DAWN, "--from", ssd.isoformat(), ok=True)
    market.contract("C-DAWN-1", supplier=DAWN)
    outcome = market.submit(
        market.dsapp(core, supplier=DAWN, scenario="COS", ref="C-DAWN-1", effective=ssd, mdr=CIRRUS)
    )
    assert outcome["results"][0]["code"] == "SP000"
    (deapp,) = market.produced(outcome, "[DSDeApp]")
    b009 = deapp["CustomBlock"]["B009"]
    assert (b009["deAppointedDataServiceDIPID"], b009["deAppointmentReasonCode"]) == (AURORA, "CSUPP")
    assert b009["dataServiceEffectiveToDate"].startswith(ssd.isoformat())
    assert deapp["CustomBlock"]["B002"]["incomingSupplierDIPID"] == DAWN
    assert market.produced(outcome, "[DSAppActive]") == []  # not yet: the SSD is in a week
    ds = [p for p in market.timeline(core) if p["service"] == "DS"]
    assert [(p["dip_id"], p["mdr_mpid"], p["to"]) for p in ds] == [
        (AURORA, "SUPA", ssd.isoformat()),
        (BEACON, "MDRC", None),
    ]
    advance(market, monkeypatch, ssd - D)
    assert "[DSAppActive]" not in events(market, core)[-3:]
    advance(market, monkeypatch, ssd)
    assert events(market, core).count("[DSAppActive]") == 2  # the first appointment's, and now Dawn's
    on_ssd = market.cli.json("timeline", core, "--on", ssd.isoformat())
    assert {p["service"]: p["dip_id"] for p in on_ssd} == {"DS": BEACON, "MS": "5555555555"}


def test_unanswered_request_lapses(market: Market, monkeypatch: pytest.MonkeyPatch) -> None:
    market.cli("participants", "mode", BEACON, "external", ok=True)
    core = market.mpan()
    market.submit(market.dsapp(core, effective=TODAY + 10 * D))
    advance(market, monkeypatch, TODAY + 4 * D)
    assert "[DSAppLapsed]" not in events(market, core)
    advance(market, monkeypatch, TODAY + 5 * D)
    assert events(market, core)[-1] == "[DSAppLapsed]"
    assert market.timeline(core) == []


def test_market_clock_catches_up_day_by_day(market: Market, monkeypatch: pytest.MonkeyPatch) -> None:
    core = market.mpan()
    market.submit(market.dsapp(core, effective=TODAY + 3 * D))
    ran = advance(market, monkeypatch, TODAY + 5 * D)
    assert ran["days"] == [(TODAY + n * D).isoformat() for n in range(1, 6)]
    assert events(market, core).count("[DSAppActive]") == 1


@pytest.mark.parametrize(
    ("today", "effective", "text", "offset"),
    [
        (date(2026, 3, 28), date(2026, 3, 29), "2026-03-29T00:00:00+00:00", "+00:00"),  # spring: 46 periods
        (date(2026, 3, 28), date(2026, 3, 30), "2026-03-30T00:00:00+01:00", "+01:00"),
        (date(2026, 10, 24), date(2026, 10, 25), "2026-10-25T00:00:00+01:00", "+01:00"),  # autumn: 50 periods
        (date(2026, 10, 24), date(2026, 10, 26), "2026-10-26T00:00:00+00:00", "+00:00"),
    ],
)
def test_clock_change_days_as_effective_from(
    cli: CliHarness,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    today: date,
    effective: date,
    text: str,
    offset: str,
) -> None:
    monkeypatch.setenv("OPENMHHS_TODAY", today.isoformat())
    market = Market(cli, tmp_path, today=today)
    market.contract()
    core = market.mpan(since=today - 30 * D)
    outcome = market.submit(market.dsapp(core, effective=effective, mdr=CIRRUS))
    assert outcome["results"][0]["code"] == "SP000"
    request = market.produced(outcome, "[DSAppSPRequest]")[0]
    assert request["CustomBlock"]["B071"]["proposedDataServiceDIPEffectiveFromDate"] == text
    accepted = market.produced(outcome, "[DSAppAccepted]")[0]
    assert accepted["CustomBlock"]["B019"]["assignedMDREffectiveFromDate"].endswith(offset)
    assert market.timeline(core)[0]["from"] == effective.isoformat()
    # the UTC spelling of the same midnight is the same UK day
    other = market.mpan(since=today - 30 * D)
    utc = (
        (effective - D).isoformat() + "T23:00:00+00:00"
        if offset == "+01:00"
        else effective.isoformat() + "T00:00:00+00:00"
    )
    assert market.code(market.dsapp(other, effective_text=utc)) == "SP000"
    assert market.timeline(other)[0]["from"] == effective.isoformat()


def test_not_local_midnight_on_a_clock_change_day_is_refused(
    cli: CliHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENMHHS_TODAY", "2026-10-24")
    market = Market(cli, tmp_path, today=date(2026, 10, 24))
    market.contract()
    core = market.mpan(since=date(2026, 9, 1))
    # 00:00 UTC on 25 October is 01:00 BST: not the start of the UK day
    assert market.code(market.dsapp(core, effective_text="2026-10-25T00:00:00+00:00")) == "REG1032"


def test_timeline_json_contract_and_ranges(market: Market) -> None:
    core = market.mpan()
    market.appoint(core)
    market.submit(market.mdr_update(core, effective=TODAY + 2 * D))
    periods = market.timeline(core)
    assert all(
        set(p) >= {"service", "dip_id", "mpid", "mdr_dip_id", "mdr_mpid", "from", "to"} for p in periods
    )
    assert [p["from"] for p in periods] == sorted(p["from"] for p in periods)
    ranged = market.cli.json("timeline", core, "--from", (TODAY + 3 * D).isoformat())
    assert [(p["service"], p["mdr_mpid"]) for p in ranged] == [("MS", None), ("DS", "MDRC")] or [
        (p["service"], p["mdr_mpid"]) for p in ranged
    ] == [("DS", "MDRC"), ("MS", None)]
    history = market.cli.json("timeline", core, "--history")
    assert len(history["retired"]) == 1 and history["retired"][0]["mdr_mpid"] == "SDSB"


def test_messages_are_logged_as_sent(market: Market) -> None:
    core = market.mpan()
    request = market.dsapp(core)
    market.submit(request)
    logged = market.cli.json("messages", "--mpan", core)
    from openmhhs.dip.parse import encode

    # the MPAN's registration reached the DCC first (IF-001 from the RS); then the exchange
    assert logged[0]["CommonBlock"]["S0"]["eventCode"] == "[InitialRegistration]"
    logged = logged[1:]
    assert logged[0] == orjson.loads(encode(request))
    assert all("D0" not in m["CommonBlock"] for m in logged)
    correlation = logged[0]["CommonBlock"]["S1"]["senderCorrelationID"]
    assert len(market.cli.json("messages", "--correlation", correlation)) == len(logged)


def test_gap_report_lists_what_is_missing(market: Market) -> None:
    done, ds_only, nothing = market.mpan(), market.mpan(), market.mpan()
    market.appoint(done)
    market.submit(market.dsapp(ds_only))
    gaps = {g["mpan"]: g["missing"] for g in market.cli.json("gaps", "--on", TODAY.isoformat())}
    assert done not in gaps
    assert gaps[ds_only] == ["MS"]
    assert gaps[nothing] == ["DS", "MDR", "MS"]


def test_mpan_import_is_all_or_nothing(market: Market, tmp_path: Path) -> None:
    good, bad = new_mpan(), new_mpan()
    header = "mpan,distributor,gsp_group,supplier,supplier_from,segment,domestic\n"
    rows = f"{good},9000000020,_H,{AURORA},2025-05-01,S,true\n{bad[:12]}{(int(bad[12]) + 1) % 10},9000000020,_H,{AURORA},2025-05-01,S,true\n"
    path = tmp_path / "mpans.csv"
    path.write_text(header + rows)
    result = market.cli("mpan", "import", str(path), "--json")
    assert result.exit_code == 1 and "line 3" in orjson.loads(result.stdout)["error"]["message"]
    assert market.cli("mpan", "show", good).exit_code == 1  # nothing loaded
    path.write_text(header + f"{good},9000000020,_H,{AURORA},2025-05-01,S,true\n")
    assert market.cli.json("mpan", "import", str(path)) == {"imported": 1}
    assert market.cli.json("mpan", "show", good)["suppliers"][0]["supplier"] == AURORA


def test_mpan_in_the_wrong_gsp_group_is_refused(market: Market) -> None:
    result = market.cli(
        "mpan",
        "add",
        new_mpan(),
        "--distributor",
        "9000000020",
        "--gsp",
        "_A",
        "--supplier",
        AURORA,
        "--from",
        "2025-05-01",
    )
    assert result.exit_code == 1


def test_contract_list(market: Market) -> None:
    contracts = market.cli.json("contract", "list", "--sds", BEACON)
    assert [c["reference"] for c in contracts] == ["C-AURORA-1"]
    assert contracts[0]["default_mdr"] == BEACON and contracts[0]["blank_mdr"] == "default"


def test_rs_is_required(cli: CliHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.isd_samples import sample_json

    monkeypatch.setenv("OPENMHHS_TODAY", TODAY.isoformat())
    isd = tmp_path / "isd.json"
    isd.write_bytes(sample_json())
    cli("isd", "import", str(isd), ok=True)
    path = tmp_path / "m.json"
    path.write_bytes(b"[]")
    assert RS  # the sample ISD has no Registration Service: submitted messages wait
    assert cli.json("submit", str(path))["results"] == []


def test_lapse_timeout_is_a_setting(market: Market, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENMHHS_RS_LAPSE_AFTER_DAYS", "2")
    market.cli("participants", "mode", BEACON, "external", ok=True)
    core = market.mpan()
    market.submit(market.dsapp(core, effective=TODAY + 10 * D))
    advance(market, monkeypatch, TODAY + 2 * D)
    assert events(market, core)[-1] == "[DSAppLapsed]"
    monkeypatch.setenv("OPENMHHS_RS_LAPSE_AFTER_DAYS", "soon")
    assert market.cli("market", "run", "--json").exit_code == 1
