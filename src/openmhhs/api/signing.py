"""DIP signatures on HTTP requests, both ways: requests are signed by their sender and
verified against the CA; the signer's DIP ID comes from its certificate."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from fastapi import Request

from openmhhs.api.config import ServeConfig
from openmhhs.dip.signing import SignatureInvalid, Signer, Verified, Verifier

__all__ = ["signed_url", "signer_for", "verifier_for", "verify_request"]


def signer_for(config: ServeConfig, name: str) -> Signer:
    cert, key = config.cert(name)
    return Signer.from_pem(Path(key).read_bytes(), Path(cert).read_bytes())


def verifier_for(config: ServeConfig) -> Verifier:
    return Verifier.from_pem(Path(config.ca).read_bytes())


def signed_url(request: Request) -> str:
    """The request's URL as the client wrote it: scheme and host, then the raw path and query."""
    raw_path = request.scope.get("raw_path") or request.scope["path"].encode("utf-8")
    query = request.scope.get("query_string") or b""
    target = raw_path.decode("latin-1") + (f"?{query.decode('latin-1')}" if query else "")
    return f"{request.url.scheme}://{request.url.netloc}{target}"


async def verify_request(
    request: Request, verifier: Verifier, *, expected: str | None = None
) -> tuple[bytes, Verified]:
    """The request body, if its X-DIP-* headers hold (SignatureInvalid otherwise). The URL
    checked is the one the client sent, as it sent it (a percent-encoded path stays encoded)."""
    body = await request.body()
    verified = verifier.verify(
        method=request.method,
        url=signed_url(request),
        body=body,
        headers=dict(request.headers),
        now=datetime.now(UTC),
        expected_dip_id=expected,
    )
    return body, verified


__all__ += ["SignatureInvalid"]
