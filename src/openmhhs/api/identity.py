"""Who is calling: every request to the hub and to a participant's node is authorised by the
caller's identity, never by where it comes from.

A participant proves who it is three ways, which must all name the same DIP ID: its API key
(``X-API-Key``, the spec's ApiKeyAuth on every operation), its mutual-TLS client certificate
(issued by the DIP's CA for that DIP ID), and, on the operations the spec signs, its DIP
signature (``X-DIP-*``). The hub's operator (a test team, a dashboard) holds the operator key
and the hub's own certificate, and may read everything; it may not send as a participant.

uvicorn does not put the TLS client certificate into the ASGI scope, so
``PeerCertificateProtocol`` (its HTTP protocol, one instance per connection) adds it, as the
ASGI TLS extension does (``scope["extensions"]["tls"]["client_cert_chain"]``). The same
protocol closes a connection whose first request line and headers have not arrived within
``header_timeout`` seconds (uvicorn times out idle keep-alive connections, but not a client
that opens a connection and then sends its headers a byte at a time).
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import h11
from cryptography import x509
from uvicorn.protocols.http.h11_impl import H11Protocol

from openmhhs.codes import CodedError, ResponseCode
from openmhhs.dip.signing import certificate_dip_id

__all__ = [
    "OPERATOR",
    "ApiKeyMissing",
    "ApiKeyUnknown",
    "Caller",
    "IdentitiesDisagree",
    "NotEntitled",
    "PeerCertificateProtocol",
    "identify",
    "peer_dip_id",
]

OPERATOR = "operator"
"""The identity of the hub's operator (not a DIP participant)."""

OPERATOR_CERTIFICATE = "hub"
"""The certificate the operator presents: the hub's own."""


class Refusal(CodedError):
    """A request refused before it is looked at; ``status`` is its HTTP status."""

    status: ClassVar[int] = 401


class ApiKeyMissing(Refusal):
    code = ResponseCode.OMH0820
    rule = "http.api_key.present"


class ApiKeyUnknown(Refusal):
    code = ResponseCode.OMH0821
    rule = "http.api_key.known"


class IdentitiesDisagree(Refusal):
    code = ResponseCode.OMH0822
    rule = "http.identity.one_participant"


class NotEntitled(Refusal):
    code = ResponseCode.OMH0823
    rule = "http.identity.entitled"
    status = 403


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated caller: a participant's DIP ID, or the operator."""

    dip_id: str

    @property
    def operator(self) -> bool:
        return self.dip_id == OPERATOR

    def may_act_for(self, participant: str) -> bool:
        """Only a participant itself acts for it (the operator sends nothing as anyone)."""
        return self.dip_id == participant


def peer_dip_id(scope: Mapping[str, Any]) -> str | None:
    """The DIP ID of the mutual-TLS client certificate, or None on plain HTTP."""
    tls = scope.get("extensions", {}).get("tls") or {}
    chain = tls.get("client_cert_chain") or []
    if not chain:
        return None
    return certificate_dip_id(x509.load_pem_x509_certificate(chain[0].encode("ascii")))


def identify(
    *, api_key: str | None, keys: Mapping[str, str], operator_key: str | None, peer: str | None
) -> Caller:
    """The caller named by its API key, checked against its client certificate (when the
    connection has one: plain HTTP is loopback only). Raises a ``Refusal``."""
    if not api_key:
        raise ApiKeyMissing("the request has no X-API-Key header")
    if operator_key and api_key == operator_key:
        if peer is not None and peer != OPERATOR_CERTIFICATE:
            raise IdentitiesDisagree(f"the operator key was sent with {peer}'s client certificate")
        return Caller(OPERATOR)
    owner = keys.get(api_key)
    if owner is None:
        raise ApiKeyUnknown("the X-API-Key is not one the hub issued")
    if peer is not None and peer != owner:
        raise IdentitiesDisagree(f"the API key is {owner}'s, the client certificate {peer}'s")
    return Caller(owner)


class PeerCertificateProtocol(H11Protocol):
    """uvicorn's h11 protocol, adding the client certificate to each request's scope and
    closing connections whose first request does not arrive in time."""

    header_timeout: ClassVar[float] = 10.0

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self._stopping = False
        self._first_request = self.loop.call_later(self.header_timeout, self._too_slow)
        ssl_object = transport.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        if der:
            pem = ssl.DER_cert_to_PEM_cert(der)
            self.app = _WithClientCertificate(self.app, pem)

    def _too_slow(self) -> None:
        if self.cycle is None and not self.transport.is_closing():
            self.transport.close()

    def handle_events(self) -> None:
        super().handle_events()
        if self.cycle is not None:
            self._first_request.cancel()

    def connection_lost(self, exc: Exception | None) -> None:
        self._first_request.cancel()
        super().connection_lost(exc)

    def shutdown(self) -> None:
        """Stopping: an idle connection is dropped at once. uvicorn closes it politely, and
        over TLS that waits for the peer's close_notify (up to 30 s), so that every stop ran
        past the graceful-shutdown timeout; a request in flight still completes."""
        self._stopping = True
        if self.cycle is None or self.cycle.response_complete:
            with contextlib.suppress(h11.LocalProtocolError):
                self.conn.send(h11.ConnectionClosed())
            self.transport.abort()
        else:
            self.cycle.keep_alive = False

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self._stopping and self.transport.is_closing():
            self.transport.abort()


class _WithClientCertificate:
    def __init__(self, app: Any, pem: str) -> None:
        self.app = app
        self.pem = pem

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        extensions = dict(scope.get("extensions") or {})
        extensions["tls"] = {**extensions.get("tls", {}), "client_cert_chain": [self.pem]}
        await self.app({**scope, "extensions": extensions}, receive, send)
