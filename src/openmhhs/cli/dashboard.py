"""``openmhhs dashboard``: the live dashboard over the database (OPENMHHS_DB), on loopback."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
import uvicorn

from openmhhs.cli.common import coded, err_console, open_database
from openmhhs.cli.data import DatasetOption, default_dataset
from openmhhs.cli.info import announce_database

__all__ = ["DEFAULT_PORT", "dashboard_command"]

DEFAULT_PORT = 8780
HOST = "127.0.0.1"


@coded
def dashboard_command(
    port: Annotated[
        int, typer.Option("--port", min=1, max=65535, help=f"Port on {HOST} (default {DEFAULT_PORT}).")
    ] = DEFAULT_PORT,
    dataset: Annotated[Path | None, DatasetOption] = None,
) -> None:
    """Serve the live dashboard on http://127.0.0.1:8780/ (default port 8780): participants and
    the ISD as of a day, an MPAN's timeline on any day with the messages that made each period,
    gaps, DCC access, delivery queues, outcomes by code, meter data completeness (from the
    consumption dataset, --dataset). Read-only;
    every asset is served from the package (works with no internet). Ctrl-C stops it."""
    from openmhhs.web.app import create_dashboard_app  # noqa: PLC0415 - jinja2 only when serving

    db = open_database()
    db.migrate()
    announce_database(db, verb="reading")
    err_console.print(
        f"openmhhs dashboard: http://{HOST}:{port}/ (Ctrl-C stops it)", markup=False, soft_wrap=True
    )
    folder = dataset if dataset is not None else default_dataset()
    uvicorn.run(create_dashboard_app(db, folder), host=HOST, port=port, log_level="warning")
