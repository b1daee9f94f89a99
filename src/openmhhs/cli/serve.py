"""``openmhhs serve``: the DIP hub and the market's participants as HTTP services."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from openmhhs.api.config import ServeConfig
from openmhhs.api.serve import PARTICIPANT_ROLES, MarketSource, ServeInvalid, prepare, run_service, supervise
from openmhhs.cli.common import JsonOption, coded, console, emit_json, err_console, now, today
from openmhhs.cli.model import DEFAULT_SCENARIO, read_description
from openmhhs.store.database import default_url

ROLES = ["all", "hub", "node", *PARTICIPANT_ROLES]


@coded
def serve_command(
    description: Annotated[
        str | None,
        typer.Argument(
            help=f"Market description (YAML file or built-in scenario) to load when the database holds "
            f"none; default {DEFAULT_SCENARIO}."
        ),
    ] = None,
    state: Annotated[
        Path, typer.Option("--state", help="Folder for serve.json, ready.json and certs/.")
    ] = Path("openmhhs-serve"),
    host: Annotated[str, typer.Option("--host", help="Address every service listens on.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", help="The hub's port; participants take the ports after it.")
    ] = 8700,
    plain: Annotated[
        bool, typer.Option("--plain", help="Plain HTTP instead of mutual TLS (loopback only).")
    ] = False,
    mpans: Annotated[int, typer.Option("--mpans", help="MPANs registered when a market is loaded.")] = 100,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the loaded population.")] = 2025,
    delivery_timeout: Annotated[
        float, typer.Option("--delivery-timeout", help="Seconds the hub waits for a webhook's answer.")
    ] = 10.0,
    role: Annotated[
        str,
        typer.Option(
            "--role",
            help="all: the hub and every participant, supervised; hub; node (every role of --dip-id); "
            "or one role of --dip-id: rs, sds, sms, supplier, dcc.",
        ),
    ] = "all",
    dip_id: Annotated[str | None, typer.Option("--dip-id", help="The participant, for a node role.")] = None,
    config_file: Annotated[
        Path | None,
        typer.Option("--config", help="A serve.json written earlier (for --role other than all)."),
    ] = None,
    prepare_only: Annotated[
        bool, typer.Option("--prepare-only", help="Write serve.json and certificates, start nothing.")
    ] = False,
    as_json: bool = JsonOption,
) -> None:
    """Run the DIP hub and the participants of a market (Registration Service, each SDS, each
    Supplier, the DCC, the Metering Service) as HTTP services on loopback, with mutual TLS and
    DIP-signed requests, on the database OPENMHHS_DB (SQLite by default)."""
    if role not in ROLES:
        raise ServeInvalid(f"--role must be one of {', '.join(ROLES)}, not {role}")
    if role != "all":
        path = config_file or state / "serve.json"
        if not path.exists():
            raise ServeInvalid(f"{path} does not exist: run `openmhhs serve --prepare-only` first")
        run_service(ServeConfig.load(path), role=role, dip_id=dip_id)
        return
    chosen, text = read_description(description or DEFAULT_SCENARIO)
    market = MarketSource(chosen, text, mpans=mpans, seed=seed)
    config = prepare(
        state,
        database=default_url(),
        market=market,
        explicit_market=description is not None,
        host=host,
        port=port,
        plain=plain,
        today=today(),
        now=now(),
        delivery_timeout=delivery_timeout,
    )
    if prepare_only:
        _show(config, state, as_json=as_json, ready=None)
        return

    def ready(info: dict[str, Any]) -> None:
        _show(config, state, as_json=as_json, ready=info)

    supervise(config, state / "serve.json", on_ready=ready, log=err_console.print)


def _show(config: ServeConfig, state: Path, *, as_json: bool, ready: dict[str, Any] | None) -> None:
    if as_json:
        emit_json({"config": str(state / "serve.json"), "hub": config.hub_url, "ready": ready})
        return
    table = Table(
        title=f"openmhhs serve ({'plain HTTP' if config.plain else 'mutual TLS'})", title_justify="left"
    )
    for column in ("service", "address", "pid"):
        table.add_column(column)
    pids = {s["name"]: s["pid"] for s in (ready or {}).get("services", [])}
    table.add_row("hub", config.hub_url, str(pids.get("hub", "")))
    for node in config.nodes:
        table.add_row(node.dip_id, config.node_url(node.dip_id), str(pids.get(node.dip_id, "")))
    console.print(table)
    console.print(f"Configuration and API keys: {state / 'serve.json'}; certificates: {config.certs}")
    if ready is not None:
        console.print("Ready. Ctrl-C stops every service.")
    sys.stdout.flush()
