"""Issue 11, cases 6, 7 and 10, driven through the command line as a user would: messages are
judged and stamped on today; the SDS checks an MDR change against the MDR on its effective
day; commands exit non-zero when they refused anything, and bad input is one coded line."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, timedelta
from importlib.resources import files
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


def test_sds_mdr_change_out_writes_a_valid_if034_instead_of_sending_it(
    market: Market, tmp_path: Path
) -> None:
    core = market.mpan()
    market.appoint(core)
    before = len(orjson.loads(market.cli("messages", "--json").stdout))
    out = tmp_path / "mdr-change.json"
    day = (TODAY + 2 * D).isoformat()
    args = ("sds", "mdr-change", "--sds", BEACON, "--mpan", core, "--mdr", CIRRUS, "--from", day)
    written = market.cli(*args, "--out", str(out), "--json")
    assert written.exit_code == 0, written.output
    summary = orjson.loads(written.stdout)
    assert (summary["interface"], summary["event"], summary["file"]) == (
        "IF-034",
        "[SDS-MDRUpdate]",
        str(out),
    )
    message = orjson.loads(out.read_bytes())
    assert message["CommonBlock"]["M0"]["MPANCore"] == core
    assert market.cli("validate", str(out)).exit_code == 0
    assert len(orjson.loads(market.cli("messages", "--json").stdout)) == before  # nothing sent


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
    return subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, check=False)


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


# --- case 9: identity and configuration refuse what they should ---------------------------------


def _isd_with(tmp_path: Path, company: str, **changes: str) -> Path:
    """The test market's ISD with every row of one company changed."""
    table = orjson.loads(files("openmhhs.data").joinpath("market_isd.json").read_bytes())
    for organisation in table:
        if organisation["companyRegNumber"] == company:
            for row in organisation["companyDetails"]:
                row.update(changes)
    path = tmp_path / f"isd-{company}-{'-'.join(changes.values())}.json"
    path.write_bytes(orjson.dumps(table))
    return path


@pytest.mark.parametrize(
    ("changes", "where"), [({"DIPID": "4444444444"}, "DIP ID 4444444444"), ({"MPID": "DAWN"}, "MPID DAWN")]
)
def test_isd_import_refuses_one_identity_held_by_two_organisations(
    market: Market, tmp_path: Path, changes: dict[str, str], where: str
) -> None:
    before = market.cli("isd", "export", ok=True).stdout
    for mode in ("replace", "merge"):
        clash = _isd_with(tmp_path, "03333333", **changes)  # Cirrus takes Dawn Power's id
        result = market.cli("isd", "import", str(clash), "--mode", mode)
        assert result.exit_code == 1
        assert f"({where}): OMH0303" in result.stderr and "one organisation" in result.stderr
    assert market.cli("isd", "export", ok=True).stdout == before  # all or nothing


def test_contract_add_refuses_an_sds_or_mdr_without_that_role_on_its_dates(market: Market) -> None:
    def add(*args: str) -> tuple[int, str]:
        result = market.cli(
            "contract",
            "add",
            "--supplier",
            "1111111111",
            "--ref",
            "C-X",
            "--blank-mdr",
            "reject",
            "--json",
            *args,
        )
        data = orjson.loads(result.stdout)
        return result.exit_code, data["error"]["code"] if "error" in data else "OK"

    assert add("--sds", CIRRUS, "--mdr", CIRRUS) == (1, "OMH0304")  # Cirrus is only an MDR
    assert add("--sds", BEACON, "--mdr", "4444444444") == (1, "REG1081")  # Dawn Power is no MDR
    # Beacon is an SDS (and Aurora a Supplier) from 2025-04-01 only
    assert add("--sds", BEACON, "--mdr", CIRRUS, "--from", "2024-01-01", "--to", "2025-04-01") == (
        1,
        "OMH0304",
    )
    assert add("--sds", BEACON, "--mdr", CIRRUS, "--from", "2024-01-01", "--to", "2025-04-02") == (0, "OK")
    assert [c["reference"] for c in market.cli.json("contract", "list")] == ["C-AURORA-1", "C-X"]


def test_mpan_add_refuses_a_supplier_that_is_no_supplier(market: Market) -> None:
    with pytest.raises(AssertionError, match="OMH0304"):
        market.mpan(supplier=BEACON)
    with pytest.raises(AssertionError, match="OMH0304"):
        market.mpan(since=date(2025, 3, 1))  # before Aurora's Supplier registration (2025-04-01)
    assert market.cli.json("gaps", "--on", TODAY.isoformat()) == []


def test_an_sds_not_qualified_is_not_appointed(market: Market, tmp_path: Path) -> None:
    participants = tmp_path / "participants.yaml"
    participants.write_text(
        "organisations:\n"
        '  - {company_number: "02222222", name: Beacon, sec: acceded, qualification: {SDS: in_progress}}\n'
    )
    market.cli("participants", "import", str(participants), ok=True)
    core = market.mpan()
    outcome = market.submit(market.dsapp(core))
    assert outcome["results"][0]["code"] == "REG1031"
    assert "not qualified as SDS (qualification in_progress)" in outcome["results"][0]["message"]
    assert market.timeline(core) == []


def _scenario(tmp_path: Path, name: str, *replace: tuple[str, str]) -> Path:
    text = files("openmhhs.data.scenarios").joinpath(f"{name}.yaml").read_text()
    for old, new in replace:
        assert old in text
        text = text.replace(old, new, 1)
    path = tmp_path / "described.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("name", "replace", "expected"),
    [
        (
            "1a-fully-separated",
            ('model: "1A"', 'model: "2A"'),
            "supplier SUPA (Aurora) is labelled 2A, but proposes SDS SDSB with MDR MDRC, which is 1A",
        ),
        (
            "1b-fully-separated-data-sharing",
            ("    shares_consumption_data: true\n", ""),
            "supplier SUPA (Aurora) is labelled 1B, but proposes SDS SDSB with MDR MDRC, which is 1A",
        ),
        (
            "1a-fully-separated",
            (
                "    dcc_user_roles: [meter_data_retriever]\n    roles:\n    - {role: SDS",
                "    dcc_user_roles: [meter_data_retriever]\n    qualification: {SDS: not_qualified}\n    roles:\n    - {role: SDS",
            ),
            "SDS SDSB is not qualified as SDS (qualification not_qualified), so the Registration "
            "Service refuses its appointment (REG1031)",
        ),
        (
            "1a-fully-separated",
            ('    dip_id: "4444444444"', '    dip_id: "3333333333"'),  # Dawn Power takes Cirrus's DIP ID
            "(DIP ID 3333333333): OMH0303 held by organisation 04444444 here and by 03333333",
        ),
    ],
)
def test_model_check_reports_what_the_run_would_refuse(
    cli: CliHarness, tmp_path: Path, name: str, replace: tuple[str, str], expected: str
) -> None:
    result = cli("model", "check", str(_scenario(tmp_path, name, replace)), "--json")
    assert result.exit_code == 1
    found = [
        f"{p['message']} ({p['code']})" if p["code"] else p["message"]
        for p in orjson.loads(result.stdout)["problems"]
    ]
    assert any(expected in problem for problem in found), found
