"""``openmhhs participants …``: organisations, SEC accession, DCC user roles, qualification."""

from __future__ import annotations

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
    read_input,
)
from openmhhs.days import format_dip_datetime
from openmhhs.identity.participants_format import read_participants
from openmhhs.identity.registry import Registry
from openmhhs.store.identity_repo import load_registry, save_organisations

app = typer.Typer(help="Organisations and the roles they hold.")


@app.command("import")
@coded
def import_command(
    file: Annotated[Path, typer.Argument(help="Participants YAML file.")],
    as_json: bool = JsonOption,
) -> None:
    """Load organisations (SEC accession, DCC user roles, qualification per DIP role)."""
    try:
        text = read_input(file).decode("utf-8")
    except UnicodeDecodeError:
        raise InputInvalid(f"{file} is not UTF-8 text") from None
    organisations = read_participants(text, source=str(file))
    with open_database().begin() as connection:
        save_organisations(connection, organisations)
    if as_json:
        emit_json({"imported": len(organisations)})
    else:
        console.print(f"Imported {len(organisations)} organisations.")


def registry_rows(registry: Registry) -> list[dict[str, Any]]:
    """The registry as ``participants list --json`` prints it: snake_case keys, every moment
    in UK local time with its offset."""
    rows = []
    for org in registry.organisations:
        rows.append(
            {
                "company_reg_number": org.company_number,
                "name": org.name,
                "sec": org.sec.value,
                "dcc_user_roles": sorted(r.value for r in org.dcc_user_roles),
                "registrations": [
                    {
                        "dip_id": str(reg.dip_id),
                        "dip_role": str(reg.dip_role),
                        "role_name": reg.dip_role.role_name,
                        "mpid": None if reg.entry.mpid is None else str(reg.entry.mpid),
                        "market_role": None if reg.entry.market_role is None else str(reg.entry.market_role),
                        "qualification": reg.qualification.value,
                        "from": format_dip_datetime(reg.entry.valid.start),
                        "to": format_dip_datetime(reg.entry.valid.end) if reg.entry.valid.end else None,
                    }
                    for reg in registry.registrations(org.company_number)
                ],
            }
        )
    return rows


def registry_table(registry: Registry) -> Table:
    table = Table(title="Organisations and their roles", title_justify="left")
    for column in ("Organisation", "DIP roles (DIP ID)", "SEC", "DCC user roles"):
        table.add_column(column)
    for row in registry_rows(registry):
        roles = ", ".join(
            f"{r['dip_role']} ({r['dip_id']}, {r['qualification']})" for r in row["registrations"]
        )
        table.add_row(
            f"{row['name']} ({row['company_reg_number']})",
            roles or "-",
            row["sec"],
            ", ".join(row["dcc_user_roles"]) or "-",
        )
    return table


@app.command("list")
@coded
def list_command(as_json: bool = JsonOption) -> None:
    """Every organisation with its registrations, SEC status and DCC user roles."""
    with open_database().begin() as connection:
        registry = load_registry(connection)
    if as_json:
        emit_json(registry_rows(registry))
    else:
        console.print(registry_table(registry))
