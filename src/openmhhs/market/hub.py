"""The DIP hub: accepts signed batches from participants and publishes each message to its
recipients' webhooks, at least once, in order per recipient and MPAN, surviving outages and
crashes.

Accepting a batch and queueing its publications is one transaction, so a message the hub
has answered MSG0000 for is never lost, and a batch sent again after a crash is answered
MSG1006 for what was already accepted. Publications wait in the delivery table until the
recipient's webhook answers 2xx; a failed attempt is retried with exponential back-off and
the retry is marked as a replay (D0 ``replayIndicator``). Deliveries to one recipient for
one MPAN go in order: while the oldest is waiting to be retried, none after it for that
MPAN is sent, and the recipient's other MPANs go on. What the recipient answers with a
code other than RCP0000, or keeps failing on, is parked (``failed``/``refused``, with the
code and reason) and can be requeued. Messages for a recipient with no webhook wait in
its mailbox until it registers one (``pubconfig``), and are then replayed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import sqlalchemy as sa

from openmhhs.codes import ResponseCode
from openmhhs.dip.build import fill_d0, interface_number
from openmhhs.dip.catalogue import INTERFACES
from openmhhs.dip.parse import (
    InterfaceInvalid,
    MessageRejected,
    Parsed,
    Perspective,
    SenderDipIdInvalid,
    parse,
    parse_batch,
)
from openmhhs.dip.schema import DipMessageStruct
from openmhhs.failpoints import failpoint
from openmhhs.ids import DipId, InvalidDipId
from openmhhs.market.ingress import admit
from openmhhs.store.database import Database
from openmhhs.store.identity_repo import load_isd
from openmhhs.store.market_repo import PARKED_STATES, MarketStore, StoredMessage
from openmhhs.store.ports import MessageRepository
from openmhhs.store.tables import delivery, delivery_attempt, message, webhook
from openmhhs.store.unit_of_work import SqlUnitOfWork

__all__ = ["Accepted", "DueBatch", "Hub"]

MAX_BACKOFF = timedelta(seconds=30)
DUE_WINDOW = 500
"""How many of a recipient's oldest pending deliveries one look at its queue considers."""
ISOLATE_AFTER = 3
"""After this many failed attempts a delivery is published on its own."""
PARK_AFTER = 8
"""A delivery the recipient answers with a server error this many times running is parked."""
PARKED = PARKED_STATES
_CODE = re.compile(r"[A-Z]{3}[0-9]{4}\Z")
ACCEPTED_ANSWERS = frozenset({"RCP0000", "OMH0503"})
"""A recipient's item codes meaning it took the publication (OMH0503: not simulated there)."""
HELD_SINCE = datetime(2000, 1, 1, tzinfo=UTC)
"""Marks a publication that waited in a mailbox: due at once, and published as a replay."""


@dataclass(frozen=True, slots=True)
class Accepted:
    """The hub's answer to one submitted message (a StandardResponse item)."""

    code: ResponseCode
    detail: str
    sender_unique_reference: str | None
    correlation_id: str | None
    transaction_id: str | None
    sender: str | None
    path: str | None = None

    @property
    def ok(self) -> bool:
        return self.code is ResponseCode.MSG0000


@dataclass(frozen=True, slots=True)
class Outgoing:
    delivery_id: int
    message: StoredMessage
    replay: bool


@dataclass(frozen=True, slots=True)
class DueBatch:
    """Publications due to one recipient's webhook, oldest first."""

    recipient: str
    channel: str
    url: str
    items: tuple[Outgoing, ...]


class _Directory:
    def __init__(self, db: Database) -> None:
        with db.read() as connection:
            self.isd = load_isd(connection)

    def roles_of(self, dip_id: str, *, on: object) -> set[str]:
        from openmhhs.identity.translation import moment_of  # noqa: PLC0415

        at = moment_of(on)  # type: ignore[arg-type]
        return (
            {str(e.dip_role) for e in self.isd.for_dip_id(DipId(dip_id)) if e.effective_at(at)}
            if _is_dip_id(dip_id)
            else set()
        )


def _is_dip_id(value: str) -> bool:
    try:
        DipId(value)
    except InvalidDipId:
        return False
    return True


def _answered_with_error(error: str | None) -> bool:
    """The recipient was reached and answered a server error (not: could not be reached)."""
    return (error or "").startswith("HTTP 5")


def publication_id(interface_id: str) -> str:
    """DI-986: e.g. ``PUB-031``."""
    return f"PUB-{interface_number(interface_id)}"


class Hub:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.directory = _Directory(db)

    def reload(self) -> None:
        self.directory = _Directory(self.db)

    # -- ingress -------------------------------------------------------------------------------
    def accept(self, data: bytes, *, channel: str, signer: str | None, at: datetime) -> list[Accepted]:
        """Check and queue a batch submitted on ``channel`` by the holder of ``signer``'s
        certificate. One transaction for the whole batch."""
        answers: list[Accepted] = []
        try:
            items = parse_batch(data, now=at, perspective=Perspective.DIP)
        except MessageRejected as exc:  # not an array of messages at all (e.g. nested too deep)
            return [Accepted(exc.code, exc.detail, None, None, None, None, exc.path)]
        with self.db.begin() as connection:
            messages = SqlUnitOfWork(connection).messages
            hooks = self._webhooks(connection)
            for item in items:
                if not isinstance(item, Parsed):
                    answers.append(
                        Accepted(
                            item.code,
                            item.error.detail,
                            item.sender_unique_reference,
                            None,
                            None,
                            None,
                            item.error.path,
                        )
                    )
                    continue
                answers.append(self._accept_one(messages, hooks, item, channel=channel, signer=signer, at=at))
            failpoint("hub.accept.before-commit")
        failpoint("hub.accept.after-commit")
        return answers

    def _accept_one(
        self,
        messages: MessageRepository,
        hooks: dict[tuple[str, str], str],
        item: Parsed,
        *,
        channel: str,
        signer: str | None,
        at: datetime,
    ) -> Accepted:
        common = item.message.common_block  # type: ignore[attr-defined]
        s1 = common.s1
        reference, correlation = s1.sender_unique_reference, s1.sender_correlation_id
        try:
            if item.spec.interface_id != channel:
                raise InterfaceInvalid(
                    f"a {item.spec.interface_id} message cannot be submitted on channel {channel}",
                    path="$.CommonBlock.S0.interfaceID",
                )
            acting = {s1.sender_dip_id, s1.dip_connection_provider_id} - {None}
            if signer is not None and signer not in acting:
                raise SenderDipIdInvalid(
                    f"the request is signed by {signer}, not by the sender {s1.sender_dip_id}",
                    path="$.CommonBlock.S1.senderDIPID",
                )
        except MessageRejected as exc:
            return Accepted(exc.code, exc.detail, reference, correlation, None, s1.sender_dip_id, exc.path)
        admission = admit(
            messages,
            item,
            directory=self.directory,
            at=at,
            origin="dip",
            route=lambda recipient: "pending" if (recipient, channel) in hooks else "mailbox",
            extra=self._secondary(item, at),
        )
        if not admission.accepted:
            return Accepted(
                admission.code,
                admission.detail,
                reference,
                correlation,
                None,
                s1.sender_dip_id,
                admission.path,
            )
        return Accepted(
            ResponseCode.MSG0000,
            "accepted",
            reference,
            correlation,
            admission.transaction_id,
            s1.sender_dip_id,
        )

    def _secondary(self, item: Parsed, at: datetime) -> list[str]:
        """Recipients the DIP adds: the MPAN's distributor learns which services took effect."""
        if item.spec.interface_id != "IF-036":
            return []
        distributor = item.message.common_block.m0.distributor_dip_id  # type: ignore[attr-defined]
        primary = item.message.common_block.a0.primary_recipients  # type: ignore[attr-defined]
        if distributor in primary or "LDSO" not in self.directory.roles_of(distributor, on=at):
            return []
        return [distributor]

    # -- publications configuration ------------------------------------------------------------
    def _webhooks(self, connection: sa.Connection) -> dict[tuple[str, str], str]:
        return {(r.recipient, r.channel): r.callback_url for r in connection.execute(sa.select(webhook))}

    def register_webhook(self, *, recipient: str, channel: str, url: str, max_messages: int = 50) -> int:
        """Configure (or replace) a recipient's webhook for a channel; messages waiting in its
        mailbox for that channel become due, as replays. Returns how many."""
        if channel not in INTERFACES:
            raise ValueError(f"channel {channel} is not one openmhhs publishes")
        with self.db.begin() as connection:
            connection.execute(
                sa.delete(webhook).where(webhook.c.recipient == recipient, webhook.c.channel == channel)
            )
            connection.execute(
                sa.insert(webhook),
                {
                    "recipient": recipient,
                    "channel": channel,
                    "callback_url": url,
                    "max_messages": max_messages,
                },
            )
            waiting = (
                connection.execute(
                    sa.select(delivery.c.id)
                    .join(message, message.c.id == delivery.c.message_id)
                    .where(
                        delivery.c.recipient == recipient,
                        delivery.c.state == "mailbox",
                        message.c.interface_id == channel,
                    )
                )
                .scalars()
                .all()
            )
            if waiting:
                connection.execute(
                    sa.update(delivery).where(delivery.c.id.in_(waiting)).values(state="pending")
                )
                connection.execute(
                    sa.insert(delivery_attempt),
                    [
                        {
                            "delivery_id": i,
                            "attempts": 1,
                            "next_attempt_at": HELD_SINCE,
                            "last_error": "held in mailbox",
                        }
                        for i in waiting
                    ],
                )
        return len(waiting)

    def remove_webhook(self, *, recipient: str, channel: str) -> bool:
        with self.db.begin() as connection:
            done = connection.execute(
                sa.delete(webhook).where(webhook.c.recipient == recipient, webhook.c.channel == channel)
            )
        return bool(done.rowcount)

    # -- egress ----------------------------------------------------------------------------------
    def due(
        self, *, now: datetime, busy: frozenset[str] = frozenset(), limit_recipients: int = 50
    ) -> list[DueBatch]:
        """For each recipient with publications pending, its oldest ones that may go now.

        Order is kept per MPAN, not for the recipient's whole queue: while a delivery backs
        off, later ones for the same MPAN wait, and every other MPAN's go on. A delivery that
        the recipient answered with a server error ``ISOLATE_AFTER`` times goes alone, so
        that one message it cannot take never holds a batch of others (after an outage, when
        it could not be reached at all, batches stay full).
        """
        batches: list[DueBatch] = []
        orphaned: list[int] = []
        with self.db.read() as connection:
            hooks = {
                (r.recipient, r.channel): (r.callback_url, r.max_messages)
                for r in connection.execute(sa.select(webhook))
            }
            recipients = (
                connection.execute(
                    sa.select(delivery.c.recipient)
                    .where(delivery.c.state == "pending", delivery.c.recipient.not_in(busy))
                    .distinct()
                    .limit(limit_recipients)
                )
                .scalars()
                .all()
            )
            store = MarketStore(connection)
            for recipient in recipients:
                rows = connection.execute(
                    sa.select(
                        delivery.c.id,
                        delivery.c.message_id,
                        message.c.mpan,
                        message.c.interface_id,
                        delivery_attempt.c.attempts,
                        delivery_attempt.c.next_attempt_at,
                        delivery_attempt.c.last_error,
                    )
                    .join(message, message.c.id == delivery.c.message_id)
                    .outerjoin(delivery_attempt, delivery_attempt.c.delivery_id == delivery.c.id)
                    .where(delivery.c.recipient == recipient, delivery.c.state == "pending")
                    .order_by(delivery.c.id)
                    .limit(DUE_WINDOW)
                ).all()
                chosen, channel, url = self._choose(recipient, rows, hooks, now, orphaned)
                if chosen and channel and url:
                    stored = {m.id: m for m in store.messages_by_id([r.message_id for r in chosen])}
                    items = tuple(Outgoing(r.id, stored[r.message_id], bool(r.attempts)) for r in chosen)
                    batches.append(DueBatch(recipient, channel, url, items))
        if orphaned:
            with self.db.begin() as connection:
                connection.execute(
                    sa.update(delivery)
                    .where(delivery.c.id.in_(orphaned), delivery.c.state == "pending")
                    .values(state="mailbox")
                )
        return batches

    @staticmethod
    def _choose(
        recipient: str,
        rows: Sequence[Any],
        hooks: dict[tuple[str, str], tuple[str, int]],
        now: datetime,
        orphaned: list[int],
    ) -> tuple[list[Any], str | None, str | None]:
        """The deliveries of one batch: one channel, oldest first, none overtaking an earlier
        delivery of its MPAN that is not in the batch."""
        chosen: list[Any] = []
        held: set[str | None] = set()  # MPANs with an earlier delivery that is not going now
        channel: str | None = None
        url: str | None = None
        for row in rows:
            if row.mpan in held:
                continue
            hook = hooks.get((recipient, row.interface_id))
            if hook is None:  # webhook removed meanwhile: back to the mailbox
                orphaned.append(row.id)
                held.add(row.mpan)
                continue
            backing_off = row.next_attempt_at is not None and row.next_attempt_at > now
            other_channel = channel is not None and row.interface_id != channel
            if backing_off or other_channel:
                held.add(row.mpan)
                continue
            if (row.attempts or 0) >= ISOLATE_AFTER and _answered_with_error(row.last_error):
                if not chosen:  # a delivery that keeps failing goes on its own
                    return [row], row.interface_id, hook[0]
                held.add(row.mpan)
                continue
            if channel is None:
                channel, url = row.interface_id, hook[0]
            chosen.append(row)
            if len(chosen) >= hook[1]:
                break
        return chosen, channel, url

    def egress(self, batch: DueBatch, *, now: datetime) -> bytes:
        """The publication body: ``[{"payload": message with D0}, …]``."""
        payloads = []
        for item in batch.items:
            stored = item.message
            parsed: DipMessageStruct = parse(stored.body, now=None).message
            published = fill_d0(
                parsed,
                transaction_id=stored.transaction_id,
                timestamp=now,
                publication_id=publication_id(stored.interface_id),
                initial_correlation_id=stored.correlation_id,
                replay=item.replay,
            )
            payloads.append({"payload": published})
        return msgspec.json.encode(payloads, enc_hook=str)

    def delivered(self, delivery_ids: Sequence[int], *, now: datetime) -> int:
        """Mark pending deliveries done; returns how many were still pending."""
        with self.db.begin() as connection:
            done = connection.execute(
                sa.update(delivery)
                .where(delivery.c.id.in_(list(delivery_ids)), delivery.c.state == "pending")
                .values(state="done", processed_at=now)
            )
        return int(done.rowcount)

    def refused(
        self, delivery_ids: Sequence[int], *, now: datetime, code: str, detail: str, state: str = "refused"
    ) -> None:
        """The recipient refused them for good (a 4xx other than 408/429, or a coded refusal
        in its answer): not retried; ``failed`` ones may be requeued after a fix."""
        with self.db.begin() as connection:
            connection.execute(
                sa.update(delivery)
                .where(delivery.c.id.in_(list(delivery_ids)), delivery.c.state == "pending")
                .values(state=state, processed_at=now, outcome_code=code[:7], outcome_detail=detail[:2000])
            )

    def settle(self, batch: DueBatch, answer: bytes, *, now: datetime) -> None:
        """Record the recipient's StandardResponse to a publication it took (2xx): each item
        answered RCP0000 is done; one refused is parked with its code and reason (``failed``
        if its handling failed, RCP1000, else ``refused``), so it never blocks the others."""
        by_transaction = {item.message.transaction_id: item.delivery_id for item in batch.items}
        parked: dict[int, tuple[str, str]] = {}
        try:
            decoded = msgspec.json.decode(answer)
        except (msgspec.DecodeError, RecursionError):
            decoded = None
        items = decoded.get("messageArray") if isinstance(decoded, dict) else None
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, dict):
                continue
            said = str(item.get("message") or "")
            code = said.split(" ", 1)[0]
            delivery_id = by_transaction.get(str(item.get("transactionID")))
            if delivery_id is not None and _CODE.match(code) and code not in ACCEPTED_ANSWERS:
                parked[delivery_id] = (code, " ".join([said, str(item.get("help") or "")]).strip())
        for delivery_id, (code, detail) in parked.items():
            state = "failed" if code == ResponseCode.RCP1000.value else "refused"
            self.refused([delivery_id], now=now, code=code, detail=detail, state=state)
        self.delivered([i.delivery_id for i in batch.items if i.delivery_id not in parked], now=now)

    def retry_later(self, delivery_ids: Sequence[int], *, now: datetime, error: str) -> None:
        """Back off and retry. A delivery sent alone that the recipient answered with a
        server error ``PARK_AFTER`` times is parked as failed (replayable); one that could not
        be sent at all (recipient down) is retried for as long as the outage lasts."""
        with self.db.begin() as connection:
            existing = {
                r.delivery_id: r.attempts
                for r in connection.execute(
                    sa.select(delivery_attempt).where(delivery_attempt.c.delivery_id.in_(list(delivery_ids)))
                )
            }
            for delivery_id in delivery_ids:
                attempts = existing.get(delivery_id, 0) + 1
                wait = min(MAX_BACKOFF, timedelta(milliseconds=250 * 2 ** min(attempts, 10)))
                values = {"attempts": attempts, "next_attempt_at": now + wait, "last_error": error[:2000]}
                if delivery_id in existing:
                    connection.execute(
                        sa.update(delivery_attempt)
                        .where(delivery_attempt.c.delivery_id == delivery_id)
                        .values(**values)
                    )
                else:
                    connection.execute(sa.insert(delivery_attempt), {"delivery_id": delivery_id, **values})
                if len(delivery_ids) == 1 and attempts >= PARK_AFTER and _answered_with_error(error):
                    connection.execute(
                        sa.update(delivery)
                        .where(delivery.c.id == delivery_id, delivery.c.state == "pending")
                        .values(
                            state="failed",
                            processed_at=now,
                            outcome_code=ResponseCode.MSG1000.value,
                            outcome_detail=f"recipient answered {error} {attempts} times"[:2000],
                        )
                    )

    def requeue(self, delivery_ids: Sequence[int]) -> int:
        """Deliver parked (failed or refused) deliveries again, as replays; returns how many."""
        with self.db.begin() as connection:
            ids = MarketStore(connection).requeue_parked(delivery_ids)
            if not ids:
                return 0
            connection.execute(
                sa.insert(delivery_attempt),
                [
                    {"delivery_id": i, "attempts": 1, "next_attempt_at": HELD_SINCE, "last_error": "requeued"}
                    for i in ids
                ],
            )
        return len(ids)

    def parked(self, *, limit: int = 100) -> list[tuple[int, str, str, str | None, str | None]]:
        """Deliveries set aside: (id, recipient, state, code, reason), oldest first."""
        with self.db.read() as connection:
            rows = connection.execute(
                sa.select(
                    delivery.c.id,
                    delivery.c.recipient,
                    delivery.c.state,
                    delivery.c.outcome_code,
                    delivery.c.outcome_detail,
                )
                .where(delivery.c.state.in_(PARKED))
                .order_by(delivery.c.id)
                .limit(limit)
            ).all()
        return [(r[0], r[1], r[2], r[3], r[4]) for r in rows]

    def backlog(self) -> dict[str, int]:
        with self.db.read() as connection:
            return {
                str(state): int(n)
                for state, n in connection.execute(
                    sa.select(delivery.c.state, sa.func.count()).group_by(delivery.c.state)
                )
            }
