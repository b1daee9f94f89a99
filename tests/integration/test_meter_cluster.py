"""The meter-data run on a real Dask cluster on loopback: ``dask scheduler`` and two ``dask
worker`` processes (one thread each, no dashboard), a multi-day window through them, and the
dataset equal file by file to the embedded run's; then a worker killed mid-run (SIGKILL after
writing half a block) and the run still completes with the same dataset."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from openmhhs.failpoints import FAILPOINTS_VAR, arm
from tests.conftest import CliHarness

START = "2025-07-01"
DASK = str(Path(sys.executable).parent / "dask")


@pytest.fixture
def market(cli: CliHarness, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliHarness:
    if not db_url.startswith("sqlite"):
        pytest.skip("the cluster reads the dataset, not the database: SQLite is enough")
    monkeypatch.setenv("OPENMHHS_TODAY", START)
    cli(
        "model",
        "run",
        "1a-fully-separated",
        "--mpans",
        "24",
        "--data-days",
        "0",
        "--out",
        str(tmp_path / "m"),
        ok=True,
    )
    return cli


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[str, list[subprocess.Popen[bytes]], Path]]:
    """A scheduler and two workers on 127.0.0.1; the workers' crash points in a folder."""
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    points = tmp_path / "failpoints"
    points.mkdir()
    env = {**os.environ, FAILPOINTS_VAR: str(points)}
    log = (tmp_path / "dask.log").open("wb")
    started = [
        subprocess.Popen(
            [DASK, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
            stdout=log,
            stderr=log,
        )
    ]
    try:
        _wait_for_port(port)
        for _ in range(2):
            started.append(
                subprocess.Popen(
                    [
                        DASK,
                        "worker",
                        address,
                        "--nthreads",
                        "1",
                        "--no-dashboard",
                        "--no-nanny",
                        "--host",
                        "127.0.0.1",
                        "--memory-limit",
                        "1GB",
                    ],
                    stdout=log,
                    stderr=log,
                    env=env,
                )
            )
        _wait_for_workers(address, 2)
        yield address, started[1:], points
    finally:
        for process in reversed(started):
            process.kill()
            process.wait(timeout=30)
        log.close()


def _wait_for_port(port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    pytest.fail("the dask scheduler did not start")


def _wait_for_workers(address: str, n: int) -> None:
    from distributed import Client

    with Client(address, timeout=60) as client:
        client.wait_for_workers(n, timeout=420)


def _dataset(folder: Path) -> dict[str, object]:
    files = sorted(folder.rglob("*.parquet"))
    assert not list(folder.rglob("*.tmp")), "no temporary file is left behind"
    return {str(f.relative_to(folder)): pq.read_table(f) for f in files}


def _same(a: dict[str, object], b: dict[str, object]) -> None:
    assert a.keys() == b.keys() and a
    for name, table in a.items():
        assert table.equals(b[name]), name  # type: ignore[attr-defined]


def _run(cli: CliHarness, folder: Path, *extra: str) -> dict[str, object]:
    run = cli.json(
        "data", "run", "--from", START, "--days", "3", "--block-size", "6", "--dataset", str(folder), *extra
    )
    assert run["dataset"] == str(folder) and run["values"] > 0
    return run


@pytest.mark.timeout(300)
def test_a_loopback_cluster_writes_the_embedded_runs_dataset(
    market: CliHarness, tmp_path: Path, cluster: tuple[str, list[subprocess.Popen[bytes]], Path]
) -> None:
    address, _, _ = cluster
    embedded = _run(market, tmp_path / "embedded")
    distributed = _run(market, tmp_path / "cluster", "--scheduler", address)
    assert distributed["values"] == embedded["values"] and distributed["blocks"] == embedded["blocks"] >= 12
    _same(_dataset(tmp_path / "embedded"), _dataset(tmp_path / "cluster"))
    again = _run(market, tmp_path / "cluster", "--scheduler", address)  # a re-run replaces, never duplicates
    assert again["values"] == embedded["values"]
    _same(_dataset(tmp_path / "embedded"), _dataset(tmp_path / "cluster"))


@pytest.mark.timeout(300)
def test_a_worker_killed_mid_run_costs_nothing(
    market: CliHarness, tmp_path: Path, cluster: tuple[str, list[subprocess.Popen[bytes]], Path]
) -> None:
    address, workers, points = cluster
    arm(points, "meter.block.half-written")
    _run(market, tmp_path / "cluster", "--scheduler", address)
    assert not (points / "meter.block.half-written").exists(), "the crash point fired"
    assert sum(w.poll() is not None for w in workers) == 1, "one worker died mid-run"
    _run(market, tmp_path / "embedded")
    _same(_dataset(tmp_path / "embedded"), _dataset(tmp_path / "cluster"))
