"""The ``openmhhs`` command."""

from __future__ import annotations

import logging
import os
import sys

import typer

from openmhhs import __version__
from openmhhs.cli import data, dip, isd, market, model, mpan, participants, scale, serve
from openmhhs.cli.common import CodedGroup, err_console
from openmhhs.cli.dashboard import dashboard_command
from openmhhs.cli.info import info_command
from openmhhs.cli.requests import request_app, sds_respond_command, send_command
from openmhhs.codes import CodedError
from openmhhs.store.database import ENV_VAR

app = typer.Typer(
    name="openmhhs",
    help=(
        "openmhhs: the smart segment of GB electricity Market-wide Half-Hourly Settlement, "
        "runnable. The database is chosen by --db or OPENMHHS_DB (sqlite:////path.db or "
        "postgresql://…); OPENMHHS_TODAY=YYYY-MM-DD fixes today's date. JSON printed by "
        "--json uses snake_case keys (DIP messages keep the official camelCase)."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,
    cls=CodedGroup,
)
app.add_typer(isd.app, name="isd")
app.add_typer(mpan.app, name="mpan")
app.add_typer(participants.app, name="participants")
app.command("demo")(model.demo_command)
app.add_typer(model.app, name="model")
app.command("validate")(dip.validate_command)
app.command("sign")(dip.sign_command)
app.command("verify")(dip.verify_command)
app.add_typer(dip.certs_app, name="certs")
for _name, _command in market.mpan_app_commands:
    mpan.app.command(_name)(_command)
participants.app.command("mode")(market.mode_command)
app.add_typer(market.contract_app, name="contract")
app.add_typer(market.market_app, name="market")
app.add_typer(market.sds_app, name="sds")
app.command("submit")(market.submit_command)
app.command("timeline")(market.timeline_command)
app.command("gaps")(market.gaps_command)
app.command("messages")(market.messages_command)
app.command("serve")(serve.serve_command)
app.add_typer(data.data_app, name="data")
app.add_typer(data.dcc_app, name="dcc")
app.command("migrate")(scale.migrate_command)
app.command("bench")(scale.bench_command)
app.command("bulk-mdr-change")(scale.bulk_mdr_change_command)
app.command("info")(info_command)
app.add_typer(request_app, name="request")
market.sds_app.command("respond")(sds_respond_command)
app.command("send")(send_command)
app.command("dashboard")(dashboard_command)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"openmhhs {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
    db: str | None = typer.Option(
        None,
        "--db",
        metavar="URL",
        help="The database (sqlite:////path.db or postgresql://…); overrides OPENMHHS_DB.",
    ),
    verbose: int = typer.Option(
        0, "-v", "--verbose", count=True, help="Log what openmhhs does on standard error (-vv: more)."
    ),
    quiet: bool = typer.Option(
        False, "--quiet", "-q", help="Print no notes on standard error (errors still are)."
    ),
) -> None:
    """openmhhs command line."""
    if db is not None:
        os.environ[ENV_VAR] = db
    if verbose:
        logging.basicConfig(
            level=logging.DEBUG if verbose > 1 else logging.INFO,
            format="%(asctime)s %(name)s %(levelname)s %(message)s",
            stream=sys.stderr,
        )
    err_console.quiet = quiet


def run() -> None:
    try:
        app()
    except CodedError as exc:  # a command without its own @coded: still one coded line
        typer.echo(f"{exc.code.value} {exc.detail}", err=True)
        raise SystemExit(1) from None
