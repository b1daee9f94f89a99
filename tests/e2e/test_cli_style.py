"""One command-line style (issue 15 item 6), checked over the whole command tree as typer
builds it, so that a command added later is covered without touching this file: every
command answers ``--help``, has ``--json``, and prints JSON that parses with ``--json``
(its result or its coded error); files are ``-o/--out``; ids print in full, never as reprs."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import typer

from openmhhs.cli.main import app
from tests.conftest import CliHarness

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
MPAN = "2000000000015"
SUPPLIER = "1111111111"

SERVERS = {"dashboard"}
"""Commands that serve until stopped: no ``--json`` (there is nothing to print but the address)."""

NOT_RUN = {"demo", "serve", "dashboard", "migrate", "bench", "model run", "data run"}
"""Long-running commands (a market, a server, GB-scale loads): their ``--help`` is walked and
their ``--json`` contracts are tested where they are specified (test_models, test_serve…)."""

ANSWERS_WITH_EXIT_1 = {
    "submit",
    "gaps",
    "validate",
    "model check",
    "mpan check",
    "dcc check",
    "sds mdr-change",
}
"""Commands whose exit status 1 is an answer (refused, found wanting), printed as such."""

OFFICIAL_SHAPES = {
    "isd export": "the M16 table, as the DIP publishes it",
    "isd lookup": "an M16 row",
    "isd mdrs": "M16 rows",
    "messages": "DIP messages, as sent",
    "request ds": "an IF-031, when no -o is given",
    "request ms": "an IF-031, when no -o is given",
    "submit": "a stable contract (issue 11) that keeps the DIP's field names",
    "sds mdr-change": "a stable contract (issue 11)",
    "model show": "a market description, in its YAML's own words",
}
"""Commands whose ``--json`` keeps names not of the command line's making, and why."""

SNAKE = re.compile(r"[a-z0-9]+(_[a-z0-9]+)*|OPENMHHS_[A-Z_]+")  # or an environment variable


def _keys(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, inner in value.items():
            yield key
            yield from _keys(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _keys(inner)


def _commands() -> Iterator[tuple[str, Any]]:
    def walk(command: Any, path: list[str]) -> Iterator[tuple[str, Any]]:
        if hasattr(command, "commands"):
            for name, sub in command.commands.items():
                yield from walk(sub, [*path, name])
        else:
            yield " ".join(path), command

    yield from walk(typer.main.get_command(app), [])


COMMANDS = dict(_commands())


def _arguments(tmp: Path) -> dict[str, list[str]]:
    """Arguments for each command that needs some: real where that is cheap, else a file that
    does not exist, which must be a coded error (in JSON) too."""
    missing = str(tmp / "missing.json")
    return {
        "validate": [str(EXAMPLES / "ds-request.json")],
        "sign": [missing, "--key", missing, "--cert", missing, "--url", "http://127.0.0.1:9/x"],
        "verify": [missing, "--headers", missing, "--ca", missing, "--url", "http://127.0.0.1:9/x"],
        "submit": [str(EXAMPLES / "ds-request.json")],
        "timeline": [MPAN],
        "market requeue": ["999999"],  # no such parked delivery: requeues none
        "data show": [MPAN, "--day", "2025-06-01", "--dataset", str(tmp / "no-dataset")],
        "data summary": ["--from", "2025-06-01", "--to", "2025-06-02", "--dataset", str(tmp / "no-dataset")],
        "bulk-mdr-change": ["--from-mdr", "3333333333", "--to-mdr", "4444444444", "--sds", "2222222222"],
        "send": [missing, "--hub", "http://127.0.0.1:9"],
        "isd import": [str(EXAMPLES / "isd.json")],
        "isd export": ["-o", str(tmp / "isd.json")],
        "mpan check": [MPAN],
        "mpan add": [
            MPAN,
            "--distributor",
            "9000000020",
            "--gsp",
            "_H",
            "--supplier",
            SUPPLIER,
            "--from",
            "2025-05-01",
        ],
        "mpan import": [missing],
        "mpan supplier": [MPAN, "--supplier", SUPPLIER, "--from", "2025-05-01"],
        "mpan show": [MPAN],
        "participants import": [missing],
        "participants mode": [SUPPLIER, "external"],
        "model show": ["1a-fully-separated"],
        "model check": ["1a-fully-separated"],
        "contract add": [
            "--sds",
            "2222222222",
            "--supplier",
            SUPPLIER,
            "--ref",
            "C-1",
            "--mdr",
            "3333333333",
        ],
        "sds mdr-change": [
            "--sds",
            "2222222222",
            "--mpan",
            MPAN,
            "--mdr",
            "3333333333",
            "--from",
            "2025-06-01",
        ],
        "sds respond": [missing],
        "dcc check": ["--mdr", "3333333333", "--mpan", MPAN],
        "dcc access-list": ["-o", str(tmp / "access.csv")],
        "request ds": ["--mpan", MPAN, "--supplier", SUPPLIER, "--sds", "2222222222", "--from", "2025-06-01"],
        "request ms": ["--mpan", MPAN, "--supplier", SUPPLIER, "--ms", "2222222222", "--from", "2025-06-01"],
    }


def test_every_command_answers_help(cli: CliHarness) -> None:
    assert len(COMMANDS) > 30
    for name in COMMANDS:
        result = cli(*name.split(), "--help")
        assert result.exit_code == 0 and "Usage:" in result.stdout, (name, result.output)
        assert "DipId(" not in result.stdout and "Traceback" not in result.output, name


def test_every_command_but_a_server_has_json_and_files_are_dash_o_out() -> None:
    for name, command in COMMANDS.items():
        options = {o for p in command.params for o in getattr(p, "opts", [])}
        assert ("--json" in options) != (name in SERVERS), name
        if any(o in options for o in ("--out", "--output", "-o")):
            assert {"-o", "--out", "--output"} <= options, name


def test_every_json_output_parses(cli: CliHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # whatever a command writes by default stays in the test's folder
    arguments = _arguments(tmp_path)
    for name, command in COMMANDS.items():
        required = [p for p in command.params if p.required]
        assert not required or name in arguments or name in NOT_RUN, f"{name}: add its arguments here"
    # the ISD and an MPAN first, so that the commands after them have something to show
    order = ["isd import", "mpan add"] + [n for n in COMMANDS if n not in ("isd import", "mpan add")]
    for name in order:
        if name in NOT_RUN:
            continue
        result = cli(*name.split(), *arguments.get(name, []), "--json")
        assert result.exit_code in (0, 1), (name, result.output)
        try:
            printed = orjson.loads(result.stdout)
        except orjson.JSONDecodeError:
            pytest.fail(f"{name} --json printed no JSON: {result.stdout[:300]!r} {result.stderr[:300]!r}")
        if result.exit_code == 1 and name not in ANSWERS_WITH_EXIT_1:
            assert isinstance(printed, dict) and "error" in printed, (name, printed)
            assert re.fullmatch(r"[A-Z]{2,4}\d{3,4}", printed["error"]["code"]), (name, printed)
        assert "DipId(" not in result.stdout and "MpanCore(" not in result.stdout, name
        if name not in OFFICIAL_SHAPES:
            odd = sorted({k for k in _keys(printed) if not SNAKE.fullmatch(k)})
            assert not odd, f"{name} --json keys not snake_case: {odd}"


def test_snake_case_keys_and_uk_local_times_in_the_command_lines_own_json(cli: CliHarness) -> None:
    cli("isd", "import", str(EXAMPLES / "isd.json"), ok=True)
    cli(
        "mpan",
        "add",
        MPAN,
        "--distributor",
        "9000000020",
        "--gsp",
        "_H",
        "--supplier",
        SUPPLIER,
        "--from",
        "2025-05-01",
        ok=True,
    )
    shown = cli.json("mpan", "show", MPAN)
    assert shown["gsp_group"] == "_H" and shown["suppliers"][0]["supplier"] == SUPPLIER
    organisations = cli.json("participants", "list")
    registration = organisations[0]["registrations"][0]
    assert {"dip_id", "dip_role", "mpid", "market_role", "from", "to"} <= set(registration)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0[01]:00", registration["from"])
    human = cli("mpan", "show", MPAN, ok=True).stdout
    assert "DipId(" not in human and "MpanCore(" not in human and SUPPLIER in human


def test_the_database_option_overrides_the_environment(cli: CliHarness, tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    info = orjson.loads(cli("--db", f"sqlite:///{other}", "info", "--json", ok=True).stdout)
    assert str(other) in info["database"]


def test_quiet_silences_notes_but_not_errors(cli: CliHarness) -> None:
    noisy = cli("isd", "import", str(EXAMPLES / "isd.json"), ok=True)
    quiet = cli("--quiet", "isd", "import", str(EXAMPLES / "isd.json"), ok=True)
    assert len(quiet.stderr) <= len(noisy.stderr)
    failed = cli("--quiet", "mpan", "show", "1234567890123", ok=False)
    assert failed.stderr.strip()


def test_shell_completion_is_offered(cli: CliHarness) -> None:
    helped = cli("--help", ok=True).stdout
    assert "--install-completion" in helped and "--show-completion" in helped


def test_bulk_mdr_change_takes_from_and_still_its_old_effective() -> None:
    options = {o for p in COMMANDS["bulk-mdr-change"].params for o in getattr(p, "opts", [])}
    assert {"--from", "--effective"} <= options
    hidden = [p for p in COMMANDS["bulk-mdr-change"].params if "--effective" in getattr(p, "opts", [])]
    assert hidden[0].hidden
