"""``openmhhs info``: the configuration a command would use (database, today, versions), and
the one line every writing command prints to say which database it wrote to."""

from __future__ import annotations

import os
import platform
import sys
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import sqlalchemy as sa

from openmhhs import __version__
from openmhhs.cli.common import JsonOption, coded, console, emit_json, err_console, today
from openmhhs.store.database import ENV_VAR, Database, default_url

__all__ = ["announce_database", "database_label", "info_command"]

ENVIRONMENT = (
    ENV_VAR,
    "OPENMHHS_TODAY",
    "OPENMHHS_RS_LAPSE_AFTER_DAYS",
    "OPENMHHS_DIP_SPEC",
    "OPENMHHS_FAILPOINTS",
)
"""The variables a command reads (the test switches are read by the tests only)."""

LIBRARIES = ("sqlalchemy", "alembic", "fastapi", "uvicorn", "msgspec", "pydantic", "jinja2", "typer")


def database_label(url: str) -> str:
    """The database URL as it may be shown: any password masked."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return url


def announce_database(db: Database, *, verb: str = "writing to") -> None:
    """Say on standard error which database a command writes to (stdout stays the command's
    own output, so ``--json`` contracts hold)."""
    err_console.print(f"openmhhs: {verb} database {database_label(db.url)}", markup=False, soft_wrap=True)


def _version_of(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


@coded
def info_command(as_json: bool = JsonOption) -> None:
    """Configuration (database, today, environment), and the versions of openmhhs, Python and
    its main libraries. Reads nothing from the database."""
    url = default_url()
    data: dict[str, Any] = {
        "version": __version__,
        "database": database_label(url),
        "database_source": ENV_VAR if os.environ.get(ENV_VAR, "").strip() else "default location",
        "today": today().isoformat(),
        "environment": {
            name: (database_label(os.environ[name]) if name == ENV_VAR else os.environ[name])
            for name in ENVIRONMENT
            if os.environ.get(name, "").strip()
        },
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "executable": sys.executable,
        "libraries": {name: _version_of(name) for name in LIBRARIES},
    }
    if as_json:
        emit_json(data)
        return
    console.print(f"openmhhs {data['version']}")
    console.print(f"database      {data['database']} ({data['database_source']})", markup=False)
    console.print(f"today         {data['today']}")
    for name, value in data["environment"].items():
        console.print(f"{name:<13} {value}", markup=False)
    console.print(f"python        {data['python']} ({data['executable']})", markup=False)
    console.print(
        "libraries     " + ", ".join(f"{k} {v}" for k, v in data["libraries"].items() if v), markup=False
    )
