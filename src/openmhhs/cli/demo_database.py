"""Which database ``openmhhs demo`` runs on, and what ``--fresh`` may delete: only an SQLite
file that the demo itself created under its ``--out`` folder and marked with a file beside
it. Never the database a user named elsewhere, never the default location's."""

from __future__ import annotations

import os
from pathlib import Path

from openmhhs.cli.common import now
from openmhhs.codes import CodedError, ResponseCode
from openmhhs.store.database import ENV_VAR, Database, shown_url

__all__ = ["DEMO_DATABASE", "FreshRefused", "demo_database", "marker_of"]

DEMO_DATABASE = "openmhhs.db"
"""The file name of the demo's own database under ``--out`` when ``OPENMHHS_DB`` is unset."""

MARK_SUFFIX = ".made-by-openmhhs-demo"


class FreshRefused(CodedError):
    code = ResponseCode.OMH0900
    rule = "demo.fresh.own_database_only"


def marker_of(path: Path) -> Path:
    """The file beside a database that says the demo made it (and so may delete it)."""
    return path.with_name(path.name + MARK_SUFFIX)


def _sqlite_path(db: Database) -> Path | None:
    if not db.is_sqlite:
        return None
    text = db.url.split("///", 1)[-1]
    return None if not text or text == ":memory:" else Path(text)


def _inside(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())


def demo_database(out: Path, *, fresh: bool) -> Database:
    """The demo's database. Without ``--fresh``: ``OPENMHHS_DB`` or the default location, as
    every command. With ``--fresh``: always ``<out>/openmhhs.db``, and never while
    ``OPENMHHS_DB`` is set (the database it names is the user's: --fresh never touches it); an
    existing file there is deleted only if it carries the demo's marker."""
    if not fresh:
        return Database()
    configured = os.environ.get(ENV_VAR, "").strip()
    if configured:
        raise FreshRefused(
            f"--fresh runs on its own database under --out {out} and never touches the one "
            f"{ENV_VAR} names ({shown_url(configured)}): unset {ENV_VAR} (and --db) to run a "
            "fresh demo, or run without --fresh on that database"
        )
    out.mkdir(parents=True, exist_ok=True)  # the demo writes its report there in any case
    path = (out / DEMO_DATABASE).resolve()
    mark = marker_of(path)
    if path.exists() or path.is_symlink():
        if not mark.exists():
            raise FreshRefused(
                f"--fresh deletes only a database the demo made under --out {out}; the file "
                f"{path} was not made by it, so nothing was deleted: delete it yourself, or use "
                "another --out folder"
            )
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    db = Database(f"sqlite:///{path}")
    mark.write_text(
        f"{path.name} was made by `openmhhs demo --fresh` at {now().isoformat()}; "
        "a later `demo --fresh --out` on this folder may delete it.\n",
        encoding="utf-8",
    )
    return db
