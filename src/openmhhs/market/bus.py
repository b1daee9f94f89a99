"""The in-process market: the DIP's part played between simulated participants.

A message submitted by a participant is checked as the DIP checks it (schema, sender and
recipients against the ISD registry, duplicate sender unique reference: MSG1006), logged,
and queued for each primary recipient. The bus then delivers queued messages in order; each
delivery is one savepoint: the recipient's effects and the messages it sends are recorded
together or not at all. Messages for participants that are not simulated here (an
external SDS, an MDR) wait in their mailbox. Each UK day's work (lapses, activations) runs
as the market clock reaches it; a message is submitted, judged and stamped on today, after
the market has been brought to today.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError

from openmhhs.codes import ResponseCode
from openmhhs.dataservice.service import SmartDataService
from openmhhs.days import LONDON
from openmhhs.dcc.service import Dcc
from openmhhs.dip.admissible import ValueNotAdmissible, check_admissible, check_new_exchange
from openmhhs.dip.build import new_transaction_id
from openmhhs.dip.parse import (
    DuplicateSenderReference,
    MessageRejected,
    Parsed,
    Perspective,
    encode,
    parse,
    parse_batch,
)
from openmhhs.dip.participant import Context, Delivered, Participant, Refusing
from openmhhs.dip.routing import check_routing
from openmhhs.dip.schema import DipMessageStruct
from openmhhs.failpoints import failpoint
from openmhhs.identity.isd import IsdTable
from openmhhs.ids import DipId
from openmhhs.mdr.service import MeterDataRetriever
from openmhhs.metering.service import MeteringService
from openmhhs.registration.rules import RsSettings
from openmhhs.registration.service import NoRequestAwaits, RegistrationService
from openmhhs.store.database import Database, DatabaseUnavailable
from openmhhs.store.identity_repo import load_isd, load_organisations
from openmhhs.store.market_repo import DuplicateMessage, MarketStore, NewMessage, PendingDelivery
from openmhhs.supplier.service import Supplier

__all__ = [
    "INFRASTRUCTURE",
    "ConnectionHolder",
    "Market",
    "MarketIncomplete",
    "RunStats",
    "SubmitResult",
    "participants_for",
    "refusals",
    "roles_on",
    "unique_ids",
]

SIMULATED = "simulated"
EXTERNAL = "external"
CLOCK_KEY = "market_day"
PRODUCED = "participant"
"""The origin of a message a simulated participant produced in process."""
INFRASTRUCTURE = (OperationalError, DatabaseUnavailable)
"""Failures of the database rather than of a message (full, read-only, gone)."""
HELD_ELSEWHERE_WAIT = 0.05
"""Seconds to wait when every pending delivery is held by another market (PostgreSQL)."""


class MarketIncomplete(Exception):
    code = ResponseCode.OMH0502


class _ParticipantFailed(Exception):
    """A participant raised while a batch was delivered without savepoints."""


@dataclass(frozen=True, slots=True)
class SubmitResult:
    """The DIP's answer to one submitted message."""

    sender_unique_reference: str | None
    code: ResponseCode
    message: str
    correlation_id: str | None = None
    message_id: int | None = None
    path: str | None = None

    @property
    def accepted(self) -> bool:
        return self.code is ResponseCode.MSG0000


@dataclass
class RunStats:
    delivered: int = 0
    produced: int = 0
    failed: int = 0
    mailbox: int = 0
    days: list[date] = field(default_factory=list)


class _Directory:
    def __init__(self, isd: IsdTable) -> None:
        self._roles: dict[str, list[tuple[str, object]]] = {}
        for entry in isd:
            if entry.dip_id is not None:
                self._roles.setdefault(str(entry.dip_id), []).append((str(entry.dip_role), entry))

    def roles_of(self, dip_id: str, *, on: date | datetime) -> set[str]:
        from openmhhs.identity.translation import moment_of  # noqa: PLC0415

        at = moment_of(on)
        return {role for role, entry in self._roles.get(dip_id, []) if entry.effective_at(at)}  # type: ignore[attr-defined]


class Market:
    """The participants of one database, and the bus between them."""

    def __init__(
        self,
        db: Database,
        *,
        today: date,
        now: datetime | None = None,
        settings: RsSettings | None = None,
        validate_produced: bool = True,
        batch_size: int = 200,
    ) -> None:
        self.db = db
        self.today = today
        self.now = now or datetime(today.year, today.month, today.day, 12, tzinfo=LONDON).astimezone(UTC)
        self.settings = settings or RsSettings()
        self.validate_produced = validate_produced
        self.batch_size = batch_size
        self._prefix = secrets.token_hex(3)
        with db.begin() as connection:
            self.isd = load_isd(connection)
            self.organisations = {o.company_number: o for o in load_organisations(connection)}
            self.modes = MarketStore(connection).modes()
        self.directory = _Directory(self.isd)
        self._connection: Connection | None = None
        self.store = _StoreProxy(self)
        self.participants: dict[str, list[Participant]] = {}
        self.rs: RegistrationService | None = None
        self._carried = RunStats()
        """Work done bringing the market to today before a submission; reported by ``run``."""
        self._build_participants()

    # -- who is in the market -----------------------------------------------------------------
    def _build_participants(self) -> None:
        roles = roles_on(self.isd, self.today)
        dcc = next((DipId(d) for d, r in sorted(roles.items()) if "DCC" in r), None)
        for dip_id, held in sorted(roles.items()):
            if self.modes.get(dip_id, SIMULATED) == EXTERNAL:
                continue
            found = participants_for(
                DipId(dip_id),
                held,
                store=self.store,
                dcc=dcc,
                settings=self.settings,
                prefix=self._prefix,
                with_rs=self.rs is None,
            )
            for participant in found:
                if isinstance(participant, RegistrationService):
                    self.rs = participant
            if found:
                self.participants[dip_id] = found

    def participant(self, dip_id: str, kind: type[object]) -> object | None:
        return next((p for p in self.participants.get(dip_id, []) if isinstance(p, kind)), None)

    def context(self, day: date | None = None) -> Context:
        day = day or self.today
        now = (
            self.now
            if day == self.today
            else datetime(day.year, day.month, day.day, 12, tzinfo=LONDON).astimezone(UTC)
        )
        return Context(today=day, now=now, isd=self.isd, organisations=self.organisations)

    # -- the DIP's ingress ---------------------------------------------------------------------
    def submit(self, data: bytes, *, origin: str = "submitted") -> list[SubmitResult]:
        """Accept a batch as the DIP would, today; each message is answered on its own. The
        market is first brought to today, so that what it sets off is judged on today."""
        self.bring_to_today()
        results: list[SubmitResult] = []
        with self._transaction() as store:
            for item in parse_batch(data, now=self.now, perspective=Perspective.DIP):
                if not isinstance(item, Parsed):
                    results.append(
                        SubmitResult(
                            item.sender_unique_reference,
                            item.code,
                            item.error.detail,
                            path=item.error.path,
                        )
                    )
                    continue
                results.append(self._accept(store, item, origin))
        return results

    def send(self, messages: Sequence[DipMessageStruct], *, origin: str = PRODUCED) -> list[SubmitResult]:
        """A simulated participant's own messages (e.g. a supplier's IF-031), via the DIP."""
        return self.submit(encode(list(messages)), origin=origin)

    def _accept(self, store: MarketStore, item: Parsed, origin: str) -> SubmitResult:
        s1 = item.message.common_block.s1  # type: ignore[attr-defined]
        reference = s1.sender_unique_reference
        try:
            check_routing(item.message, item.spec, directory=self.directory, at=self.now, submitted=True)
            check_new_exchange(item.message, item.spec, seen=store.correlation_seen)
        except MessageRejected as exc:
            return SubmitResult(reference, exc.code, exc.detail, path=exc.path)
        try:
            message_id = self._log(store, item.message, item.raw, origin)
        except DuplicateMessage:
            error = DuplicateSenderReference(
                f"sender unique reference {reference} was already received",
                path="$.CommonBlock.S1.senderUniqueReference",
            )
            return SubmitResult(reference, error.code, error.detail, path=error.path)
        return SubmitResult(
            reference,
            ResponseCode.MSG0000,
            ResponseCode.MSG0000.wording,
            s1.sender_correlation_id,
            message_id,
        )

    def _new_message(self, message: DipMessageStruct, raw: bytes, origin: str) -> NewMessage:
        common = message.common_block  # type: ignore[attr-defined]
        s1 = common.s1
        transaction = new_transaction_id(message.INTERFACE_ID, s1.sender_dip_id, s1.sender_role_id, self.now)
        recipients = unique_ids(r for r in common.a0.primary_recipients if r is not None)
        return NewMessage(
            reference=s1.sender_unique_reference,
            interface_id=message.INTERFACE_ID,
            event_code=common.s0.event_code,
            sender=s1.sender_dip_id,
            sender_role=s1.sender_role_id,
            core=common.m0.mpan_core,
            correlation_id=s1.sender_correlation_id,
            transaction_id=transaction,
            at=self.now,
            origin=origin,
            body=raw,
            recipients=tuple((r, "pending" if r in self.participants else "mailbox") for r in recipients),
        )

    def _log(self, store: MarketStore, message: DipMessageStruct, raw: bytes, origin: str) -> int:
        """Log a submitted message (refusing a sender unique reference seen before)."""
        new = self._new_message(message, raw, origin)
        message_id = store.log_message(
            reference=new.reference,
            interface_id=new.interface_id,
            event_code=new.event_code,
            sender=new.sender,
            sender_role=new.sender_role,
            core=new.core,
            correlation_id=new.correlation_id,
            transaction_id=new.transaction_id,
            at=new.at,
            origin=origin,
            body=raw,
        )
        for state in ("pending", "mailbox"):
            store.add_deliveries(message_id, [r for r, st in new.recipients if st == state], state=state)
        return message_id

    # -- registration data from outside the DIP ----------------------------------------------
    def registrations_changed(self, changes: Sequence[tuple[str, date | None]]) -> int:
        """MPANs whose supplier registration changed (``mpan add``, ``mpan import``, ``mpan
        supplier``, a population or migration load), each with the first day that changed (None:
        all): the RS publishes IF-001 for them, queued for delivery. Returns how many messages."""
        if self.rs is None or not changes:
            return 0
        stats = RunStats()
        rs = self.rs
        with self._transaction() as store:
            ctx = self.context()
            produced: list[DipMessageStruct] = []
            for core, since in changes:
                produced += rs.registration_changed(core, since=since, ctx=ctx)
            store.log_messages(self._prepare(produced, stats))
        return stats.produced

    def deliver(self) -> RunStats:
        """Deliver what is pending on today's context, without running any day's work."""
        stats = RunStats()
        self._drain(stats, self.today, None)
        return stats

    # -- running ---------------------------------------------------------------------------------
    def run(self, *, max_deliveries: int | None = None) -> RunStats:
        """Bring the market to ``today`` and deliver until nothing is pending."""
        stats, self._carried = self._carried, RunStats()
        self._run_days(stats, max_deliveries)
        # activations for appointments accepted while delivering today
        while self._daily(self.today, stats):
            self._drain(stats, self.today, max_deliveries)
        return stats

    def bring_to_today(self) -> None:
        """The days the market has not yet run, up to and including today: their daily work
        (lapses, activations) and deliveries. Nothing to do when it already ran today."""
        with self.db.begin() as connection:
            last = MarketStore(connection).state(CLOCK_KEY)
        if last is None or date.fromisoformat(last) < self.today:
            self._run_days(self._carried, None)

    def _run_days(self, stats: RunStats, max_deliveries: int | None) -> None:
        for day in self._days_to_run():
            if day not in stats.days:
                stats.days.append(day)
            self._daily(day, stats)
            self._drain(stats, day, max_deliveries)
            with self._transaction() as store:
                store.serialise(CLOCK_KEY)
                store.set_state(CLOCK_KEY, day.isoformat())

    def _days_to_run(self) -> list[date]:
        with self.db.begin() as connection:
            last = MarketStore(connection).state(CLOCK_KEY)
        if last is None:
            return [self.today]
        start = date.fromisoformat(last) + timedelta(days=1)
        days = []
        while start <= self.today:
            days.append(start)
            start += timedelta(days=1)
        return days or [self.today]

    def _daily(self, day: date, stats: RunStats) -> int:
        produced: list[DipMessageStruct] = []
        with self._transaction() as store:
            store.serialise("daily")  # two markets never do one day's work twice
            ctx = self.context(day)
            for group in self.participants.values():
                for participant in group:
                    produced += participant.daily(ctx)
            store.log_messages(self._prepare(produced, stats))
        return len(produced)

    def _drain(self, stats: RunStats, day: date, limit: int | None) -> None:
        """Deliver batch after batch. A batch is one transaction; should a participant fail,
        the batch is replayed with a savepoint per delivery so that only the failing one is
        set aside (state 'failed'), never lost."""
        ctx = self.context(day)
        while limit is None or stats.delivered < limit:
            outcome = RunStats()
            with self._transaction() as store:
                batch = store.pending_deliveries(self.batch_size)
                if not batch and not store.has_pending():
                    return
                if batch:
                    try:
                        with store.connection.begin_nested():
                            self._deliver_batch(store, batch, ctx, outcome, isolate=False)
                    except _ParticipantFailed:
                        outcome = RunStats()
                        self._deliver_batch(store, batch, ctx, outcome, isolate=True)
                    failpoint("bus.drain.before-commit")  # dies holding its claims
            if not batch:  # all pending ones are being delivered by another market: wait
                time.sleep(HELD_ELSEWHERE_WAIT)
            stats.delivered += outcome.delivered
            stats.produced += outcome.produced
            stats.failed += outcome.failed

    def _deliver_batch(
        self,
        store: MarketStore,
        batch: list[PendingDelivery],
        ctx: Context,
        stats: RunStats,
        *,
        isolate: bool,
    ) -> None:
        finished: list[tuple[int, str, str | None, str | None]] = []
        produced: list[NewMessage] = []
        parsed_cache: dict[int, Parsed] = {}
        for pending in batch:
            stored = pending.message
            parsed = parsed_cache.get(stored.id)
            if parsed is None:
                parsed = parse(stored.body, now=None)
                parsed_cache[stored.id] = parsed
            delivered = Delivered(parsed.message, parsed.spec, stored.transaction_id, stored.sender)
            receivers = [
                p for p in self.participants.get(pending.recipient, []) if p.roles & parsed.spec.recipients
            ]
            try:
                if stored.origin != PRODUCED:  # ours are built from values the market holds
                    check_admissible(parsed.message)
            except ValueNotAdmissible as exc:
                answers = self._prepare(refusals(receivers, delivered, ctx, exc.code, exc.detail), stats)
                if isolate:
                    store.log_messages(answers)
                else:
                    produced += answers
                finished.append((pending.id, "refused", exc.code.value, exc.detail[:2000]))
                stats.delivered += 1
                continue
            savepoint = store.connection.begin_nested() if isolate else None
            try:
                out: list[DipMessageStruct] = []
                for participant in receivers:
                    out += participant.receive(delivered, ctx)
                messages = self._prepare(out, stats)
                if isolate:
                    store.log_messages(messages)
                else:
                    produced += messages
                if savepoint is not None:
                    savepoint.commit()
                finished.append((pending.id, "done", None, None))
            except NoRequestAwaits as exc:
                # Raised before the RS writes anything: nothing to undo without a savepoint.
                if savepoint is not None:
                    savepoint.rollback()
                finished.append((pending.id, "done", exc.code.value, str(exc)))
            except INFRASTRUCTURE:
                raise  # the database, not the message: nothing is parked, the batch rolls back
            except Exception as exc:
                if savepoint is None:
                    raise _ParticipantFailed from exc
                savepoint.rollback()
                # Parked, never retried in a loop and never in the way of what follows. The
                # delivery answers RCP1000; no business rejection is sent, because the message
                # is not refused: it is applied when requeued after a fix (one answer each).
                reason = f"{type(exc).__name__}: {exc}"[:2000]
                code = ResponseCode.RCP1000
                finished.append((pending.id, "failed", code.value, reason))
                stats.failed += 1
            stats.delivered += 1
        store.log_messages(produced)
        store.finish_deliveries(finished, at=ctx.now)

    def _prepare(self, messages: Iterable[DipMessageStruct], stats: RunStats) -> list[NewMessage]:
        prepared = []
        for message in messages:
            raw = encode(message)
            if self.validate_produced:
                parse(raw, now=None)  # every produced message must be schema-valid
            prepared.append(self._new_message(message, raw, PRODUCED))
            stats.produced += 1
        return prepared

    # -- transactions ----------------------------------------------------------------------------
    def _transaction(self) -> _Transaction:
        return _Transaction(self)


class _Transaction:
    def __init__(self, market: Market) -> None:
        self.market = market
        self._context: object | None = None

    def __enter__(self) -> MarketStore:
        context = self.market.db.begin()
        self._context = context
        connection = context.__enter__()
        self.market._connection = connection
        return MarketStore(connection)

    def __exit__(self, *exc: object) -> None:
        self.market._connection = None
        assert self._context is not None
        self._context.__exit__(*exc)  # type: ignore[attr-defined]


class _StoreProxy(MarketStore):
    """Participants keep one store object; it always uses the market's open transaction."""

    def __init__(self, market: Market | ConnectionHolder) -> None:
        self._market = market

    @property
    def connection(self) -> Connection:
        connection = self._market._connection
        if connection is None:
            raise RuntimeError("participants may only touch storage while the market delivers")
        return connection


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


def roles_on(isd: IsdTable, day: date) -> dict[str, set[str]]:
    """The DIP roles each DIP ID holds at the start of ``day``."""
    roles: dict[str, set[str]] = {}
    for entry in isd:
        if entry.dip_id is not None and entry.effective_at(_start(day)):
            roles.setdefault(str(entry.dip_id), set()).add(str(entry.dip_role))
    return roles


def participants_for(
    dip_id: DipId,
    roles: set[str],
    *,
    store: MarketStore,
    dcc: DipId | None,
    settings: RsSettings,
    prefix: str,
    with_rs: bool = True,
) -> list[Participant]:
    """The simulated participants one DIP ID runs, one per role openmhhs simulates."""
    found: list[Participant] = []
    if "REGS" in roles and with_rs:
        found.append(
            RegistrationService(
                dip_id=dip_id, store=store, dcc=dcc, settings=settings, unique_prefix=f"r{prefix}"
            )
        )
    if "SDS" in roles:
        found.append(SmartDataService(dip_id=dip_id, store=store, unique_prefix=f"d{prefix}"))
    if "SMS" in roles:
        found.append(MeteringService(dip_id=dip_id, unique_prefix=f"m{prefix}"))
    if "SUP" in roles:
        found.append(Supplier(dip_id=dip_id))
    if "DCC" in roles:
        found.append(Dcc(dip_id=dip_id, store=store))
    if "MDR" in roles:
        found.append(MeterDataRetriever(dip_id=dip_id, store=store, unique_prefix=f"x{prefix}"))
    return found


class ConnectionHolder:
    """Where participants' storage finds the transaction currently open."""

    def __init__(self) -> None:
        self._connection: Connection | None = None


def _start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=LONDON)


def unique_ids(ids: Iterable[str]) -> list[str]:
    seen: list[str] = []
    for value in ids:
        if value not in seen:
            seen.append(value)
    return seen
