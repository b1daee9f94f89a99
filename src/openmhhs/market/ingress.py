"""The DIP's two doors, written once, over the ports (``store.ports``): accepting a submitted
message, and delivering one message to the participants that receive it.

``admit``: the routing check (sender, recipients and roles against the ISD registry), the
new-exchange check, the log (a sender unique reference seen before is refused, MSG1006) and a
delivery per recipient. ``deliver``: the admissibility of the values (a refusal, with the
receivers' rejection messages), the receivers' ``receive``, the RS's answer to an IF-034 no
request awaits (OMH0503, nothing changed) and a handler's failure (RCP1000, nothing kept, the
delivery parked for a requeue after a fix). The in-process bus (``market.bus``), the HTTP hub
(``market.hub``), a participant's node (``market.node``) and the batch lane call them, each
with its unit of work.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.exc import OperationalError

from openmhhs.codes import ResponseCode
from openmhhs.dip.admissible import ValueNotAdmissible, check_admissible, check_new_exchange
from openmhhs.dip.build import new_transaction_id
from openmhhs.dip.parse import (
    DuplicateSenderReference,
    MessageRejected,
    Parsed,
    check_produced,
    encode,
)
from openmhhs.dip.participant import Context, Delivered, Participant, Refusing
from openmhhs.dip.routing import Directory, check_routing
from openmhhs.dip.schema import DipMessageStruct
from openmhhs.identity.isd import IsdEntry, IsdTable
from openmhhs.identity.translation import moment_of
from openmhhs.registration.service import NoRequestAwaits
from openmhhs.store.database import DatabaseUnavailable
from openmhhs.store.market_repo import DuplicateMessage, NewMessage, PendingDelivery
from openmhhs.store.ports import DeliveryOutcome, MessageRepository, UnitOfWork

__all__ = [
    "INFRASTRUCTURE",
    "PRODUCED",
    "Admission",
    "Handled",
    "IsdDirectory",
    "ParticipantFailed",
    "Prepared",
    "admit",
    "deliver",
    "deliver_pending",
    "inadmissible",
    "new_message",
    "prepare",
    "refusals",
    "unique_ids",
]

INFRASTRUCTURE = (OperationalError, DatabaseUnavailable)
"""Failures of the database rather than of a message (full, read-only, gone)."""
PRODUCED = "participant"
"""The origin of a message a simulated participant produced in process."""


class ParticipantFailed(Exception):
    """A receiver raised while delivering without a savepoint: the caller replays with one."""


@dataclass(frozen=True, slots=True)
class Admission:
    """The DIP's answer to one submitted message."""

    code: ResponseCode
    detail: str
    path: str | None
    reference: str
    correlation_id: str | None
    transaction_id: str | None = None
    message_id: int | None = None
    pending: int = 0
    """How many deliveries of the accepted message wait to be delivered here ('pending')."""

    @property
    def accepted(self) -> bool:
        return self.code is ResponseCode.MSG0000


@dataclass(frozen=True, slots=True)
class Handled:
    """How one delivery ended: ``done`` (``code`` OMH0503 when no request awaited the
    message), ``refused`` (with the receivers' rejection messages in ``produced``) or
    ``failed`` (RCP1000: nothing of the handling kept)."""

    state: str
    code: ResponseCode | None = None
    detail: str | None = None
    produced: tuple[DipMessageStruct, ...] = ()


class IsdDirectory:
    """The DIP roles each DIP ID holds, from an ISD table (the routing check's directory)."""

    def __init__(self, isd: IsdTable) -> None:
        self._roles: dict[str, list[tuple[str, IsdEntry]]] = {}
        for entry in isd:
            if entry.dip_id is not None:
                self._roles.setdefault(str(entry.dip_id), []).append((str(entry.dip_role), entry))

    def roles_of(self, dip_id: str, *, on: date | datetime) -> set[str]:
        at = moment_of(on)
        return {role for role, entry in self._roles.get(dip_id, []) if entry.effective_at(at)}


def unique_ids(ids: Iterable[str]) -> list[str]:
    seen: list[str] = []
    for value in ids:
        if value not in seen:
            seen.append(value)
    return seen


def new_message(
    message: DipMessageStruct,
    raw: bytes,
    *,
    at: datetime,
    origin: str,
    route: Callable[[str], str],
    extra: Sequence[str] = (),
) -> NewMessage:
    """A message to log with its DIP transaction id, and where it goes: each primary recipient
    (then ``extra``) with the state ``route`` gives it ('pending' or 'mailbox')."""
    common = message.common_block  # type: ignore[attr-defined]
    s1 = common.s1
    recipients = unique_ids([*(r for r in common.a0.primary_recipients if r is not None), *extra])
    return NewMessage(
        reference=s1.sender_unique_reference,
        interface_id=message.INTERFACE_ID,
        event_code=common.s0.event_code,
        sender=s1.sender_dip_id,
        sender_role=s1.sender_role_id,
        core=common.m0.mpan_core,
        correlation_id=s1.sender_correlation_id,
        transaction_id=new_transaction_id(message.INTERFACE_ID, s1.sender_dip_id, s1.sender_role_id, at),
        at=at,
        origin=origin,
        body=raw,
        recipients=tuple((r, route(r)) for r in recipients),
    )


@dataclass(frozen=True, slots=True)
class Prepared:
    """A produced message, encoded once, ready to log; ``parsed``: as validated against the
    DIP's schema (None when not validated), for a caller that hands it on without parsing again."""

    new: NewMessage
    parsed: Parsed | None


def prepare(
    message: DipMessageStruct,
    *,
    at: datetime,
    origin: str,
    route: Callable[[str], str],
    validate: bool = True,
) -> Prepared:
    """A message a participant produced, encoded (and, with ``validate``, checked against the
    schema: a participant never sends what the DIP would refuse) and addressed."""
    raw = encode(message)
    parsed = check_produced(message, raw) if validate else None
    return Prepared(new_message(message, raw, at=at, origin=origin, route=route), parsed)


def admit(
    messages: MessageRepository,
    item: Parsed,
    *,
    directory: Directory,
    at: datetime,
    origin: str,
    route: Callable[[str], str],
    extra: Sequence[str] = (),
) -> Admission:
    """Accept one schema-valid submitted message as the DIP does, or say why not."""
    s1 = item.message.common_block.s1  # type: ignore[attr-defined]
    reference, correlation = s1.sender_unique_reference, s1.sender_correlation_id
    try:
        check_routing(item.message, item.spec, directory=directory, at=at, submitted=True)
        check_new_exchange(item.message, item.spec, seen=messages.correlation_seen)
    except MessageRejected as exc:
        return Admission(exc.code, exc.detail, exc.path, reference, correlation)
    new = new_message(item.message, item.raw, at=at, origin=origin, route=route, extra=extra)
    try:
        message_id = messages.log_message(
            reference=new.reference,
            interface_id=new.interface_id,
            event_code=new.event_code,
            sender=new.sender,
            sender_role=new.sender_role,
            core=new.core,
            correlation_id=new.correlation_id,
            transaction_id=new.transaction_id,
            at=new.at,
            origin=new.origin,
            body=new.body,
        )
    except DuplicateMessage:
        error = DuplicateSenderReference(
            f"sender unique reference {reference} was already received",
            path="$.CommonBlock.S1.senderUniqueReference",
        )
        return Admission(error.code, error.detail, error.path, reference, correlation)
    routed = {state: [r for r, st in new.recipients if st == state] for state in ("pending", "mailbox")}
    for state, recipients in routed.items():
        messages.add_deliveries(message_id, recipients, state=state)
    return Admission(
        ResponseCode.MSG0000,
        ResponseCode.MSG0000.wording,
        None,
        reference,
        correlation,
        new.transaction_id,
        message_id,
        len(routed["pending"]),
    )


def refusals(
    receivers: Sequence[Participant],
    delivered: Delivered,
    ctx: Context,
    code: ResponseCode,
    detail: str,
) -> list[DipMessageStruct]:
    """The rejection messages of the receivers that have one; none if building it fails
    (the delivery's own code still tells the sender)."""
    out: list[DipMessageStruct] = []
    for participant in receivers:
        if isinstance(participant, Refusing):
            try:
                out += participant.refusal(delivered, ctx, code=code, detail=detail)
            except Exception:  # a refusal must never stop the queue
                continue
    return out


def inadmissible(message: DipMessageStruct) -> ValueNotAdmissible | None:
    """Why the DIP would refuse the message's values, if it would."""
    try:
        check_admissible(message)
    except ValueNotAdmissible as exc:
        return exc
    return None


def deliver(
    uow: UnitOfWork,
    delivered: Delivered,
    receivers: Sequence[Participant],
    ctx: Context,
    *,
    check_values: bool,
    isolate: bool,
    then: Callable[[list[DipMessageStruct]], None] | None = None,
) -> Handled:
    """Deliver one message to its receivers in ``uow``. ``check_values``: a message from
    outside (the market's own are built from values it holds). ``isolate``: in a savepoint,
    so that a failing handler's work alone is undone (without one, ``ParticipantFailed``).
    ``then`` takes what the receivers produced, inside the same savepoint."""
    if check_values:
        problem = inadmissible(delivered.message)
        if problem is not None:
            answers = refusals(receivers, delivered, ctx, problem.code, problem.detail)
            return Handled("refused", problem.code, problem.detail, tuple(answers))
    try:
        with uow.savepoint() if isolate else nullcontext():
            out: list[DipMessageStruct] = []
            for participant in receivers:
                out += participant.receive(delivered, ctx, uow)
            if then is not None:
                then(out)
        return Handled("done", produced=tuple(out))
    except NoRequestAwaits as exc:
        # Raised before the RS writes anything: nothing to undo without a savepoint.
        return Handled("done", exc.code, str(exc))
    except INFRASTRUCTURE:
        raise  # the database, not the message: nothing is parked, the caller rolls back
    except Exception as exc:
        if not isolate:
            raise ParticipantFailed from exc
        # Parked, never retried in a loop and never in the way of what follows. The delivery
        # answers RCP1000; no business rejection is sent, because the message is not refused:
        # it is applied when requeued after a fix (one answer each).
        return Handled("failed", ResponseCode.RCP1000, f"{type(exc).__name__}: {exc}"[:2000])


def deliver_pending(
    uow: UnitOfWork,
    pending: PendingDelivery,
    parsed: Parsed,
    participants: Mapping[str, Sequence[Participant]],
    ctx: Context,
    *,
    isolate: bool,
    then: Callable[[list[DipMessageStruct]], None],
) -> DeliveryOutcome:
    """One queued delivery through ``deliver``: received by the recipient's participants that
    play a role the message is for; what they produce, and a refusal's answers, go to ``then``.
    Returns the outcome to finish the delivery with."""
    stored = pending.message
    delivered = Delivered(parsed.message, parsed.spec, stored.transaction_id, stored.sender)
    receivers = [p for p in participants.get(pending.recipient, []) if p.roles & parsed.spec.recipients]
    handled = deliver(
        uow,
        delivered,
        receivers,
        ctx,
        check_values=stored.origin != PRODUCED,  # ours are built from values the market holds
        isolate=isolate,
        then=then,
    )
    if handled.state == "refused":
        then(list(handled.produced))
    code = None if handled.code is None else handled.code.value
    detail = handled.detail if handled.state != "refused" else (handled.detail or "")[:2000]
    return DeliveryOutcome(pending.id, handled.state, code, detail)
