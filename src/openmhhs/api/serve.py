"""Running the DIP hub and the participants as services: preparing their shared configuration,
running one of them in this process, and supervising all of them as child processes.

``prepare`` puts a market in the database if it holds none, issues any missing certificates
from the test CA (``certs/`` beside ``serve.json``), gives each participant an API key and a
port, and writes ``serve.json``. Running it again reuses the keys, ports and certificates.
``supervise`` starts one process for the hub and one per simulated participant, waits until
each answers ``/health``, writes ``ready.json`` (addresses and process ids), and restarts a
process that dies, until it is told to stop (SIGINT/SIGTERM).
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import httpx
import msgspec
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from openmhhs.api.config import NodeConfig, ServeConfig, client_tls, is_loopback
from openmhhs.codes import CodedError, ResponseCode
from openmhhs.dip.certs import Issued, issue_participant, make_authority, write_key
from openmhhs.market.bus import EXTERNAL, roles_on
from openmhhs.market.description import MarketDescription
from openmhhs.market.loader import load_market, register_population
from openmhhs.market.node import SIMULATED
from openmhhs.market.population import population
from openmhhs.store.database import Database
from openmhhs.store.identity_repo import load_isd
from openmhhs.store.market_repo import MarketStore

__all__ = [
    "PARTICIPANT_ROLES",
    "SIMULATED_ROLES",
    "ServeInvalid",
    "prepare",
    "run_service",
    "supervise",
]

SIMULATED_ROLES = SIMULATED

PARTICIPANT_ROLES = {"rs": "REGS", "sds": "SDS", "sms": "SMS", "supplier": "SUP", "dcc": "DCC", "mdr": "MDR"}
"""``--role`` values that start one participant's piece (with ``--dip-id``)."""


class ServeInvalid(CodedError):
    code = ResponseCode.OMH0403
    rule = "serve.configuration.valid"


@dataclass(frozen=True)
class MarketSource:
    description: MarketDescription
    text: str
    mpans: int
    seed: int


def prepare(
    state: Path,
    *,
    database: str,
    market: MarketSource | None,
    explicit_market: bool,
    host: str,
    port: int,
    plain: bool,
    today: date,
    now: datetime,
    delivery_timeout: float = 10.0,
) -> ServeConfig:
    """Make the database, certificates and ``serve.json`` ready; return the configuration."""
    if plain and not is_loopback(host):
        raise ServeInvalid(f"plain HTTP is only allowed on loopback, not on {host}; drop --plain")
    db = Database(database)
    try:
        db.migrate()
        with db.read() as connection:
            isd = load_isd(connection)
        if len(isd) and explicit_market:
            raise ServeInvalid(
                "the database already holds a market: serve it without a description, "
                "or point OPENMHHS_DB at a new database"
            )
        if not len(isd):
            if market is None:
                raise ServeInvalid("the database holds no ISD table and no market description was given")
            members = population(market.description, size=market.mpans, seed=market.seed)
            with db.begin() as connection:
                load_market(connection, market.description, source=market.text, at=now)
                register_population(connection, members)
            with db.read() as connection:
                isd = load_isd(connection)
        with db.read() as connection:
            modes = MarketStore(connection).modes()
    finally:
        db.dispose()
    held = roles_on(isd, today)
    every = sorted({str(e.dip_id) for e in isd if e.dip_id is not None})
    served = [d for d in sorted(held) if held[d] & SIMULATED_ROLES and modes.get(d) != EXTERNAL]

    state.mkdir(parents=True, exist_ok=True)
    certs = state / "certs"
    _ensure_certificates(certs, ["hub", *every], now=now)
    path = state / "serve.json"
    previous = ServeConfig.load(path) if path.exists() else None
    old_keys = {} if previous is None else {v: k for k, v in previous.api_keys().items()}
    if previous is not None and (previous.database != database or previous.host != host):
        old_keys = {}
    nodes = [
        NodeConfig(dip_id=dip_id, port=port + 1 + index, api_key=old_keys.get(dip_id) or _new_key())
        for index, dip_id in enumerate(served)
    ]
    others = {old_keys.get(d) or _new_key(): d for d in every if d not in served}
    operator_key = previous.operator_key if previous is not None and previous.operator_key else _new_key()
    config = ServeConfig(
        operator_key=operator_key,
        database=database,
        host=host,
        hub_port=port,
        plain=plain,
        certs=str(certs.resolve()),
        nodes=nodes,
        hub_keys=others,
        delivery_timeout=delivery_timeout,
    )
    config.save(path)
    path.chmod(0o600)
    return config


def _new_key() -> str:
    return secrets.token_urlsafe(24)


def _ensure_certificates(folder: Path, names: Sequence[str], *, now: datetime) -> None:
    """The CA (created if absent) and a certificate per name, issued where missing."""
    folder.mkdir(parents=True, exist_ok=True)
    ca_pem, ca_key = folder / "ca.pem", folder / "ca.key"
    if ca_pem.exists() and ca_key.exists():
        authority = Issued(
            key=serialization.load_pem_private_key(ca_key.read_bytes(), password=None),  # type: ignore[arg-type]
            certificate=x509.load_pem_x509_certificate(ca_pem.read_bytes()),
        )
    else:
        authority = make_authority(name="openmhhs test DIP CA", now=now)
        ca_pem.write_bytes(authority.certificate_pem)
        write_key(ca_key, authority.key_pem())
    for name in names:
        if (folder / f"{name}.pem").exists() and (folder / f"{name}.key").exists():
            continue
        organisation = "openmhhs DIP hub" if name == "hub" else f"DIP participant {name}"
        issued = issue_participant(authority, dip_id=name, organisation=organisation, now=now)
        (folder / f"{name}.pem").write_bytes(issued.certificate_pem)
        write_key(folder / f"{name}.key", issued.key_pem())


# -- one service in this process ----------------------------------------------------------------
def run_service(config: ServeConfig, *, role: str, dip_id: str | None) -> None:
    """Run the hub (``role == "hub"``) or one participant's node until stopped."""
    import uvicorn  # noqa: PLC0415 - only the service processes need it

    from openmhhs.api.hub_app import create_hub_app  # noqa: PLC0415
    from openmhhs.api.identity import PeerCertificateProtocol  # noqa: PLC0415
    from openmhhs.api.node_app import create_node_app  # noqa: PLC0415

    if role == "hub":
        app = create_hub_app(config)
        port, name = config.hub_port, "hub"
    else:
        if dip_id is None:
            raise ServeInvalid(f"--role {role} needs --dip-id")
        known = {n.dip_id for n in config.nodes}
        if dip_id not in known:
            raise ServeInvalid(
                f"{dip_id} is not a participant in {config.certs}/../serve.json ({', '.join(sorted(known))})"
            )
        only = None if role == "node" else {PARTICIPANT_ROLES[role]}
        if only is not None:
            held = _roles_ever_held(config.database, dip_id)
            if not only & held:
                raise ServeInvalid(
                    f"{dip_id} does not hold the {PARTICIPANT_ROLES[role]} DIP role in the ISD "
                    f"(it holds {', '.join(sorted(held)) or 'none'})"
                )
        app = create_node_app(config, dip_id, only=only)
        port, name = config.node(dip_id).port, dip_id
    tls: dict[str, Any] = {}
    if not config.plain:
        cert, key = config.cert(name)
        tls = {
            "ssl_certfile": cert,
            "ssl_keyfile": key,
            "ssl_ca_certs": config.ca,
            "ssl_cert_reqs": ssl.CERT_REQUIRED,
        }
    protocol = type("Protocol", (PeerCertificateProtocol,), {"header_timeout": config.header_timeout})
    _log_access_to_stderr(name)
    uvicorn.run(
        app,
        host=config.host,
        port=port,
        log_level="warning",
        access_log=False,
        http=protocol,
        timeout_keep_alive=5,
        timeout_graceful_shutdown=5,
        **tls,
    )


def _log_access_to_stderr(service: str) -> None:
    """The access log (``api.access_log``), one line per request, on standard error, each line
    naming the service (the supervisor's children share its standard error)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"%(asctime)s {service} %(message)s"))
    access = logging.getLogger("openmhhs.access")
    access.addHandler(handler)
    access.setLevel(logging.INFO)
    access.propagate = False


def _roles_ever_held(database: str, dip_id: str) -> set[str]:
    """The DIP roles ``dip_id`` holds in the ISD at any time (a node follows the effective dates)."""
    db = Database(database)
    try:
        with db.read() as connection:
            isd = load_isd(connection)
    finally:
        db.dispose()
    return {str(e.dip_role) for e in isd if e.dip_id is not None and str(e.dip_id) == dip_id}


# -- every service, supervised --------------------------------------------------------------------
@dataclass
class Child:
    name: str
    command: list[str]
    url: str
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0


def supervise(
    config: ServeConfig,
    config_path: Path,
    *,
    on_ready: Callable[[dict[str, Any]], None],
    log: Callable[[str], None],
    startup_timeout: float = 60.0,
) -> int:
    """Start the hub and every participant, restart any that dies, stop all on SIGINT/SIGTERM."""
    base = [sys.executable, "-m", "openmhhs", "serve", "--config", str(config_path)]
    children = [Child("hub", [*base, "--role", "hub"], config.hub_url)]
    children += [
        Child(n.dip_id, [*base, "--role", "node", "--dip-id", n.dip_id], config.node_url(n.dip_id))
        for n in config.nodes
    ]
    stopping = False

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    ready_path = config_path.parent / "ready.json"
    ready_path.unlink(missing_ok=True)
    try:
        for child in children:
            child.process = subprocess.Popen(child.command)
        _wait_healthy(config, children, timeout=startup_timeout, stopping=lambda: stopping)
        ready = _ready(config, children)
        ready_path.write_bytes(msgspec.json.format(msgspec.json.encode(ready)))
        on_ready(ready)
        while not stopping:
            time.sleep(0.2)
            for child in children:
                assert child.process is not None
                code = child.process.poll()
                if code is None or stopping:
                    continue
                child.restarts += 1
                log(f"{child.name} exited ({code}); restarting (restart {child.restarts})")
                time.sleep(min(5.0, 0.2 * child.restarts))
                child.process = subprocess.Popen(child.command)
                try:
                    _wait_healthy(config, [child], timeout=startup_timeout, stopping=lambda: stopping)
                except ServeInvalid as exc:  # tried again on the next round, a little later
                    log(str(exc))
                    continue
                ready = _ready(config, children)
                ready_path.write_bytes(msgspec.json.format(msgspec.json.encode(ready)))
        return 0
    finally:
        for child in children:
            if child.process is not None and child.process.poll() is None:
                child.process.terminate()
        deadline = time.monotonic() + 10
        for child in children:
            if child.process is None:
                continue
            try:
                child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.process.kill()
        ready_path.unlink(missing_ok=True)
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _ready(config: ServeConfig, children: Sequence[Child]) -> dict[str, Any]:
    return {
        "hub": config.hub_url,
        "services": [
            {
                "name": c.name,
                "url": c.url,
                "pid": c.process.pid if c.process else None,
                "restarts": c.restarts,
            }
            for c in children
        ],
    }


def _wait_healthy(
    config: ServeConfig, children: Sequence[Child], *, timeout: float, stopping: Callable[[], bool]
) -> None:
    deadline = time.monotonic() + timeout
    waiting = list(children)
    with httpx.Client(verify=client_tls(config, "hub"), timeout=2) as client:
        while waiting and not stopping():
            for child in list(waiting):
                assert child.process is not None
                if child.process.poll() is not None:
                    raise ServeInvalid(
                        f"{child.name} stopped while starting (exit {child.process.returncode})"
                    )
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(f"{child.url}/health").status_code == 200:
                        waiting.remove(child)
            if waiting:
                if time.monotonic() > deadline:
                    raise ServeInvalid(
                        f"not healthy after {timeout:.0f} s: {', '.join(c.name for c in waiting)}"
                    )
                time.sleep(0.1)
