"""The meter-data run on Dask distributed: one task per (settlement day, MPAN block), each a pure
``pipeline.process_block`` over the day's registry snapshot that writes its block of the
dataset (``meterdata.dataset``) and hands the block's state (the E5 history) to the same
block's task of the next day. Blocks of a day run in parallel; a block's days in order.

Embedded by default (a ``distributed.LocalCluster`` of worker processes, or in-process for a
tiny run or ``workers=0``); ``scheduler="tcp://HOST:PORT"`` runs the same tasks on a real cluster, whose
workers must reach the dataset folder (a shared filesystem). A worker lost mid-run costs
nothing: the scheduler runs its tasks again, and a block's files are replaced whole.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from openmhhs.days import days
from openmhhs.failpoints import failpoint
from openmhhs.meterdata.dataset import write_block
from openmhhs.meterdata.meters import FaultPlan
from openmhhs.meterdata.pipeline import BlockState, process_block
from openmhhs.meterdata.snapshot import RegistrySnapshots, Snapshot
from openmhhs.store.database import Database
from openmhhs.store.market_repo import MarketStore

__all__ = ["BLOCK", "EngineStats", "run_dataset"]

BLOCK = 2000
"""MPANs per block (the MPANs of the market in MPAN order, 2,000 at a time, the same every day)."""
IN_FLIGHT = 3
"""Tasks submitted and not yet collected, per worker: enough to keep a worker busy while the
client builds the next block's snapshot, few enough to bound memory."""
TINY = 200_000
"""Half-hourly values below which an embedded run stays in-process (no worker processes)."""

DECISIONS_DELTA = ("mpan",)
SUBMISSIONS_DELTA = ("mpan", "reference")
"""Sorted, mostly unique strings: stored as shared prefixes (``dataset.write_block``)."""

Progress = Callable[[date, int, int], None]


@dataclass
class EngineStats:
    values: int = 0
    mpan_days: int = 0
    estimated: int = 0
    refusals: int = 0
    if021: int = 0
    ecs_refused: int = 0
    bytes: int = 0
    blocks: int = 0
    unreachable: int = 0
    """MPAN-days whose meter the DCC could not reach the morning after (an MDR allowed to read)."""
    late_retrievals: int = 0
    amendments: int = 0
    if021_bytes: int = 0
    task_seconds: float = 0.0
    """Time spent inside the (day, block) tasks, summed over workers."""
    task_cpu_seconds: float = 0.0
    """CPU time the tasks used (on a shared machine, less disturbed by other work than time)."""
    snapshot_seconds: float = 0.0
    """Time spent building the days' registry snapshots (in the client)."""
    by_day: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def periods(self) -> int:
        return self.values

    @property
    def actual(self) -> int:
        return self.values - self.estimated


def block_task(
    snapshot: Snapshot,
    block: int,
    previous: tuple[BlockState, dict[str, int]] | None,
    dataset: str,
    seed: int,
    faults: FaultPlan | None,
) -> tuple[BlockState, dict[str, int]]:
    """One (day, block): process it, write its files, return its state and counts (with the
    task's own seconds, for the per-worker figures)."""
    started, cpu = time.perf_counter(), time.process_time()
    result = process_block(
        snapshot, seed=seed, faults=faults, state=None if previous is None else previous[0]
    )
    folder = Path(dataset)
    size = write_block(folder, "consumption", snapshot.day, block, result.consumption, split=("value_wh",))
    failpoint("meter.block.half-written")  # a worker lost here: the task runs again elsewhere
    size += write_block(folder, "decisions", snapshot.day, block, result.decisions, delta=DECISIONS_DELTA)
    size += write_block(
        folder, "submissions", snapshot.day, block, result.submissions, delta=SUBMISSIONS_DELTA
    )
    late_refusals = 0
    for late in result.late:  # an earlier day's amendments, under that day, named for this one
        suffix = f"-late-{snapshot.day.isoformat()}"
        size += write_block(
            folder, "consumption", late.day, block, late.consumption, split=("value_wh",), suffix=suffix
        )
        size += write_block(
            folder, "decisions", late.day, block, late.decisions, delta=DECISIONS_DELTA, suffix=suffix
        )
        size += write_block(
            folder, "submissions", late.day, block, late.submissions, delta=SUBMISSIONS_DELTA, suffix=suffix
        )
        late_refusals += late.decisions.num_rows - _true(late.decisions.column("allowed"))
    submissions = result.submissions
    refused = submissions.num_rows - submissions.column("ecs").null_count
    counts = {
        "values": result.consumption.num_rows,
        "estimated": _true(result.consumption.column("estimated")),
        "mpan_days": submissions.num_rows,
        "refusals": result.decisions.num_rows - _true(result.decisions.column("allowed")) + late_refusals,
        "if021": submissions.num_rows - refused + result.amendments,
        "ecs_refused": refused,
        "if021_bytes": sum(len(b) for b in result.bodies),
        "unreachable": result.unreachable,
        "late_retrievals": result.late_retrievals,
        "amendments": result.amendments,
        "bytes": size,
    }
    counts["task_seconds_us"] = round((time.perf_counter() - started) * 1_000_000)
    counts["task_cpu_us"] = round((time.process_time() - cpu) * 1_000_000)
    return result.state, counts


def _true(column: pa.ChunkedArray) -> int:
    return int(pc.sum(column).as_py() or 0)


def run_dataset(
    db: Database,
    first: date,
    last: date,
    dataset: Path,
    *,
    seed: int = 2025,
    faults: FaultPlan | None = None,
    scheduler: str | None = None,
    workers: int | None = None,
    block_size: int = BLOCK,
    progress: Progress | None = None,
) -> EngineStats:
    """Run the days ``first`` to ``last`` over the market in ``db`` into ``dataset``: each
    day's snapshot is streamed block by block and each block's task submitted as soon as its
    snapshot exists, with at most ``IN_FLIGHT`` tasks per worker waiting or running, so the
    client and every worker hold a few blocks whatever the number of MPANs."""
    clock = time.perf_counter()
    snapshots = RegistrySnapshots(db)
    with db.read() as connection:
        count = MarketStore(connection).count_mpans()
    total = -(-count // block_size)
    window = list(days(first, last))
    dataset.mkdir(parents=True, exist_ok=True)
    target = str(dataset.resolve())
    stats = EngineStats(snapshot_seconds=time.perf_counter() - clock)

    def day_blocks(day: date) -> Iterator[tuple[int, Snapshot]]:
        """The day's blocks, timing their building (in the client) as snapshot seconds."""
        parts = snapshots.blocks(day, block_size)
        while True:
            started = time.perf_counter()
            part = next(parts, None)
            stats.snapshot_seconds += time.perf_counter() - started
            if part is None:
                return
            yield part

    done: dict[date, int] = dict.fromkeys(window, 0)

    def finished(day: date) -> None:
        done[day] += 1
        if progress is not None:
            progress(day, done[day], total)

    if scheduler is None and (workers == 0 or (workers is None and count * len(window) * 48 < TINY)):
        previous: dict[int, Any] = {}
        for day in window:
            for block, snapshot in day_blocks(day):
                if snapshot.table.num_rows:
                    previous[block] = block_task(snapshot, block, previous.get(block), target, seed, faults)
                    _count(stats, day, previous[block][1])
                finished(day)
            if not total and progress is not None:
                progress(day, 0, 0)
        return stats
    from distributed import Client, LocalCluster, as_completed  # noqa: PLC0415 (only a parallel run pays for it)

    cluster = None
    if scheduler is None:
        cluster = LocalCluster(  # type: ignore[no-untyped-call]
            n_workers=workers or max(1, min(4, os.cpu_count() or 1)),
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
        )
    client = Client(  # type: ignore[no-untyped-call]
        scheduler if scheduler is not None else cluster
    )
    try:
        limit = IN_FLIGHT * max(1, len(client.scheduler_info()["workers"]))
        running: Any = as_completed()  # type: ignore[no-untyped-call]
        days_of: dict[Any, date] = {}
        latest: dict[int, Any] = {}

        def collect() -> None:
            future = next(running)
            day = days_of.pop(future.key)
            _count(stats, day, future.result()[1])
            finished(day)

        for day in window:
            for block, snapshot in day_blocks(day):
                if not snapshot.table.num_rows:
                    finished(day)
                    continue
                future = client.submit(
                    block_task,
                    snapshot,
                    block,
                    latest.get(block),
                    target,
                    seed,
                    faults,
                    key=f"meter-{day.isoformat()}-{block:05d}-{seed}",
                    retries=3,
                )
                latest[block] = future
                days_of[future.key] = day
                running.add(future)
                while running.count() >= limit:
                    collect()
            if not total and progress is not None:
                progress(day, 0, 0)
        while running.count():
            collect()
    finally:
        client.close()  # type: ignore[no-untyped-call]
        if cluster is not None:
            cluster.close()
    return stats


def _count(stats: EngineStats, day: date, counts: Mapping[str, int]) -> None:
    stats.blocks += 1
    stats.values += counts["values"]
    stats.estimated += counts["estimated"]
    stats.mpan_days += counts["mpan_days"]
    stats.refusals += counts["refusals"]
    stats.if021 += counts["if021"]
    stats.ecs_refused += counts["ecs_refused"]
    stats.bytes += counts["bytes"]
    stats.if021_bytes += counts["if021_bytes"]
    stats.unreachable += counts["unreachable"]
    stats.late_retrievals += counts["late_retrievals"]
    stats.amendments += counts["amendments"]
    stats.task_seconds += counts["task_seconds_us"] / 1_000_000
    stats.task_cpu_seconds += counts["task_cpu_us"] / 1_000_000
    row = stats.by_day.setdefault(day.isoformat(), {})
    for key in ("values", "estimated", "refusals", "ecs_refused", "unreachable", "amendments"):
        row[key] = row.get(key, 0) + counts[key]
