"""One access-log line per HTTP request to the hub or a node (an ASGI middleware), on the
``openmhhs.access`` logger: method, path, status, duration and the caller's DIP ID once it
is authenticated (``operator`` for the operator, ``-`` when the request names nobody or was
refused before). Never a header, a query string or a body: no API key, no signature, nothing
a caller sent reaches the log but the path it asked for."""

from __future__ import annotations

import logging
import time
from typing import Any

__all__ = ["CALLER_STATE", "AccessLog", "access_line", "remember_caller"]

log = logging.getLogger("openmhhs.access")

CALLER_STATE = "openmhhs_caller"
"""The key in the request's ASGI state under which the authenticated caller is kept."""


def remember_caller(scope: Any, dip_id: str) -> None:
    """Note the authenticated caller of a request for its access-log line."""
    scope.setdefault("state", {})[CALLER_STATE] = dip_id


def access_line(*, method: str, path: str, status: int, seconds: float, caller: str | None) -> str:
    return f"{method} {path} {status} {seconds * 1000:.1f}ms caller={caller or '-'}"


class AccessLog:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})  # shared by every copy of the scope made inside
        started = time.perf_counter()
        status = 500  # when the app fails before it answers

        async def sending(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            log.info(
                access_line(
                    method=scope["method"],
                    path=scope["path"],
                    status=status,
                    seconds=time.perf_counter() - started,
                    caller=state.get(CALLER_STATE),
                )
            )
