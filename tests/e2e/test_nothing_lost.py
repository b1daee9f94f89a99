"""Nothing lost (issue 15): ``demo --fresh`` deletes only a database the demo itself made under
its ``--out`` folder; writing commands say which database they used; ``info`` shows it."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import orjson
import pytest

from openmhhs.cli.demo_database import marker_of
from openmhhs.codes import ResponseCode
from tests.conftest import CliHarness

DEMO = ("demo", "--mpans", "12", "--data-days", "0")


@pytest.fixture
def harness(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliHarness:
    """Commands with no OPENMHHS_DB: the default location is a folder of this test's own."""
    monkeypatch.delenv("OPENMHHS_DB", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COLUMNS", "200")
    return CliHarness()


def _contract(cli: CliHarness) -> None:
    """A contract the user made by hand: its parties must hold their roles in the ISD (issue 11),
    so the user imports the sample ISD first."""
    isd = files("openmhhs.data") / "isd_sample.json"
    cli("isd", "import", str(isd), "--mode", "merge", ok=True)
    cli(
        "contract", "add", "--sds", "2222222222", "--supplier", "1111111111", "--ref", "MINE", "--mdr",
        "3333333333", "--default-mdr", "3333333333", ok=True,
    )  # fmt: skip


def _contracts(cli: CliHarness) -> list[str]:
    return [c["reference"] for c in cli.json("contract", "list")]


def test_fresh_never_touches_the_default_database(harness: CliHarness, tmp_path: Path) -> None:
    _contract(harness)  # the user's own work, in the default database
    default = tmp_path / "home" / "openmhhs" / "openmhhs.db"
    assert default.exists()
    result = harness(*DEMO, "--fresh", "--out", str(tmp_path / "out"), "--json", ok=True)
    own = (tmp_path / "out" / "openmhhs.db").resolve()
    assert f"database sqlite:///{own}" in result.stderr
    assert own.exists() and marker_of(own).exists()
    assert _contracts(harness) == ["MINE"]  # still there, untouched
    assert orjson.loads(result.stdout)["mpans"] == 12  # the --json contract holds


def test_fresh_never_touches_the_database_openmhhs_db_names(
    harness: CliHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mine = tmp_path / "out" / "mine.db"  # under --out, but the user's
    mine.parent.mkdir()  # a database's folder must exist (OMH0404 otherwise)
    monkeypatch.setenv("OPENMHHS_DB", f"sqlite:///{mine}")
    _contract(harness)
    result = harness(*DEMO, "--fresh", "--out", str(tmp_path / "out"), "--json")
    assert result.exit_code == 1
    error = orjson.loads(result.stdout)["error"]
    assert error["code"] == ResponseCode.OMH0900.value and str(mine) in error["message"]
    assert _contracts(harness) == ["MINE"]
    assert not marker_of(mine).exists()
    later = tmp_path / "out" / "later.db"  # named, not made yet: still never the demo's
    monkeypatch.setenv("OPENMHHS_DB", f"sqlite:///{later}")
    assert harness(*DEMO, "--fresh", "--out", str(tmp_path / "out")).exit_code == 1
    assert not later.exists() and not marker_of(later).exists()


def test_fresh_refuses_a_file_it_did_not_make(harness: CliHarness, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "openmhhs.db").write_bytes(b"the user's own file")
    result = harness(*DEMO, "--fresh", "--out", str(out), "--json")
    assert result.exit_code == 1
    assert orjson.loads(result.stdout)["error"]["code"] == ResponseCode.OMH0900.value
    assert (out / "openmhhs.db").read_bytes() == b"the user's own file"


def test_fresh_refuses_postgresql(
    harness: CliHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENMHHS_DB", "postgresql://user:secret@127.0.0.1:1/none")
    result = harness(*DEMO, "--fresh", "--out", str(tmp_path / "out"), "--json")
    assert result.exit_code == 1
    assert orjson.loads(result.stdout)["error"]["code"] == ResponseCode.OMH0900.value


def test_fresh_replaces_its_own_database_as_make_demo_does(
    harness: CliHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / ".demo"
    monkeypatch.setenv("OPENMHHS_DB", "")  # as `make demo` runs it
    for _ in range(2):  # the second run deletes the first's database, which it marked
        harness(*DEMO, "--fresh", "--out", str(out), ok=True)
    assert marker_of(out / "openmhhs.db").exists()


def test_model_run_says_which_database(
    harness: CliHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENMHHS_DB", f"sqlite:///{tmp_path / 'run.db'}")
    result = harness(
        "model", "run", "1a-fully-separated", "--mpans", "8", "--data-days", "0",
        "--out", str(tmp_path / "o"), "--json", ok=True,
    )  # fmt: skip
    assert f"writing to database sqlite:///{tmp_path / 'run.db'}" in result.stderr
    orjson.loads(result.stdout)


def test_info_shows_the_database_masked_and_the_version(
    harness: CliHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    from openmhhs import __version__

    monkeypatch.setenv("OPENMHHS_DB", "postgresql://alice:s3cret@db.example:5432/mhhs")
    data = harness.json("info")
    assert data["database"] == "postgresql://alice:***@db.example:5432/mhhs"
    assert data["version"] == __version__ and data["database_source"] == "OPENMHHS_DB"
    assert "s3cret" not in harness("info", ok=True).stdout


def test_info_names_the_default_location(harness: CliHarness, tmp_path: Path) -> None:
    data = harness.json("info")
    assert data["database"] == f"sqlite:///{tmp_path / 'home' / 'openmhhs' / 'openmhhs.db'}"
    assert data["database_source"] == "default location"
