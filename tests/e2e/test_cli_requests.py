"""Messages from the command line (issue 15): ``request ds|ms``, ``sds respond`` and ``send``,
and the README's walk-through run verbatim."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from openmhhs.codes import ResponseCode
from tests.conftest import CliHarness
from tests.market_harness import AURORA, BEACON, CIRRUS, METERWISE, TODAY, Market

ROOT = Path(__file__).resolve().parents[2]


def walkthrough() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"<!-- walkthrough:start -->\s*```sh\n(.*?)```\s*<!-- walkthrough:end -->", text, re.S)
    assert found, "the README's walk-through block is missing"
    return found.group(1)


def test_readme_walkthrough_works_verbatim(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(ROOT / "docs" / "examples", tmp_path / "docs" / "examples")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENMHHS_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["COLUMNS"] = "200"
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", walkthrough()],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "writing to database sqlite:///walkthrough.db" in done.stderr
    assert done.stdout.count("SP000") >= 3  # the DS, the MS and the MDR change accepted
    monkeypatch.setenv("OPENMHHS_DB", f"sqlite:///{tmp_path / 'walkthrough.db'}")
    cli = CliHarness()

    def mdr_on(day: str) -> str:
        rows = cli.json("timeline", "2000000000015", "--on", day)
        return next(r["mdr_dip_id"] for r in rows if r["service"] == "DS")

    assert mdr_on("2025-07-02") == BEACON  # the contract's default at first
    assert mdr_on("2025-07-03") == CIRRUS  # the Supplier's change, from the day asked


@pytest.fixture
def market(cli: CliHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Market:
    monkeypatch.setenv("OPENMHHS_TODAY", TODAY.isoformat())
    m = Market(cli, tmp_path)
    m.contract()
    return m


def request(market: Market, *args: str) -> dict[str, Any]:
    out = market.tmp / f"req-{len(list(market.tmp.glob('req-*.json')))}.json"
    result = market.cli("request", *args, "-o", str(out), "--json")
    assert result.exit_code == 0, result.output
    assert orjson.loads(result.stdout)["file"] == str(out)
    return orjson.loads(out.read_bytes())  # type: ignore[no-any-return]


def submit(market: Market, message: dict[str, Any]) -> dict[str, Any]:
    return market.submit(message)["results"][0]  # type: ignore[no-any-return]


def test_request_ds_with_a_nominated_mdr_is_accepted(market: Market) -> None:
    core = market.mpan()
    message = request(
        market, "ds", "--mpan", core, "--supplier", AURORA, "--sds", BEACON, "--mdr", CIRRUS,
        "--from", TODAY.isoformat(), "--contract", "C-AURORA-1",
    )  # fmt: skip
    b071 = message["CustomBlock"]["B071"]
    assert b071["proposedDataServiceMPID"] == "SDSB" and b071["supplierNominatedMDRMPID"] == "MDRC"
    assert message["CommonBlock"]["M0"] == {
        "MPANCore": core,
        "distributorDIPID": "9000000020",
        "GSPGroupID": "_H",
    }
    assert message["CommonBlock"]["A0"]["primaryRecipients"] == ["9000000001"]  # the ISD's RS
    assert submit(market, message)["code"] == "SP000"
    assert market.timeline(core)[0]["mdr_dip_id"] == CIRRUS


def test_request_ms_is_accepted(market: Market) -> None:
    core = market.mpan()
    message = request(
        market, "ms", "--mpan", core, "--supplier", AURORA, "--ms", METERWISE, "--from", TODAY.isoformat()
    )
    assert message["CommonBlock"]["S0"]["eventCode"] == "[MSApp]"
    assert submit(market, message)["code"] == "SP000"


def test_request_refuses_what_it_cannot_build(market: Market) -> None:
    unknown = "2099999999995"
    result = market.cli(
        "request", "ds", "--mpan", unknown, "--supplier", AURORA, "--sds", BEACON, "--from", "2025-07-01",
        "--json",
    )  # fmt: skip
    assert result.exit_code == 1
    error = orjson.loads(result.stdout)["error"]
    assert error["code"] in (ResponseCode.OMH0403.value, ResponseCode.REG0000.value)
    core = market.mpan()
    bad = market.cli(
        "request", "ds", "--mpan", core, "--supplier", AURORA, "--sds", BEACON, "--from", "2025-07-01",
        "--scenario", "XYZ", "--json",
    )  # fmt: skip
    assert bad.exit_code == 1 and "--scenario" in orjson.loads(bad.stdout)["error"]["message"]
    not_sds = market.cli(
        "request", "ds", "--mpan", core, "--supplier", AURORA, "--sds", METERWISE, "--from", "2025-07-01",
        "--json",
    )  # fmt: skip
    assert not_sds.exit_code == 1
    assert orjson.loads(not_sds.stdout)["error"]["code"] == ResponseCode.OMH0301.value


def _awaiting_sds(market: Market) -> tuple[str, Path]:
    market.cli("participants", "mode", BEACON, "external", ok=True)
    core = market.mpan()
    message = request(
        market, "ds", "--mpan", core, "--supplier", AURORA, "--sds", BEACON, "--from", TODAY.isoformat(),
        "--contract", "C-AURORA-1",
    )  # fmt: skip
    assert submit(market, message)["code"] == "MSG0000"  # waits for the external SDS
    asked = market.tmp / "ask.json"
    asked.write_text(market.cli("messages", "--mpan", core, "--json", ok=True).stdout)
    return core, asked


def test_sds_respond_accepts_an_if033(market: Market) -> None:
    core, asked = _awaiting_sds(market)
    answer = market.tmp / "answer.json"
    market.cli("sds", "respond", str(asked), "--mdr", CIRRUS, "-o", str(answer), ok=True)
    body = orjson.loads(answer.read_bytes())
    assert body["CommonBlock"]["S0"] == {**body["CommonBlock"]["S0"], "interfaceID": "IF-034"}
    assert body["CustomBlock"]["B007"] == {"responseCode": "A", "proposedAppointmentResponseCode": "SP000"}
    assert submit(market, body)["code"] == "SP000"
    assert market.timeline(core)[0]["mdr_dip_id"] == CIRRUS


def test_sds_respond_refuses_with_a_code(market: Market) -> None:
    core, asked = _awaiting_sds(market)
    answer = market.tmp / "answer.json"
    market.cli("sds", "respond", str(asked), "--code", "SP004", "-o", str(answer), ok=True)
    assert submit(market, orjson.loads(answer.read_bytes()))["code"] == "SP004"
    assert market.timeline(core) == []
    assert market.cli("sds", "respond", str(answer), "--json").exit_code == 1  # not an IF-033


# --- send: a signed post to a real hub on loopback ------------------------------------------------


@pytest.fixture
def hub(tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Path]]:
    """The DIP hub (no delivery loop) over plain HTTP on loopback, its serve folder."""
    import socket

    import uvicorn

    from openmhhs.api.hub_app import create_hub_app
    from openmhhs.api.serve import MarketSource, prepare
    from openmhhs.cli.model import read_description

    monkeypatch.setenv("OPENMHHS_TODAY", TODAY.isoformat())
    description, text = read_description("4a-hybrid-brand")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    state = tmp_path / "serve"
    config = prepare(
        state,
        database=sqlite_url,
        market=MarketSource(description, text, mpans=4, seed=1),
        explicit_market=True,
        host="127.0.0.1",
        port=port,
        plain=True,
        today=TODAY,
        now=datetime(2025, 7, 1, 11, tzinfo=UTC),
    )
    server = uvicorn.Server(
        uvicorn.Config(create_hub_app(config, deliver=False), host="127.0.0.1", port=port, log_level="error")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    monkeypatch.setenv("OPENMHHS_DB", sqlite_url)
    try:
        yield f"http://127.0.0.1:{port}", state
    finally:
        server.should_exit = True
        thread.join()


def test_send_signs_posts_and_prints_the_standard_response(hub: tuple[str, Path], tmp_path: Path) -> None:
    url, state = hub
    cli = CliHarness()
    registered = _first_mpan()
    out = tmp_path / "ds.json"
    cli(
        "request", "ds", "--mpan", registered, "--supplier", AURORA, "--sds", BEACON, "--from",
        date(2025, 7, 1).isoformat(), "-o", str(out), ok=True,
    )  # fmt: skip
    sent = cli("send", str(out), "--hub", url, "--state", str(state), "--json")
    assert sent.exit_code == 0, sent.output
    answer = orjson.loads(sent.stdout)
    assert answer["status"] == 201
    item = answer["response"][0] if isinstance(answer["response"], list) else answer["response"]
    assert "MSG0000" in orjson.dumps(item).decode()
    again = cli("send", str(out), "--hub", url, "--state", str(state), "--json")
    assert again.exit_code == 1 and "MSG1006" in again.stdout  # the same reference twice
    nowhere = cli("send", str(out), "--hub", "http://127.0.0.1:9", "--state", str(state), "--json")
    assert nowhere.exit_code == 1
    assert orjson.loads(nowhere.stdout)["error"]["code"] == ResponseCode.OMH0901.value


def _first_mpan() -> str:
    import sqlalchemy as sa

    from openmhhs.store.database import Database
    from openmhhs.store.tables import mpan

    with Database().read() as connection:
        return str(connection.execute(sa.select(mpan.c.mpan).limit(1)).scalar_one())
