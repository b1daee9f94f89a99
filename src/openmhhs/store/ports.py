"""The ports: what each role reads and writes, and the unit of work that hands them out.

A participant receives a delivered message and a ``UnitOfWork`` and touches only its own
repository (the RS ``uow.registration``, an SDS ``uow.dataservice``, the DCC ``uow.dcc``, an
MDR ``uow.mdr``); the DIP's ingress and delivery touch ``uow.messages``. Every port is served
twice: over SQL (``store.unit_of_work.SqlUnitOfWork``) and in memory
(``store.memory.MemoryUnitOfWork``, the unit tests' fake and the batch lane's working state).
Rows are frozen values; no port returns a bare tuple.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Protocol

from openmhhs.dataservice.contracts import Contract
from openmhhs.dataservice.portfolio import Held
from openmhhs.dcc.access import DccRecords
from openmhhs.registration.model import Appointment, AppointmentRequest, MpanRecord, RequestState, Service
from openmhhs.registration.timeline import TimelineChange

if TYPE_CHECKING:
    from openmhhs.store.market_repo import NewMessage, PendingDelivery, StoredMessage

__all__ = [
    "DataServiceRepository",
    "DccRepository",
    "DeliveryOutcome",
    "Instruction",
    "MdrRepository",
    "MessageRepository",
    "MpanFacts",
    "PortfolioDay",
    "RegistrationRepository",
    "TimelineConflict",
    "UnitOfWork",
]


class TimelineConflict(Exception):
    """A row to retire was already retired: someone else changed the timeline first."""


# -- frozen rows -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PortfolioDay:
    """What an SDS serves an MPAN with on one day."""

    supplier: str
    mdr: str
    mdr_mpid: str
    contract_reference: str | None


@dataclass(frozen=True, slots=True)
class MpanFacts:
    """What an SDS learned of an MPAN's site from the messages it received (IF-033, IF-001):
    its energy direction (B023) and energisation status (B025)."""

    sds: str
    mpan: str
    energy_direction: str
    energisation: str


@dataclass(frozen=True, slots=True)
class Instruction:
    """An MDR's instruction from an SDS (IF-061): retrieve ``mpan`` over ``[valid_from, valid_to)``."""

    mdr: str
    mpan: str
    sds: str
    mdr_mpid: str
    valid_from: date
    valid_to: date | None
    correlation_id: str | None


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    """How one delivery ended: ``done`` (with the RS's OMH0503, or no code), ``refused`` or
    ``failed``, with the code and reason."""

    delivery_id: int
    state: str
    code: str | None
    detail: str | None


# -- one port per role -------------------------------------------------------------------------
class RegistrationRepository(Protocol):
    """The Registration Service's records: MPANs, the appointment timeline, requests."""

    def get_mpan(self, core: str) -> MpanRecord | None: ...
    def timeline(self, core: str) -> list[Appointment]: ...
    def apply(self, change: TimelineChange, *, at: datetime, by: str | None) -> None:
        """Retire the change's rows (``TimelineConflict`` if one is retired already), then
        insert their successors."""
        ...

    def add_request(self, request: AppointmentRequest) -> None: ...
    def request(self, correlation_id: str) -> AppointmentRequest | None: ...
    def open_requests(self, core: str, service: Service) -> list[AppointmentRequest]: ...
    def settle_request(self, correlation_id: str, state: RequestState, code: str | None) -> None: ...
    def mark_activated(self, correlation_id: str) -> None: ...
    def requests_to_lapse(self, received_before_or_on: date) -> list[AppointmentRequest]: ...
    def requests_to_activate(self, day: date) -> list[AppointmentRequest]: ...


class DataServiceRepository(Protocol):
    """An SDS's records: its contracts, its portfolio, the MPAN facts it learned."""

    def contracts(self, *, sds: str) -> list[Contract]: ...
    def portfolio_rows(self, *, sds: str, core: str) -> list[Held]: ...
    def portfolio_replace(self, *, sds: str, core: str, rows: Sequence[Held]) -> None: ...
    def portfolio_on(self, *, sds: str, core: str, day: date) -> PortfolioDay | None: ...
    def facts(self, *, sds: str, core: str) -> MpanFacts | None: ...
    def learn(self, facts: MpanFacts) -> None:
        """Keep the facts (replacing what the SDS knew of the MPAN)."""
        ...


class DccRepository(Protocol):
    """The DCC's notices, kept as received."""

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
    ) -> None: ...
    def record_supply(
        self,
        *,
        core: str,
        supplier: str,
        energy_direction: str,
        valid_from: date,
        at: datetime,
        transaction_id: str,
    ) -> None: ...
    def records(self, core: str) -> DccRecords: ...


class MdrRepository(Protocol):
    """An MDR's instructions from its SDSs."""

    def instruct(
        self, *, mdr: str, core: str, sds: str, mdr_mpid: str, valid_from: date, correlation_id: str | None
    ) -> None:
        """Retrieve from ``valid_from`` (a later instruction of the same SDS is superseded)."""
        ...

    def stop(self, *, mdr: str, core: str, sds: str, last_day: date) -> bool:
        """Retrieve nothing after ``last_day``; whether anything changed."""
        ...

    def instructions(self, *, mdr: str, core: str) -> list[Instruction]: ...


class MessageRepository(Protocol):
    """The DIP's message log and deliveries."""

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
        """Log one submitted message; ``DuplicateMessage`` (MSG1006) for a sender unique
        reference already logged."""
        ...

    def correlation_seen(self, correlation_id: str, *, other_than: str) -> bool: ...
    def reference_seen(self, reference: str) -> bool: ...
    def add_deliveries(
        self, message_id: int, recipients: Iterable[str], *, state: str = "pending"
    ) -> None: ...
    def log_messages(self, messages: Sequence[NewMessage]) -> list[int]: ...
    def pending_deliveries(self, limit: int) -> list[PendingDelivery]: ...
    def has_pending(self) -> bool: ...
    def finish_deliveries(self, rows: Sequence[DeliveryOutcome], *, at: datetime) -> None: ...
    def messages_by_id(self, ids: Sequence[int]) -> list[StoredMessage]: ...


class UnitOfWork(Protocol):
    """One transaction, and a repository per role inside it."""

    @property
    def registration(self) -> RegistrationRepository: ...
    @property
    def dataservice(self) -> DataServiceRepository: ...
    @property
    def dcc(self) -> DccRepository: ...
    @property
    def mdr(self) -> MdrRepository: ...
    @property
    def messages(self) -> MessageRepository: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...
    def savepoint(self) -> AbstractContextManager[None]:
        """``with uow.savepoint(): …`` keeps the block's writes, or undoes them (and only
        them) if it raises."""
        ...
