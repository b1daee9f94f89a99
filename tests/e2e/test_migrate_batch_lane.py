"""``openmhhs migrate`` on the batch lane, killed between two of a batch's chunks (some of the
batch committed, its checkpoint not written) or with one of its worker processes killed: the
same command resumes and nothing is duplicated."""

from __future__ import annotations

import signal
from pathlib import Path

import orjson

from openmhhs.failpoints import arm
from tests.e2e.test_migrate import _assert_migrated_once, _finish, _migrate


def test_killed_between_chunks_it_resumes_without_duplicates(db_url: str, tmp_path: Path) -> None:
    points = tmp_path / "failpoints"
    arm(points, "lane.chunk.after-commit")
    options = ("--mpans", "400", "--batch", "200", "--chunk", "50", "--workers", "1")
    killed = _migrate(db_url, *options, failpoints=points)
    killed.communicate()
    assert killed.returncode == -signal.SIGKILL
    resumed = _finish(_migrate(db_url, *options))
    # the first chunk of the first batch was committed: its 50 MPANs' two IF-031s are not sent again
    assert resumed["done_before_this_run"] == 0 and resumed["skipped_already_registered"] == 200
    assert resumed["skipped_already_requested"] == 2 * 50 and resumed["failed"] == 0
    _assert_migrated_once(db_url, 400)


def test_a_worker_killed_fails_the_run_with_a_code_and_a_rerun_resumes(
    sqlite_url: str, tmp_path: Path
) -> None:
    points = tmp_path / "failpoints"
    arm(points, "lane.chunk.before-flush")  # in whichever worker gets there first
    options = ("--mpans", "300", "--batch", "300", "--chunk", "40", "--workers", "2")
    failed = _migrate(sqlite_url, *options, failpoints=points)
    out, _ = failed.communicate()
    assert failed.returncode not in (0, -signal.SIGKILL)
    assert orjson.loads(out)["error"]["code"] == "OMH0520"
    resumed = _finish(_migrate(sqlite_url, *options))
    assert resumed["done"] == 300 and resumed["failed"] == 0
    _assert_migrated_once(sqlite_url, 300)
