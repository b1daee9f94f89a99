"""The SQL unit of work: one connection, one transaction at a time, and a repository per role
over the market's tables (``store.ports``). Participants get it on every call and touch only
their own repository; the market's own bookkeeping (its clock, serialising the day's work)
uses ``clock`` here, never a participant.

    with SqlUnitOfWork.begin(db) as uow:   # committed when the block ends, rolled back if it raises
        rs.receive(delivered, ctx, uow)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from openmhhs.dataservice.contracts import Contract
from openmhhs.dataservice.portfolio import Held
from openmhhs.registration.model import Appointment, AppointmentRequest, MpanRecord, RequestState, Service
from openmhhs.registration.timeline import TimelineChange
from openmhhs.store.database import Database
from openmhhs.store.dcc_repo import DccRepository
from openmhhs.store.driver import Statement
from openmhhs.store.market_repo import MarketStore, NewMessage, PendingDelivery, StoredMessage
from openmhhs.store.ports import DeliveryOutcome, Instruction, MpanFacts, PortfolioDay
from openmhhs.store.tables import mdr_instruction, sds_mpan_fact

__all__ = [
    "MarketClock",
    "SqlDataService",
    "SqlMdr",
    "SqlMessages",
    "SqlRegistration",
    "SqlUnitOfWork",
]

_FACT_COLUMNS = [sds_mpan_fact.c[n] for n in ("sds", "mpan", "energy_direction", "energisation")]
_FACTS = Statement(
    "SELECT sds, mpan, energy_direction, energisation FROM sds_mpan_fact WHERE sds = ? AND mpan = ?",
    binds=_FACT_COLUMNS[:2],
    results=_FACT_COLUMNS,
)
_LEARN_FACTS = Statement(
    "INSERT INTO sds_mpan_fact (sds, mpan, energy_direction, energisation) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (sds, mpan) DO UPDATE SET energy_direction = excluded.energy_direction, "
    "energisation = excluded.energisation",
    binds=_FACT_COLUMNS,
)
"""What the SDS knew of the MPAN, replaced in one statement."""


class SqlRegistration:
    """The Registration Service's records (``mpan``, ``supplier_period``, ``appointment``,
    ``appointment_request``)."""

    def __init__(self, store: MarketStore) -> None:
        self._store = store

    def get_mpan(self, core: str) -> MpanRecord | None:
        return self._store.get_mpan(core)

    def timeline(self, core: str) -> list[Appointment]:
        return self._store.timeline(core)

    def apply(self, change: TimelineChange, *, at: datetime, by: str | None) -> None:
        self._store.apply(change, at=at, by=by)

    def add_request(self, request: AppointmentRequest) -> None:
        self._store.add_request(request)

    def request(self, correlation_id: str) -> AppointmentRequest | None:
        return self._store.request(correlation_id)

    def open_requests(self, core: str, service: Service) -> list[AppointmentRequest]:
        return self._store.open_requests(core, service)

    def settle_request(self, correlation_id: str, state: RequestState, code: str | None) -> None:
        self._store.settle_request(correlation_id, state, code)

    def mark_activated(self, correlation_id: str) -> None:
        self._store.mark_activated(correlation_id)

    def requests_to_lapse(self, received_before_or_on: date) -> list[AppointmentRequest]:
        return self._store.requests_to_lapse(received_before_or_on)

    def requests_to_activate(self, day: date) -> list[AppointmentRequest]:
        return self._store.requests_to_activate(day)


class SqlDataService:
    """The SDSs' records (``contract``, ``sds_portfolio``, ``sds_mpan_fact``)."""

    def __init__(self, store: MarketStore) -> None:
        self._store = store

    def contracts(self, *, sds: str) -> list[Contract]:
        return self._store.contracts(sds=sds)

    def portfolio_rows(self, *, sds: str, core: str) -> list[Held]:
        return self._store.portfolio_rows(sds=sds, core=core)

    def portfolio_replace(self, *, sds: str, core: str, rows: Sequence[Held]) -> None:
        self._store.portfolio_replace(sds=sds, core=core, rows=rows)

    def portfolio_on(self, *, sds: str, core: str, day: date) -> PortfolioDay | None:
        return self._store.portfolio_on(sds=sds, core=core, day=day)

    def facts(self, *, sds: str, core: str) -> MpanFacts | None:
        row = self._store.driver.first(_FACTS, (sds, core))
        return None if row is None else MpanFacts(*row)

    def learn(self, facts: MpanFacts) -> None:
        self._store.driver.execute(
            _LEARN_FACTS, (facts.sds, facts.mpan, facts.energy_direction, facts.energisation)
        )


class SqlMdr:
    """The MDRs' instructions (``mdr_instruction``)."""

    def __init__(self, store: MarketStore) -> None:
        self._store = store

    def instruct(
        self, *, mdr: str, core: str, sds: str, mdr_mpid: str, valid_from: date, correlation_id: str | None
    ) -> None:
        self._store.mdr_instruct(
            mdr=mdr,
            core=core,
            sds=sds,
            mdr_mpid=mdr_mpid,
            valid_from=valid_from,
            correlation_id=correlation_id,
        )

    def stop(self, *, mdr: str, core: str, sds: str, last_day: date) -> bool:
        return self._store.mdr_stop(mdr=mdr, core=core, sds=sds, last_day=last_day)

    def instructions(self, *, mdr: str, core: str) -> list[Instruction]:
        rows = self._store.connection.execute(
            sa.select(mdr_instruction)
            .where(mdr_instruction.c.mdr == mdr, mdr_instruction.c.mpan == core)
            .order_by(mdr_instruction.c.valid_from, mdr_instruction.c.sds)
        )
        return [
            Instruction(r.mdr, r.mpan, r.sds, r.mdr_mpid, r.valid_from, r.valid_to, r.correlation_id)
            for r in rows
        ]


class SqlMessages:
    """The DIP's message log and deliveries (storage: ``store.market_repo``'s message methods)."""

    def __init__(self, store: MarketStore) -> None:
        self._store = store

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
        return self._store.log_message(
            reference=reference,
            interface_id=interface_id,
            event_code=event_code,
            sender=sender,
            sender_role=sender_role,
            core=core,
            correlation_id=correlation_id,
            transaction_id=transaction_id,
            at=at,
            origin=origin,
            body=body,
        )

    def correlation_seen(self, correlation_id: str, *, other_than: str) -> bool:
        return self._store.correlation_seen(correlation_id, other_than=other_than)

    def reference_seen(self, reference: str) -> bool:
        return self._store.reference_seen(reference)

    def add_deliveries(self, message_id: int, recipients: Iterable[str], *, state: str = "pending") -> None:
        self._store.add_deliveries(message_id, recipients, state=state)

    def log_messages(self, messages: Sequence[NewMessage]) -> list[int]:
        return self._store.log_messages(messages)

    def pending_deliveries(self, limit: int) -> list[PendingDelivery]:
        return self._store.pending_deliveries(limit)

    def has_pending(self) -> bool:
        return self._store.has_pending()

    def finish_deliveries(self, rows: Sequence[DeliveryOutcome], *, at: datetime) -> None:
        self._store.finish_deliveries([(r.delivery_id, r.state, r.code, r.detail) for r in rows], at=at)

    def messages_by_id(self, ids: Sequence[int]) -> list[StoredMessage]:
        return self._store.messages_by_id(ids)


class MarketClock:
    """The market's own bookkeeping, not a role's: the day it last ran, and serialising work
    that two markets on one database must not both do."""

    def __init__(self, store: MarketStore) -> None:
        self._store = store

    def state(self, key: str) -> str | None:
        return self._store.state(key)

    def set_state(self, key: str, value: str) -> None:
        self._store.set_state(key, value)

    def serialise(self, work: str) -> None:
        self._store.serialise(work)


class SqlUnitOfWork:
    """The ports over one SQLAlchemy connection. Made by ``begin`` it owns the connection and
    its transactions (``commit``/``rollback`` end one and start the next); made from a
    connection, it works inside the caller's transaction (savepoints only)."""

    def __init__(self, connection: Connection, *, owned: bool = False) -> None:
        self.connection = connection
        self._owned = owned
        store = MarketStore(connection)
        self.registration = SqlRegistration(store)
        self.dataservice = SqlDataService(store)
        self.dcc = DccRepository(connection, driver=store.driver)
        self.mdr = SqlMdr(store)
        self.messages = SqlMessages(store)
        self.clock = MarketClock(store)

    @classmethod
    @contextmanager
    def begin(cls, db: Database) -> Iterator[SqlUnitOfWork]:
        """A unit of work owning a connection of ``db``: committed when the block ends,
        rolled back if it raises (a database that fails raises ``DatabaseUnavailable``)."""
        with db.connect() as connection:
            connection.begin()
            uow = cls(connection, owned=True)
            try:
                yield uow
            except BaseException:
                connection.rollback()
                raise
            connection.commit()

    def commit(self) -> None:
        self._require_owned()
        self.connection.commit()
        self.connection.begin()

    def rollback(self) -> None:
        self._require_owned()
        self.connection.rollback()
        self.connection.begin()

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        with self.connection.begin_nested():
            yield

    def _require_owned(self) -> None:
        if not self._owned:
            raise RuntimeError("this unit of work runs in its caller's transaction, which the caller ends")
