"""A participant as an HTTP service: its webhook, where the hub publishes to it, and the loops
that register that webhook, send its outbox to the hub and run its day's work.

* ``POST /webhook``: the hub's signed publications (``[{"payload": …}]``), each applied once
  (StandardResponse 201; 207 when some were refused).
* ``GET /inbox?after=N``: what the participant has received, in order (for its own systems
  and the hub's operator).
* ``POST /send``: messages the participant's own systems want sent (e.g. a supplier's
  IF-031), queued in its outbox; only the participant itself may queue them.

``/inbox`` and ``/send`` need the participant's own API key (the operator's, for ``/inbox``)
with its own client certificate (``api.identity``); coded refusals otherwise (401/403).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

from openmhhs.api.access_log import AccessLog, remember_caller
from openmhhs.api.config import ServeConfig, client_tls
from openmhhs.api.docs import docs_router
from openmhhs.api.guard import RequestGuard
from openmhhs.api.identity import Caller, NotEntitled, Refusal, identify, peer_dip_id
from openmhhs.api.responses import DIP_PARTICIPANT_ID, response_item, standard_response
from openmhhs.api.signing import SignatureInvalid, signer_for, verifier_for, verify_request
from openmhhs.clock import now as clock_now
from openmhhs.clock import today as clock_today
from openmhhs.codes import ResponseCode
from openmhhs.dip.catalogue import EVENTS
from openmhhs.dip.parse import MessageRejected, decode_batch, parse, unwrap
from openmhhs.dip.signing import Signer
from openmhhs.ids import DipId
from openmhhs.market.node import Node
from openmhhs.store.database import Database

__all__ = ["create_node_app"]

log = logging.getLogger("openmhhs.node")


def create_node_app(
    config: ServeConfig, dip_id: str, *, only: set[str] | None = None, loops: bool = True
) -> FastAPI:
    """``only``: the DIP roles to run, when not all those the participant holds."""
    db = Database(config.database)
    db.migrate()
    node = Node(db, dip_id=DipId(dip_id), only=only)
    verifier = verifier_for(config)
    signer = signer_for(config, dip_id)
    api_key = config.node(dip_id).api_key
    own_url = f"{config.node_url(dip_id)}/webhook"
    worked = asyncio.Event()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        tasks = []
        if loops:
            client = httpx.AsyncClient(verify=client_tls(config, dip_id), timeout=15)
            tasks = [
                asyncio.create_task(_register(client, config, node, signer, api_key, own_url)),
                asyncio.create_task(_send_forever(client, config, node, signer, api_key)),
                asyncio.create_task(_daily_forever(node, worked)),
            ]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if loops:
                await client.aclose()
            db.dispose()

    title = f"openmhhs participant {dip_id}"
    app = FastAPI(title=title, version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.include_router(docs_router(title=title))

    @app.post("/webhook")
    async def webhook(request: Request) -> Response:
        try:
            body, verified = await verify_request(request, verifier, expected="hub")
            remember_caller(request.scope, verified.dip_id or "-")
        except SignatureInvalid as exc:
            return JSONResponse({"message": f"{exc.code.value} - {exc.detail}"}, status_code=401)
        results = await asyncio.to_thread(
            node.receive, body, today=clock_today(), now=clock_now(), signed_by=verified.dip_id
        )
        sent = datetime.now(UTC)
        items = [
            response_item(
                code=r.code,
                detail=r.detail,
                sender=dip_id,
                recipient=DIP_PARTICIPANT_ID,
                sent=sent,
                transaction_id=r.transaction_id,
                reference=r.sender_unique_reference,
            )
            for r in results
        ]
        if any(r.applied for r in results):
            worked.set()
        refused = [r for r in results if r.code not in (ResponseCode.RCP0000, ResponseCode.OMH0503)]
        return standard_response(items, status=207 if refused else 201)

    def caller_of(request: Request) -> Caller:
        caller = identify(
            api_key=request.headers.get("x-api-key"),
            keys={api_key: dip_id},
            operator_key=config.operator_key or None,
            peer=peer_dip_id(request.scope),
        )
        remember_caller(request.scope, caller.dip_id)
        return caller

    @app.exception_handler(RequestValidationError)
    async def invalid_input(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid"}
        where = ".".join(str(p) for p in first["loc"])
        return standard_response([_answer(ResponseCode.MSG1001, f"{where}: {first['msg']}")], status=400)

    @app.exception_handler(Refusal)
    async def refused(request: Request, exc: Refusal) -> Response:
        return standard_response([_answer(exc.code, exc.detail)], status=exc.status)

    def _answer(code: ResponseCode, detail: str) -> dict[str, object]:
        return response_item(code=code, detail=detail, sender=dip_id, recipient=None, sent=datetime.now(UTC))

    @app.get("/inbox")
    async def inbox(request: Request, after: int = 0) -> list[dict[str, object]]:
        caller_of(request)  # the participant itself or the operator
        return await asyncio.to_thread(node.inbox, after=after)

    @app.post("/send")
    async def send(request: Request) -> Response:
        """Queue messages from the participant's own systems."""
        if not caller_of(request).may_act_for(dip_id):
            raise NotEntitled(f"only {dip_id} itself may queue its messages")
        body = await request.body()
        try:
            messages = [parse(unwrap(raw), now=None).message for raw in decode_batch(body)]
        except MessageRejected as exc:
            return standard_response([_answer(exc.code, f"{exc.detail} at {exc.path}")], status=400)
        except RecursionError:
            return standard_response([_answer(ResponseCode.MSG1001, "JSON nested too deeply")], status=400)
        await asyncio.to_thread(node.send_own, messages, now=datetime.now(UTC))
        return JSONResponse({"queued": len(messages)}, status_code=202)

    @app.get("/health")
    async def health() -> dict[str, object]:
        return {
            "status": "ok",
            "dip_id": dip_id,
            "roles": sorted(node.roles),
            "pid": os.getpid(),
            "duplicates": node.duplicates,
        }

    app.add_middleware(RequestGuard, max_body=config.max_body_bytes, body_timeout=config.body_timeout)
    app.add_middleware(AccessLog)
    return app


def _channels(node: Node) -> list[str]:
    node.participants(clock_today())
    roles = node.roles
    return sorted({spec.interface_id for spec in EVENTS.values() if spec.recipients & roles})


async def _signed_post(
    client: httpx.AsyncClient, signer: Signer, api_key: str, url: str, body: bytes
) -> httpx.Response:
    headers = {
        **signer.headers(method="POST", url=url, body=body, now=datetime.now(UTC)),
        "X-API-Key": api_key,
        "Content-Type": "application/json",
    }
    return await client.post(url, content=body, headers=headers)


async def _register(
    client: httpx.AsyncClient, config: ServeConfig, node: Node, signer: Signer, api_key: str, url: str
) -> None:
    """Configure this participant's webhook for every channel its roles receive."""
    pending = await asyncio.to_thread(_channels, node)
    while pending:
        channel = pending[0]
        target = f"{config.hub_url}/dip-channel/{channel}/pubconfig/{node.dip_id}"
        try:
            response = await _signed_post(client, signer, api_key, target, orjson.dumps({"callbackURL": url}))
            if response.status_code == 201:
                pending.pop(0)
                continue
            log.warning("pubconfig %s refused: %s %s", channel, response.status_code, response.text[:200])
        except httpx.HTTPError:
            pass
        await asyncio.sleep(0.2)


async def _send_forever(
    client: httpx.AsyncClient, config: ServeConfig, node: Node, signer: Signer, api_key: str
) -> None:
    """Send the outbox to the hub, oldest first, channel by channel, until each is accepted."""
    while True:
        pending = await asyncio.to_thread(node.outbox)
        if not pending:
            await asyncio.sleep(0.05)
            continue
        by_channel: dict[str, list[tuple[int, bytes]]] = defaultdict(list)
        first_channel = pending[0][1]
        for outbox_id, channel, body in pending:
            if channel == first_channel:
                by_channel[channel].append((outbox_id, body))
            else:
                break  # keep order: one channel's run at a time
        for channel, items in by_channel.items():
            body = b"[" + b",".join(b'{"payload":' + raw + b"}" for _, raw in items) + b"]"
            url = f"{config.hub_url}/dip-channel/{channel}"
            try:
                response = await _signed_post(client, signer, api_key, url, body)
            except httpx.HTTPError:
                await asyncio.sleep(0.5)
                continue
            if response.status_code in (201, 207, 400):
                answers = response.json().get("messageArray", [])
                outcomes = [
                    (outbox_id, str(answer.get("message") or "").split(" ", 1)[0])
                    for (outbox_id, _), answer in zip(items, answers, strict=False)
                ]
                await asyncio.to_thread(node.settle, outcomes)
            else:
                await asyncio.sleep(0.5)


async def _daily_forever(node: Node, worked: asyncio.Event) -> None:
    """The day's work (the RS's activations and lapses): at start-up, after each publication
    applied (an appointment accepted for today activates at once), and every few seconds so
    that a new UK day is noticed. It is idempotent; a failure is retried on the next round."""
    while True:
        worked.clear()
        try:
            await asyncio.to_thread(node.daily, today=clock_today(), now=clock_now())
        except Exception:
            log.exception("daily work failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(worked.wait(), timeout=5.0)
