"""The scripting contract of `validate`, and `sign`/`verify`/`certs init` end to end."""

from __future__ import annotations

import copy
from pathlib import Path

import orjson
import pytest

from openmhhs.dip.catalogue import event_spec
from tests.conftest import CliHarness
from tests.dip_examples import example_message
from tests.isd_samples import sample_json


@pytest.fixture
def messages() -> list[dict[str, object]]:
    good = example_message(event_spec("IF-034", "[SDS-MDRUpdate]"), maximal=True)
    bad = copy.deepcopy(good)
    bad["CommonBlock"]["S0"]["eventCode"] = "[MDRUpdate]"  # type: ignore[index]
    wrapped = {"payload": copy.deepcopy(good)}
    return [good, bad, wrapped]


def test_validate_json_contract(cli: CliHarness, tmp_path: Path, messages: list[dict[str, object]]) -> None:
    path = tmp_path / "batch.json"
    path.write_bytes(orjson.dumps(messages))
    result = cli("validate", str(path), "--json")
    assert result.exit_code == 1
    rows = orjson.loads(result.stdout)
    assert [(r["valid"], r["code"]) for r in rows] == [
        (True, "MSG0000"),
        (False, "MSG1001"),
        (True, "MSG0000"),
    ]
    assert rows[1]["path"] == "$.CommonBlock.S0.eventCode" and rows[0]["path"] is None


def test_validate_single_message_exit_zero(
    cli: CliHarness, tmp_path: Path, messages: list[dict[str, object]]
) -> None:
    path = tmp_path / "one.json"
    path.write_bytes(orjson.dumps(messages[0]))
    assert cli("validate", str(path)).exit_code == 0
    rows = cli.json("validate", str(path), "--perspective", "recipient")
    assert rows[0]["code"] == "RCP0000"


def test_validate_against_the_registry(
    cli: CliHarness, tmp_path: Path, messages: list[dict[str, object]]
) -> None:
    isd = tmp_path / "isd.json"
    isd.write_bytes(sample_json())
    cli("isd", "import", str(isd), ok=True)
    path = tmp_path / "one.json"
    path.write_bytes(orjson.dumps(messages[0]))  # sender 1111111111 as SDS: registered
    result = cli("validate", str(path), "--check-registry", "--json")
    rows = orjson.loads(result.stdout)
    assert rows[0]["code"] == "MSG1031"  # its primary recipient 1234567890 is not registered


def test_certs_sign_verify_round_trip(cli: CliHarness, tmp_path: Path) -> None:
    certs = tmp_path / "certs"
    cli("certs", "init", "--dir", str(certs), "--participant", "1111111111", ok=True)
    assert (certs / "ca.pem").exists() and (certs / "hub.pem").exists()
    assert (certs / "1111111111.key").stat().st_mode & 0o077 == 0
    body = tmp_path / "body.json"
    body.write_bytes(b"[]")
    url = "https://127.0.0.1:8443/dip-channel/IF-031"
    headers = cli.json(
        "sign",
        str(body),
        "--key",
        str(certs / "1111111111.key"),
        "--cert",
        str(certs / "1111111111.pem"),
        "--url",
        url,
    )
    header_file = tmp_path / "headers.json"
    header_file.write_bytes(orjson.dumps(headers))
    ok = cli.json(
        "verify",
        str(body),
        "--headers",
        str(header_file),
        "--ca",
        str(certs / "ca.pem"),
        "--url",
        url,
    )
    assert ok == {"valid": True, "dip_id": "1111111111", "signed_at": ok["signed_at"]}
    body.write_bytes(b"[ ]")
    tampered = cli(
        "verify",
        str(body),
        "--headers",
        str(header_file),
        "--ca",
        str(certs / "ca.pem"),
        "--url",
        url,
        "--json",
    )
    assert tampered.exit_code == 1 and orjson.loads(tampered.stdout)["error"]["code"] == "RCP9999"


def test_certs_with_password_from_environment(
    cli: CliHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_KEY_PASSWORD", "s3cret-for-this-test")
    certs = tmp_path / "certs"
    cli(
        "certs",
        "init",
        "--dir",
        str(certs),
        "--participant",
        "2222222222",
        "--password-env",
        "TEST_KEY_PASSWORD",
        ok=True,
    )
    assert b"ENCRYPTED" in (certs / "2222222222.key").read_bytes()
    missing = cli(
        "certs",
        "init",
        "--dir",
        str(certs),
        "--participant",
        "2222222222",
        "--password-env",
        "NO_SUCH_VAR",
    )
    assert missing.exit_code == 1


@pytest.mark.parametrize("command", ["validate", "submit"])
def test_deep_json_gets_a_coded_one_line_error(cli: CliHarness, tmp_path: Path, command: str) -> None:
    path = tmp_path / "deep.json"
    path.write_bytes(b"[" * 5_000 + b"]" * 5_000)
    result = cli(command, str(path), "--json")
    assert result.exit_code == 1
    assert orjson.loads(result.stdout)["error"]["code"] == "MSG1001"
    plain = cli(command, str(path))
    assert plain.exit_code == 1 and "MSG1001" in plain.output and "Traceback" not in plain.output


def test_certs_init_never_writes_through_a_planted_link(cli: CliHarness, tmp_path: Path) -> None:
    certs = tmp_path / "certs"
    certs.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"precious")
    (certs / "1111111111.key").symlink_to(victim)
    (certs / "hub.pem").symlink_to(tmp_path / "dangling")
    cli("certs", "init", "--dir", str(certs), "--participant", "1111111111", ok=True)
    assert victim.read_bytes() == b"precious" and not (tmp_path / "dangling").exists()
    key = certs / "1111111111.key"
    assert not key.is_symlink() and b"PRIVATE KEY" in key.read_bytes()
    assert all((certs / name).stat().st_mode & 0o077 == 0 for name in ("ca.key", "hub.key", "1111111111.key"))
    assert not list(certs.glob(".*.tmp"))


def test_certs_init_keeps_an_existing_ca_unless_forced(cli: CliHarness, tmp_path: Path) -> None:
    certs = tmp_path / "certs"
    cli("certs", "init", "--dir", str(certs), "--participant", "1111111111", ok=True)
    ca = (certs / "ca.key").read_bytes()
    again = cli("certs", "init", "--dir", str(certs), "--participant", "1111111111", "--json")
    assert again.exit_code == 1 and orjson.loads(again.stdout)["error"]["code"] == "OMH0800"
    assert (certs / "ca.key").read_bytes() == ca
    cli("certs", "init", "--dir", str(certs), "--participant", "1111111111", "--force", ok=True)
    assert (certs / "ca.key").read_bytes() != ca
