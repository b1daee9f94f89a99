"""A database that is read-only or full ends every command with a coded one-line error, and
`submit` answers each sender without leaving anything half-written (issue 12); the SQLite
file is created owner-only."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from openmhhs.dip.parse import encode
from openmhhs.store.database import Database
from openmhhs.store.market_repo import MarketStore
from tests.conftest import CliHarness
from tests.market_harness import TODAY, Market


@pytest.fixture
def market(cli: CliHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Market:
    monkeypatch.setenv("OPENMHHS_TODAY", TODAY.isoformat())
    market = Market(cli, tmp_path)
    market.contract()
    return market


def test_sqlite_database_is_created_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "fresh" / "openmhhs.db"
    path.parent.mkdir()  # a folder the user names must exist (OMH0404)
    db = Database(f"sqlite:///{path}")
    with db.begin() as connection:
        connection.execute(sa.text("SELECT 1"))
    db.dispose()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_read_only_database_gives_a_coded_error_for_every_command(
    market: Market, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not db_url.startswith("sqlite"):
        pytest.skip("a read-only SQLite file stands for a read-only disk")
    sqlite_url = db_url
    core = market.mpan()
    message = tmp_path / "one.json"
    message.write_bytes(encode([market.dsapp(core)]))
    path = sqlite_url.split("///", 1)[-1]
    monkeypatch.setenv("OPENMHHS_DB", f"sqlite:///file:{path}?mode=ro&uri=true")
    commands: list[tuple[str, ...]] = [
        ("submit", str(message)),
        ("market", "run"),
        (
            "contract",
            "add",
            "--sds",
            "2222222222",
            "--supplier",
            "1111111111",
            "--ref",
            "C-2",
            "--mdr",
            "2222222222",
            "--default-mdr",
            "2222222222",
        ),
    ]
    for command in commands:
        result = market.cli(*command, "--json")
        assert result.exit_code == 1, (command, result.output)
        assert orjson.loads(result.stdout)["error"]["code"] == "OMH0801", (command, result.stdout)
        plain = market.cli(*command)
        assert plain.exit_code == 1 and "OMH0801" in plain.output and "Traceback" not in plain.output


def test_full_disk_during_delivery_answers_the_sender_and_half_writes_nothing(
    market: Market, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cores = [market.mpan() for _ in range(3)]
    real = MarketStore.finish_deliveries

    def full(self: MarketStore, *args: Any, **kwargs: Any) -> None:
        raise sa.exc.OperationalError("UPDATE delivery", {}, Exception("database or disk is full"))

    monkeypatch.setattr(MarketStore, "finish_deliveries", full)
    path = tmp_path / "batch.json"
    path.write_bytes(encode([market.dsapp(core) for core in cores]))
    result = market.cli("submit", str(path), "--json")
    assert result.exit_code == 1
    answer = orjson.loads(result.stdout)
    assert answer["error"]["code"] == "OMH0801" and "full" in answer["error"]["message"]
    assert [r["code"] for r in answer["results"]] == ["MSG0000"] * 3  # each sender is answered
    assert all(not market.timeline(core) for core in cores)  # the failed batch left nothing
    monkeypatch.setattr(MarketStore, "finish_deliveries", real)  # space freed
    market.cli("market", "run", ok=True)
    assert all([row["service"] for row in market.timeline(core)] == ["DS"] for core in cores)
