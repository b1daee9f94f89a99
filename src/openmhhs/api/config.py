"""How a set of services finds and trusts each other: one JSON file written by
``openmhhs serve`` (``serve.json``), read by every process it starts.

It names the database, the hub's and each participant's address, the certificate
authority and each service's key and certificate (mutual TLS and DIP signing), each
participant's API key (``X-API-Key``) and the operator's, and the limits every service puts on
a request. Plain HTTP is only ever used on loopback, and only when asked for.
"""

from __future__ import annotations

import ipaddress
import ssl
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

__all__ = ["NodeConfig", "ServeConfig", "client_tls", "is_loopback"]


class NodeConfig(msgspec.Struct, frozen=True, kw_only=True):
    dip_id: str
    port: int
    api_key: str


class ServeConfig(msgspec.Struct, frozen=True, kw_only=True):
    database: str
    host: str
    hub_port: int
    plain: bool
    certs: str
    nodes: list[NodeConfig] = msgspec.field(default_factory=list)
    delivery_timeout: float = 10.0
    """Seconds the hub waits for a webhook to answer before it retries later."""
    hub_keys: dict[str, str] = msgspec.field(default_factory=dict)
    """API key -> DIP ID, for participants not started here (e.g. a test acting as a supplier)."""
    operator_key: str = ""
    """The hub operator's API key (with the hub's certificate): reads every participant's data."""
    max_body_bytes: int = 16 * 1024 * 1024
    """The largest request body the hub and the nodes accept (413 OMH0824 above it)."""
    body_timeout: float = 30.0
    """Seconds a request's body may take to arrive (408 OMH0826 after it)."""
    header_timeout: float = 10.0
    """Seconds a new connection may take to send its first request's headers."""

    @property
    def scheme(self) -> str:
        return "http" if self.plain else "https"

    @property
    def hub_url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.hub_port}"

    def node(self, dip_id: str) -> NodeConfig:
        return next(n for n in self.nodes if n.dip_id == dip_id)

    def node_url(self, dip_id: str) -> str:
        return f"{self.scheme}://{self.host}:{self.node(dip_id).port}"

    def api_keys(self) -> dict[str, str]:
        return {**self.hub_keys, **{n.api_key: n.dip_id for n in self.nodes}}

    def cert(self, name: str) -> tuple[str, str]:
        folder = Path(self.certs)
        return str(folder / f"{name}.pem"), str(folder / f"{name}.key")

    @property
    def ca(self) -> str:
        return str(Path(self.certs) / "ca.pem")

    def save(self, path: Path) -> None:
        path.write_bytes(msgspec.json.format(msgspec.json.encode(self)))

    @classmethod
    def load(cls, path: Path) -> ServeConfig:
        return msgspec.json.decode(path.read_bytes(), type=cls)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Tls:
    """TLS settings of one service: its own certificate and the CA it trusts."""

    cert: str
    key: str
    ca: str
    extra: dict[str, str] = field(default_factory=dict)


def client_tls(config: ServeConfig, name: str) -> ssl.SSLContext | bool:
    """An SSL context presenting ``name``'s certificate and trusting only the test CA."""
    if config.plain:
        return False
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=config.ca)
    cert, key = config.cert(name)
    context.load_cert_chain(cert, key)
    return context
