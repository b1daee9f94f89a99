"""Issue 11, cases 6, 7 and 10, driven through the command line as a user would: messages are
judged and stamped on today; the SDS checks an MDR change against the MDR on its effective
day; commands exit non-zero when they refused anything, and bad input is one coded line."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import orjson
import pytest

from openmhhs.dip.parse import encode
from tests.conftest import CliHarness
from tests.market_harness import BEACON, CIRRUS, TODAY, Market

D = timedelta(days=1)


@pytest.fixture
def market(cli: CliHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Market:
    monkeypatch.setenv("OPENMHHS_TODAY", TODAY.isoformat())
    m = Market(cli, tmp_path)
    m.contract()
    return m


def _move_to(market: Market, monkeypatch: pytest.MonkeyPatch, day: date) -> None:
    market.today = day
    monkeypatch.setenv("OPENMHHS_TODAY", day.isoformat())


# --- case 6: today is today ------------------------------------------------------------------


def test_a_message_is_judged_and_stamped_on_today_not_the_day_after_the_last_run(
    market: Market, monkeypatch: pytest.MonkeyPatch
) -> None:
    market.cli("market", "run", ok=True)  # the market last ran on TODAY
    later = TODAY + 40 * D  # more than 28 days on: judged on TODAY + 1 it would be REG1099
    _move_to(market, monkeypatch, later)
    core = market.mpan()
    request = market.dsapp(core, effective=later)
    outcome = market.submit(request)
    assert outcome["results"][0]["code"] == "SP000"
    (initial,) = market.produced(outcome, "[DSAppInitialResp]")
    stamped = initial["CommonBlock"]["S1"]["senderTimestamp"]
    assert stamped.startswith(later.isoformat())
    assert stamped >= request.common_block.s1.sender_timestamp  # never before its request
    assert outcome["run"]["days"][0] == (TODAY + D).isoformat()  # the days between still ran
    assert outcome["run"]["days"][-1] == later.isoformat()


def test_the_market_is_brought_to_today_before_a_message_is_judged(
    market: Market, monkeypatch: pytest.MonkeyPatch
) -> None:
    core = market.mpan()
    market.appoint(core)
    change = TODAY + 3 * D
    assert market.code(market.mdr_update(core, mdr=CIRRUS, effective=change)) == "SP000"
    _move_to(market, monkeypatch, change)
    # on the change day Cirrus is the MDR: asking for Cirrus again is REG1098, asking for
    # Beacon back is a change
    assert market.code(market.mdr_update(core, mdr=CIRRUS, effective=change + D)) == "REG1098"
    assert market.code(market.mdr_update(core, mdr=BEACON, effective=change + D)) == "SP000"


# --- case 7: the SDS checks an MDR change against the MDR on its effective day ------------------


def _sds_change(market: Market, core: str, mdr: str, day: date) -> tuple[int, dict[str, object]]:
    result = market.cli(
        "sds",
        "mdr-change",
        "--sds",
        BEACON,
        "--mpan",
        core,
        "--mdr",
        mdr,
        "--from",
        day.isoformat(),
        "--json",
    )
    return result.exit_code, orjson.loads(result.stdout)


def test_sds_mdr_change_compares_with_the_mdr_on_the_effective_day(market: Market) -> None:
    core = market.mpan()
    market.appoint(core)  # Beacon is the MDR from today
    assert _sds_change(market, core, CIRRUS, TODAY + 2 * D)[1]["code"] == "SP000"
    # Beacon is today's MDR but not the MDR on TODAY + 4: the SDS does not call it "already
    # the MDR" (DS001); the RS answers that a change is already scheduled (REG1083)
    status, data = _sds_change(market, core, BEACON, TODAY + 4 * D)
    assert (status, data["code"]) == (1, "REG1083")
    # before the scheduled change, Beacon is still the MDR: the RS's REG1098
    status, data = _sds_change(market, core, BEACON, TODAY + D)
    assert (status, data["code"]) == (1, "REG1098")


def test_sds_mdr_change_to_the_same_mdr_is_the_registration_services_reg1098(market: Market) -> None:
    core = market.mpan()
    market.appoint(core)
    status, data = _sds_change(market, core, BEACON, TODAY + 2 * D)
    assert (status, data["code"]) == (1, "REG1098")  # the RS refuses it; no DS001 from the SDS


def test_sds_mdr_change_exits_non_zero_when_the_rs_refuses(market: Market) -> None:
    core = market.mpan()
    market.appoint(core)
    status, data = _sds_change(market, core, CIRRUS, TODAY + 10 * D)
    assert (status, data["code"]) == (1, "REG1082")


# --- case 10: exit codes and coded errors -----------------------------------------------------------


def test_submit_exits_non_zero_when_every_input_is_refused(market: Market, tmp_path: Path) -> None:
    core = market.mpan()
    path = tmp_path / "too-far-ahead.json"
    path.write_bytes(encode([market.dsapp(core, effective=TODAY + 40 * D)]))
    result = market.cli("submit", str(path), "--json")
    assert orjson.loads(result.stdout)["results"][0]["code"] == "REG1099"  # --json output unchanged
    assert result.exit_code == 1
    accepted = tmp_path / "accepted.json"
    accepted.write_bytes(encode([market.dsapp(core), market.msapp(core)]))
    market.cli("submit", str(accepted), ok=True)


def test_gaps_exits_non_zero_while_an_mpan_lacks_a_service(market: Market) -> None:
    core = market.mpan()
    result = market.cli("gaps", "--on", TODAY.isoformat(), "--json")
    assert [g["mpan"] for g in orjson.loads(result.stdout)] == [core]
    assert result.exit_code == 1
    market.appoint(core)
    market.cli("gaps", "--on", TODAY.isoformat(), ok=True)


def test_access_list_into_a_missing_folder_is_a_coded_error(market: Market, tmp_path: Path) -> None:
    out = tmp_path / "missing-dir" / "x.csv"
    result = market.cli("dcc", "access-list", "--on", TODAY.isoformat(), "--out", str(out))
    assert result.exit_code == 1
    assert result.stderr.startswith("OMH0406 ") and str(out) in result.stderr
    data = market.cli.json("dcc", "access-list", "--on", TODAY.isoformat(), "--out", str(out))
    assert data["error"]["code"] == "OMH0406"


def _openmhhs(*args: str, db: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OPENMHHS_DB": db, "OPENMHHS_TODAY": TODAY.isoformat()}
    command = [sys.executable, "-c", "from openmhhs.cli.main import run; run()", *args]
    return subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("t.db", "OMH0404"),
        ("mysql://user:secret@127.0.0.1/openmhhs", "OMH0404"),
        ("postgresql://user:secret@127.0.0.1:1/openmhhs", "OMH0405"),  # nothing listens on port 1
    ],
)
def test_a_bad_database_url_is_one_coded_line(tmp_path: Path, url: str, code: str) -> None:
    done = _openmhhs("gaps", db=url, cwd=tmp_path)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith(f"{code} ") and done.stderr.count("\n") == 1, done.stderr
    assert "secret" not in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_an_sqlite_database_in_a_missing_folder_is_refused_not_made(tmp_path: Path) -> None:
    folder = tmp_path / "nonexistent"
    done = _openmhhs("gaps", "--json", db=f"sqlite:///{folder / 'x.db'}", cwd=tmp_path)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert orjson.loads(done.stdout)["error"]["code"] == "OMH0404"
    assert not folder.exists()
