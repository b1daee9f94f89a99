"""The messages ``openmhhs request ds|ms`` and ``openmhhs sds respond`` write validate against
the official DIP YAML, for every appointment scenario, with a nominated or a blank MDR."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from openmhhs.dip.catalogue import event_spec
from tests.conftest import CliHarness
from tests.market_harness import AURORA, BEACON, CIRRUS, METERWISE, TODAY, Market
from tests.official_spec import OfficialSpec


def _check(official: OfficialSpec, message: dict[str, Any]) -> None:
    s0 = message["CommonBlock"]["S0"]
    spec = event_spec(s0["interfaceID"], s0["eventCode"])
    assert official.errors(spec.message_type.SCHEMA_NAME, message) == [], s0


@pytest.mark.parametrize("scenario", ["COS", "CSP", "USP"])
@pytest.mark.parametrize("mdr", [CIRRUS, None])
def test_request_ds_is_officially_valid(
    official: OfficialSpec, cli: CliHarness, tmp_path: Path, scenario: str, mdr: str | None
) -> None:
    market = Market(cli, tmp_path)
    core = market.mpan()
    out = tmp_path / "ds.json"
    args = ["request", "ds", "--mpan", core, "--supplier", AURORA, "--sds", BEACON, "--from",
            TODAY.isoformat(), "--scenario", scenario, "--contract", "C-1", "-o", str(out)]  # fmt: skip
    cli(*args, *(["--mdr", mdr] if mdr else []), ok=True)
    message = orjson.loads(out.read_bytes())
    assert message["CustomBlock"]["B071"]["appointmentScenario"] == scenario
    assert message["CustomBlock"]["B071"].get("supplierNominatedMDRDIPID") == mdr
    _check(official, message)
    cli("validate", str(out), ok=True)


def test_request_ms_and_sds_respond_are_officially_valid(
    official: OfficialSpec, cli: CliHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENMHHS_TODAY", TODAY.isoformat())
    market = Market(cli, tmp_path)
    market.contract()
    core = market.mpan()
    ms = tmp_path / "ms.json"
    cli("request", "ms", "--mpan", core, "--supplier", AURORA, "--ms", METERWISE, "--from",
        TODAY.isoformat(), "-o", str(ms), ok=True)  # fmt: skip
    _check(official, orjson.loads(ms.read_bytes()))
    cli("participants", "mode", BEACON, "external", ok=True)
    market.submit(market.dsapp(core))
    asked = tmp_path / "ask.json"
    asked.write_text(cli("messages", "--mpan", core, "--json", ok=True).stdout)
    for code, extra in (("SP000", ["--mdr", BEACON]), ("SP004", [])):
        answer = tmp_path / f"{code}.json"
        cli("sds", "respond", str(asked), "--code", code, *extra, "-o", str(answer), ok=True)
        _check(official, orjson.loads(answer.read_bytes()))
