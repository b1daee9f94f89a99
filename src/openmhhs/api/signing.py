"""DIP signatures on HTTP requests, both ways: requests are signed by their sender and
verified against the CA; the signer's DIP ID comes from its certificate."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from fastapi import Request

from openmhhs.api.config import ServeConfig
from openmhhs.dip.signing import SignatureInvalid, Signer, Verified, Verifier

__all__ = ["signer_for", "verifier_for", "verify_request"]


def signer_for(config: ServeConfig, name: str) -> Signer:
    cert, key = config.cert(name)
    return Signer.from_pem(Path(key).read_bytes(), Path(cert).read_bytes())


def verifier_for(config: ServeConfig) -> Verifier:
    return Verifier.from_pem(Path(config.ca).read_bytes())


async def verify_request(
    request: Request, verifier: Verifier, *, expected: str | None = None
) -> tuple[bytes, Verified]:
    """The request body, if its X-DIP-* headers hold (SignatureInvalid otherwise)."""
    body = await request.body()
    verified = verifier.verify(
        method=request.method,
        url=str(request.url),
        body=body,
        headers=dict(request.headers),
        now=datetime.now(UTC),
        expected_dip_id=expected,
    )
    return body, verified


__all__ += ["SignatureInvalid"]
