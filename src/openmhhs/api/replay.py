"""Replay, requeue and status messages over the hub's message log and delivery queue: what a
participant that was down for days asks the DIP for.

* **Replay** (``POST /dip-channel/{id}/replay/{recipient-id}``): the messages published to the
  recipient on the channel that match a ``MessageRequest`` (time window on when the hub
  received them, event code, MPAN, transaction ids), returned in the answer as the DIP
  publishes them, with ``replayIndicator`` true.
* **Requeue** (``POST /dip-channel/{id}/requeue/{recipient-id}``): the same selection put back
  on the recipient's webhook queue: each is published again, as a replay, in the hub's order.
* **Status messages** (``POST /statusmessage``): StandardResponse items a participant sends
  about messages it received, kept for their ``recipientID`` until its status-message
  webhook (``/statusmessage/config/{recipient-id}``) takes them.

The selections are SQL queries with their limits in SQL; nothing loads the whole log.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
import sqlalchemy as sa

from openmhhs.dip.parse import SchemaFailure
from openmhhs.market.hub import HELD_SINCE, DueBatch, Hub, Outgoing
from openmhhs.store.compact import EVENT_CODES
from openmhhs.store.database import Database
from openmhhs.store.market_repo import stored_message
from openmhhs.store.tables import (
    delivery,
    delivery_attempt,
    message,
    status_message,
    status_webhook,
    webhook,
)

__all__ = [
    "MAX_REPLAY",
    "MessageRequest",
    "StatusBatch",
    "StatusItem",
    "configure_status_webhook",
    "due_status",
    "keep_status_messages",
    "message_request",
    "remove_status_webhook",
    "replay",
    "requeue",
    "status_delivered",
    "status_items",
]

MAX_REPLAY = 1000
"""Messages one replay returns at most (oldest first); ask again from the last one's time."""

_DATETIME = re.compile(r"\A\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}\Z")
_MPAN = re.compile(r"\A\d{13}\Z")
SCHEMA_VERSION = "011"


class _MessageRequestBody(msgspec.Struct, forbid_unknown_fields=True):
    """The spec's MessageRequest (every property required, most nullable)."""

    datetimeFrom: str | None  # noqa: N815 - the spec's names
    datetimeTo: str | None  # noqa: N815
    eventCode: str | None  # noqa: N815
    MPAN: str | None
    version: str | None
    transactionIDs: list[str] | None = None  # noqa: N815


@dataclass(frozen=True, slots=True)
class MessageRequest:
    """What a replay or requeue selects, checked."""

    after: datetime | None
    before: datetime | None
    event_code: str | None
    mpan: str | None
    transaction_ids: tuple[str, ...] | None


_REQUEST_NAMES = {name.lower(): name for name in _MessageRequestBody.__struct_encode_fields__}
_DECODE_REQUEST = msgspec.json.Decoder(_MessageRequestBody)


def _datetime(value: str | None, field: str) -> datetime | None:
    if value is None:
        return None
    if not _DATETIME.match(value):
        raise SchemaFailure(
            f"{field} must be a 25-character ISO 8601 date-time with offset", path=f"$.{field}"
        )
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise SchemaFailure(f"{field} {value!r} is not a real date-time", path=f"$.{field}") from None


def message_request(body: bytes) -> MessageRequest:
    """A MessageRequest body (field names in any case), or SchemaFailure (MSG1001)."""
    try:
        raw = msgspec.json.decode(body)
    except (msgspec.DecodeError, RecursionError):
        raise SchemaFailure("not valid JSON", path="$") from None
    if not isinstance(raw, dict):
        raise SchemaFailure("a MessageRequest is a JSON object", path="$")
    named = {_REQUEST_NAMES.get(str(k).lower(), str(k)): v for k, v in raw.items()}
    try:
        request = _DECODE_REQUEST.decode(msgspec.json.encode(named))
    except msgspec.ValidationError as exc:
        raise SchemaFailure(str(exc), path="$") from None
    if request.version is not None and request.version != SCHEMA_VERSION:
        raise SchemaFailure(f"version must be {SCHEMA_VERSION} (or null)", path="$.version")
    if request.MPAN is not None and not _MPAN.match(request.MPAN):
        raise SchemaFailure("MPAN must be 13 digits", path="$.MPAN")
    if request.eventCode is not None and not 1 <= len(request.eventCode) <= 50:
        raise SchemaFailure("eventCode must be 1 to 50 characters", path="$.eventCode")
    ids = request.transactionIDs
    if ids is not None and not (1 <= len(ids) <= 100 and all(len(i) <= 65 for i in ids)):
        raise SchemaFailure("transactionIDs must hold 1 to 100 ids of at most 65 characters", path="$")
    after = _datetime(request.datetimeFrom, "datetimeFrom")
    before = _datetime(request.datetimeTo, "datetimeTo")
    event = request.eventCode
    if event is not None and not event.startswith("["):
        event = f"[{event}]"
    return MessageRequest(after, before, event, request.MPAN, None if ids is None else tuple(ids))


def _selection(channel: str, recipient: str, request: MessageRequest) -> sa.Select[Any]:
    """Deliveries of ``channel``'s messages to ``recipient`` matching the request, oldest first."""
    query = (
        sa.select(delivery.c.id.label("delivery_id"), message)
        .join(message, message.c.id == delivery.c.message_id)
        .where(delivery.c.recipient == recipient, message.c.interface_id == channel)
    )
    if request.after is not None:
        query = query.where(message.c.received_at >= request.after)
    if request.before is not None:
        query = query.where(message.c.received_at < request.before)
    if request.event_code is not None:
        # Event codes are stored as numbers: match the catalogue's spelling, case ignored.
        wanted = request.event_code.lower()
        query = query.where(message.c.event_code.in_([c for c in EVENT_CODES if c.lower() == wanted]))
    if request.mpan is not None:
        query = query.where(message.c.mpan == request.mpan)
    if request.transaction_ids is not None:
        query = query.where(message.c.transaction_id.in_(request.transaction_ids))
    return query.order_by(delivery.c.id).limit(MAX_REPLAY)


def replay(hub: Hub, *, channel: str, recipient: str, request: MessageRequest, now: datetime) -> bytes | None:
    """The matching publications as a DIPMessageEgressArray (replays), or None when none match."""
    with hub.db.read() as connection:
        rows = connection.execute(_selection(channel, recipient, request)).all()
    if not rows:
        return None
    items = tuple(Outgoing(row.delivery_id, stored_message(row), replay=True) for row in rows)
    return hub.egress(DueBatch(recipient, channel, "", items), now=now)


def requeue(db: Database, *, channel: str, recipient: str, request: MessageRequest) -> int:
    """Put the matching publications back on the recipient's queue, to be published again as
    replays (held in its mailbox when it has no webhook for the channel). Those still waiting
    to be published are left as they are. Returns how many were requeued."""
    with db.begin() as connection:
        hooked = (
            connection.execute(
                sa.select(webhook.c.recipient).where(
                    webhook.c.recipient == recipient, webhook.c.channel == channel
                )
            ).first()
            is not None
        )
        selected = connection.execute(
            _selection(channel, recipient, request).add_columns(delivery.c.state)
        ).all()
        ids = [row.delivery_id for row in selected if row.state not in ("pending", "mailbox")]
        if not ids:
            return 0
        connection.execute(
            sa.update(delivery)
            .where(delivery.c.id.in_(ids))
            .values(
                state="pending" if hooked else "mailbox",
                processed_at=None,
                outcome_code=None,
                outcome_detail=None,
            )
        )
        connection.execute(sa.delete(delivery_attempt).where(delivery_attempt.c.delivery_id.in_(ids)))
        connection.execute(
            sa.insert(delivery_attempt),
            [
                {"delivery_id": i, "attempts": 1, "next_attempt_at": HELD_SINCE, "last_error": "requeued"}
                for i in ids
            ],
        )
    return len(ids)


# -- status messages ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class StatusBatch:
    """Status messages due to one recipient's status webhook."""

    recipient: str
    url: str
    ids: tuple[int, ...]
    body: bytes


_Text65 = msgspec.Meta(min_length=1, max_length=65)
_SUR = msgspec.Meta(
    min_length=1,
    max_length=200,
    pattern=r"^S-((IF|REP)-)?\d{3,4}-[0-9a-fA-F]{10}-[A-Z]{3,5}-\d{8}-[a-zA-Z0-9]+$",
)
_DipIdText = msgspec.Meta(min_length=10, max_length=10)


class StatusItem(msgspec.Struct, forbid_unknown_fields=True):
    """The spec's StandardResponseBodyType: every property required, most nullable."""

    transactionID: Annotated[str, _Text65] | None  # noqa: N815 - the spec's names
    senderUniqueReference: Annotated[str, _SUR] | None  # noqa: N815
    correlationID: Annotated[str, msgspec.Meta(min_length=1, max_length=60)] | None  # noqa: N815
    sentTimestamp: Annotated[str, msgspec.Meta(min_length=25, max_length=25)]  # noqa: N815
    senderID: Annotated[str, _DipIdText]  # noqa: N815
    recipientID: Annotated[str, _DipIdText] | None  # noqa: N815
    DIPConnectionProviderID: Annotated[str, _DipIdText] | None
    message: Annotated[str, msgspec.Meta(min_length=1, max_length=200)] | None
    help: Annotated[str, msgspec.Meta(min_length=1, max_length=500)] | None
    serviceTicketURL: Annotated[str, msgspec.Meta(min_length=1, max_length=250)] | None  # noqa: N815


_STATUS_NAMES = {name.lower(): name for name in StatusItem.__struct_encode_fields__}
_DECODE_STATUS = msgspec.json.Decoder(list[StatusItem])


def status_items(body: bytes) -> list[StatusItem]:
    """A StandardResponseArray (field names in any case), or SchemaFailure (MSG1001)."""
    try:
        raw = msgspec.json.decode(body)
    except (msgspec.DecodeError, RecursionError):
        raise SchemaFailure("not valid JSON", path="$") from None
    if not isinstance(raw, list) or not raw:
        raise SchemaFailure("the body must be a JSON array of at least one status message", path="$")
    named = [
        {_STATUS_NAMES.get(str(k).lower(), str(k)): v for k, v in item.items()}
        if isinstance(item, dict)
        else item
        for item in raw
    ]
    try:
        return _DECODE_STATUS.decode(msgspec.json.encode(named))
    except msgspec.ValidationError as exc:
        raise SchemaFailure(str(exc), path="$") from None


def keep_status_messages(db: Database, *, sender: str, items: Sequence[StatusItem], at: datetime) -> None:
    """Keep each status message for its recipient (``recipientID``)."""
    with db.begin() as connection:
        connection.execute(
            sa.insert(status_message),
            [
                {
                    "sender": sender,
                    "recipient": item.recipientID,
                    "body": msgspec.json.encode(item),
                    "received_at": at,
                    "state": "pending",
                }
                for item in items
            ],
        )


def configure_status_webhook(db: Database, *, recipient: str, url: str, max_messages: int) -> None:
    with db.begin() as connection:
        connection.execute(sa.delete(status_webhook).where(status_webhook.c.recipient == recipient))
        connection.execute(
            sa.insert(status_webhook),
            {"recipient": recipient, "callback_url": url, "max_messages": max_messages},
        )


def remove_status_webhook(db: Database, *, recipient: str) -> bool:
    with db.begin() as connection:
        done = connection.execute(sa.delete(status_webhook).where(status_webhook.c.recipient == recipient))
    return bool(done.rowcount)


def due_status(db: Database, *, busy: frozenset[str] = frozenset()) -> list[StatusBatch]:
    """For each recipient with a status webhook and status messages waiting, the oldest ones."""
    batches = []
    with db.read() as connection:
        hooks = connection.execute(
            sa.select(status_webhook).where(status_webhook.c.recipient.not_in(busy))
        ).all()
        for hook in hooks:
            rows = connection.execute(
                sa.select(status_message.c.id, status_message.c.body)
                .where(status_message.c.recipient == hook.recipient, status_message.c.state == "pending")
                .order_by(status_message.c.id)
                .limit(hook.max_messages)
            ).all()
            if rows:
                body = b"[" + b",".join(bytes(r.body) for r in rows) + b"]"
                batches.append(
                    StatusBatch(hook.recipient, hook.callback_url, tuple(r.id for r in rows), body)
                )
    return batches


def status_delivered(db: Database, ids: Sequence[int]) -> None:
    with db.begin() as connection:
        connection.execute(
            sa.update(status_message)
            .where(status_message.c.id.in_(list(ids)), status_message.c.state == "pending")
            .values(state="done", delivered_at=datetime.now(UTC))
        )
