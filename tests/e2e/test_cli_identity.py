"""The scripting contract of the foundation commands (`isd`, `mpan check`, `demo`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from tests.conftest import CliHarness
from tests.isd_samples import sample_json

SAMPLE_KEYS = {"MPID", "marketRole", "DIPID", "DIPRole", "datetimeFrom", "datetimeTo"}


@pytest.fixture
def sample_file(tmp_path: Path) -> Path:
    path = tmp_path / "isd.json"
    path.write_bytes(sample_json())
    return path


def test_mpan_check_contract(cli: CliHarness) -> None:
    assert cli("mpan", "check", "2000056535971").exit_code == 0
    bad = cli("mpan", "check", "2000056535972")
    assert bad.exit_code != 0 and "REG0000" in bad.stdout
    assert cli.json("mpan", "check", "2000056535971")["valid"] is True


def test_isd_import_lookup_and_mdrs(cli: CliHarness, sample_file: Path) -> None:
    cli("isd", "import", str(sample_file), ok=True)
    found = cli.json("isd", "lookup", "--dip-id", "3333333333", "--role", "MDR", "--on", "2025-05-01")
    assert set(found) >= SAMPLE_KEYS and found["MPID"] == "MDRZ"
    back = cli.json("isd", "lookup", "--mpid", "SUPA", "--market-role", "X", "--on", "2025-05-01")
    assert (back["DIPID"], back["DIPRole"]) == ("1111111111", "SUP")
    mdrs = cli.json("isd", "mdrs", "--on", "2025-07-01")
    assert [m["MPID"] for m in mdrs] == ["MDRC", "SDSB", "SUPA"]
    assert all(set(m) >= SAMPLE_KEYS for m in mdrs)


def test_lookup_errors_print_code_and_exit_non_zero(cli: CliHarness, sample_file: Path) -> None:
    cli("isd", "import", str(sample_file), ok=True)
    absent = cli("isd", "lookup", "--dip-id", "2222222222", "--role", "SUP", "--on", "2025-05-01", "--json")
    assert absent.exit_code == 1 and orjson.loads(absent.stdout)["error"]["code"] == "OMH0301"
    ambiguous = cli("isd", "lookup", "--mpid", "SUPA", "--on", "2025-05-01", "--json")
    assert ambiguous.exit_code == 1 and orjson.loads(ambiguous.stdout)["error"]["code"] == "OMH0302"
    human = cli("isd", "lookup", "--dip-id", "12", "--role", "SUP")
    assert human.exit_code == 1 and "OMH0101" in human.stderr


def test_malformed_file_leaves_registry_exactly_as_it_was(
    cli: CliHarness, sample_file: Path, tmp_path: Path
) -> None:
    cli("isd", "import", str(sample_file), ok=True)
    before = cli("isd", "export", "--format", "csv").stdout
    broken = orjson.loads(sample_json())
    broken[1]["companyDetails"][0]["MPID"] = "SDS2"
    path = tmp_path / "broken.json"
    path.write_bytes(orjson.dumps(broken))
    result = cli("isd", "import", str(path), "--json")
    assert result.exit_code == 1
    assert "row 4" in orjson.loads(result.stdout)["error"]["message"]
    assert cli("isd", "export", "--format", "csv").stdout == before


def test_csv_import_and_json_export(cli: CliHarness, sample_file: Path, tmp_path: Path) -> None:
    cli("isd", "import", str(sample_file), ok=True)
    csv_path = tmp_path / "isd.csv"
    cli("isd", "export", "--format", "csv", "-o", str(csv_path), ok=True)
    cli("isd", "import", str(csv_path), ok=True)
    exported = orjson.loads(cli("isd", "export", "--format", "json").stdout)
    assert [c["companyRegNumber"] for c in exported] == ["01111111", "02222222", "03333333"]


def test_demo_runs_as_a_real_process(tmp_path: Path) -> None:
    # A small population, and no timeout of its own: pytest-timeout's ceiling (pyproject) is
    # the only wall-clock limit, so a busy machine makes it slow, never failed.
    env = {**{k: v for k, v in os.environ.items() if k != "OPENMHHS_DB"}, "COLUMNS": "200"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "openmhhs",
            "demo",
            "--fresh",
            "--mpans",
            "200",
            "--data-days",
            "1",
            "--out",
            str(tmp_path / "out"),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "SUPA" in done.stdout and "MDRC" in done.stdout
    assert f"database sqlite:///{(tmp_path / 'out' / 'openmhhs.db').resolve()}" in done.stderr
