"""What every request to the hub or a node passes before any endpoint sees it (an ASGI
middleware): URLs without enforced capitalisation, a bounded body, received in bounded time.

* The spec: "DIP will not be enforcing capitalisation validation on JSON field names or URLS
  on message ingress". The fixed words of the DIP's paths (``dip-channel``, ``validate``,
  ``pubconfig``…) are matched whatever their case; the parameters (channel, event code) are
  matched case-insensitively by the endpoints. The raw path is left alone: a DIP signature
  is checked over what the client signed.
* A body larger than ``max_body`` bytes is answered 413 with OMH0824 (the DIP's
  StandardResponse shape) without being read further; a body that has not fully arrived
  ``body_timeout`` seconds after its request began is answered 408 with OMH0826.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import orjson

from openmhhs.api.responses import DIP_PARTICIPANT_ID, response_item, standard_body
from openmhhs.codes import ResponseCode

__all__ = ["DIP_PATH_WORDS", "RequestGuard", "coded_body"]

DIP_PATH_WORDS = frozenset(
    {"dip-channel", "pubconfig", "replay", "requeue", "validate", "statusmessage", "config"}
)
"""The fixed words of the DIP's paths, matched whatever their case."""


def coded_body(code: ResponseCode, detail: str) -> bytes:
    """A StandardResponse with one item, for a refusal made before any endpoint ran."""
    item = response_item(
        code=code, detail=detail, sender=DIP_PARTICIPANT_ID, recipient=None, sent=datetime.now(UTC)
    )
    return orjson.dumps(standard_body([item]))


def _canonical_path(path: str) -> str:
    parts = path.split("/")
    if len(parts) < 2 or parts[1].lower() not in DIP_PATH_WORDS:
        return path
    return "/".join(p.lower() if p.lower() in DIP_PATH_WORDS else p for p in parts)


class _TooLarge(Exception):
    pass


class _TooSlow(Exception):
    pass


class RequestGuard:
    def __init__(self, app: Any, *, max_body: int, body_timeout: float) -> None:
        self.app = app
        self.max_body = max_body
        self.body_timeout = body_timeout

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope = {**scope, "path": _canonical_path(scope["path"])}
        if scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body:
            await self._refuse(
                send, 413, ResponseCode.OMH0824, f"the body is larger than {self.max_body} bytes"
            )
            return
        try:
            body = await self._read(receive)
        except _TooLarge:
            await self._refuse(
                send, 413, ResponseCode.OMH0824, f"the body is larger than {self.max_body} bytes"
            )
            return
        except _TooSlow:
            await self._refuse(
                send, 408, ResponseCode.OMH0826, f"the body did not arrive within {self.body_timeout:g} s"
            )
            return
        sent = False

        async def replay() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # type: ignore[no-any-return]

        await self.app(scope, replay, send)

    async def _read(self, receive: Any) -> bytes:
        deadline = time.monotonic() + self.body_timeout
        chunks: list[bytes] = []
        size = 0
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise _TooSlow
            try:
                message = await asyncio.wait_for(receive(), timeout=left)
            except TimeoutError:
                raise _TooSlow from None
            if message["type"] == "http.disconnect":
                return b"".join(chunks)
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                raise _TooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    @staticmethod
    async def _refuse(send: Any, status: int, code: ResponseCode, detail: str) -> None:
        body = coded_body(code, detail)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
