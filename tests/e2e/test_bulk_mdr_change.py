"""``openmhhs bulk-mdr-change``: an SDS plans moving every MPAN from one MDR to another, sees what
would be refused and why (each code from its own rule), writes the batch, and applies it."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import orjson
import pytest

from openmhhs.dip.catalogue import event_spec
from tests.conftest import CliHarness, find_spec_dir
from tests.official_spec import OfficialSpec

BEACON, CIRRUS, METERWISE = "2222222222", "3333333333", "5555555555"
TODAY = "2025-07-01"


def _scenario(tmp_path: Path, *, notice: int = 0, max_notice: int | None = None) -> str:
    text = files("openmhhs.data.scenarios").joinpath("1a-fully-separated.yaml").read_text(encoding="utf-8")
    extra = f"    mdr_change_notice_days: {notice}\n"
    if max_notice is not None:
        extra += f"    mdr_change_max_notice_days: {max_notice}\n"
    text = text.replace("    default_mdr: MDRC\n", "    default_mdr: MDRC\n" + extra, 1)
    path = tmp_path / "1a-notice.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.fixture
def market(cli: CliHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliHarness:
    monkeypatch.setenv("OPENMHHS_TODAY", TODAY)
    scenario = _scenario(tmp_path, notice=1, max_notice=4)
    assert cli.json("migrate", "--synthetic", "--mpans", "40", "--scenario", scenario)["done"] == 40
    return cli


def _plan(cli: CliHarness, effective: str, to: str = BEACON, *extra: str) -> dict[str, object]:
    result: dict[str, object] = cli.json(
        "bulk-mdr-change",
        "--sds",
        BEACON,
        "--from-mdr",
        CIRRUS,
        "--to-mdr",
        to,
        "--from",
        effective,
        *extra,
    )
    return result


@pytest.mark.parametrize(
    ("effective", "to", "code"),
    [
        ("2025-06-30", BEACON, "DS005"),  # retrospective
        ("2025-07-01", BEACON, "DS004"),  # less than the contract's 1 day of notice
        ("2025-07-06", BEACON, "DS006"),  # further ahead than the contract's 4 days
        ("2025-07-03", METERWISE, "DS001"),  # an MDR the contract does not support
        ("2025-07-03", CIRRUS, "REG1098"),  # already the MDR on that day: the RS's code, not DS001
    ],
)
def test_each_refusal_carries_its_code(market: CliHarness, effective: str, to: str, code: str) -> None:
    plan = _plan(market, effective, to)
    assert plan["affected"] == 40 and plan["to_send"] == 0
    refused = plan["refused"]
    assert isinstance(refused, dict) and set(refused) == {code} and refused[code]["count"] == 40


def test_the_registration_services_limit_reg1082(
    cli: CliHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENMHHS_TODAY", TODAY)
    cli.json("migrate", "--synthetic", "--mpans", "10", "--scenario", _scenario(tmp_path))
    plan = _plan(cli, "2025-07-20")
    refused = plan["refused"]
    assert isinstance(refused, dict) and set(refused) == {"REG1082"}
    assert "more than 5 days" in refused["REG1082"]["reason"]


def test_planned_batch_is_written_valid_and_applied(market: CliHarness, tmp_path: Path) -> None:
    out = tmp_path / "batch.json"
    plan = _plan(market, "2025-07-03", BEACON, "--out", str(out))
    assert plan["to_send"] == 40 and plan["refused"] == {}
    batch = orjson.loads(out.read_bytes())
    assert len(batch) == 40 and {m["CommonBlock"]["S0"]["eventCode"] for m in batch} == {"[SDS-MDRUpdate]"}
    found = find_spec_dir()
    if found is not None:
        official = OfficialSpec(found)
        spec = event_spec("IF-034", "[SDS-MDRUpdate]")
        assert all(official.errors(spec.message_type.SCHEMA_NAME, m) == [] for m in batch)
    # planning wrote nothing to the market
    assert (
        market.json("dcc", "access-list", "--on", "2025-07-03", "--out", str(tmp_path / "a.csv"))["mpans"]
        == 40
    )
    assert {ln.split(",")[2] for ln in (tmp_path / "a.csv").read_text().splitlines()[1:]} == {"MDRC"}
    applied = _plan(market, "2025-07-03", BEACON, "--apply")
    assert applied["applied"] == {"SP000": 40}
    market.json("dcc", "access-list", "--on", "2025-07-03", "--out", str(tmp_path / "b.csv"))
    assert {ln.split(",")[2] for ln in (tmp_path / "b.csv").read_text().splitlines()[1:]} == {"SDSB"}
    # the day before still belongs to Cirrus; and nothing is left to move
    market.json("dcc", "access-list", "--on", "2025-07-02", "--out", str(tmp_path / "c.csv"))
    assert {ln.split(",")[2] for ln in (tmp_path / "c.csv").read_text().splitlines()[1:]} == {"MDRC"}
    assert _plan(market, "2025-07-03")["affected"] == 0


def test_only_a_simulated_sds_can_plan(market: CliHarness) -> None:
    result = market(
        "bulk-mdr-change",
        "--sds",
        CIRRUS,
        "--from-mdr",
        CIRRUS,
        "--to-mdr",
        BEACON,
        "--effective",
        "2025-07-03",
    )
    assert result.exit_code != 0 and "OMH" in result.output
