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
    rows = []
    for org in registry.organisations:
        rows.append(
            {
                "companyRegNumber": org.company_number,
                "name": org.name,
                "sec": org.sec.value,
                "dccUserRoles": sorted(r.value for r in org.dcc_user_roles),
                "registrations": [
                    {
                        "DIPID": reg.dip_id,
                        "DIPRole": reg.dip_role,
                        "roleName": reg.dip_role.role_name,
                        "MPID": reg.entry.mpid,
                        "marketRole": reg.entry.market_role,
                        "qualification": reg.qualification.value,
                        "from": reg.entry.valid.start.isoformat(),
                        "to": reg.entry.valid.end.isoformat() if reg.entry.valid.end else None,
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
            f"{r['DIPRole']} ({r['DIPID']}, {r['qualification']})" for r in row["registrations"]
        )
        table.add_row(
            f"{row['name']} ({row['companyRegNumber']})",
            roles or "-",
            row["sec"],
            ", ".join(row["dccUserRoles"]) or "-",
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
