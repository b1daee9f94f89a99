"""One participant (a DIP ID and the roles openmhhs simulates for it) as a service behind
its own webhook.

A publication is applied exactly once: its DIP transaction id is recorded in the node's
inbox in the same transaction as its effects and the messages the participant sends in
answer, which go to the node's outbox. A replayed or repeated publication finds its
transaction id already there and changes nothing. The outbox is sent to the hub until the
hub has accepted each message (MSG0000), or says it already has it (MSG1006).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

import msgspec
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from openmhhs.codes import ResponseCode
from openmhhs.dip.parse import MessageRejected, Parsed, Perspective, encode, parse, unwrap
from openmhhs.dip.participant import Context, Delivered, Participant
from openmhhs.dip.schema import D0, DipMessageStruct
from openmhhs.ids import DipId
from openmhhs.market.bus import participants_for, roles_on
from openmhhs.market.ingress import INFRASTRUCTURE, deliver, inadmissible, refusals
from openmhhs.registration.rules import RsSettings
from openmhhs.store.database import Database
from openmhhs.store.identity_repo import load_isd
from openmhhs.store.tables import node_inbox, node_outbox
from openmhhs.store.unit_of_work import SqlUnitOfWork

__all__ = ["SIMULATED", "Node", "Received"]

SIMULATED = frozenset({"REGS", "SDS", "SMS", "SUP", "DCC", "MDR"})
"""The DIP roles openmhhs runs as participants (others, e.g. LDSO, only receive)."""


@dataclass(frozen=True, slots=True)
class Received:
    """What the node says of one publication (a StandardResponse item)."""

    transaction_id: str | None
    sender_unique_reference: str | None
    code: ResponseCode
    detail: str
    applied: bool


class Node:
    def __init__(
        self,
        db: Database,
        *,
        dip_id: DipId,
        settings: RsSettings | None = None,
        only: set[str] | None = None,
    ) -> None:
        self.db = db
        self.dip_id = dip_id
        self.only = only
        self.duplicates = 0
        """Publications received again after being applied (since this object was made)."""
        self.failures = 0
        """Publications whose handling raised (answered RCP1000, not applied)."""
        self.settings = settings or RsSettings()
        self._participants: list[Participant] | None = None
        self._day: date | None = None

    def participants(self, today: date) -> list[Participant]:
        if self._participants is None or self._day != today:
            with self.db.read() as connection:
                isd = load_isd(connection)
            roles = roles_on(isd, today)
            dcc = next((DipId(d) for d, r in sorted(roles.items()) if "DCC" in r), None)
            self._participants = participants_for(
                self.dip_id,
                roles.get(str(self.dip_id), set()) & (self.only or SIMULATED),
                dcc=dcc,
                settings=self.settings,
                prefix=secrets.token_hex(3),
            )
            self._isd = isd
            self._day = today
        return self._participants

    @property
    def roles(self) -> set[str]:
        return {role for p in self._participants or [] for role in p.roles}

    def context(self, today: date, now: datetime) -> Context:
        self.participants(today)
        return Context(today=today, now=now, isd=self._isd)

    # -- publications in -------------------------------------------------------------------------
    def receive(self, data: bytes, *, today: date, now: datetime, signed_by: str | None) -> list[Received]:
        """Apply each publication of a webhook call once, in order."""
        from openmhhs.dip.parse import decode_batch  # noqa: PLC0415

        results: list[Received] = []
        participants = self.participants(today)
        ctx = self.context(today, now)
        try:
            raws = decode_batch(data)
        except MessageRejected as exc:  # not an array of publications at all
            return [Received(None, None, exc.recipient_code, exc.detail, False)]
        for raw in raws:
            results.append(self._receive_one(unwrap(raw), participants, ctx, signed_by))
        return results

    def _receive_one(
        self, raw: bytes, participants: list[Participant], ctx: Context, signed_by: str | None
    ) -> Received:
        try:
            parsed = parse(raw, now=None, perspective=Perspective.RECIPIENT)
        except MessageRejected as exc:
            return Received(None, None, exc.code, exc.detail, False)
        common = parsed.message.common_block  # type: ignore[attr-defined]
        d0 = common.d0
        reference = common.s1.sender_unique_reference
        if not isinstance(d0, D0):
            return Received(
                None, reference, ResponseCode.RCP1043, "a publication carries D0 (DIP transaction id)", False
            )
        delivered = Delivered(parsed.message, parsed.spec, d0.transaction_id, common.s1.sender_dip_id)
        receivers = [p for p in participants if p.roles & parsed.spec.recipients]
        problem = inadmissible(parsed.message)
        if problem is not None:
            # Refused for good: recorded as received (a replay changes nothing) with the
            # sender's rejection message, in one transaction.
            return self._settle_refused(
                raw, parsed, receivers, delivered, ctx, signed_by, problem.code, problem.detail
            )
        try:
            return self._apply(raw, parsed, receivers, delivered, ctx, signed_by)
        except INFRASTRUCTURE:
            raise  # the database, not the message: the hub retries later
        except Exception as exc:
            # Nothing of the handler's work is kept (its transaction rolled back) and the
            # publication is not marked received, so a replay after a fix applies it. The hub
            # gets RCP1000; no business rejection is sent, since the message is not refused.
            reason = f"{type(exc).__name__}: {exc}"[:2000]
            self.failures += 1
            return Received(d0.transaction_id, reference, ResponseCode.RCP1000, reason, False)

    def _record(
        self, connection: sa.Connection, raw: bytes, parsed: Parsed, ctx: Context, signed_by: str | None
    ) -> bool:
        """Record the publication in the inbox; False if it was received before."""
        common = parsed.message.common_block  # type: ignore[attr-defined]
        seq = connection.execute(
            sa.select(sa.func.coalesce(sa.func.max(node_inbox.c.sequence), 0)).where(
                node_inbox.c.dip_id == str(self.dip_id)
            )
        ).scalar_one()
        try:
            with connection.begin_nested():
                connection.execute(
                    sa.insert(node_inbox),
                    {
                        "dip_id": str(self.dip_id),
                        "transaction_id": common.d0.transaction_id,
                        "sequence": int(seq) + 1,
                        "sender_unique_reference": common.s1.sender_unique_reference,
                        "interface_id": parsed.spec.interface_id,
                        "event_code": parsed.spec.event_code,
                        "mpan": common.m0.mpan_core,
                        "replay": common.d0.replay_indicator,
                        "received_at": ctx.now,
                        "body": raw,
                        "signed_by": signed_by,
                    },
                )
        except IntegrityError:
            self.duplicates += 1
            return False
        return True

    def _settle_refused(
        self,
        raw: bytes,
        parsed: Parsed,
        receivers: list[Participant],
        delivered: Delivered,
        ctx: Context,
        signed_by: str | None,
        code: ResponseCode,
        detail: str,
    ) -> Received:
        reference = delivered.message.common_block.s1.sender_unique_reference  # type: ignore[attr-defined]
        with self.db.begin() as connection:
            if self._record(connection, raw, parsed, ctx, signed_by):
                self._queue(connection, refusals(receivers, delivered, ctx, code, detail), ctx.now)
        return Received(delivered.transaction_id, reference, code, detail, False)

    def _apply(
        self,
        raw: bytes,
        parsed: Parsed,
        receivers: list[Participant],
        delivered: Delivered,
        ctx: Context,
        signed_by: str | None,
    ) -> Received:
        reference = delivered.message.common_block.s1.sender_unique_reference  # type: ignore[attr-defined]
        with SqlUnitOfWork.begin(self.db) as uow:
            if not self._record(uow.connection, raw, parsed, ctx, signed_by):
                return Received(
                    delivered.transaction_id, reference, ResponseCode.RCP0000, "already applied", False
                )
            handled = deliver(uow, delivered, receivers, ctx, check_values=False, isolate=True)
            if handled.state == "failed":
                # Nothing of the handler's work is kept and the publication is not marked
                # received, so a replay after a fix applies it. The hub gets RCP1000; no
                # business rejection is sent, since the message is not refused.
                uow.rollback()
                self.failures += 1
                return Received(
                    delivered.transaction_id, reference, ResponseCode.RCP1000, handled.detail or "", False
                )
            if handled.code is not None:  # OMH0503: no request awaits it, nothing changed
                return Received(delivered.transaction_id, reference, handled.code, handled.detail or "", True)
            self._queue(uow.connection, handled.produced, ctx.now)
        return Received(delivered.transaction_id, reference, ResponseCode.RCP0000, "applied", True)

    def daily(self, *, today: date, now: datetime) -> int:
        """The day's work of the node's participants (the RS's lapses and activations)."""
        participants = self.participants(today)
        ctx = self.context(today, now)
        with SqlUnitOfWork.begin(self.db) as uow:
            produced: list[DipMessageStruct] = []
            for participant in participants:
                produced += participant.daily(ctx, uow)
            self._queue(uow.connection, produced, now)
        return len(produced)

    def _queue(self, connection: sa.Connection, messages: Sequence[DipMessageStruct], now: datetime) -> None:
        rows = []
        for message in messages:
            body = encode(message)
            parse(body, now=None)  # never send what the DIP would refuse
            rows.append(
                {
                    "dip_id": str(self.dip_id),
                    "channel": message.INTERFACE_ID,
                    "sender_unique_reference": message.common_block.s1.sender_unique_reference,  # type: ignore[attr-defined]
                    "body": body,
                    "state": "pending",
                    "created_at": now,
                }
            )
        if rows:
            connection.execute(sa.insert(node_outbox), rows)

    def send_own(self, messages: Sequence[DipMessageStruct], *, now: datetime) -> None:
        """Queue messages the participant sends on its own initiative (a supplier's IF-031)."""
        with self.db.begin() as connection:
            self._queue(connection, messages, now)

    # -- messages out ----------------------------------------------------------------------------
    def outbox(self, limit: int = 100) -> list[tuple[int, str, bytes]]:
        """Pending messages, oldest first: (id, channel, body)."""
        with self.db.read() as connection:
            rows = connection.execute(
                sa.select(node_outbox.c.id, node_outbox.c.channel, node_outbox.c.body)
                .where(node_outbox.c.dip_id == str(self.dip_id), node_outbox.c.state == "pending")
                .order_by(node_outbox.c.id)
                .limit(limit)
            ).all()
        return [(r.id, r.channel, bytes(r.body)) for r in rows]

    def settle(self, outcomes: Sequence[tuple[int, str]]) -> None:
        """Record the hub's answers: MSG0000 and MSG1006 are sent; anything else refused."""
        with self.db.begin() as connection:
            for outbox_id, code in outcomes:
                state = "sent" if code in ("MSG0000", "MSG1006") else "refused"
                connection.execute(
                    sa.update(node_outbox)
                    .where(node_outbox.c.id == outbox_id)
                    .values(state=state, outcome_code=code[:7])
                )

    def inbox(self, *, after: int = 0) -> list[dict[str, object]]:
        with self.db.read() as connection:
            rows = connection.execute(
                sa.select(node_inbox)
                .where(node_inbox.c.dip_id == str(self.dip_id), node_inbox.c.sequence > after)
                .order_by(node_inbox.c.sequence)
            ).all()
        return [
            {
                "sequence": r.sequence,
                "transactionID": r.transaction_id,
                "senderUniqueReference": r.sender_unique_reference,
                "interfaceID": r.interface_id,
                "eventCode": r.event_code,
                "mpan": r.mpan,
                "replay": bool(r.replay),
                "signedBy": r.signed_by,
                "message": msgspec.json.decode(r.body),
            }
            for r in rows
        ]
