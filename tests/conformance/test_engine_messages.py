"""Every message the appointment engine produces validates against the official DIP YAML:
a run that makes every kind (accepted, rejected and lapsed DS and MS appointments, IF-032
refusals, MDR outcomes for the SDS and the DCC, activations, de-appointments)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from openmhhs.dip.catalogue import event_spec
from tests.conftest import CliHarness
from tests.market_harness import AURORA, BEACON, CIRRUS, DAWN, TODAY, Market
from tests.official_spec import OfficialSpec

D = timedelta(days=1)


def test_every_produced_message_is_officially_valid(
    official: OfficialSpec, cli: CliHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENMHHS_TODAY", TODAY.isoformat())
    market = Market(cli, tmp_path)
    market.contract()
    market.contract("C-AURORA-SELF", sds=AURORA, mdrs=(AURORA,), default=AURORA)
    core = market.mpan()
    market.appoint(core, sds=AURORA, sds_mpid="SUPA", ref="C-AURORA-SELF")
    market.submit(market.dsapp(core, scenario="CSP", mdr=CIRRUS))  # CSP: IF-037 to Aurora
    market.submit(market.mdr_update(core, mdr=BEACON, effective=TODAY + 2 * D))  # accepted
    market.submit(market.mdr_update(core, mdr=BEACON, effective=TODAY + 9 * D))  # REG1082
    market.submit(market.dsapp(core, effective=TODAY - D))  # IF-032 refusal
    market.submit(market.msapp(market.mpan(segment="A")))  # MS: IF-032 refusal REG1031
    market.submit(market.dsapp(market.mpan(), ref="C-NOBODY"))  # IF-035 rejected SP002
    ssd = TODAY + 3 * D
    market.cli("mpan", "supplier", core, "--supplier", DAWN, "--from", ssd.isoformat(), ok=True)
    market.contract("C-DAWN-1", supplier=DAWN)
    market.submit(market.dsapp(core, supplier=DAWN, scenario="COS", ref="C-DAWN-1", effective=ssd))
    market.submit(market.msapp(core, supplier=DAWN, scenario="COS", effective=ssd))
    market.cli("participants", "mode", BEACON, "external", ok=True)
    waiting = market.mpan()
    market.submit(market.dsapp(waiting, effective=TODAY + 10 * D))
    market.today = TODAY + 6 * D
    monkeypatch.setenv("OPENMHHS_TODAY", market.today.isoformat())
    market.cli("market", "run", ok=True)  # activations at the SSD, the lapse of ``waiting``

    messages = cli.json("messages")
    seen: set[str] = set()
    for message in messages:
        s0 = message["CommonBlock"]["S0"]
        spec = event_spec(s0["interfaceID"], s0["eventCode"])
        errors = official.errors(spec.message_type.SCHEMA_NAME, message)
        assert errors == [], (s0, errors)
        seen.add(f"{s0['interfaceID']} {s0['eventCode']}")
    expected = {
        "IF-031 [DSApp]",
        "IF-031 [MSApp]",
        "IF-032 [DSAppInitialResp]",
        "IF-032 [MSAppInitialResp]",
        "IF-033 [DSAppSPRequest]",
        "IF-033 [MSAppSPRequest]",
        "IF-034 [DSAppSPResponse]",
        "IF-034 [MSAppSPResponse]",
        "IF-034 [SDS-MDRUpdate]",
        "IF-035 [DSAppAccepted]",
        "IF-035 [DSAppRejected]",
        "IF-035 [DSAppLapsed]",
        "IF-035 [MSAppAccepted]",
        "IF-035 [SDS-MDROutcome]",
        "IF-035 [DCC-MDROutcome]",
        "IF-036 [DSAppActive]",
        "IF-036 [MSAppActive]",
        "IF-037 [DSDeApp]",
    }
    assert expected <= seen, expected - seen
