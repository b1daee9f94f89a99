"""``openmhhs migrate``: synthetic MPANs through the real appointment flow in batches, resumable.

Killed at the worst moment (a batch's messages all delivered, its checkpoint not yet written)
or at an arbitrary moment by SIGKILL from outside, the same command continues where it was and
nothing is duplicated: every MPAN is registered once, asked for once per service, appointed once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import msgspec
import orjson
import sqlalchemy as sa

from openmhhs.failpoints import FAILPOINTS_VAR, arm
from openmhhs.market.migration import CHECKPOINT_KEY
from openmhhs.store.database import Database
from openmhhs.store.market_repo import MarketStore
from openmhhs.store.tables import appointment, message, mpan
from tests.conftest import CliHarness

START = "2025-07-01"


def _migrate(db_url: str, *args: str, failpoints: Path | None = None) -> subprocess.Popen[bytes]:
    env = {**os.environ, "OPENMHHS_DB": db_url, "COLUMNS": "200"}
    if failpoints is not None:
        env[FAILPOINTS_VAR] = str(failpoints)
    return subprocess.Popen(
        [sys.executable, "-m", "openmhhs", "migrate", "--synthetic", *args, "--json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _finish(process: subprocess.Popen[bytes]) -> dict[str, Any]:
    out, err = process.communicate()
    assert process.returncode == 0, err.decode()
    result: dict[str, Any] = orjson.loads(out)
    return result


def _assert_migrated_once(db_url: str, total: int) -> None:
    db = Database(db_url)
    try:
        with db.read() as connection:
            registered = connection.execute(sa.select(sa.func.count()).select_from(mpan)).scalar_one()
            asked = Counter(
                (r[0], r[1])
                for r in connection.execute(
                    sa.select(message.c.mpan, message.c.event_code).where(message.c.interface_id == "IF-031")
                )
            )
            current = Counter(
                (r[0], r[1])
                for r in connection.execute(
                    sa.select(appointment.c.mpan, appointment.c.service).where(
                        appointment.c.retired_at.is_(None)
                    )
                )
            )
            store = MarketStore(connection)
            gaps = store.gaps_on(date.fromisoformat(START))
            checkpoint = msgspec.json.decode(store.state(CHECKPOINT_KEY) or "{}")
    finally:
        db.dispose()
    assert registered == total
    assert len(asked) == 2 * total and set(asked.values()) == {1}  # one IF-031 per MPAN and service
    assert len(current) == 2 * total and set(current.values()) == {1}  # one DS and one MS row each
    assert gaps == []
    assert checkpoint["done"] == checkpoint["total"] == total


def test_migrates_in_batches_and_a_rerun_does_nothing_more(
    cli: CliHarness, db_url: str, tmp_path: Path
) -> None:
    first = cli.json("migrate", "--synthetic", "--mpans", "900", "--batch", "300")
    assert first["done"] == 900 and first["batches"] == 3 and first["failed"] == 0
    assert first["appointments_requested"] == 1_800
    _assert_migrated_once(db_url, 900)
    again = cli.json("migrate", "--synthetic", "--mpans", "900", "--batch", "300")
    assert again["migrated_this_run"] == 0 and again["batches"] == 0 and again["appointments_requested"] == 0
    # the DCC's list for the first day names every MPAN with its MDR's 4-character id
    listed = cli.json("dcc", "access-list", "--on", START, "--out", str(tmp_path / "access.csv"))
    assert listed["mpans"] == 900
    lines = (tmp_path / "access.csv").read_text().splitlines()
    assert lines[0] == "mpan,mdr_dip_id,mdr_id" and len(lines) == 901
    assert {line.split(",")[2] for line in lines[1:]} == {"MDRC"}  # 1A: Cirrus, the default MDR


def test_resuming_with_other_options_is_refused(cli: CliHarness) -> None:
    cli.json("migrate", "--synthetic", "--mpans", "200", "--batch", "100")
    refused = cli("migrate", "--synthetic", "--mpans", "300", "--batch", "100", "--json", ok=False)
    assert "OMH0403" in refused.stdout and "resume it with the same options" in refused.stdout
    assert cli("migrate", "--mpans", "10", ok=False).exit_code != 0  # only synthetic sources exist


def test_killed_before_its_checkpoint_it_resumes_without_duplicates(db_url: str, tmp_path: Path) -> None:
    points = tmp_path / "failpoints"
    arm(points, "migrate.batch.before-checkpoint")
    killed = _migrate(db_url, "--mpans", "600", "--batch", "200", failpoints=points)
    killed.communicate()
    assert killed.returncode == -signal.SIGKILL
    resumed = _finish(_migrate(db_url, "--mpans", "600", "--batch", "200"))
    # The killed batch was registered and asked for already, and so was the next one (prepared
    # and handed to the workers while the first played), as far as the workers got with it:
    # nothing of either is sent again.
    assert resumed["done_before_this_run"] == 0 and resumed["skipped_already_registered"] == 400
    assert 400 <= resumed["skipped_already_requested"] <= 800 and resumed["failed"] == 0
    _assert_migrated_once(db_url, 600)


def test_killed_from_outside_at_any_moment_it_resumes(sqlite_url: str) -> None:
    process = _migrate(sqlite_url, "--mpans", "1000", "--batch", "100")
    db = Database(sqlite_url)
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.3)
            try:
                with db.read() as connection:
                    text = MarketStore(connection).state(CHECKPOINT_KEY)
            except sa.exc.OperationalError:
                continue
            if text and msgspec.json.decode(text)["done"] >= 300:
                time.sleep(0.4)  # somewhere inside a later batch
                break
        process.send_signal(signal.SIGKILL)
        process.communicate()
    finally:
        db.dispose()
    resumed = _finish(_migrate(sqlite_url, "--mpans", "1000", "--batch", "100"))
    assert 300 <= resumed["done_before_this_run"] < 1000 and resumed["done"] == 1000
    _assert_migrated_once(sqlite_url, 1000)


def test_a_single_mpan_migration(cli: CliHarness, db_url: str) -> None:
    assert cli.json("migrate", "--synthetic", "--mpans", "1")["done"] == 1
    _assert_migrated_once(db_url, 1)
