"""The DIP hub as an HTTP service (FastAPI): the SubmitEvents contract, publication
configuration, validation endpoints, the appointment query API, and the delivery worker.

* ``POST /dip-channel/{id}``: a JSON array of ``{"payload": message}`` (bare messages are
  accepted too). The ``X-API-Key`` must be the signer's and the X-DIP-* signature valid
  (RCP9999 otherwise, HTTP 401); each message is then checked and answered in a
  StandardResponse: 201 when all were accepted, 207 when some were, 400 when none.
* ``POST|DELETE /dip-channel/{id}/pubconfig/{recipient-id}``: the recipient's webhook.
* ``POST /validate/{interface}/{event}``: checks messages without sending them.
* ``GET /api/…``: timelines, gaps and the message log (OpenAPI at ``/openapi.json``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from openmhhs.api.config import ServeConfig, client_tls
from openmhhs.api.query import router as query_router
from openmhhs.api.signing import SignatureInvalid, signer_for, verifier_for, verify_request
from openmhhs.clock import now as clock_now
from openmhhs.codes import ResponseCode
from openmhhs.days import format_utc_datetime
from openmhhs.dip.catalogue import EVENTS, INTERFACES
from openmhhs.dip.parse import Parsed, Perspective, parse_batch
from openmhhs.failpoints import failpoint
from openmhhs.market.hub import Accepted, DueBatch, Hub
from openmhhs.store.database import Database

__all__ = ["DIP_PARTICIPANT_ID", "create_hub_app", "response_item", "standard_response"]

log = logging.getLogger("openmhhs.hub")


def standard_response(items: list[dict[str, Any]], *, status: int) -> JSONResponse:
    return JSONResponse(
        {"messageArray": items, "timestamp": format_utc_datetime(datetime.now(UTC))}, status_code=status
    )


DIP_PARTICIPANT_ID = "0000000000"
"""The DIP's own participant id, the sender of its responses."""

_REFERENCE = re.compile(r"^S-((IF|REP)-)?\d{3,4}-[0-9a-fA-F]{10}-[A-Z]{3,5}-\d{8}-[a-zA-Z0-9]+$")


def response_item(
    *,
    code: ResponseCode,
    detail: str,
    sender: str,
    recipient: str | None,
    sent: datetime,
    transaction_id: str | None = None,
    reference: str | None = None,
    correlation_id: str | None = None,
    path: str | None = None,
) -> dict[str, Any]:
    """One StandardResponseBodyType: ``senderID`` is who answers, ``recipientID`` who sent
    the message answered. Fields are kept within the official lengths and patterns."""
    wording = f"{code.value} - {code.wording}"
    message = wording if code.value.endswith("0000") or not detail else f"{wording}: {detail}"
    return {
        "transactionID": transaction_id,
        "senderUniqueReference": reference if reference and _REFERENCE.match(reference) else None,
        "correlationID": correlation_id if correlation_id and len(correlation_id) <= 60 else None,
        "sentTimestamp": format_utc_datetime(sent),
        "senderID": sender,
        "recipientID": recipient if recipient and len(recipient) == 10 else None,
        "DIPConnectionProviderID": None,
        "message": message[:200],
        "help": f"{path}: {detail}"[:500] if path else None,
        "serviceTicketURL": None,
    }


def _item(answer: Accepted, *, recipient: str | None, sent: datetime) -> dict[str, Any]:
    return response_item(
        code=answer.code,
        detail=answer.detail,
        sender=DIP_PARTICIPANT_ID,
        recipient=recipient,
        sent=sent,
        transaction_id=answer.transaction_id,
        reference=answer.sender_unique_reference,
        correlation_id=answer.correlation_id,
        path=answer.path,
    )


def _refusal(code: ResponseCode, detail: str, *, status: int, recipient: str | None = None) -> JSONResponse:
    answer = Accepted(code, detail, None, None, None, None)
    return standard_response([_item(answer, recipient=recipient, sent=datetime.now(UTC))], status=status)


class WebhookConfig(BaseModel):
    """The spec's WebhookConfig."""

    callbackURL: str  # noqa: N815 - the spec's name
    maxMessageCount: int | None = None  # noqa: N815
    maxPayloadSize: int | None = None  # noqa: N815


def create_hub_app(config: ServeConfig, *, deliver: bool = True) -> FastAPI:
    db = Database(config.database)
    db.migrate()
    hub = Hub(db)
    verifier = verifier_for(config)
    signer = signer_for(config, "hub")
    keys = config.api_keys()
    wake = asyncio.Event()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(_deliver_forever(hub, config, signer, wake)) if deliver else None
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            db.dispose()

    app = FastAPI(
        title="openmhhs DIP hub",
        version="0.1.0",
        description="The DIP's SubmitEvents contract for the appointment, MDR and settlement interfaces, "
        "and a query API over the appointment data.",
        lifespan=lifespan,
    )
    app.include_router(query_router(db))

    async def _authenticate(request: Request) -> tuple[bytes, str] | JSONResponse:
        api_key = request.headers.get("x-api-key", "")
        owner = keys.get(api_key)
        if owner is None:
            return _refusal(ResponseCode.RCP9999, "X-API-Key missing or not recognised", status=401)
        try:
            body, verified = await verify_request(request, verifier)
        except SignatureInvalid as exc:
            return _refusal(ResponseCode.RCP9999, exc.detail, status=401)
        if verified.dip_id != owner:
            return _refusal(
                ResponseCode.RCP9999,
                f"the API key is {owner}'s, the signature {verified.dip_id}'s",
                status=401,
            )
        return body, owner

    @app.post(
        "/dip-channel/{channel}", summary="Submit a series of interface messages", include_in_schema=False
    )
    async def submit(channel: str, request: Request) -> Response:
        checked = await _authenticate(request)
        if isinstance(checked, JSONResponse):
            return checked
        body, signer_id = checked
        if channel.upper() not in INTERFACES:
            return _refusal(ResponseCode.MSG1002, f"channel {channel} is not one this DIP serves", status=404)
        now = clock_now()
        answers = await asyncio.to_thread(hub.accept, body, channel=channel.upper(), signer=signer_id, at=now)
        if any(a.ok for a in answers):
            wake.set()
        items = [_item(a, recipient=signer_id, sent=datetime.now(UTC)) for a in answers]
        if not answers:
            return _refusal(ResponseCode.MSG1001, "the request holds no message", status=400)
        status = 201 if all(a.ok for a in answers) else 207 if any(a.ok for a in answers) else 400
        return standard_response(items, status=status)

    @app.post("/dip-channel/{channel}/pubconfig/{recipient}", status_code=201, include_in_schema=False)
    async def configure(channel: str, recipient: str, request: Request) -> Response:
        checked = await _authenticate(request)
        if isinstance(checked, JSONResponse):
            return checked
        body, signer_id = checked
        if signer_id != recipient:
            return _refusal(
                ResponseCode.RCP9999, f"{signer_id} cannot configure {recipient}'s publications", status=403
            )
        try:
            webhook = WebhookConfig.model_validate_json(body)
            replayed = await asyncio.to_thread(
                hub.register_webhook,
                recipient=recipient,
                channel=channel.upper(),
                url=webhook.callbackURL,
                max_messages=int(webhook.maxMessageCount or 50),
            )
        except ValueError as exc:
            return JSONResponse({"message": str(exc)}, status_code=400)
        wake.set()
        return JSONResponse(
            {"recipient": recipient, "channel": channel.upper(), "replayed": replayed}, status_code=201
        )

    @app.delete("/dip-channel/{channel}/pubconfig/{recipient}", include_in_schema=False)
    async def unconfigure(channel: str, recipient: str, request: Request) -> Response:
        checked = await _authenticate(request)
        if isinstance(checked, JSONResponse):
            return checked
        _, signer_id = checked
        if signer_id != recipient:
            return _refusal(
                ResponseCode.RCP9999, f"{signer_id} cannot configure {recipient}'s publications", status=403
            )
        removed = await asyncio.to_thread(hub.remove_webhook, recipient=recipient, channel=channel.upper())
        return Response(status_code=204 if removed else 404)

    @app.post("/validate/{interface}/{event}", include_in_schema=False)
    async def validate(interface: str, event: str, request: Request) -> Response:
        body = await request.body()
        spec = EVENTS.get((interface.upper(), f"[{event}]"))
        if spec is None:
            return JSONResponse(f"MSG1002 - no validation endpoint for {interface}/{event}", status_code=404)
        results = parse_batch(body, now=datetime.now(UTC), perspective=Perspective.DIP)
        problems = []
        for index, result in enumerate(results):
            if not isinstance(result, Parsed):
                problems.append(
                    f"message {index}: {result.code.value} {result.error.detail} at {result.error.path}"
                )
            elif result.spec is not spec:
                problems.append(
                    f"message {index}: RCP1003 this endpoint validates {spec.interface_id} {spec.event_code}"
                )
        if not results or problems:
            return JSONResponse("; ".join(problems) or "MSG1001 - no message", status_code=400)
        return JSONResponse("Message OK", status_code=201)

    @app.get("/health", include_in_schema=False)
    async def health() -> dict[str, object]:
        backlog = await asyncio.to_thread(hub.backlog)
        return {"status": "ok", "deliveries": backlog, "pid": os.getpid()}

    return app


async def _deliver_forever(hub: Hub, config: ServeConfig, signer: Any, wake: asyncio.Event) -> None:
    """Publish due deliveries to webhooks: one batch in flight per recipient (so that its
    messages arrive in order), recipients in parallel (so that a slow one holds up no other)."""
    verify = client_tls(config, "hub")
    inflight: dict[str, asyncio.Task[None]] = {}

    def finished(recipient: str, task: asyncio.Task[None]) -> None:
        inflight.pop(recipient, None)
        if not task.cancelled() and task.exception() is not None:
            log.error("publishing to %s failed; it stays due", recipient, exc_info=task.exception())
        wake.set()

    async with httpx.AsyncClient(verify=verify, timeout=config.delivery_timeout) as client:
        try:
            await _deliver_loop(client, hub, signer, wake, inflight, finished)
        finally:
            for task in list(inflight.values()):
                task.cancel()


async def _deliver_loop(
    client: httpx.AsyncClient,
    hub: Hub,
    signer: Any,
    wake: asyncio.Event,
    inflight: dict[str, asyncio.Task[None]],
    finished: Any,
) -> None:
    while True:
        wake.clear()
        batches = await asyncio.to_thread(hub.due, now=datetime.now(UTC), busy=frozenset(inflight))
        for batch in batches:
            task = asyncio.create_task(_publish(client, hub, signer, batch))
            inflight[batch.recipient] = task
            task.add_done_callback(functools.partial(finished, batch.recipient))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), timeout=0.25)


async def _publish(client: httpx.AsyncClient, hub: Hub, signer: Any, batch: DueBatch) -> None:
    now = datetime.now(UTC)
    ids = [item.delivery_id for item in batch.items]
    body = await asyncio.to_thread(hub.egress, batch, now=now)
    headers = {
        **signer.headers(method="POST", url=batch.url, body=body, now=now),
        "Content-Type": "application/json",
    }
    try:
        response = await client.post(batch.url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        await asyncio.to_thread(hub.retry_later, ids, now=now, error=f"{type(exc).__name__}: {exc}")
        return
    status = response.status_code
    failpoint("hub.publish.before-recorded")
    if status in (200, 201, 207):
        await asyncio.to_thread(hub.settle, batch, response.content, now=now)
    elif status in (408, 429) or status >= 500:
        await asyncio.to_thread(hub.retry_later, ids, now=now, error=f"HTTP {status}")
    else:
        await asyncio.to_thread(hub.refused, ids, now=now, code=f"H{status}", detail=response.text[:500])
