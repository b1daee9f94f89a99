"""Commands of meter data: ``openmhhs data run`` (retrieval, validation, estimation and
settlement submission over the market in the database, into the consumption dataset on Dask),
``openmhhs data show`` and ``data summary`` (DuckDB over the dataset) and ``openmhhs dcc check``
(may this MDR read this meter on this day?)."""

from __future__ import annotations

import os
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from openmhhs.cli.common import (
    InputInvalid,
    JsonOption,
    coded,
    console,
    emit_json,
    err_console,
    open_database,
    parse_day,
    today,
)
from openmhhs.days import days as days_between
from openmhhs.dcc.access import reading_role
from openmhhs.dcc.access_list import write_access_list
from openmhhs.identity.registry import DccUserRole
from openmhhs.ids import DipId, MpanCore
from openmhhs.meterdata.engine import EngineStats, run_dataset
from openmhhs.meterdata.gate import AccessGate, ReadRequest, dcc_user_roles, presented_id
from openmhhs.meterdata.meters import FaultPlan
from openmhhs.meterdata.query import day_values, summary
from openmhhs.meterdata.run import DataRun, DataRunStats
from openmhhs.store.database import Database
from openmhhs.store.dcc_repo import DccRepository
from openmhhs.store.identity_repo import load_registry

data_app = typer.Typer(help="Meter data: MDR retrieval through the DCC, SDS validation, IF-021.")
dcc_app = typer.Typer(help="The DCC's access control of smart meters by MDR id.")

DATASET_ENV = "OPENMHHS_DATASET"


def default_dataset() -> Path:
    """``OPENMHHS_DATASET`` if set, else ``meterdata`` under the user's openmhhs data folder."""
    configured = os.environ.get(DATASET_ENV, "").strip()
    if configured:
        return Path(configured)
    from platformdirs import user_data_dir  # noqa: PLC0415 - only when no folder is given

    return Path(user_data_dir("openmhhs", appauthor=False)) / "meterdata"


DatasetOption = typer.Option(
    "--dataset",
    help=f"The consumption dataset folder (default: ${DATASET_ENV}, else meterdata/ under the user's "
    "openmhhs data folder, beside the default database).",
)


def stats_json(stats: DataRunStats, seconds: float) -> dict[str, Any]:
    return {
        "days": [d.isoformat() for d in stats.days],
        "mpan_days": stats.mpan_days,
        "periods": stats.periods,
        "actual": stats.actual,
        "estimated": stats.estimated,
        "supplier_shared": stats.supplier_periods,
        "access_refusals": stats.refusals,
        "unreachable": stats.unreachable,
        "late_retrievals": stats.late_retrievals,
        "if064": stats.if064,
        "if065": stats.if065,
        "if021": stats.if021,
        "amendments": stats.amendments,
        "ecs_refused": stats.ecs_refused,
        "seconds": round(seconds, 2),
        "values_per_second": round(stats.periods / seconds) if seconds else None,
        "by_day": {d.isoformat(): dict(v) for d, v in sorted(stats.by_day.items())},
    }


def run_data(
    db: Database, first: date, last: date, *, seed: int, faults: bool, quiet: bool
) -> tuple[DataRunStats, float]:
    started = time.perf_counter()
    runner = DataRun(db, seed=seed, faults=None if faults else FaultPlan.none())
    columns = (TextColumn("{task.description:<24}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err_console, disable=quiet) as progress:
        tasks: dict[date, Any] = {}

        def report(day: date, done: int, total: int) -> None:
            if day not in tasks:
                tasks[day] = progress.add_task(f"meter data {day}", total=total)
            progress.update(tasks[day], completed=done, total=total)

        stats = runner.run(first, last, progress=report)
    return stats, time.perf_counter() - started


def print_stats(data: dict[str, Any]) -> None:
    table = Table(title="Meter data by settlement day", title_justify="left")
    for column in ("day", "actual", "estimated", "amendments", "access refusals", "unreachable"):
        table.add_column(column, justify="left" if column == "day" else "right")
    for day, row in data["by_day"].items():
        table.add_row(
            day,
            f"{row.get('actual', 0):,}",
            f"{row.get('estimated', 0):,}",
            f"{row.get('amendments', 0):,}",
            f"{row.get('refusals', 0):,}",
            f"{row.get('unreachable', 0):,}",
        )
    console.print(table)
    console.print(
        f"{data['mpan_days']:,} MPAN-days, {data['periods']:,} half-hours: {data['actual']:,} actual, "
        f"{data['estimated']:,} estimated ({data['supplier_shared']:,} from supplier-shared data); "
        f"{data['if021']:,} IF-021 sent ({data['amendments']:,} amendments), {data['ecs_refused']} "
        f"refused by "
        f"the ECS checks; {data['access_refusals']:,} DCC access refusals; "
        f"{data['late_retrievals']:,} late retrievals; {data['values_per_second']:,} values/s"
    )


def engine_json(stats: EngineStats, dataset: Path, first: date, last: date, seconds: float) -> dict[str, Any]:
    return {
        "values": stats.values,
        "dataset": str(dataset),
        "days": [d.isoformat() for d in days_between(first, last)],
        "mpan_days": stats.mpan_days,
        "periods": stats.values,
        "actual": stats.values - stats.estimated,
        "estimated": stats.estimated,
        "access_refusals": stats.refusals,
        "if021": stats.if021,
        "amendments": stats.amendments,
        "ecs_refused": stats.ecs_refused,
        "unreachable": stats.unreachable,
        "late_retrievals": stats.late_retrievals,
        "blocks": stats.blocks,
        "bytes": stats.bytes,
        "bytes_per_value": round(stats.bytes / stats.values, 3) if stats.values else None,
        "seconds": round(seconds, 2),
        "values_per_second": round(stats.values / seconds) if seconds else None,
        "by_day": stats.by_day,
    }


@data_app.command("run")
@coded
def data_run_command(
    days: Annotated[int, typer.Option("--days", help="How many settlement days.")] = 7,
    first: Annotated[
        str | None, typer.Option("--from", help="The first settlement day (default: DAYS before today).")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the simulated meters.")] = 2025,
    faults: Annotated[
        bool, typer.Option("--faults/--no-faults", help="Simulate meter and communication faults.")
    ] = True,
    dataset: Annotated[Path | None, DatasetOption] = None,
    scheduler: Annotated[
        str | None,
        typer.Option("--scheduler", help="A Dask scheduler (tcp://HOST:PORT); default: embedded workers."),
    ] = None,
    workers: Annotated[
        int | None, typer.Option("--workers", help="Embedded worker processes (default: cores, at most 4).")
    ] = None,
    block_size: Annotated[
        int, typer.Option("--block-size", help="MPANs per block (a task and a file per day and block).")
    ] = 2000,
    messages: Annotated[
        bool,
        typer.Option(
            "--messages",
            help="Instead: the per-message run (IF-064, IF-065, IF-021 messages, late retrievals and "
            "amendments) into the market database.",
        ),
    ] = False,
    as_json: bool = JsonOption,
) -> None:
    """Retrieve, validate, estimate and submit (IF-021) each settlement day of every appointed
    MPAN in the database, as if run the morning after each day, into the consumption dataset
    (Parquet by day and MPAN block) on Dask: embedded, or on a cluster with --scheduler."""
    if days < 1:
        raise InputInvalid("--days must be 1 or more")
    if block_size < 1:
        raise InputInvalid("--block-size must be 1 or more")
    if workers is not None and workers < 1:
        raise InputInvalid("--workers must be 1 or more")
    start = parse_day(first, option="--from") if first else today() - timedelta(days=days)
    last = start + timedelta(days=days - 1)
    if messages:
        stats, seconds = run_data(open_database(), start, last, seed=seed, faults=faults, quiet=as_json)
        data = stats_json(stats, seconds)
        if as_json:
            emit_json(data)
        else:
            print_stats(data)
        return
    if scheduler is not None and not scheduler.startswith("tcp://"):
        raise InputInvalid("--scheduler must be tcp://HOST:PORT")
    folder = dataset if dataset is not None else default_dataset()
    db = open_database()
    started = time.perf_counter()
    columns = (TextColumn("{task.description:<24}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err_console, disable=as_json) as progress:
        tasks: dict[date, Any] = {}

        def report(day: date, done: int, total: int) -> None:
            if day not in tasks:
                tasks[day] = progress.add_task(f"meter data {day} blocks", total=total)
            progress.update(tasks[day], completed=done, total=total)

        result = run_dataset(
            db,
            start,
            last,
            folder,
            seed=seed,
            faults=None if faults else FaultPlan.none(),
            scheduler=scheduler,
            workers=workers,
            block_size=block_size,
            progress=report,
        )
    data = engine_json(result, folder, start, last, time.perf_counter() - started)
    if as_json:
        emit_json(data)
        return
    table = Table(title="Meter data by settlement day", title_justify="left")
    for column in (
        "day",
        "values",
        "estimated",
        "access refusals",
        "ECS refused",
        "unreachable",
        "amendments",
    ):
        table.add_column(column, justify="left" if column == "day" else "right")
    for day, row in sorted(data["by_day"].items()):
        table.add_row(
            day,
            f"{row['values']:,}",
            f"{row['estimated']:,}",
            f"{row['refusals']:,}",
            f"{row['ecs_refused']:,}",
            f"{row['unreachable']:,}",
            f"{row['amendments']:,}",
        )
    console.print(table)
    console.print(
        f"{data['values']:,} half-hourly values ({data['mpan_days']:,} MPAN-days, {data['if021']:,} IF-021, "
        f"{data['amendments']:,} of them amendments after {data['late_retrievals']:,} late retrievals) "
        f"in {data['dataset']}: {data['bytes_per_value']} bytes a value, "
        f"{data['values_per_second']:,} values/s"
    )


@data_app.command("show")
@coded
def data_show_command(
    mpan: Annotated[str, typer.Argument(help="The MPAN core.")],
    day: Annotated[str, typer.Option("--day", help="The settlement day.")],
    dataset: Annotated[Path | None, DatasetOption] = None,
    as_json: bool = JsonOption,
) -> None:
    """One MPAN's settlement day from the dataset: each period's value (kWh), whether it is
    estimated, and the MDR that retrieved it."""
    core = MpanCore(mpan)
    on = parse_day(day, option="--day")
    folder = dataset if dataset is not None else default_dataset()
    periods = day_values(folder, str(core), on)
    if periods is None:
        raise InputInvalid(f"{core} has no data for {on} in {folder}")
    result = {"mpan": str(core), "day": on.isoformat(), "periods": periods}
    if as_json:
        emit_json(result)
        return
    table = Table(title=f"{core} on {on}", title_justify="left")
    for column in ("period", "kWh", "estimated", "MDR"):
        table.add_column(column, justify="right")
    for p in periods:
        table.add_row(str(p["period"]), f"{p['value']:.3f}", "yes" if p["estimated"] else "", p["mdr"] or "")
    console.print(table)


@data_app.command("summary")
@coded
def data_summary_command(
    first: Annotated[str, typer.Option("--from", help="The first settlement day.")],
    last: Annotated[str, typer.Option("--to", help="The last settlement day (inclusive).")],
    dataset: Annotated[Path | None, DatasetOption] = None,
    as_json: bool = JsonOption,
) -> None:
    """Completeness, estimated share and DCC refusals by code, per SDS and MDR, from the dataset."""
    start = parse_day(first, option="--from")
    end = parse_day(last, option="--to")
    if end < start:
        raise InputInvalid("--to must not be before --from")
    folder = dataset if dataset is not None else default_dataset()
    result = summary(folder, start, end)
    if as_json:
        emit_json(result)
        return
    table = Table(title=f"Meter data {start} to {end}", title_justify="left")
    for column in ("SDS", "MDR", "values", "actual", "estimated share"):
        table.add_column(column, justify="left" if column in {"SDS", "MDR"} else "right")
    for row in result["by_sds_mdr"]:
        table.add_row(
            row["sds"],
            row["mdr"] or "-",
            f"{row['values']:,}",
            f"{row['actual']:,}",
            f"{row['estimated_share']:.2%}",
        )
    console.print(table)
    refusals = ", ".join(f"{code}: {n:,}" for code, n in result["refusals"].items()) or "none"
    console.print(
        f"completeness {result['completeness']:.2%} (actual of all values), "
        f"estimated {result['estimated_share']:.2%}; DCC refusals {refusals}"
    )


@dcc_app.command("check")
@coded
def dcc_check_command(
    mdr: Annotated[str, typer.Option("--mdr", help="The requester's DIP ID.")],
    mpan: Annotated[str, typer.Option("--mpan", help="The MPAN core.")],
    on: Annotated[str | None, typer.Option("--on", help="The settlement day (default today).")] = None,
    via: Annotated[
        str,
        typer.Option("--via", help="DCC user role: meter_data_retriever, import_supplier, export_supplier."),
    ] = "",
    as_json: bool = JsonOption,
) -> None:
    """Would the DCC let this participant read this meter for this day? Exit 0 if allowed,
    1 if refused (with the rule's code and reason)."""
    core = MpanCore(mpan)
    day = parse_day(on, option="--on")
    requester = DipId(mdr)
    with open_database().read() as connection:
        registry = load_registry(connection)
        records = DccRepository(connection).records(str(core))
    roles = dcc_user_roles(registry)
    if via:
        try:
            chosen = DccUserRole(via)
        except ValueError:
            raise InputInvalid(f"--via must be one of {', '.join(v.value for v in DccUserRole)}") from None
    else:
        supply = records.supply_on(day)
        direction = "I" if supply is None else supply.energy_direction
        chosen = reading_role(held=roles.get(str(requester), frozenset()), energy_direction=direction)
    mpid = presented_id(registry.table, str(requester), chosen, day)
    gate = AccessGate({str(core): records}, isd=registry.table, dcc_roles=roles)
    decision = gate.check(ReadRequest(str(requester), mpid, chosen, str(core), day))
    result = {
        "mpan": str(core),
        "day": day.isoformat(),
        "requester": str(requester),
        "requester_mpid": mpid,
        "via": chosen.value,
        "allowed": decision.allowed,
        "code": None if decision.code is None else decision.code.value,
        "reason": decision.reason,
        "serving_mdr": decision.serving_mdr,
        "mpid": mpid,
    }
    if as_json:
        emit_json(result)
    else:
        verdict = "[green]allowed[/]" if decision.allowed else f"[red]refused {result['code']}[/]"
        console.print(
            f"{mpid} ({requester}) reading {core} for {day} as {chosen.value}: {verdict} - {decision.reason}"
        )
    if not decision.allowed:
        raise typer.Exit(1)


@dcc_app.command("access-list")
@coded
def dcc_access_list_command(
    out: Annotated[Path, typer.Option("-o", "--out", "--output", help="CSV file: mpan, mdr_dip_id, mdr_id.")],
    on: Annotated[str | None, typer.Option("--on", help="The settlement day (default today).")] = None,
    as_json: bool = JsonOption,
) -> None:
    """The DCC's daily access list: every MPAN an MDR may read on the day, once, with the MDR's DIP
    ID and its 4-character id as of the day, from the DCC's own records (the same decision as
    ``dcc check`` and the data run), streamed to a CSV file."""
    day = parse_day(on, option="--on")
    started = time.perf_counter()
    count = write_access_list(open_database(), day, out)
    seconds = time.perf_counter() - started
    result = {"day": day.isoformat(), "mpans": count, "out": str(out), "seconds": round(seconds, 3)}
    if as_json:
        emit_json(result)
    else:
        console.print(f"{count:,} MPANs with their MDR on {day} written to {out} in {seconds:.2f} s.")
