"""``openmhhs demo`` (the main job) and ``openmhhs model …``: described markets, checked and run."""

from __future__ import annotations

import time
from datetime import timedelta
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

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
    read_input,
)
from openmhhs.cli.data import engine_json
from openmhhs.cli.demo_database import demo_database
from openmhhs.cli.info import announce_database
from openmhhs.market.description import MODELS, DescriptionInvalid, MarketDescription, parse_description
from openmhhs.market.driver import run_market
from openmhhs.market.loader import load_market, register_population
from openmhhs.market.population import population
from openmhhs.market.report import render_report
from openmhhs.market.summary import Summary, summarise, summarise_meter_data
from openmhhs.meterdata.engine import run_dataset
from openmhhs.store.database import Database
from openmhhs.store.market_repo import MarketStore

app = typer.Typer(help="Implementation models: described markets, checked and run.")

DEFAULT_SCENARIO = "4a-hybrid-brand"


def scenario_names() -> list[str]:
    return sorted(
        f.name.removesuffix(".yaml")
        for f in files("openmhhs.data.scenarios").iterdir()
        if f.name.endswith(".yaml")
    )


def read_description(name_or_file: str) -> tuple[MarketDescription, str]:
    """A built-in scenario by name, or a YAML file."""
    builtin = files("openmhhs.data.scenarios").joinpath(f"{name_or_file}.yaml")
    if builtin.is_file():
        text = builtin.read_text(encoding="utf-8")
        return parse_description(text, source=name_or_file), text
    path = Path(name_or_file)
    if not path.exists():
        raise InputInvalid(
            f"{name_or_file} is neither a file nor a built-in scenario ({', '.join(scenario_names())})"
        )
    try:
        text = read_input(path).decode("utf-8")
    except UnicodeDecodeError:
        raise InputInvalid(f"{path} is not UTF-8 text") from None
    return parse_description(text, source=str(path)), text


@app.command("list")
def list_command(as_json: bool = JsonOption) -> None:
    """The built-in scenarios, one per model of the design note."""
    rows = []
    for name in scenario_names():
        market, _ = read_description(name)
        rows.append(
            {"scenario": name, "model": market.model, "name": market.name, "description": market.description}
        )
    if as_json:
        emit_json(rows)
        return
    table = Table(
        title="Built-in scenarios (openmhhs model show NAME > my-market.yaml)", title_justify="left"
    )
    for column in ("scenario", "model", "description"):
        table.add_column(column)
    for row in rows:
        table.add_row(row["scenario"], row["model"], row["description"])
    console.print(table)


@app.command("show")
@coded
def show_command(
    name: Annotated[str, typer.Argument(help="A built-in scenario.")], as_json: bool = JsonOption
) -> None:
    """Print a built-in scenario's YAML, to copy and change (--json: the same as JSON)."""
    if name not in scenario_names():
        raise InputInvalid(f"{name} is not a built-in scenario ({', '.join(scenario_names())})")
    text = files("openmhhs.data.scenarios").joinpath(f"{name}.yaml").read_text(encoding="utf-8")
    if as_json:
        emit_json(yaml.safe_load(text))
    else:
        console.file.write(text)


@app.command("check")
def check_command(
    description: Annotated[
        str, typer.Argument(help="A market description YAML file (or a built-in scenario).")
    ],
    as_json: bool = JsonOption,
) -> None:
    """Check a market description; every problem is explained in business words."""
    try:
        market, _ = read_description(description)
    except DescriptionInvalid as exc:
        if as_json:
            emit_json(
                {"valid": False, "problems": [{"message": p.message, "code": p.code} for p in exc.problems]}
            )
        else:
            err_console.print(f"[bold red]{description}: {len(exc.problems)} problem(s)[/]")
            for problem in exc.problems:
                err_console.print(f"  - {problem}")
        raise typer.Exit(1) from None
    except InputInvalid as exc:
        if as_json:
            emit_json({"valid": False, "problems": [{"message": exc.detail, "code": exc.code.value}]})
        else:
            err_console.print(f"[bold red]{exc.code.value}[/] {exc.detail}")
        raise typer.Exit(1) from None
    routes = [
        {
            "supplier": market.label(p.supplier),
            "group": g.name,
            "share": g.share,
            "model": g.model or market.model,
            "sds": market.label(g.route.sds),
            "mdr": market.label(g.route.mdr) if g.route.mdr else "(contractual default)",
        }
        for p in market.suppliers
        for g in p.groups
    ]
    if as_json:
        emit_json({"valid": True, "name": market.name, "model": market.model, "routes": routes})
        return
    console.print(
        f"[bold green]{market.name}[/]: model {market.model} ({MODELS[market.model]}), no problems."
    )
    for route in routes:
        console.print(
            f"  {route['supplier']} · {route['group']} ({route['share']:.0%}, {route['model']}): "
            f"SDS {route['sds']}, MDR {route['mdr']}"
        )


def _run(
    db: Database,
    market: MarketDescription,
    text: str,
    *,
    mpans: int,
    seed: int,
    out: Path,
    quiet: bool,
    data_days: int = 0,
    lane: str = "batch",
) -> Summary:
    announce_database(db)
    with db.begin() as connection:
        if MarketStore(connection).count_mpans():
            raise InputInvalid(
                "the database already holds MPANs: run a market on a new database (OPENMHHS_DB or --fresh)"
            )
    members = population(market, size=mpans, seed=seed)
    with db.begin() as connection:
        load_market(connection, market, source=text, at=now())
        register_population(connection, members)
    columns = (TextColumn("{task.description:<24}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err_console, disable=quiet, transient=False) as progress:
        tasks: dict[str, Any] = {}

        def report(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = progress.add_task(phase, total=total)
            progress.update(tasks[phase], completed=done, total=total)

        result = run_market(db, market, members, progress=report, seed=seed, lane=lane)
        data_stats = None
        dataset = out / "meterdata"
        if data_days > 0:
            started = time.perf_counter()
            data_stats = run_dataset(
                db,
                market.start,
                market.start + timedelta(days=data_days - 1),
                dataset,
                seed=seed,
                progress=lambda day, done, total: report(f"meter data {day} blocks", done, total),
            )
            data_seconds = time.perf_counter() - started
    summary = summarise(db, market, result)
    if data_stats is not None:
        summary.meter = summarise_meter_data(
            dataset, data_stats, first=market.start, last=market.start + timedelta(days=data_days - 1)
        )
        summary.meter_seconds = data_seconds
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.html").write_text(render_report(summary), encoding="utf-8")
    return summary


def _summary_json(summary: Summary, out: Path) -> dict[str, Any]:
    run = summary.run
    return {
        "scenario": summary.market.name,
        "model": summary.market.model,
        "mpans": run.mpans,
        "appointments_requested": run.appointments_requested,
        "seconds": round(run.seconds, 2),
        "appointments_per_second": round(run.appointments_per_second),
        "messages": run.messages,
        "failed": run.failed,
        "by_model": [
            {
                "model": m,
                "group": g,
                "sds": summary.market.label(sds),
                "mdr": summary.market.label(mdr),
                "mpans": n,
            }
            for m, g, sds, mdr, n in summary.by_model
        ],
        "outcomes": dict(sorted(summary.outcomes.items())),
        "cases": [
            {"case": c.name, "mpan": c.mpan, "expected": c.expected, "codes": c.codes, "note": c.note}
            for c in run.cases
        ],
        "supplier_led_mdr_changes": len(run.supplier_led_mdr_changes),
        "sds_led_mdr_changes": len(run.sds_led_mdr_changes),
        "changes_of_supplier": len(run.changes_of_supplier),
        "gaps_first_day": len(summary.gaps_start),
        "gaps_last_day": len(summary.gaps_end),
        "meter_data": None
        if summary.meter is None
        else engine_json(
            summary.meter.stats,
            summary.meter.dataset,
            summary.meter.first,
            summary.meter.last,
            summary.meter_seconds,
        ),
        "report": str(out / "report.html"),
    }


def print_summary(summary: Summary, out: Path) -> None:
    data = _summary_json(summary, out)
    console.print(f"\n[bold]{data['scenario']}[/] (model {data['model']}): {data['mpans']:,} MPANs")
    table = Table(title="Data Service arrangements on the last day", title_justify="left")
    for column in ("model", "brand / customer type", "SDS", "MDR", "MPANs"):
        table.add_column(column, justify="right" if column == "MPANs" else "left")
    for row in data["by_model"]:
        table.add_row(row["model"], row["group"], row["sds"], row["mdr"], f"{row['mpans']:,}")
    console.print(table)
    outcomes = Table(title="Outcomes by code", title_justify="left")
    outcomes.add_column("code")
    outcomes.add_column("count", justify="right")
    for code, count in sorted(data["outcomes"].items(), key=lambda kv: -kv[1]):
        outcomes.add_row(code, f"{count:,}")
    console.print(outcomes)
    cases = Table(title="The SDS's four decision cases", title_justify="left")
    for column in ("case", "MPAN", "expected", "outcome(s)"):
        cases.add_column(column)
    for case in data["cases"]:
        cases.add_row(
            case["case"], case["mpan"] or "-", case["expected"], " then ".join(case["codes"]) or case["note"]
        )
    console.print(cases)
    gap_style = "green" if data["gaps_last_day"] == 0 and data["gaps_first_day"] == 0 else "red"
    console.print(
        f"MDR changes: {data['supplier_led_mdr_changes']} Supplier-led, "
        f"{data['sds_led_mdr_changes']} SDS-led; changes of supplier: {data['changes_of_supplier']}"
    )
    console.print(
        f"[{gap_style}]Gaps (MPANs lacking a DS, an MDR or an MS): first day {data['gaps_first_day']}, "
        f"last day {data['gaps_last_day']}[/]"
    )
    console.print(
        f"Throughput: {data['appointments_requested']:,} appointments in {data['seconds']} s "
        f"({data['appointments_per_second']:,}/s), {data['messages']:,} messages, {data['failed']} failed"
    )
    meter = data["meter_data"]
    if meter is not None:
        console.print(
            f"Meter data: {meter['mpan_days']:,} MPAN-days, {meter['periods']:,} half-hours "
            f"({meter['actual']:,} actual, {meter['estimated']:,} estimated), {meter['if021']:,} IF-021, "
            f"{meter['access_refusals']} access refusals, in {meter['seconds']} s "
            f"({meter['values_per_second']:,} values/s)"
        )
    console.print(f"Report: {data['report']}")


@app.command("run")
@coded
def run_command(
    description: Annotated[
        str, typer.Argument(help="A market description YAML file (or a built-in scenario).")
    ],
    mpans: Annotated[int, typer.Option("--mpans", help="How many MPANs to register.")] = 10_000,
    out: Annotated[
        Path,
        typer.Option(
            "-o", "--out", "--output", help="Folder for report.html (and meterdata/, the meter data)."
        ),
    ] = Path("openmhhs-run"),
    seed: Annotated[int, typer.Option("--seed", help="Seed of the population and the changes.")] = 2025,
    data_days: Annotated[
        int,
        typer.Option(
            "--data-days",
            min=0,
            help="Settlement days of meter data to run after the appointments (0: none).",
        ),
    ] = 2,
    lane: Annotated[str, LaneOption] = "batch",
    as_json: bool = JsonOption,
) -> None:
    """Load a market description into the database (OPENMHHS_DB) and run it (the population's
    first appointments through the batch lane unless --lane message)."""
    lane = checked_lane(lane)
    market, text = read_description(description)
    if mpans < 1:
        raise InputInvalid("--mpans must be 1 or more")
    summary = _run(
        Database(),
        market,
        text,
        mpans=mpans,
        seed=seed,
        out=out,
        quiet=as_json,
        data_days=data_days,
        lane=lane,
    )
    if as_json:
        emit_json(_summary_json(summary, out))
    else:
        print_summary(summary, out)


@coded
def demo_command(
    fresh: Annotated[
        bool,
        typer.Option(
            "--fresh",
            help="Start from an empty SQLite file of the demo's own, OUT/openmhhs.db (refused "
            "while OPENMHHS_DB is set). Deletes only a file an earlier --fresh run made there.",
        ),
    ] = False,
    mpans: Annotated[int, typer.Option("--mpans", help="How many MPANs to register.")] = 10_000,
    scenario: Annotated[
        str, typer.Option("--scenario", help="Built-in scenario or YAML file.")
    ] = DEFAULT_SCENARIO,
    out: Annotated[
        Path,
        typer.Option(
            "-o", "--out", "--output", help="Folder for report.html (and meterdata/, the meter data)."
        ),
    ] = Path("openmhhs-demo"),
    seed: Annotated[int, typer.Option("--seed", help="Seed of the population and the changes.")] = 2025,
    data_days: Annotated[
        int,
        typer.Option(
            "--data-days",
            min=0,
            help="Settlement days of meter data to run after the appointments (0: none).",
        ),
    ] = 2,
    lane: Annotated[str, LaneOption] = "batch",
    as_json: bool = JsonOption,
) -> None:
    """The main job: run the hybrid model (by default) over a realistic population of MPANs on
    the embedded database, and write an HTML report. The population's first appointments go
    through the batch lane (--lane message: message by message)."""
    lane = checked_lane(lane)
    market, text = read_description(scenario)
    if mpans < 1:
        raise InputInvalid("--mpans must be 1 or more")
    db = demo_database(out, fresh=fresh)
    summary = _run(
        db, market, text, mpans=mpans, seed=seed, out=out, quiet=as_json, data_days=data_days, lane=lane
    )
    if as_json:
        emit_json(_summary_json(summary, out))
    else:
        print_summary(summary, out)
