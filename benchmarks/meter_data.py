"""Benchmark: half-hourly values validated and submitted per second by ``openmhhs data run``
(MDR retrieval through the DCC gate, IF-064/IF-065 built and checked, SDS validation and
estimation, IF-021 built, ECS-checked, schema-checked and stored), for --mpans MPANs over
--days days, beside two floors measured in the same run on the same MPAN-days: the meters
simulated alone, and the meters plus validation/estimation alone (no messages, no storage).

    python benchmarks/meter_data.py [--mpans 10000] [--days 7] [--out bench-results/meter_data.json]
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from openmhhs.cli.model import read_description
from openmhhs.days import day_start
from openmhhs.market.driver import run_market
from openmhhs.market.loader import load_market, register_population
from openmhhs.market.population import population
from openmhhs.meterdata.meters import local_hours
from openmhhs.meterdata.run import DataRun
from openmhhs.meterdata.validation import DayInputs, RegisterRead, settle_day
from openmhhs.store.database import Database


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mpans", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--database", default=None, help="default: a new SQLite file")
    parser.add_argument("--out", type=Path, default=Path("bench-results/meter_data.json"))
    args = parser.parse_args()

    url = args.database or f"sqlite:///{Path(tempfile.mkdtemp(prefix='openmhhs-bench-')) / 'openmhhs.db'}"
    db = Database(url)
    description, text = read_description("1a-fully-separated")
    members = population(description, size=args.mpans, seed=11)
    started = time.perf_counter()
    with db.begin() as connection:
        load_market(connection, description, source=text, at=datetime(2025, 7, 1, 9, tzinfo=UTC))
        register_population(connection, members)
    run_market(db, description, members, seed=11, mdr_change_share=0.0, change_of_supplier_share=0.0)
    setup = time.perf_counter() - started
    first = description.start
    last = first + timedelta(days=args.days - 1)
    runner = DataRun(db, seed=11)
    mpans = sorted(runner.facts)

    # floor 1: the meters alone
    started = time.perf_counter()
    held = {}
    for i in range(args.days):
        day = first + timedelta(days=i)
        for mpan in mpans:
            held[(mpan, day)] = runner.meters.day(mpan, day, runner.facts[mpan].profile)
    meters_seconds = time.perf_counter() - started
    periods = sum(len(m.import_wh) for m in held.values())

    # floor 2: the meters' data validated and estimated, nothing built or stored
    started = time.perf_counter()
    for (_, day), meter in held.items():
        midnight = day_start(day + timedelta(days=1)).astimezone(UTC)
        settle_day(
            DayInputs(
                period_hours=local_hours(day),
                mdr_wh=meter.import_wh if meter.reachable else None,
                register=RegisterRead(
                    meter.meter_id,
                    meter.register_start_wh,
                    meter.register_end_wh,
                    meter.register_end_at,
                    midnight,
                ),
            )
        )
    settle_seconds = time.perf_counter() - started
    del held

    # the whole run
    started = time.perf_counter()
    stats = runner.run(first, last)
    run_seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    result = {
        "benchmark": "meter_data",
        "database": "sqlite" if url.startswith("sqlite") else "postgresql",
        "mpans": args.mpans,
        "days": args.days,
        "market_setup_seconds": round(setup, 1),
        "half_hourly_values": stats.periods,
        "data_run": {
            "seconds": round(run_seconds, 2),
            "values_per_second": round(stats.periods / run_seconds),
            "mpan_days_per_second": round(stats.mpan_days / run_seconds),
            "actual": stats.actual,
            "estimated": stats.estimated,
            "if064": stats.if064,
            "if065": stats.if065,
            "if021": stats.if021,
            "amendments": stats.amendments,
            "access_refusals": stats.refusals,
        },
        "floor_meters_only": {
            "seconds": round(meters_seconds, 2),
            "values_per_second": round(periods / meters_seconds),
        },
        "floor_meters_and_validation": {
            "seconds": round(meters_seconds + settle_seconds, 2),
            "values_per_second": round(periods / (meters_seconds + settle_seconds)),
        },
        "run_over_floor_time": round(run_seconds / (meters_seconds + settle_seconds), 2),
        "peak_rss_mb": round(peak_mb),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
