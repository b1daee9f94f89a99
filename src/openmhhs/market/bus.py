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
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from openmhhs.bulk import gc_paused
from openmhhs.codes import ResponseCode
from openmhhs.dataservice.service import SmartDataService
from openmhhs.days import LONDON
from openmhhs.dcc.service import Dcc
from openmhhs.dip.parse import Parsed, Perspective, encode, parse, parse_batch
from openmhhs.dip.participant import Context, Participant
from openmhhs.dip.schema import DipMessageStruct
from openmhhs.failpoints import failpoint
from openmhhs.identity.isd import IsdTable
from openmhhs.ids import DipId
from openmhhs.market.ingress import (
    PRODUCED,
    Admission,
    IsdDirectory,
    ParticipantFailed,
    Prepared,
    admit,
    deliver_pending,
    prepare,
)
from openmhhs.mdr.service import MeterDataRetriever
from openmhhs.metering.service import MeteringService
from openmhhs.registration.rules import RsSettings
from openmhhs.registration.service import RegistrationService
from openmhhs.store.database import Database
from openmhhs.store.identity_repo import load_isd, load_organisations
from openmhhs.store.market_repo import MarketStore, PendingDelivery, StoredMessage
from openmhhs.store.ports import DeliveryOutcome, UnitOfWork
from openmhhs.store.unit_of_work import SqlUnitOfWork
from openmhhs.supplier.service import Supplier

__all__ = [
    "Market",
    "MarketIncomplete",
    "RunStats",
    "SubmitResult",
    "participants_for",
    "roles_on",
]

SIMULATED = "simulated"
EXTERNAL = "external"
CLOCK_KEY = "market_day"
HELD_ELSEWHERE_WAIT = 0.05
"""Seconds to wait when every pending delivery is held by another market (PostgreSQL)."""
VALIDATED_KEPT = 100_000
"""At most this many messages kept as validated (``Market._validated``) before it is emptied."""


class MarketIncomplete(Exception):
    code = ResponseCode.OMH0502


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

    @classmethod
    def of(cls, admission: Admission) -> SubmitResult:
        """The answer to a message the ingress judged (``ingress.admit``)."""
        return cls(
            admission.reference,
            admission.code,
            admission.detail,
            admission.correlation_id if admission.accepted else None,
            admission.message_id,
            admission.path,
        )


@dataclass
class RunStats:
    delivered: int = 0
    produced: int = 0
    failed: int = 0
    mailbox: int = 0
    days: list[date] = field(default_factory=list)


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
        self.directory = IsdDirectory(self.isd)
        self.participants: dict[str, list[Participant]] = {}
        self.rs: RegistrationService | None = None
        self._validated: dict[int, tuple[Parsed, list[int]]] = {}
        """Messages this market logged, by id, as validated when admitted or produced, each
        with how many of its pending deliveries have yet to take it: delivering one parses
        nothing again (``_parsed``)."""
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
        with self.unit_of_work() as uow:
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
                admission = admit(
                    uow.messages,
                    item,
                    directory=self.directory,
                    at=self.now,
                    origin=origin,
                    route=self.route,
                )
                if admission.message_id is not None:
                    self._keep_validated(admission.message_id, item, admission.pending)
                results.append(SubmitResult.of(admission))
        return results

    def send(self, messages: Sequence[DipMessageStruct], *, origin: str = PRODUCED) -> list[SubmitResult]:
        """A simulated participant's own messages (e.g. a supplier's IF-031), via the DIP."""
        return self.submit(encode(list(messages)), origin=origin)

    def route(self, recipient: str) -> str:
        """Where the DIP puts a message for ``recipient``: delivered here, or its mailbox."""
        return "pending" if recipient in self.participants else "mailbox"

    # -- registration data from outside the DIP ----------------------------------------------
    def registrations_changed(self, changes: Sequence[tuple[str, date | None]]) -> int:
        """MPANs whose supplier registration changed (``mpan add``, ``mpan import``, ``mpan
        supplier``, a population or migration load), each with the first day that changed (None:
        all): the RS publishes IF-001 for them, queued for delivery. Returns how many messages."""
        if self.rs is None or not changes:
            return 0
        stats = RunStats()
        rs = self.rs
        with self.unit_of_work() as uow:
            ctx = self.context()
            produced: list[DipMessageStruct] = []
            for core, since in changes:
                produced += rs.registration_changed(core, since=since, ctx=ctx, uow=uow)
            self._log(uow, self._prepare(produced, stats))
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
            with self.unit_of_work() as uow:
                uow.clock.serialise(CLOCK_KEY)
                uow.clock.set_state(CLOCK_KEY, day.isoformat())

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
        with gc_paused(), self.unit_of_work() as uow:
            uow.clock.serialise("daily")  # two markets never do one day's work twice
            ctx = self.context(day)
            for group in self.participants.values():
                for participant in group:
                    produced += participant.daily(ctx, uow)
            self._log(uow, self._prepare(produced, stats))
        return len(produced)

    def _drain(self, stats: RunStats, day: date, limit: int | None) -> None:
        """Deliver batch after batch. A batch is one transaction; should a participant fail,
        the batch is replayed with a savepoint per delivery so that only the failing one is
        set aside (state 'failed'), never lost."""
        ctx = self.context(day)
        while limit is None or stats.delivered < limit:
            outcome = RunStats()
            # A batch is bounded work whose objects reference counting frees: collecting
            # cycles during it would cost ~10% of the lane for nothing.
            with gc_paused(), self.unit_of_work() as uow:
                batch = uow.messages.pending_deliveries(self.batch_size)
                if not batch and not uow.messages.has_pending():
                    return
                if batch:
                    try:
                        with uow.savepoint():
                            self._deliver_batch(uow, batch, ctx, outcome, isolate=False)
                    except ParticipantFailed:
                        outcome = RunStats()
                        self._deliver_batch(uow, batch, ctx, outcome, isolate=True)
                    failpoint("bus.drain.before-commit")  # dies holding its claims
            if not batch:  # all pending ones are being delivered by another market: wait
                time.sleep(HELD_ELSEWHERE_WAIT)
            stats.delivered += outcome.delivered
            stats.produced += outcome.produced
            stats.failed += outcome.failed

    def _deliver_batch(
        self,
        uow: UnitOfWork,
        batch: list[PendingDelivery],
        ctx: Context,
        stats: RunStats,
        *,
        isolate: bool,
    ) -> None:
        finished: list[DeliveryOutcome] = []
        produced: list[Prepared] = []
        parsed_cache: dict[int, Parsed] = {}

        def send(out: Sequence[DipMessageStruct]) -> None:
            messages = self._prepare(out, stats)
            if isolate:
                self._log(uow, messages)
            else:
                produced.extend(messages)

        for pending in batch:
            stored = pending.message
            parsed = parsed_cache.get(stored.id)
            if parsed is None:
                parsed = parsed_cache[stored.id] = self._parsed(stored)
            outcome = deliver_pending(
                uow, pending, parsed, self.participants, ctx, isolate=isolate, then=send
            )
            if outcome.state == "failed":
                stats.failed += 1
            finished.append(outcome)
            stats.delivered += 1
        self._log(uow, produced)
        uow.messages.finish_deliveries(finished, at=ctx.now)

    def _prepare(self, messages: Iterable[DipMessageStruct], stats: RunStats) -> list[Prepared]:
        prepared = []
        for message in messages:
            prepared.append(
                prepare(
                    message, at=self.now, origin=PRODUCED, route=self.route, validate=self.validate_produced
                )
            )
            stats.produced += 1
        return prepared

    def _log(self, uow: UnitOfWork, prepared: Sequence[Prepared]) -> None:
        """Log produced messages, keeping each one validated for its deliveries here."""
        ids = uow.messages.log_messages([p.new for p in prepared])
        for message_id, done in zip(ids, prepared, strict=True):
            if done.parsed is not None:
                pending = [state for _, state in done.new.recipients].count("pending")
                self._keep_validated(message_id, done.parsed, pending)

    # -- each message parsed once ----------------------------------------------------------------
    def _keep_validated(self, message_id: int, parsed: Parsed, pending: int) -> None:
        if pending <= 0:
            return
        if len(self._validated) >= VALIDATED_KEPT:  # e.g. kept for deliveries another market made
            self._validated.clear()
        self._validated[message_id] = (parsed, [pending])

    def _parsed(self, stored: StoredMessage) -> Parsed:
        """The logged message as validated when this market logged it (the same body: an id
        a rolled-back transaction gave out may be given again), else parsed from the log."""
        kept = self._validated.get(stored.id)
        if kept is None or kept[0].raw != stored.body:
            return parse(stored.body, now=None)
        parsed, left = kept
        left[0] -= 1
        if left[0] <= 0:
            del self._validated[stored.id]
        return parsed

    # -- transactions ----------------------------------------------------------------------------
    @contextmanager
    def unit_of_work(self) -> Iterator[SqlUnitOfWork]:
        """One transaction of the market's database, with a repository per role: committed
        when the block ends, rolled back if it raises."""
        with SqlUnitOfWork.begin(self.db) as uow:
            yield uow


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
    dcc: DipId | None,
    settings: RsSettings,
    prefix: str,
    with_rs: bool = True,
) -> list[Participant]:
    """The simulated participants one DIP ID runs, one per role openmhhs simulates."""
    found: list[Participant] = []
    if "REGS" in roles and with_rs:
        found.append(
            RegistrationService(dip_id=dip_id, dcc=dcc, settings=settings, unique_prefix=f"r{prefix}")
        )
    if "SDS" in roles:
        found.append(SmartDataService(dip_id=dip_id, unique_prefix=f"d{prefix}"))
    if "SMS" in roles:
        found.append(MeteringService(dip_id=dip_id, unique_prefix=f"m{prefix}"))
    if "SUP" in roles:
        found.append(Supplier(dip_id=dip_id))
    if "DCC" in roles:
        found.append(Dcc(dip_id=dip_id))
    if "MDR" in roles:
        found.append(MeterDataRetriever(dip_id=dip_id, unique_prefix=f"x{prefix}"))
    return found


def _start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=LONDON)
