"""Plumbing shared by every command: output (human or ``--json``), coded errors, the
database, and the "as of" clock.

Every command runs inside ``CodedGroup``, the one place where a coded business error, a
database that cannot be opened or a file that cannot be read or written becomes a one-line
message with its code (or ``{"error": …}`` with ``--json``) and exit status 1, never a
traceback."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any, NoReturn, ParamSpec, TypeVar

import orjson
import typer
from rich.console import Console
from typer.core import TyperGroup

from openmhhs import clock
from openmhhs.codes import CodedError, ResponseCode
from openmhhs.days import LONDON
from openmhhs.store.database import Database

P = ParamSpec("P")
R = TypeVar("R")


def _width() -> int | None:
    """Rich assumes 80 columns when output is not a terminal; tables need more."""
    return None if sys.stdout.isatty() else int(os.environ.get("COLUMNS", "140"))


console = Console(highlight=False, width=_width())
err_console = Console(stderr=True, highlight=False, width=_width())
"""Notes on standard error (which database, progress): silenced by ``--quiet``."""
error_console = Console(stderr=True, highlight=False, width=_width())
"""Errors on standard error: never silenced."""

TODAY_VAR = clock.TODAY_VAR
today = clock.today
now = clock.now

JsonOption = typer.Option(False, "--json", help="Print machine-readable JSON.")


class InputInvalid(CodedError):
    code = ResponseCode.OMH0403
    rule = "cli.input.valid"


def parse_day(value: str | None, *, option: str) -> date:
    if value is None:
        return today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InputInvalid(f"{option} must be a date YYYY-MM-DD, got {value!r}") from None


def open_database() -> Database:
    return Database()


def emit_json(value: Any) -> None:
    sys.stdout.buffer.write(orjson.dumps(value, option=orjson.OPT_INDENT_2, default=_default))
    sys.stdout.buffer.write(b"\n")
    sys.stdout.flush()


def uk_local(moment: datetime) -> str:
    """A moment as the command line prints it: UK local time with its offset (a naive one,
    already local, as it is)."""
    return (moment.astimezone(LONDON) if moment.tzinfo is not None else moment).isoformat()


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return uk_local(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def error_json(exc: CodedError) -> dict[str, Any]:
    return {
        "code": exc.code.value,
        "rule": exc.rule,
        "message": exc.detail,
        "path": exc.path,
    }


def fail(exc: CodedError, *, as_json: bool) -> NoReturn:
    if as_json:
        emit_json({"error": error_json(exc)})
    else:
        error_console.print(f"[bold red]{exc.code.value}[/] {exc.detail}", markup=True, soft_wrap=True)
    raise typer.Exit(1)


class FileUnusable(CodedError):
    code = ResponseCode.OMH0406
    rule = "cli.file.usable"


class CodedGroup(TyperGroup):
    """The command group that turns anticipated failures into a coded one-line error."""

    def invoke(self, ctx: Any) -> Any:  # click's Context (typer vendors click in newer releases)
        words = [*getattr(ctx, "_protected_args", []), *ctx.args]
        as_json = "--json" in words
        try:
            return super().invoke(ctx)
        except CodedError as exc:
            fail(exc, as_json=as_json)
        except OSError as exc:
            if exc.filename is None:
                raise
            fail(FileUnusable(f"{exc.filename}: {exc.strerror or exc}"), as_json=as_json)


def coded(func: Callable[P, R]) -> Callable[P, R]:
    """Turn a command's coded business errors into a printed code and a non-zero exit."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except CodedError as exc:
            fail(exc, as_json=bool(kwargs.get("as_json", False)))

    return wrapper


def read_input(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputInvalid(f"cannot read {path}: {exc.strerror or exc}") from None


LaneOption = typer.Option(
    "--lane",
    help="batch (default): a chunk of MPANs per transaction, played in memory and written at once "
    "(a failing chunk is replayed message by message); message: every message in its own step.",
)
"""``--lane`` of the commands that do bulk work (migrate, bulk-mdr-change, demo, model run)."""


def checked_lane(value: str) -> str:
    if value not in ("batch", "message"):
        raise InputInvalid(f"--lane is batch or message, not {value!r}")
    return value
