"""``openmhhs demo``: the main job on the embedded database."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Annotated

import typer

from openmhhs.cli.common import InputInvalid, JsonOption, coded, console, emit_json, today
from openmhhs.cli.isd import entries_table, entry_object
from openmhhs.cli.participants import registry_rows, registry_table
from openmhhs.identity.m16_format import read_json
from openmhhs.identity.participants_format import read_participants
from openmhhs.store.database import Database
from openmhhs.store.identity_repo import ImportMode, import_isd, load_registry, save_organisations


def sample_text(name: str) -> str:
    return files("openmhhs.data").joinpath(name).read_text(encoding="utf-8")


def fresh_database(db: Database) -> None:
    """Start from an empty embedded database (SQLite only; refuses to wipe PostgreSQL)."""
    if not db.is_sqlite:
        raise InputInvalid("--fresh only deletes an SQLite file; point OPENMHHS_DB at a new one")
    path = Path(db.url.split("///", 1)[-1])
    db.dispose()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


@coded
def demo_command(
    fresh: Annotated[bool, typer.Option("--fresh", help="Start from an empty SQLite file.")] = False,
    out: Annotated[Path, typer.Option("--out", help="Folder for the demo's outputs.")] = Path(
        "openmhhs-demo"
    ),
    as_json: bool = JsonOption,
) -> None:
    """Run the main job: load the design note's participants and show who is who."""
    db = Database()
    if fresh:
        fresh_database(db)
        db = Database()
    entries = read_json(sample_text("isd_sample.json").encode(), source="isd_sample.json")
    organisations = read_participants(
        sample_text("participants_sample.yaml"), source="participants_sample.yaml"
    )
    with db.begin() as connection:
        import_isd(connection, entries, mode=ImportMode.REPLACE)
        save_organisations(connection, organisations)
        registry = load_registry(connection)
    out.mkdir(parents=True, exist_ok=True)
    day = today()
    if as_json:
        emit_json(
            {
                "translation": [entry_object(e) for e in registry.table],
                "organisations": registry_rows(registry),
            }
        )
        return
    console.print(entries_table(list(registry.table), "ISD ID look-up table (M16)"))
    console.print(registry_table(registry))
    console.print(f"Database: {db.url}  (as of {day.isoformat()})")
