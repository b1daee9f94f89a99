"""Every port held in memory: the unit tests' fake and the batch lane's working state.

A ``MemoryUnitOfWork`` starts from a ``Seed`` (frozen rows: what the chunk's MPANs hold in the
database, or what a test sets up) and keeps, beside its state, the list of what was written
(``writes``: typed write operations, in order) for the batch lane to flush with one statement
per table. Its semantics are the SQL adapters' (``store.unit_of_work``): a retired row cannot
be retired again (``TimelineConflict``), a sender unique reference is logged once
(``DuplicateMessage``, MSG1006), a delivery finishes once (``DeliveryTaken``), an MDR's
instruction supersedes the same SDS's later ones. A savepoint undoes exactly the writes made
inside it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

from openmhhs.dataservice.contracts import Contract
from openmhhs.dataservice.portfolio import Held
from openmhhs.dcc.access import DccRecords, MdrNotice, SupplyNotice
from openmhhs.registration.model import Appointment, AppointmentRequest, MpanRecord, RequestState, Service
from openmhhs.registration.timeline import TimelineChange
from openmhhs.store.market_repo import (
    DeliveryTaken,
    DuplicateMessage,
    NewMessage,
    PendingDelivery,
    StoredMessage,
)
from openmhhs.store.ports import DeliveryOutcome, Instruction, MpanFacts, PortfolioDay, TimelineConflict

__all__ = [
    "ActivatedRequest",
    "AddedDeliveries",
    "AddedRequest",
    "AppliedTimeline",
    "FinishedDeliveries",
    "Instructed",
    "LearnedFacts",
    "LoggedDelivery",
    "LoggedMessage",
    "MemoryUnitOfWork",
    "PortfolioRow",
    "RecordedMdr",
    "RecordedSupply",
    "ReplacedPortfolio",
    "Seed",
    "SettledRequest",
    "Stopped",
    "Write",
]


# -- the seed ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PortfolioRow:
    sds: str
    mpan: str
    held: Held


@dataclass(frozen=True, slots=True)
class Seed:
    """What the unit of work starts from. Appointments and requests carry their row ids;
    new rows are numbered from ``next_id`` (by default after the largest seeded id)."""

    mpans: tuple[MpanRecord, ...] = ()
    appointments: tuple[Appointment, ...] = ()
    requests: tuple[AppointmentRequest, ...] = ()
    contracts: tuple[Contract, ...] = ()
    portfolio: tuple[PortfolioRow, ...] = ()
    facts: tuple[MpanFacts, ...] = ()
    mdr_notices: tuple[MdrNotice, ...] = ()
    supply_notices: tuple[SupplyNotice, ...] = ()
    instructions: tuple[Instruction, ...] = ()
    messages: tuple[StoredMessage, ...] = ()
    known_references: frozenset[str] = frozenset()
    """Sender unique references logged before (MSG1006), beside ``messages``'."""
    known_correlations: frozenset[str] = frozenset()
    """Correlation IDs logged before, beside ``messages``'."""
    next_id: int | None = None


# -- the write log -----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class AppliedTimeline:
    change: TimelineChange
    inserted: tuple[Appointment, ...]
    """The change's new rows, with the ids given them."""
    at: datetime
    by: str | None


@dataclass(frozen=True, slots=True)
class AddedRequest:
    request: AppointmentRequest


@dataclass(frozen=True, slots=True)
class SettledRequest:
    correlation_id: str
    state: RequestState
    code: str | None


@dataclass(frozen=True, slots=True)
class ActivatedRequest:
    correlation_id: str


@dataclass(frozen=True, slots=True)
class ReplacedPortfolio:
    sds: str
    mpan: str
    rows: tuple[Held, ...]


@dataclass(frozen=True, slots=True)
class LearnedFacts:
    facts: MpanFacts


@dataclass(frozen=True, slots=True)
class RecordedMdr:
    mpan: str
    mdr: str
    mdr_mpid: str
    valid_from: date
    supplier: str
    at: datetime
    transaction_id: str


@dataclass(frozen=True, slots=True)
class RecordedSupply:
    mpan: str
    supplier: str
    energy_direction: str
    valid_from: date
    at: datetime
    transaction_id: str


@dataclass(frozen=True, slots=True)
class Instructed:
    instruction: Instruction


@dataclass(frozen=True, slots=True)
class Stopped:
    mdr: str
    mpan: str
    sds: str
    last_day: date


@dataclass(frozen=True, slots=True)
class LoggedDelivery:
    id: int
    recipient: str
    state: str
    processed_at: datetime | None = None
    code: str | None = None
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class LoggedMessage:
    """A message logged in this unit of work, as it was given (its deliveries, in their
    states, are ``AddedDeliveries`` and ``FinishedDeliveries``)."""

    id: int
    message: NewMessage


@dataclass(frozen=True, slots=True)
class AddedDeliveries:
    message_id: int
    deliveries: tuple[LoggedDelivery, ...]


@dataclass(frozen=True, slots=True)
class FinishedDeliveries:
    outcomes: tuple[DeliveryOutcome, ...]
    at: datetime


Write = (
    AppliedTimeline
    | AddedRequest
    | SettledRequest
    | ActivatedRequest
    | ReplacedPortfolio
    | LearnedFacts
    | RecordedMdr
    | RecordedSupply
    | Instructed
    | Stopped
    | LoggedMessage
    | AddedDeliveries
    | FinishedDeliveries
)


# -- the journal: what was written, and how to undo it -------------------------------------------
class _Journal:
    def __init__(self, next_id: int) -> None:
        self.writes: list[Write] = []
        self._undo: list[Callable[[], None]] = []
        self._next_id = next_id

    def new_id(self) -> int:
        value = self._next_id
        self._next_id += 1
        return value

    def wrote(self, write: Write, undo: Callable[[], None]) -> None:
        self.writes.append(write)
        self._undo.append(undo)

    def mark(self) -> tuple[int, int]:
        return len(self.writes), len(self._undo)

    def undo_to(self, mark: tuple[int, int]) -> None:
        writes, undo = mark
        while len(self._undo) > undo:
            self._undo.pop()()
        del self.writes[writes:]

    def forget_undo(self) -> None:
        self._undo.clear()


def _dropper(items: list[MdrNotice] | list[SupplyNotice]) -> Callable[[], None]:
    def undo() -> None:
        items.pop()

    return undo


def _current(period_start: date, period_end: date | None, day: date) -> bool:
    return period_start <= day and (period_end is None or period_end > day)


# -- the repositories ----------------------------------------------------------------------------
class MemoryRegistration:
    def __init__(self, journal: _Journal, seed: Seed) -> None:
        self._journal = journal
        self._mpans = {str(r.mpan): r for r in seed.mpans}
        self._rows: dict[str, dict[int, Appointment]] = {}
        for row in seed.appointments:
            if row.id is None:
                raise ValueError("a seeded appointment carries its row id")
            self._rows.setdefault(str(row.mpan), {})[row.id] = row
        self._requests: dict[str, AppointmentRequest] = {}
        # indexes of the requests the RS looks for (a chunk holds thousands)
        self._open: dict[tuple[str, Service], dict[str, None]] = {}
        self._awaiting: dict[str, None] = {}
        self._to_activate: dict[str, None] = {}
        for request in seed.requests:
            self._put(request.correlation_id, request)

    def _index(self, request: AppointmentRequest, *, add: bool) -> None:
        key = request.correlation_id
        found: list[dict[str, None]] = []
        if request.state is RequestState.AWAITING_PROVIDER:
            found = [self._open.setdefault((str(request.mpan), request.service), {}), self._awaiting]
        elif request.state is RequestState.ACCEPTED and not request.activated:
            found = [self._to_activate]
        for index in found:
            if add:
                index[key] = None
            else:
                index.pop(key, None)

    def _put(self, key: str, request: AppointmentRequest | None) -> None:
        old = self._requests.get(key)
        if old is not None:
            self._index(old, add=False)
        if request is None:
            self._requests.pop(key, None)
        else:
            self._requests[key] = request
            self._index(request, add=True)

    def _sorted(
        self, keys: Iterable[str], keep: Callable[[AppointmentRequest], bool]
    ) -> list[AppointmentRequest]:
        found = (self._requests[k] for k in keys)
        return sorted((r for r in found if keep(r)), key=lambda r: r.id or 0)

    def put_mpan(self, record: MpanRecord) -> None:
        """Seed (or replace) an MPAN's registration data: what CSS and the MPAN's site tell
        the RS outside the DIP; not a write of the unit of work."""
        self._mpans[str(record.mpan)] = record

    def get_mpan(self, core: str) -> MpanRecord | None:
        return self._mpans.get(core)

    def timeline(self, core: str) -> list[Appointment]:
        rows = self._rows.get(core, {})
        return sorted(rows.values(), key=lambda a: (a.service.value, a.period.start, a.id or 0))

    def apply(self, change: TimelineChange, *, at: datetime, by: str | None) -> None:
        for row in change.retire:
            if row.id is None or row.id not in self._rows.get(str(row.mpan), {}):
                raise TimelineConflict(f"appointment row {row.id} is no longer current")
        retired = [
            (str(r.mpan), self._rows[str(r.mpan)].pop(r.id)) for r in change.retire if r.id is not None
        ]
        inserted = tuple(replace(a, id=self._journal.new_id()) for a in change.insert)
        for row in inserted:
            assert row.id is not None
            self._rows.setdefault(str(row.mpan), {})[row.id] = row

        def undo() -> None:
            for row in inserted:
                assert row.id is not None
                self._rows[str(row.mpan)].pop(row.id, None)
            for core, old in retired:
                assert old.id is not None
                self._rows.setdefault(core, {})[old.id] = old

        self._journal.wrote(AppliedTimeline(change, inserted, at, by), undo)

    def add_request(self, request: AppointmentRequest) -> None:
        key = request.correlation_id
        if key in self._requests:
            raise ValueError(f"appointment request {key} is already recorded")
        stored = replace(request, id=self._journal.new_id())
        self._put(key, stored)

        def undo() -> None:
            self._put(key, None)

        self._journal.wrote(AddedRequest(stored), undo)

    def request(self, correlation_id: str) -> AppointmentRequest | None:
        return self._requests.get(correlation_id)

    def open_requests(self, core: str, service: Service) -> list[AppointmentRequest]:
        return self._sorted(self._open.get((core, service), {}), lambda r: True)

    def _update(self, correlation_id: str, write: Write, **changes: object) -> None:
        old = self._requests.get(correlation_id)
        if old is None:
            self._journal.wrote(write, lambda: None)
            return
        self._put(correlation_id, replace(old, **changes))  # type: ignore[arg-type]

        def undo() -> None:
            self._put(correlation_id, old)

        self._journal.wrote(write, undo)

    def settle_request(self, correlation_id: str, state: RequestState, code: str | None) -> None:
        self._update(
            correlation_id, SettledRequest(correlation_id, state, code), state=state, outcome_code=code
        )

    def mark_activated(self, correlation_id: str) -> None:
        self._update(correlation_id, ActivatedRequest(correlation_id), activated=True)

    def requests_to_lapse(self, received_before_or_on: date) -> list[AppointmentRequest]:
        return self._sorted(self._awaiting, lambda r: r.received_on <= received_before_or_on)

    def requests_to_activate(self, day: date) -> list[AppointmentRequest]:
        return self._sorted(self._to_activate, lambda r: r.effective_from <= day)


class MemoryDataService:
    def __init__(self, journal: _Journal, seed: Seed) -> None:
        self._journal = journal
        self._contracts = sorted(seed.contracts, key=lambda c: (str(c.sds), str(c.supplier), c.reference))
        self._portfolio: dict[tuple[str, str], list[Held]] = {}
        for row in seed.portfolio:
            self._portfolio.setdefault((row.sds, row.mpan), []).append(row.held)
        for rows in self._portfolio.values():
            rows.sort(key=lambda h: h.period.start)
        self._facts = {(f.sds, f.mpan): f for f in seed.facts}

    def put_contract(self, contract: Contract) -> None:
        """Seed a contract (contracts are agreed outside the DIP); not a write of the unit of work."""
        self._contracts.append(contract)
        self._contracts.sort(key=lambda c: (str(c.sds), str(c.supplier), c.reference))

    def contracts(self, *, sds: str) -> list[Contract]:
        return [c for c in self._contracts if str(c.sds) == sds]

    def portfolio_rows(self, *, sds: str, core: str) -> list[Held]:
        return list(self._portfolio.get((sds, core), []))

    def portfolio_replace(self, *, sds: str, core: str, rows: Sequence[Held]) -> None:
        key = (sds, core)
        had = key in self._portfolio
        old = self._portfolio.get(key)
        self._portfolio[key] = sorted(rows, key=lambda h: h.period.start)

        def undo() -> None:
            if had and old is not None:
                self._portfolio[key] = old
            else:
                self._portfolio.pop(key, None)

        self._journal.wrote(ReplacedPortfolio(sds, core, tuple(rows)), undo)

    def portfolio_on(self, *, sds: str, core: str, day: date) -> PortfolioDay | None:
        for held in self._portfolio.get((sds, core), []):
            if _current(held.period.start, held.period.end, day):
                return PortfolioDay(held.supplier, held.mdr, held.mdr_mpid, held.contract_reference)
        return None

    def facts(self, *, sds: str, core: str) -> MpanFacts | None:
        return self._facts.get((sds, core))

    def learn(self, facts: MpanFacts) -> None:
        key = (facts.sds, facts.mpan)
        old = self._facts.get(key)
        self._facts[key] = facts

        def undo() -> None:
            if old is None:
                self._facts.pop(key, None)
            else:
                self._facts[key] = old

        self._journal.wrote(LearnedFacts(facts), undo)


class MemoryDcc:
    def __init__(self, journal: _Journal, seed: Seed) -> None:
        self._journal = journal
        self._mdrs: dict[str, list[MdrNotice]] = {}
        self._supplies: dict[str, list[SupplyNotice]] = {}
        for notice in seed.mdr_notices:
            self._mdrs.setdefault(notice.mpan, []).append(notice)
        for supply in seed.supply_notices:
            self._supplies.setdefault(supply.mpan, []).append(supply)

    def record_mdr(
        self,
        *,
        core: str,
        mdr: str,
        mdr_mpid: str,
        valid_from: date,
        supplier: str,
        at: datetime,
        transaction_id: str,
    ) -> None:
        notices = self._mdrs.setdefault(core, [])
        notices.append(MdrNotice(core, mdr, valid_from))
        self._journal.wrote(
            RecordedMdr(core, mdr, mdr_mpid, valid_from, supplier, at, transaction_id), _dropper(notices)
        )

    def record_supply(
        self,
        *,
        core: str,
        supplier: str,
        energy_direction: str,
        valid_from: date,
        at: datetime,
        transaction_id: str,
    ) -> None:
        notices = self._supplies.setdefault(core, [])
        notices.append(SupplyNotice(core, supplier, energy_direction, valid_from))
        self._journal.wrote(
            RecordedSupply(core, supplier, energy_direction, valid_from, at, transaction_id),
            _dropper(notices),
        )

    def records(self, core: str) -> DccRecords:
        return DccRecords.received(self._mdrs.get(core, []), self._supplies.get(core, []))


class MemoryMdr:
    def __init__(self, journal: _Journal, seed: Seed) -> None:
        self._journal = journal
        self._rows: dict[tuple[str, str], list[Instruction]] = {}
        for row in seed.instructions:
            self._rows.setdefault((row.mdr, row.mpan), []).append(row)

    def _replace_rows(self, key: tuple[str, str], rows: list[Instruction], write: Write) -> None:
        old = self._rows.get(key, [])
        self._rows[key] = rows

        def undo() -> None:
            self._rows[key] = old

        self._journal.wrote(write, undo)

    def instruct(
        self, *, mdr: str, core: str, sds: str, mdr_mpid: str, valid_from: date, correlation_id: str | None
    ) -> None:
        key = (mdr, core)
        rows: list[Instruction] = []
        for row in self._rows.get(key, []):
            if row.sds == sds and row.valid_from >= valid_from:
                continue  # superseded by the earlier start
            open_past = row.sds == sds and (row.valid_to is None or row.valid_to > valid_from)
            rows.append(replace(row, valid_to=valid_from) if open_past else row)
        new = Instruction(mdr, core, sds, mdr_mpid, valid_from, None, correlation_id)
        rows.append(new)
        self._replace_rows(key, rows, Instructed(new))

    def stop(self, *, mdr: str, core: str, sds: str, last_day: date) -> bool:
        key = (mdr, core)
        end = last_day + timedelta(days=1)
        rows: list[Instruction] = []
        changed = False
        for row in self._rows.get(key, []):
            if row.sds == sds and row.valid_from >= end:
                changed = True
                continue
            open_past = row.sds == sds and (row.valid_to is None or row.valid_to > end)
            changed = changed or open_past
            rows.append(replace(row, valid_to=end) if open_past else row)
        self._replace_rows(key, rows, Stopped(mdr, core, sds, last_day))
        return changed

    def instructions(self, *, mdr: str, core: str) -> list[Instruction]:
        return sorted(self._rows.get((mdr, core), []), key=lambda r: (r.valid_from, r.sds))


class MemoryMessages:
    def __init__(self, journal: _Journal, seed: Seed) -> None:
        self._journal = journal
        self._messages: dict[int, StoredMessage] = {m.id: m for m in seed.messages}
        self._references = set(seed.known_references) | {m.sender_unique_reference for m in seed.messages}
        self._transactions = {m.transaction_id for m in seed.messages}
        self._correlations: dict[str, int] = {}
        for correlation in seed.known_correlations:
            self._correlations[correlation] = 1
        for m in seed.messages:
            if m.correlation_id is not None:
                self._correlations[m.correlation_id] = self._correlations.get(m.correlation_id, 0) + 1
        self._deliveries: dict[int, tuple[int, LoggedDelivery]] = {}
        self._pending: dict[int, None] = {}
        """Ids of pending deliveries, in order (a dict: ordered, with O(1) membership)."""

    # -- logging ---------------------------------------------------------------------------------
    def log_message(
        self,
        *,
        reference: str,
        interface_id: str,
        event_code: str,
        sender: str,
        sender_role: str,
        core: str | None,
        correlation_id: str | None,
        transaction_id: str,
        at: datetime,
        origin: str,
        body: bytes,
    ) -> int:
        new = NewMessage(
            reference,
            interface_id,
            event_code,
            sender,
            sender_role,
            core,
            correlation_id,
            transaction_id,
            at,
            origin,
            body,
            (),
        )
        if reference in self._references or transaction_id in self._transactions:
            raise DuplicateMessage(reference)
        return self._log(new)

    def _log(self, new: NewMessage) -> int:
        message_id = self._journal.new_id()
        stored = StoredMessage(
            message_id,
            new.reference,
            new.interface_id,
            new.event_code,
            new.sender,
            new.sender_role,
            new.core,
            new.correlation_id,
            new.transaction_id,
            new.at,
            new.origin,
            new.body,
        )
        self._messages[message_id] = stored
        self._references.add(new.reference)
        self._transactions.add(new.transaction_id)
        if new.correlation_id is not None:
            self._correlations[new.correlation_id] = self._correlations.get(new.correlation_id, 0) + 1

        def undo() -> None:
            del self._messages[message_id]
            self._references.discard(new.reference)
            self._transactions.discard(new.transaction_id)
            if new.correlation_id is not None:
                self._correlations[new.correlation_id] -= 1
                if not self._correlations[new.correlation_id]:
                    del self._correlations[new.correlation_id]

        self._journal.wrote(LoggedMessage(message_id, new), undo)
        return message_id

    def correlation_seen(self, correlation_id: str, *, other_than: str) -> bool:
        if self.reference_seen(other_than):
            return False
        return correlation_id in self._correlations

    def reference_seen(self, reference: str) -> bool:
        return reference in self._references

    def add_deliveries(self, message_id: int, recipients: Iterable[str], *, state: str = "pending") -> None:
        self._add(message_id, [(r, state) for r in recipients])

    def _add(self, message_id: int, recipients: Sequence[tuple[str, str]]) -> None:
        """Deliveries in the recipients' order, as the SQL log numbers them."""
        if not recipients:
            return
        new_id = self._journal.new_id
        added = tuple(LoggedDelivery(new_id(), r, state) for r, state in recipients)
        for delivery in added:
            self._deliveries[delivery.id] = (message_id, delivery)
            if delivery.state == "pending":
                self._pending[delivery.id] = None

        def undo() -> None:
            for delivery in added:
                del self._deliveries[delivery.id]
                self._pending.pop(delivery.id, None)

        self._journal.wrote(AddedDeliveries(message_id, added), undo)

    def log_messages(self, messages: Sequence[NewMessage]) -> list[int]:
        """Messages known to be new, each with its deliveries in its recipients' order."""
        ids = []
        for new in messages:
            message_id = self._log(new)
            ids.append(message_id)
            self._add(message_id, new.recipients)
        return ids

    # -- delivering -----------------------------------------------------------------------------
    def pending_deliveries(self, limit: int) -> list[PendingDelivery]:
        found = []
        for delivery_id in itertools.islice(self._pending, limit):
            message_id, delivery = self._deliveries[delivery_id]
            found.append(PendingDelivery(delivery_id, delivery.recipient, self._messages[message_id]))
        return found

    def has_pending(self) -> bool:
        return bool(self._pending)

    def finish_deliveries(self, rows: Sequence[DeliveryOutcome], *, at: datetime) -> None:
        if not rows:
            return
        taken = [r.delivery_id for r in rows if r.delivery_id not in self._pending]
        if taken:
            raise DeliveryTaken(f"{len(taken)} of {len(rows)} deliveries were finished elsewhere")
        before = {r.delivery_id: self._deliveries[r.delivery_id] for r in rows}
        for row in rows:
            message_id, delivery = self._deliveries[row.delivery_id]
            self._deliveries[row.delivery_id] = (
                message_id,
                LoggedDelivery(delivery.id, delivery.recipient, row.state, at, row.code, row.detail),
            )
        for row in rows:
            self._pending.pop(row.delivery_id, None)

        def undo() -> None:
            self._deliveries.update(before)
            self._pending = dict.fromkeys(sorted([*self._pending, *before]))  # ids grow in order

        self._journal.wrote(FinishedDeliveries(tuple(rows), at), undo)

    def messages_by_id(self, ids: Sequence[int]) -> list[StoredMessage]:
        return [self._messages[i] for i in sorted(set(ids)) if i in self._messages]

    # -- for the batch lane and tests -------------------------------------------------------------
    def finished(self) -> list[tuple[NewMessage, list[LoggedDelivery]]]:
        """Every message logged here as it was given, with its deliveries in their final
        state, in order: what the batch lane flushes."""
        by_message: dict[int, list[LoggedDelivery]] = {}
        for delivery_id in sorted(self._deliveries):
            message_id, delivery = self._deliveries[delivery_id]
            by_message.setdefault(message_id, []).append(delivery)
        return [
            (w.message, by_message.get(w.id, []))
            for w in self._journal.writes
            if isinstance(w, LoggedMessage) and w.id in self._messages
        ]

    def logged(self) -> list[tuple[StoredMessage, tuple[LoggedDelivery, ...]]]:
        """Every message logged here, with its deliveries in their final state, in order."""
        by_message: dict[int, list[LoggedDelivery]] = {}
        for delivery_id in sorted(self._deliveries):
            message_id, delivery = self._deliveries[delivery_id]
            by_message.setdefault(message_id, []).append(delivery)
        return [
            (self._messages[m.id], tuple(by_message.get(m.id, [])))
            for m in (w for w in self._journal.writes if isinstance(w, LoggedMessage))
        ]


# -- the unit of work ----------------------------------------------------------------------------
@dataclass
class MemoryUnitOfWork:
    """Every role's repository in memory, seeded with frozen rows; ``writes`` lists what was
    written since the seed, in order (a rollback or a failed savepoint removes its part)."""

    seed: Seed = field(default_factory=Seed)

    def __post_init__(self) -> None:
        next_id = self.seed.next_id
        if next_id is None:
            seeded = [
                *(a.id for a in self.seed.appointments),
                *(r.id for r in self.seed.requests),
                *(m.id for m in self.seed.messages),
            ]
            next_id = max((i for i in seeded if i is not None), default=0) + 1
        self._journal = _Journal(next_id)
        self._committed = 0
        self._registration = MemoryRegistration(self._journal, self.seed)
        self._dataservice = MemoryDataService(self._journal, self.seed)
        self._dcc = MemoryDcc(self._journal, self.seed)
        self._mdr = MemoryMdr(self._journal, self.seed)
        self._messages = MemoryMessages(self._journal, self.seed)

    @property
    def registration(self) -> MemoryRegistration:
        return self._registration

    @property
    def dataservice(self) -> MemoryDataService:
        return self._dataservice

    @property
    def dcc(self) -> MemoryDcc:
        return self._dcc

    @property
    def mdr(self) -> MemoryMdr:
        return self._mdr

    @property
    def messages(self) -> MemoryMessages:
        return self._messages

    @property
    def writes(self) -> list[Write]:
        return list(self._journal.writes)

    def commit(self) -> None:
        self._journal.forget_undo()
        self._committed = len(self._journal.writes)

    def rollback(self) -> None:
        self._journal.undo_to((self._committed, 0))

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        mark = self._journal.mark()
        try:
            yield
        except BaseException:
            self._journal.undo_to(mark)
            raise
