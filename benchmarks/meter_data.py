"""Benchmark: half-hourly values per second end to end by the dataset run of ``openmhhs data
run`` in one process (one core): the day's registry snapshot, the DCC gate, simulated meters,
SDS validation and estimation, the ECS checks, every IF-021 body built (the first of each
sender in a block parsed against the schema), Parquet written, for --mpans MPANs over --days
days, beside a floor measured in the same run: the same meters' values generated and written
to Parquet (the same encoding), nothing else. Reported: the whole run, and the (day, block)
tasks alone (what a worker does: the per-worker figure a cluster scales), each in wall-clock
and in CPU time (on a shared machine CPU time is the steadier figure), the day's registry
snapshot alone as a client streams it (CPU per MPAN-day, its one-off start-up excluded), the
tasks and the snapshot together, bytes on disk per value, and the process's peak memory.

    python benchmarks/meter_data.py [--mpans 10000] [--days 7] [--out bench-results/meter_data.json]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from openmhhs.cli.model import read_description
from openmhhs.market.driver import run_market
from openmhhs.market.loader import load_market, register_population
from openmhhs.market.population import population
from openmhhs.meterdata.dataset import write_block
from openmhhs.meterdata.engine import BLOCK, run_dataset
from openmhhs.meterdata.meters import SimulatedMeters
from openmhhs.meterdata.snapshot import RegistrySnapshots, annual_wh
from openmhhs.store.database import Database
from openmhhs.store.market_repo import MarketStore


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mpans", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument(
        "--database", default=None, help="default: a new SQLite file (one already holding a market is reused)"
    )
    parser.add_argument("--out", type=Path, default=Path("bench-results/meter_data.json"))
    args = parser.parse_args()

    url = args.database or f"sqlite:///{Path(tempfile.mkdtemp(prefix='openmhhs-bench-')) / 'openmhhs.db'}"
    db = Database(url)
    description, text = read_description("1a-fully-separated")
    members = population(description, size=args.mpans, seed=11)
    started = time.perf_counter()
    with db.read() as connection:
        loaded = MarketStore(connection).count_mpans()
    if not loaded:  # an existing benchmark database (--database) is reused as it is
        with db.begin() as connection:
            load_market(connection, description, source=text, at=datetime(2025, 7, 1, 9, tzinfo=UTC))
            register_population(connection, members)
        run_market(db, description, members, seed=11, mdr_change_share=0.0, change_of_supplier_share=0.0)
    setup = time.perf_counter() - started
    first = description.start
    last = first + timedelta(days=args.days - 1)
    with db.read() as connection:
        records = list(MarketStore(connection).iter_mpans())
    mpans = [str(r.mpan) for r in records]
    annual = [annual_wh(r) for r in records]
    export = [4.0 if r.energy_direction == "E" else 0.0 for r in records]
    del records
    meters = SimulatedMeters(11)
    scratch = Path(tempfile.mkdtemp(prefix="openmhhs-bench-floor-"))

    # the floor: the same meters' values generated and written to Parquet, nothing else
    started, cpu = time.perf_counter(), time.process_time()
    floor_values = 0
    for i in range(args.days):
        day = first + timedelta(days=i)
        for b in range(0, len(mpans), BLOCK):
            block = meters.block(
                mpans[b : b + BLOCK], day, annual_wh=annual[b : b + BLOCK], export_kwp=export[b : b + BLOCK]
            )
            n = block.import_wh.shape[1]
            table = pa.table(
                {
                    "mpan": np.repeat(np.array(block.mpans, dtype=object), n),
                    "period": np.tile(np.arange(1, n + 1, dtype=np.int8), len(block.mpans)),
                    "value_wh": block.import_wh.astype(np.int32).ravel(),
                }
            )
            write_block(scratch, "floor", day, b // BLOCK, table, split=("value_wh",))
            floor_values += table.num_rows
    floor_seconds = time.perf_counter() - started
    floor_cpu = time.process_time() - cpu
    shutil.rmtree(scratch, ignore_errors=True)

    # end to end, in one process (one core): snapshot, gate, meters, validation/estimation,
    # ECS checks, IF-021 bodies built and checked, Parquet written
    dataset = Path(tempfile.mkdtemp(prefix="openmhhs-bench-dataset-"))
    started, cpu = time.perf_counter(), time.process_time()
    stats = run_dataset(db, first, last, dataset, seed=11, workers=0)
    run_seconds = time.perf_counter() - started
    run_cpu = time.process_time() - cpu
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    shutil.rmtree(dataset, ignore_errors=True)

    # the snapshot alone, as a client builds it day after day (its one-off start-up excluded):
    # what it costs per MPAN-day at any scale
    snapshots = RegistrySnapshots(db)
    cpu = time.process_time()
    snapshot_rows = sum(
        s.table.num_rows
        for i in range(args.days)
        for _, s in snapshots.blocks(first + timedelta(days=i), BLOCK)
    )
    snapshot_cpu = time.process_time() - cpu

    result = {
        "benchmark": "meter_data",
        "database": "sqlite" if url.startswith("sqlite") else "postgresql",
        "mpans": len(mpans),
        "days": args.days,
        "market_setup_seconds": round(setup, 1),
        "half_hourly_values": stats.values,
        "end_to_end_one_core": {
            "seconds": round(run_seconds, 2),
            "values_per_second": round(stats.values / run_seconds),
            "values_per_cpu_second": round(stats.values / run_cpu),
            "mpan_days": stats.mpan_days,
            "estimated": stats.estimated,
            "if021": stats.if021,
            "ecs_refused": stats.ecs_refused,
            "access_refusals": stats.refusals,
            "bytes_on_disk": stats.bytes,
            "bytes_per_value": round(stats.bytes / stats.values, 3),
            "if021_json_bytes": stats.if021_bytes,
            "snapshot_seconds": round(stats.snapshot_seconds, 2),
        },
        "tasks_alone_one_core": {
            "seconds": round(stats.task_seconds, 2),
            "values_per_second": round(stats.values / stats.task_seconds),
            "values_per_cpu_second": round(stats.values / stats.task_cpu_seconds),
        },
        "snapshot_alone_one_core": {
            "cpu_seconds": round(snapshot_cpu, 3),
            "rows": snapshot_rows,
            "cpu_us_per_mpan_day": round(snapshot_cpu / stats.mpan_days * 1_000_000, 1),
        },
        "tasks_plus_snapshot_values_per_cpu_second": round(
            stats.values / (stats.task_cpu_seconds + snapshot_cpu)
        ),
        "floor_generate_and_write_parquet": {
            "seconds": round(floor_seconds, 2),
            "values_per_second": round(floor_values / floor_seconds),
            "values_per_cpu_second": round(floor_values / floor_cpu),
        },
        "run_over_floor_time": round((run_seconds / stats.values) / (floor_seconds / floor_values), 2),
        "tasks_over_floor_time": round(
            (stats.task_seconds / stats.values) / (floor_seconds / floor_values), 2
        ),
        "run_over_floor_cpu": round((run_cpu / stats.values) / (floor_cpu / floor_values), 2),
        "tasks_over_floor_cpu": round(
            (stats.task_cpu_seconds / stats.values) / (floor_cpu / floor_values), 2
        ),
        "peak_rss_mb_one_worker_process": round(peak_mb),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
