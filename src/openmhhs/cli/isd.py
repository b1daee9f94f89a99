"""``openmhhs isd …``: import, export and translate through the ISD M16 table."""

from __future__ import annotations

import sys
from datetime import datetime, time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from openmhhs.cli.common import (
    InputInvalid,
    JsonOption,
    coded,
    console,
    emit_json,
    open_database,
    parse_day,
    read_input,
)
from openmhhs.days import LONDON, format_dip_datetime
from openmhhs.identity.isd import IsdEntry, IsdTable
from openmhhs.identity.m16_format import dump_csv, dump_json, read_csv, read_json
from openmhhs.identity.translation import ANY_MARKET_ROLE, dip_for, mpid_for, valid_mdrs
from openmhhs.ids import DipId, DipRole, MarketRole, Mpid
from openmhhs.store.identity_repo import ImportMode, import_isd, load_isd

app = typer.Typer(help="The ISD ID look-up table (M16): DIP ID/role <-> MPID/market role.")


def entry_object(entry: IsdEntry) -> dict[str, Any]:
    """The M16 row as printed by ``--json`` (the M16 JSON field names)."""
    return {
        "companyRegNumber": entry.company_number,
        "companyName": entry.company_name,
        "MPID": entry.mpid,
        "marketRole": entry.market_role,
        "DIPID": entry.dip_id,
        "DIPRole": entry.dip_role,
        "datetimeFrom": format_dip_datetime(entry.valid.start),
        "datetimeTo": format_dip_datetime(entry.valid.end) if entry.valid.end else None,
    }


def _when(moment: datetime | None) -> str:
    """A UK local date, with the time only when it is not midnight."""
    if moment is None:
        return "open"
    local = moment.astimezone(LONDON)
    return local.date().isoformat() if local.time() == time(0) else local.isoformat(timespec="minutes")


def entries_table(entries: list[IsdEntry], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("Company", "DIP ID", "DIP role", "", "MPID", "DTN role", "From", "To"):
        table.add_column(column, no_wrap=column != "Company")
    previous: str | None = None
    for entry in entries:
        company = ""
        if entry.company_number != previous:
            company = f"{entry.company_name or ''} ({entry.company_number})".strip()
        previous = entry.company_number
        table.add_row(
            company,
            entry.dip_id or "-",
            entry.dip_role,
            "==",
            entry.mpid,
            entry.market_role or "-",
            _when(entry.valid.start),
            _when(entry.valid.end),
        )
    return table


def read_isd_file(path: Path) -> IsdTable:
    data = read_input(path)
    suffix = path.suffix.lower()
    if suffix == ".json":
        return read_json(data, source=str(path))
    if suffix == ".csv":
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise InputInvalid(f"{path} is not UTF-8 text") from None
        return read_csv(text, source=str(path))
    raise InputInvalid(f"{path}: an ISD file must end in .json (M16 shape) or .csv")


@app.command("import")
@coded
def import_command(
    file: Annotated[Path, typer.Argument(help="M16 table as .json (DIP shape) or .csv.")],
    mode: Annotated[
        ImportMode,
        typer.Option(help="replace: the file is the whole table; merge: replace its companies."),
    ] = ImportMode.REPLACE,
    as_json: bool = JsonOption,
) -> None:
    """Load an ISD M16 file. All or nothing: any bad row rejects the whole file."""
    entries = read_isd_file(file)
    db = open_database()
    with db.begin() as connection:
        table = import_isd(connection, entries, mode=mode)
    if as_json:
        emit_json({"imported": len(entries), "rows": len(table), "mode": mode.value})
    else:
        console.print(f"Imported {len(entries)} ISD rows ({mode.value}); the table holds {len(table)}.")


@app.command("export")
@coded
def export_command(
    fmt: Annotated[str, typer.Option("--format", help="csv or json (the M16 DIP shape).")] = "json",
    output: Annotated[
        Path | None, typer.Option("-o", "--out", "--output", help="File; default stdout.")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="The DIP's JSON shape (same as --format json).")
    ] = False,
) -> None:
    """Write the stored M16 table as CSV or the DIP's JSON shape (--json: the JSON shape, and
    with -o a summary of what was written)."""
    if as_json:
        fmt = "json"
    if fmt not in ("csv", "json"):
        raise InputInvalid(f"--format must be csv or json, got {fmt!r}")
    db = open_database()
    with db.begin() as connection:
        entries = list(load_isd(connection))
    data = dump_json(entries) + b"\n" if fmt == "json" else dump_csv(entries).encode("utf-8")
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        output.write_bytes(data)
        if as_json:
            emit_json({"out": str(output), "rows": len(entries), "format": fmt})


@app.command("lookup")
@coded
def lookup_command(
    dip_id: Annotated[str | None, typer.Option("--dip-id", help="DIP ID to translate.")] = None,
    role: Annotated[str | None, typer.Option("--role", help="DIP role of --dip-id.")] = None,
    mpid: Annotated[str | None, typer.Option("--mpid", help="MPID to translate back.")] = None,
    market_role: Annotated[
        str | None, typer.Option("--market-role", help="DTN market role of --mpid.")
    ] = None,
    dip_role: Annotated[
        str | None, typer.Option("--dip-role", help="With --mpid: the DIP role (e.g. MDR).")
    ] = None,
    on: Annotated[str | None, typer.Option("--on", help="Date YYYY-MM-DD; default today.")] = None,
    as_json: bool = JsonOption,
) -> None:
    """Translate DIP ID + DIP role -> MPID + market role, or MPID (+ market role and/or DIP
    role) -> DIP ID. No match and several matches are different errors (OMH0301/OMH0302)."""
    day = parse_day(on, option="--on")
    db = open_database()
    if dip_id is not None or role is not None:
        if dip_id is None or role is None or mpid is not None:
            raise InputInvalid("give --dip-id with --role, or --mpid with --market-role/--dip-role")
        with db.begin() as connection:
            table = load_isd(connection, dip_id=DipId(dip_id), dip_role=DipRole(role))
        entry = mpid_for(table, dip_id=DipId(dip_id), dip_role=DipRole(role), on=day)
    elif mpid is not None:
        with db.begin() as connection:
            table = load_isd(connection, mpid=Mpid(mpid))
        entry = dip_for(
            table,
            mpid=Mpid(mpid),
            market_role=ANY_MARKET_ROLE if market_role is None else MarketRole(market_role),
            dip_role=DipRole.parse_optional(dip_role),
            on=day,
        )
    else:
        raise InputInvalid("give --dip-id with --role, or --mpid with --market-role/--dip-role")
    if as_json:
        emit_json(entry_object(entry))
    else:
        console.print(entries_table([entry], f"ISD translation on {day.isoformat()}"))


@app.command("mdrs")
@coded
def mdrs_command(
    on: Annotated[str | None, typer.Option("--on", help="Date YYYY-MM-DD; default today.")] = None,
    as_json: bool = JsonOption,
) -> None:
    """List the valid MDRs on a day (the ISD is the definitive list)."""
    day = parse_day(on, option="--on")
    db = open_database()
    with db.begin() as connection:
        table = load_isd(connection, dip_role=DipRole.MDR)
    mdrs = valid_mdrs(table, on=day)
    if as_json:
        emit_json([entry_object(e) for e in mdrs])
    else:
        console.print(entries_table(mdrs, f"Valid MDRs on {day.isoformat()} ({len(mdrs)})"))
