"""``openmhhs migrate``, ``openmhhs bulk-mdr-change`` and ``openmhhs bench``: work at GB scale."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from openmhhs.bench import STAGES, run_bench
from openmhhs.cli.common import (
    InputInvalid,
    JsonOption,
    LaneOption,
    checked_lane,
    coded,
    console,
    emit_json,
    err_console,
    now,
    parse_day,
)
from openmhhs.cli.market import open_market
from openmhhs.cli.model import read_description
from openmhhs.dataservice.service import SmartDataService
from openmhhs.dip.parse import encode
from openmhhs.ids import DipId
from openmhhs.market.bulk_mdr import plan_bulk_mdr_change
from openmhhs.market.lane import DEFAULT_CHUNK, LANES, BatchLane
from openmhhs.market.migration import Migration, MigrationStats
from openmhhs.market.workers import default_workers, play_in_workers
from openmhhs.store import queries
from openmhhs.store.database import Database

DEFAULT_MIGRATION_SCENARIO = "1a-fully-separated"

WorkersOption = typer.Option(
    "--workers",
    help="Processes the batch lane splits the MPANs over (by a stable hash); default: one per core.",
)


def _workers(value: int | None) -> int:
    if value is None:
        return default_workers()
    if value < 1:
        raise InputInvalid("--workers must be 1 or more")
    return value


def _migration_json(stats: MigrationStats) -> dict[str, Any]:
    return {
        "total": stats.total,
        "done": stats.done,
        "done_before_this_run": stats.done_before,
        "migrated_this_run": stats.migrated_now,
        "registered": stats.registered,
        "appointments_requested": stats.appointments_requested,
        "skipped_already_registered": stats.skipped_registered,
        "skipped_already_requested": stats.skipped_requested,
        "messages": stats.messages,
        "deliveries": stats.deliveries,
        "failed": stats.failed,
        "batches": stats.batches,
        "seconds": round(stats.seconds, 2),
        "mpans_per_second": round(stats.mpans_per_second),
        "peak_rss_mb_first_batch": stats.rss_mb[0] if stats.rss_mb else None,
        "peak_rss_mb_last_batch": stats.rss_mb[-1] if stats.rss_mb else None,
    }


@coded
def migrate_command(
    mpans: Annotated[int, typer.Option("--mpans", help="How many MPANs to migrate (GB: about 32,000,000).")],
    synthetic: Annotated[
        bool, typer.Option("--synthetic", help="Generate the MPANs (the only source for now).")
    ] = False,
    scenario: Annotated[
        str, typer.Option("--scenario", help="Built-in scenario or YAML file: who supplies and serves.")
    ] = DEFAULT_MIGRATION_SCENARIO,
    batch: Annotated[
        int, typer.Option("--batch", min=1, help="MPANs per batch (and per checkpoint).")
    ] = 2_000,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the synthetic population.")] = 2025,
    lane: Annotated[str, LaneOption] = "batch",
    workers: Annotated[int | None, WorkersOption] = None,
    chunk: Annotated[
        int, typer.Option("--chunk", min=1, help="MPANs per batch-lane transaction (a batch holds several).")
    ] = DEFAULT_CHUNK,
    as_json: bool = JsonOption,
) -> None:
    """Migrate MPANs to MHHS through the real appointment flow (IF-031 for the Data Service and the
    Metering Service, to IF-036), in batches with constant memory. Interrupted, the same command
    resumes from the last checkpoint without duplicating anything. By default each batch goes
    through the batch lane (a chunk of MPANs per transaction, in memory, over --workers processes);
    --lane message plays it message by message."""
    lane = checked_lane(lane)
    if not synthetic:
        raise InputInvalid("only --synthetic migrations exist: pass --synthetic")
    if mpans < 1:
        raise InputInvalid("--mpans must be 1 or more")
    market, text = read_description(scenario)
    migration = Migration(
        Database(),
        market,
        source=text,
        total=mpans,
        seed=seed,
        batch=batch,
        lane=lane,
        workers=_workers(workers),
        chunk=chunk,
    )
    columns = (
        TextColumn("migrating"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err_console, disable=as_json) as progress:
        task = progress.add_task("migrate", total=mpans, rate="")
        clock: dict[str, float] = {}

        def report(done: int, total: int) -> None:
            elapsed = progress.tasks[task].elapsed or 0.0
            first = clock.setdefault("first", done)
            rate = (done - first) / elapsed if elapsed > 0 else 0.0
            progress.update(task, completed=done, total=total, rate=f"{rate:,.0f} MPANs/s")

        stats = migration.run(now=now(), progress=report)
    data = _migration_json(stats)
    if as_json:
        emit_json(data)
        return
    console.print(
        f"Migrated {data['done']:,} of {data['total']:,} MPANs ({data['migrated_this_run']:,} in this run, "
        f"{data['mpans_per_second']:,}/s); {data['appointments_requested']:,} IF-031s, "
        f"{data['messages']:,} messages, {data['failed']} failed; "
        f"peak memory {data['peak_rss_mb_first_batch']} MB after the first batch, "
        f"{data['peak_rss_mb_last_batch']} MB after the last."
    )


def _bench_table(result: dict[str, Any]) -> Table:
    table = Table(
        title=f"openmhhs bench on {result['backend']} ({result['cpus']} CPUs)", title_justify="left"
    )
    for column in ("stage", "run", "figure", "floor", "ratio", "peak RSS MB"):
        table.add_column(column, justify="left" if column in ("stage", "figure", "floor") else "right")
    for n, run in enumerate(result["stages"].get("appointments", []), start=1):
        for lane, figures in run["lanes"].items():
            workers = f", {figures['workers']} workers" if figures["workers"] > 1 else ""
            table.add_row(
                f"appointments ({lane} lane{workers})",
                str(n),
                f"{figures['appointments_per_s']:,}/s ({run['mpans']:,} in {figures['flow_s']} s)",
                f"{run['floor_appointments_per_s']:,}/s (orjson + bare insert)",
                f"{run['ratio_by_lane'][lane]}x; {run['ratio_to_required_floor_by_lane'][lane]}x required",
                f"{run['flow_peak_rss_mb']} (flow)",
            )
        table.add_row(
            "",
            "",
            f"{run['bytes_per_appointment']:,} bytes of database per appointment "
            f"({run['footprint_lane']} lane)",
            f"{run['required_floor_appointments_per_s']:,}/s (required work: parse and encode every "
            f"message once, the same rows, one executemany per table, one commit per chunk)",
            "",
            "",
        )
    for n, run in enumerate(result["stages"].get("point_query", []), start=1):
        inproc, floor = run["in_process"], run["floor_driver"]
        figure = f"p50 {inproc['p50_us']} µs, p99 {inproc['p99_us']} µs in-process"
        if "http" in run:
            figure += f"; HTTP p50 {run['http']['p50_us']} µs, p99 {run['http']['p99_us']} µs"
        table.add_row(
            "point query",
            str(n),
            figure,
            f"p50 {floor['p50_us']} µs, p99 {floor['p99_us']} µs (driver cursor)",
            f"{run['ratio_p50_to_floor']}x",
            f"{run['peak_rss_mb']}",
        )
    for n, run in enumerate(result["stages"].get("access_list", []), start=1):
        table.add_row(
            "DCC access list",
            str(n),
            f"{run['listed']:,} MPANs in {run['seconds']} s ({run['mpans_per_s']:,}/s; "
            f"32M ≈ {run['projected_32m_s']} s)",
            f"{run['floor_bare_select_s']} s (bare SELECT)",
            f"{run['ratio_to_floor']}x",
            f"{run['peak_rss_mb']}",
        )
    return table


@coded
def bench_command(
    mpans: Annotated[
        int,
        typer.Option("--mpans", min=1, help="MPANs appointed through the full flow (appointments stage)."),
    ] = 20_000,
    rows: Annotated[
        int,
        typer.Option(
            "--rows", min=1, help="Appointment rows loaded for the point query and access list stages."
        ),
    ] = 1_000_000,
    queries: Annotated[int, typer.Option("--queries", min=100, help="Point queries timed.")] = 20_000,
    database: Annotated[
        str | None,
        typer.Option(
            "--database",
            help="sqlite (default: temporary files) or a postgresql:// server URL whose account may "
            "create databases (each stage makes and drops its own).",
        ),
    ] = None,
    repeat: Annotated[int, typer.Option("--repeat", min=1, help="Repetitions of every stage.")] = 1,
    stage: Annotated[
        list[str] | None, typer.Option("--stage", help=f"Only these stages ({', '.join(STAGES)}).")
    ] = None,
    http: Annotated[
        bool, typer.Option("--http/--no-http", help="Also time the point query over HTTP.")
    ] = True,
    lane: Annotated[
        str,
        typer.Option(
            "--lane",
            help="The appointments stage's lane: batch, message (one message at a time) or both "
            "(default; each on its own fresh database).",
        ),
    ] = "both",
    workers: Annotated[int | None, WorkersOption] = None,
    out: Annotated[
        Path, typer.Option("-o", "--out", "--output", help="JSON file written with every figure.")
    ] = Path("bench-results/bench.json"),
    as_json: bool = JsonOption,
) -> None:
    """Measure appointment throughput, the point query and the DCC's daily access list, each beside
    its floor in the same run, and write them to a JSON file and a table."""
    chosen = tuple(stage or STAGES)
    unknown = [s for s in chosen if s not in STAGES]
    if unknown:
        raise InputInvalid(f"unknown stage(s) {', '.join(unknown)}: choose from {', '.join(STAGES)}")
    if database is not None and not database.startswith(("sqlite", "postgres")):
        raise InputInvalid("--database is sqlite or a postgresql:// URL")
    if database == "sqlite":
        database = None
    lanes = LANES if lane == "both" else (checked_lane(lane),)
    with err_console.status("benchmarking") as status:
        result = run_bench(
            database=database,
            mpans=mpans,
            rows=rows,
            queries=queries,
            repeat=repeat,
            http=http,
            stages=chosen,
            lanes=lanes,
            workers=_workers(workers),
            progress=lambda s: status.update(f"benchmarking: {s}"),
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2) + b"\n")
    if as_json:
        emit_json(result)
        return
    console.print(_bench_table(result))
    console.print(f"Written: {out}")


@coded
def bulk_mdr_change_command(
    from_mdr: Annotated[str, typer.Option("--from-mdr", help="The MDR DIP ID being replaced.")],
    to_mdr: Annotated[str, typer.Option("--to-mdr", help="The new MDR DIP ID.")],
    sds: Annotated[str, typer.Option("--sds", help="The SDS DIP ID (simulated in this market).")],
    from_: Annotated[
        str | None, typer.Option("--from", help="MDR effective-from day, YYYY-MM-DD (required).")
    ] = None,
    apply: Annotated[
        bool, typer.Option("--apply", help="Send the batch through the in-process market and run it.")
    ] = False,
    out: Annotated[
        Path | None,
        typer.Option("-o", "--out", "--output", help="Write the IF-034 batch (a JSON array) to this file."),
    ] = None,
    lane: Annotated[str, LaneOption] = "batch",
    workers: Annotated[int | None, WorkersOption] = None,
    as_json: bool = JsonOption,
    effective: Annotated[str | None, typer.Option("--effective", hidden=True)] = None,
) -> None:
    """Plan an SDS-led change of MDR for every MPAN the SDS serves with --from-mdr on the day
    --from (--effective, its older name, still works): the IF-034 [SDS-MDRUpdate] batch, and
    what would be refused and why (DS001, DS004-DS006 from the SDS's contract; REG1080-REG1084,
    REG1093, REG1098 from the Registration Service). With --apply the batch goes through the
    batch lane (--lane message: message by message)."""
    lane = checked_lane(lane)
    market = open_market()
    participant = market.participant(str(DipId(sds)), SmartDataService)
    if not isinstance(participant, SmartDataService) or market.rs is None:
        raise InputInvalid(f"{sds} is not an SDS simulated in this market (or there is no RS)")
    if (from_ or effective) is None:
        raise InputInvalid("--from (the MDR effective-from day) is required")
    day = parse_day(from_ or effective, option="--from")
    plan = plan_bulk_mdr_change(
        market, participant, from_mdr=DipId(from_mdr), to_mdr=DipId(to_mdr), effective=day
    )
    messages = plan.messages
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(encode(messages))
    applied: Counter[str] = Counter()
    if apply and messages:
        results = []
        if lane == "message":
            for offset in range(0, len(messages), 1_000):
                results += market.send(messages[offset : offset + 1_000])
            market.run()
        else:
            count = _workers(workers)
            if count > 1:
                _, results = play_in_workers(
                    market.db.url,
                    workers=count,
                    today=market.today,
                    now=market.now,
                    messages=messages,
                    settings=market.settings,
                )
            else:
                results = BatchLane(market).send(messages)
        with market.db.read() as connection:
            for sent, result in zip(messages, results, strict=True):
                if not result.accepted:  # refused by the hub itself (its DIP code)
                    applied[result.code.value] += 1
                    continue
                ended = queries.outcome(connection, sent.common_block.s1.sender_correlation_id)
                applied[ended.code if ended else result.code.value] += 1
    refused = plan.refusals_by_code()
    examples = {c.code: c for c in reversed(plan.refused)}
    data: dict[str, Any] = {
        "sds": plan.sds,
        "from_mdr": plan.from_mdr,
        "to_mdr": plan.to_mdr,
        "effective": plan.effective.isoformat(),
        "today": plan.today.isoformat(),
        "affected": len(plan.changes),
        "to_send": len(messages),
        "refused": {
            code: {"count": n, "example": examples[code].mpan, "reason": examples[code].reason}
            for code, n in sorted(refused.items())
        },
        "out": None if out is None else str(out),
        "applied": dict(sorted(applied.items())) if apply else None,
    }
    if as_json:
        emit_json(data)
        return
    console.print(
        f"{data['affected']:,} MPANs served by {sds} with MDR {from_mdr} on {data['effective']}: "
        f"{data['to_send']:,} IF-034 [SDS-MDRUpdate] to send, {len(plan.refused):,} would be refused."
    )
    if refused:
        table = Table(title="Would be refused", title_justify="left")
        for column in ("code", "MPANs", "example", "reason"):
            table.add_column(column, justify="right" if column == "MPANs" else "left")
        for code, row in data["refused"].items():
            table.add_row(code, f"{row['count']:,}", row["example"], row["reason"])
        console.print(table)
    if out is not None:
        console.print(f"Batch written: {out}")
    if apply:
        console.print("Applied: " + ", ".join(f"{code} {n:,}" for code, n in sorted(applied.items())))
