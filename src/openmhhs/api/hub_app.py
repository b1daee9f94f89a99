"""The DIP hub as an HTTP service (FastAPI): every operation of the DIP's SubmitEvents
contract the hub serves, the appointment query API, and the delivery workers. docs/http.md
lists each operation, its status codes and every decision where the spec is silent.

Every operation needs the caller's ``X-API-Key`` (the spec's ApiKeyAuth), which must name the
participant of its client certificate (``api.identity``); the operations the spec signs also
need a valid X-DIP-* signature by that participant (RCP9999 otherwise). Refusals before an
endpoint runs are 401 (403 for acting for another participant) in the StandardResponse shape.

* ``POST /dip-channel/{id}``: a JSON array of ``{"payload": message}`` (``api.batch``); each
  message is checked and answered in a StandardResponse: 201 when all were accepted, 207 when
  some were, 400 when none.
* ``POST|DELETE /dip-channel/{id}/pubconfig/{recipient-id}``: the recipient's webhook.
* ``POST /dip-channel/{id}/replay|requeue/{recipient-id}``: what the recipient missed
  (``api.replay``).
* ``POST /statusmessage``, ``POST|DELETE /statusmessage/config/{recipient-id}``: status
  messages and the webhook that receives them.
* ``POST /validate/{interface}/{event}``: checks messages without sending them.
* ``GET /api/…``: timelines, gaps and the message log, for what the caller may see.
* ``GET /docs``, ``/redoc``, ``/openapi.json``: the hub's own OpenAPI document and its pages
  (``api.docs``), which need no key; bad input anywhere is a coded 400 StandardResponse
  (MSG1001), never FastAPI's 422; one access-log line per request (``api.access_log``).
* ``GET /`` (and ``/mpan/…``, ``/messages``, ``/static/…``): the dashboard (``openmhhs.web``),
  for the operator only (its key as X-API-Key, or as the HTTP Basic password a browser asks
  for), since it shows the whole market.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import functools
import logging
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any

import httpx
import orjson
from fastapi import Depends, FastAPI, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from openmhhs.api.access_log import AccessLog, remember_caller
from openmhhs.api.batch import checked_batch
from openmhhs.api.config import ServeConfig, client_tls
from openmhhs.api.docs import docs_router
from openmhhs.api.guard import RequestGuard
from openmhhs.api.identity import (
    OPERATOR_CERTIFICATE,
    Caller,
    IdentitiesDisagree,
    NotEntitled,
    Refusal,
    identify,
    peer_dip_id,
)
from openmhhs.api.query import API_KEY
from openmhhs.api.query import router as query_router
from openmhhs.api.replay import (
    MessageRequest,
    configure_status_webhook,
    due_status,
    keep_status_messages,
    message_request,
    remove_status_webhook,
    replay,
    requeue,
    status_delivered,
    status_items,
)
from openmhhs.api.responses import DIP_PARTICIPANT_ID, StandardResponse, response_item, standard_response
from openmhhs.api.signing import SignatureInvalid, signer_for, verifier_for, verify_request
from openmhhs.clock import now as clock_now
from openmhhs.codes import ResponseCode
from openmhhs.dip.catalogue import EVENTS, INTERFACES
from openmhhs.dip.parse import Parsed, Perspective, SchemaFailure, parse_batch
from openmhhs.failpoints import failpoint
from openmhhs.market.hub import Accepted, DueBatch, Hub
from openmhhs.store.database import Database
from openmhhs.web.app import dashboard_router

__all__ = ["DIP_PARTICIPANT_ID", "create_hub_app", "response_item", "standard_response"]

log = logging.getLogger("openmhhs.hub")


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


def _refusal(
    code: ResponseCode, detail: str, *, status: int, recipient: str | None = None, path: str | None = None
) -> JSONResponse:
    answer = Accepted(code, detail, None, None, None, None, path)
    return standard_response([_item(answer, recipient=recipient, sent=datetime.now(UTC))], status=status)


class WebhookConfig(BaseModel):
    """The spec's WebhookConfig (every property optional there; a webhook needs its URL)."""

    model_config = ConfigDict(extra="forbid")

    callbackURL: Annotated[str, Field(min_length=8, max_length=500, pattern=r"^https?://")]  # noqa: N815
    maxMessageCount: Annotated[float, Field(ge=1, le=1000)] | None = None  # noqa: N815
    maxPayloadSize: Annotated[float, Field(ge=1)] | None = None  # noqa: N815

    @classmethod
    def parse(cls, body: bytes) -> WebhookConfig:
        """The body, field names in any case; SchemaFailure (MSG1001) when it is not one."""
        try:
            raw = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise SchemaFailure("not valid JSON", path="$") from None
        if not isinstance(raw, dict):
            raise SchemaFailure("a WebhookConfig is a JSON object", path="$")
        names = {name.lower(): name for name in cls.model_fields}
        try:
            return cls.model_validate({names.get(str(k).lower(), str(k)): v for k, v in raw.items()})
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise SchemaFailure(f"{where}: {first['msg']}", path=f"$.{where}") from None


_JSON_BODY = "application/json"
_BODY_BATCH: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": 'A DIPMessageIngressArray: a JSON array of {"payload": message}',
        "content": {_JSON_BODY: {"schema": {"type": "array", "items": {"type": "object"}}}},
    }
}
_BODY_ARRAY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {_JSON_BODY: {"schema": {"type": "array", "items": {"type": "object"}}}},
    }
}
_BODY_OBJECT: dict[str, Any] = {
    "requestBody": {"required": True, "content": {_JSON_BODY: {"schema": {"type": "object"}}}}
}
_BODY_WEBHOOK: dict[str, Any] = {
    "requestBody": {"required": True, "content": {_JSON_BODY: {"schema": WebhookConfig.model_json_schema()}}}
}
_DIP: dict[str, Any] = {
    "tags": ["DIP SubmitEvents"],
    "dependencies": [Security(API_KEY)],
    "responses": {
        400: {"model": StandardResponse, "description": "Refused input, coded (MSG1001, MSG1002, …)"},
        401: {"model": StandardResponse, "description": "No or unknown key, or a bad signature"},
        403: {"model": StandardResponse, "description": "Not the caller's to ask (OMH0823)"},
    },
}
"""How each DIP operation appears in the hub's OpenAPI document: the key it needs (the DIP
signature's X-DIP-* headers are described in docs/http.md) and its coded refusals."""


class _DashboardLogin(Exception):
    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.detail)
        self.refusal = refusal


def _basic_password(request: Request) -> str | None:
    """The password of an HTTP Basic ``Authorization`` header (the user name is ignored)."""
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return decoded.partition(":")[2] or None


_EVENTS_ANY_CASE = {(i.upper(), e.strip("[]").lower()): spec for (i, e), spec in EVENTS.items()}


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
        tasks = (
            [
                asyncio.create_task(_deliver_forever(hub, config, signer, wake)),
                asyncio.create_task(_deliver_status_forever(db, config, signer, wake)),
            ]
            if deliver
            else []
        )
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            db.dispose()

    app = FastAPI(
        docs_url=None,
        redoc_url=None,
        title="openmhhs DIP hub",
        version="0.1.0",
        description="The DIP's SubmitEvents contract for the appointment, MDR and settlement interfaces, "
        "and a query API over the appointment data.",
        lifespan=lifespan,
    )

    def caller_of(request: Request, *, api_key: str | None = None) -> Caller:
        """The authenticated caller, by ``api_key`` or else the X-API-Key header (raises a
        Refusal)."""
        caller = identify(
            api_key=api_key or request.headers.get("x-api-key"),
            keys=keys,
            operator_key=config.operator_key or None,
            peer=peer_dip_id(request.scope),
        )
        remember_caller(request.scope, caller.dip_id)
        return caller

    async def signed(request: Request, *, operator: bool = False) -> tuple[bytes, Caller]:
        """The body of a signed operation and its caller: the API key's, the certificate's and
        the signature's participant must be one."""
        caller = caller_of(request)
        if caller.operator and not operator:
            raise NotEntitled("the operator sends nothing as a participant")
        body, verified = await verify_request(request, verifier)
        expected = OPERATOR_CERTIFICATE if caller.operator else caller.dip_id
        if verified.dip_id != expected:
            raise IdentitiesDisagree(f"the API key is {caller.dip_id}'s, the signature {verified.dip_id}'s")
        return body, caller

    @app.exception_handler(Refusal)
    async def refused(request: Request, exc: Refusal) -> Response:
        return _refusal(exc.code, exc.detail, status=exc.status)

    @app.exception_handler(SignatureInvalid)
    async def unsigned(request: Request, exc: SignatureInvalid) -> Response:
        return _refusal(exc.code, exc.detail, status=401)

    @app.exception_handler(RequestValidationError)
    async def invalid_query(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid"}
        where = ".".join(str(p) for p in first["loc"])
        return _refusal(ResponseCode.MSG1001, f"{where}: {first['msg']}", status=400, path=where)

    @app.exception_handler(StarletteHTTPException)
    async def no_such_route(request: Request, exc: StarletteHTTPException) -> Response:
        """FastAPI's own 404/405 (no route, or not that method), coded as the DIP answers."""
        return _refusal(
            ResponseCode.MSG1002, f"{request.method} {request.url.path}: {exc.detail}", status=exc.status_code
        )

    app.include_router(query_router(db, caller_of))

    def operator_only(request: Request) -> None:
        """The dashboard shows the whole market: the operator's key only (X-API-Key, or as the
        password of HTTP Basic, which a browser asks for)."""
        try:
            caller = caller_of(request, api_key=_basic_password(request))
        except Refusal as exc:
            raise _DashboardLogin(exc) from None
        if not caller.operator:
            raise NotEntitled(f"{caller.dip_id} may not see the whole market's dashboard (the operator only)")

    @app.exception_handler(_DashboardLogin)
    async def log_in(request: Request, exc: _DashboardLogin) -> Response:
        response = _refusal(exc.refusal.code, exc.refusal.detail, status=exc.refusal.status)
        response.headers["WWW-Authenticate"] = 'Basic realm="openmhhs dashboard (the operator key)"'
        return response

    app.include_router(dashboard_router(db), dependencies=[Depends(operator_only)])
    app.include_router(docs_router(title="openmhhs DIP hub"))

    def _schema_failure(exc: SchemaFailure, *, recipient: str | None) -> JSONResponse:
        return _refusal(ResponseCode.MSG1001, exc.detail, status=400, recipient=recipient, path=exc.path)

    @app.post(
        "/dip-channel/{channel}",
        summary="Submit a series of interface messages (sendMessage)",
        openapi_extra=_BODY_BATCH,
        **_DIP,
    )
    async def submit(channel: str, request: Request) -> Response:
        body, caller = await signed(request)
        signer_id = caller.dip_id
        if channel.upper() not in INTERFACES:
            return _refusal(
                ResponseCode.MSG1002,
                f"channel {channel} is not one this DIP serves",
                status=404,
                recipient=signer_id,
            )
        try:
            body = checked_batch(body)
        except SchemaFailure as exc:
            return _schema_failure(exc, recipient=signer_id)
        now = clock_now()
        try:
            answers = await asyncio.to_thread(
                hub.accept, body, channel=channel.upper(), signer=signer_id, at=now
            )
        except RecursionError:
            return _refusal(ResponseCode.MSG1001, "JSON nested too deeply", status=400, recipient=signer_id)
        if any(a.ok for a in answers):
            wake.set()
        items = [_item(a, recipient=signer_id, sent=datetime.now(UTC)) for a in answers]
        status = 201 if all(a.ok for a in answers) else 207 if any(a.ok for a in answers) else 400
        return standard_response(items, status=status)

    @app.post(
        "/dip-channel/{channel}/pubconfig/{recipient}",
        status_code=201,
        summary="Configure the recipient's webhook for a channel (configurePublication)",
        openapi_extra=_BODY_WEBHOOK,
        **_DIP,
    )
    async def configure(channel: str, recipient: str, request: Request) -> Response:
        body, caller = await signed(request)
        if not caller.may_act_for(recipient):
            raise NotEntitled(f"{caller.dip_id} cannot configure {recipient}'s publications")
        if channel.upper() not in INTERFACES:
            return _refusal(
                ResponseCode.MSG1002,
                f"channel {channel} is not one this DIP publishes",
                status=400,
                recipient=recipient,
            )
        try:
            webhook = WebhookConfig.parse(body)
        except SchemaFailure as exc:
            return _schema_failure(exc, recipient=recipient)
        replayed = await asyncio.to_thread(
            hub.register_webhook,
            recipient=recipient,
            channel=channel.upper(),
            url=webhook.callbackURL,
            max_messages=int(webhook.maxMessageCount or 50),
        )
        wake.set()
        return JSONResponse(
            {"recipient": recipient, "channel": channel.upper(), "replayed": replayed}, status_code=201
        )

    @app.delete(
        "/dip-channel/{channel}/pubconfig/{recipient}", summary="Remove the recipient's webhook", **_DIP
    )
    async def unconfigure(channel: str, recipient: str, request: Request) -> Response:
        _, caller = await signed(request)
        if not caller.may_act_for(recipient):  # the spec documents 204 and 401 only
            return _refusal(
                ResponseCode.OMH0823,
                f"{caller.dip_id} cannot configure {recipient}'s publications",
                status=401,
            )
        await asyncio.to_thread(hub.remove_webhook, recipient=recipient, channel=channel.upper())
        return Response(status_code=204)

    async def _selection(
        channel: str, recipient: str, request: Request
    ) -> tuple[MessageRequest, Caller] | JSONResponse:
        body, caller = await signed(request, operator=True)
        if not (caller.operator or caller.may_act_for(recipient)):
            raise NotEntitled(f"{caller.dip_id} cannot ask for {recipient}'s publications")
        if channel.upper() not in INTERFACES:
            return _refusal(
                ResponseCode.MSG1002,
                f"channel {channel} is not one this DIP publishes",
                status=400,
                recipient=recipient,
            )
        try:
            return message_request(body), caller
        except SchemaFailure as exc:
            return _schema_failure(exc, recipient=recipient)

    @app.post(
        "/dip-channel/{channel}/replay/{recipient}",
        summary="What was published to the recipient (replayPublication)",
        openapi_extra=_BODY_OBJECT,
        **_DIP,
    )
    async def replay_publication(channel: str, recipient: str, request: Request) -> Response:
        selection = await _selection(channel, recipient, request)
        if isinstance(selection, JSONResponse):
            return selection
        found = await asyncio.to_thread(
            replay,
            hub,
            channel=channel.upper(),
            recipient=recipient,
            request=selection[0],
            now=datetime.now(UTC),
        )
        if found is None:
            return _refusal(ResponseCode.OMH0825, "nothing was published to the recipient so", status=400)
        return Response(found, status_code=200, media_type="application/json")

    @app.post(
        "/dip-channel/{channel}/requeue/{recipient}",
        summary="Publish again to the recipient (requeuePublication)",
        openapi_extra=_BODY_OBJECT,
        **_DIP,
    )
    async def requeue_publication(channel: str, recipient: str, request: Request) -> Response:
        selection = await _selection(channel, recipient, request)
        if isinstance(selection, JSONResponse):
            return selection
        count = await asyncio.to_thread(
            requeue, db, channel=channel.upper(), recipient=recipient, request=selection[0]
        )
        if not count:
            return _refusal(ResponseCode.OMH0825, "nothing published to the recipient so is done", status=400)
        wake.set()
        answer = Accepted(
            ResponseCode.MSG0000, f"{count} message(s) requeued", None, None, None, None, "requeue"
        )
        return standard_response([_item(answer, recipient=recipient, sent=datetime.now(UTC))], status=200)

    @app.post(
        "/statusmessage",
        summary="Submit status messages (submitStatusMessage)",
        openapi_extra=_BODY_ARRAY,
        **_DIP,
    )
    async def submit_status(request: Request) -> Response:
        body, caller = await signed(request)
        try:
            items = status_items(body)
        except SchemaFailure as exc:
            return _schema_failure(exc, recipient=caller.dip_id)
        known = {str(e.dip_id) for e in hub.directory.isd if e.dip_id is not None}
        answers = []
        for item in items:
            code, detail = ResponseCode.MSG0000, ""
            if item.senderID != caller.dip_id:
                code, detail = (
                    ResponseCode.MSG1009,
                    f"senderID {item.senderID} is not the signer {caller.dip_id}",
                )
            elif item.recipientID is None or item.recipientID not in known:
                code, detail = (
                    ResponseCode.MSG1031,
                    f"recipientID {item.recipientID} is not a DIP participant",
                )
            answers.append(
                Accepted(
                    code, detail, item.senderUniqueReference, item.correlationID, item.transactionID, None
                )
            )
        sent = datetime.now(UTC)
        response_items = [_item(a, recipient=caller.dip_id, sent=sent) for a in answers]
        if not all(a.ok for a in answers):  # all or nothing: the spec documents no 207 here
            return standard_response(response_items, status=400)
        await asyncio.to_thread(keep_status_messages, db, sender=caller.dip_id, items=items, at=clock_now())
        wake.set()
        return standard_response(response_items, status=201)

    @app.post(
        "/statusmessage/config/{recipient}",
        summary="Configure the recipient's status webhook (postStatusMsgWebhook)",
        openapi_extra=_BODY_WEBHOOK,
        **_DIP,
    )
    async def configure_status(recipient: str, request: Request) -> Response:
        body, caller = await signed(request)
        if not caller.may_act_for(recipient):
            raise NotEntitled(f"{caller.dip_id} cannot configure {recipient}'s status messages")
        try:
            webhook = WebhookConfig.parse(body)
        except SchemaFailure as exc:
            return _schema_failure(exc, recipient=recipient)
        await asyncio.to_thread(
            configure_status_webhook,
            db,
            recipient=recipient,
            url=webhook.callbackURL,
            max_messages=int(webhook.maxMessageCount or 50),
        )
        wake.set()
        return JSONResponse({"recipient": recipient}, status_code=201)

    @app.delete("/statusmessage/config/{recipient}", summary="Remove the recipient's status webhook", **_DIP)
    async def unconfigure_status(recipient: str, request: Request) -> Response:
        _, caller = await signed(request)
        if not caller.may_act_for(recipient):  # the spec documents 204 and 401 only
            return _refusal(
                ResponseCode.OMH0823,
                f"{caller.dip_id} cannot configure {recipient}'s status messages",
                status=401,
            )
        await asyncio.to_thread(remove_status_webhook, db, recipient=recipient)
        return Response(status_code=204)

    @app.post(
        "/validate/{interface}/{event}",
        summary="Check messages without sending them",
        openapi_extra=_BODY_BATCH,
        **_DIP,
    )
    async def validate(interface: str, event: str, request: Request) -> Response:
        caller_of(request)
        spec = _EVENTS_ANY_CASE.get((interface.upper(), event.strip("[]").lower()))
        if spec is None:  # the spec documents 201, 400 and 500 here
            return JSONResponse(
                f"MSG1002 - no validation endpoint for {interface}/{event} here", status_code=400
            )
        try:
            body = checked_batch(await request.body())
        except SchemaFailure as exc:
            return JSONResponse(f"MSG1001 - {exc.detail} at {exc.path}", status_code=400)
        try:
            results = parse_batch(body, now=datetime.now(UTC), perspective=Perspective.DIP)
        except RecursionError:
            return JSONResponse("MSG1001 - JSON nested too deeply", status_code=400)
        problems = []
        for index, result in enumerate(results):
            if not isinstance(result, Parsed):
                problems.append(
                    f"message {index}: {result.code.value} {result.error.detail} at {result.error.path}"
                )
            elif result.spec is not spec:
                problems.append(
                    f"message {index}: MSG1001 this endpoint validates {spec.interface_id} "
                    f"{spec.event_code}, not {result.spec.interface_id} {result.spec.event_code}"
                )
        if problems:
            return JSONResponse("; ".join(problems), status_code=400)
        return JSONResponse("Message OK", status_code=201)

    @app.get("/health", summary="The delivery backlog and the process id (no key needed)", tags=["Hub"])
    async def health() -> dict[str, object]:
        backlog = await asyncio.to_thread(hub.backlog)
        return {"status": "ok", "deliveries": backlog, "pid": os.getpid()}

    app.openapi = functools.partial(_openapi_without_422, app)  # type: ignore[method-assign]
    app.add_middleware(RequestGuard, max_body=config.max_body_bytes, body_timeout=config.body_timeout)
    app.add_middleware(AccessLog)
    return app


def _openapi_without_422(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, less the 422 it adds to every operation with parameters: the hub
    answers bad input 400 with a coded StandardResponse instead."""
    if app.openapi_schema is None:
        document = FastAPI.openapi(app)
        for operations in document["paths"].values():
            for operation in operations.values():
                operation.get("responses", {}).pop("422", None)
        schemas = document.get("components", {}).get("schemas", {})
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
        app.openapi_schema = document
    return app.openapi_schema


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


async def _deliver_status_forever(
    db: Database, config: ServeConfig, signer: Any, wake: asyncio.Event
) -> None:
    """Publish waiting status messages to their recipients' status webhooks, oldest first,
    until each webhook answers 2xx (retried every few seconds otherwise)."""
    async with httpx.AsyncClient(verify=client_tls(config, "hub"), timeout=config.delivery_timeout) as client:
        while True:
            for batch in await asyncio.to_thread(due_status, db):
                now = datetime.now(UTC)
                headers = {
                    **signer.headers(method="POST", url=batch.url, body=batch.body, now=now),
                    "Content-Type": "application/json",
                }
                try:
                    response = await client.post(batch.url, content=batch.body, headers=headers)
                except httpx.HTTPError:
                    continue
                if response.status_code in (200, 201, 207):
                    await asyncio.to_thread(status_delivered, db, batch.ids)
            await asyncio.sleep(1.0)
