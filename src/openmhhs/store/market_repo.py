"""Storage of the market: MPANs and supplier periods, appointment timelines, appointment
requests, contracts, the SDS portfolio, the DCC's MDR notices, and the message log with
its deliveries. One ``MarketStore`` works inside one transaction (the caller's connection).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import IntegrityError

from openmhhs.dataservice.contracts import BlankMdrPolicy, Contract
from openmhhs.dataservice.portfolio import Held
from openmhhs.ids import DipId, GspGroup, MpanCore, Mpid
from openmhhs.periods import Period
from openmhhs.registration.model import (
    Appointment,
    AppointmentRequest,
    ConnectionType,
    MarketSegment,
    MpanRecord,
    RequestState,
    Scenario,
    Service,
    SupplierPeriod,
)
from openmhhs.registration.timeline import Gap, TimelineChange
from openmhhs.store.bulk import COPY_THRESHOLD, bulk_insert, insert_rows, stored_rows
from openmhhs.store.compact import storable_mpan, text_key
from openmhhs.store.driver import Driver, Statement
from openmhhs.store.message_codec import Envelope, envelope
from openmhhs.store.ports import PortfolioDay, TimelineConflict
from openmhhs.store.tables import (
    appointment,
    appointment_request,
    contract,
    delivery,
    delivery_attempt,
    market_state,
    mdr_instruction,
    message,
    mpan,
    participant_mode,
    sds_portfolio,
    supplier_period,
)

__all__ = [
    "PARKED_STATES",
    "DeliveryTaken",
    "DuplicateMessage",
    "FinishedDelivery",
    "MarketStore",
    "NewMessage",
    "ParkedDelivery",
    "PendingDelivery",
    "StoredMessage",
    "TimelineConflict",
    "stored_message",
]


# Prebuilt statements: building a statement costs about 60 us in SQLAlchemy, executing a
# prebuilt one about 20 us.
_B = sa.bindparam
_DATA_SERVICE_ON = (
    sa.select(appointment.c.provider, appointment.c.provider_mpid, appointment.c.mdr, appointment.c.mdr_mpid)
    .where(
        appointment.c.mpan == _B("core"),
        appointment.c.service == "DS",
        appointment.c.retired_at.is_(None),
        appointment.c.valid_from <= _B("day"),
        sa.or_(appointment.c.valid_to.is_(None), appointment.c.valid_to > _B("day")),
    )
    .limit(1)
)
_PORTFOLIO_ON = sa.select(
    sds_portfolio.c.supplier,
    sds_portfolio.c.mdr,
    sds_portfolio.c.mdr_mpid,
    sds_portfolio.c.contract_reference,
).where(
    sds_portfolio.c.sds == _B("sds"),
    sds_portfolio.c.mpan == _B("core"),
    sds_portfolio.c.valid_from <= _B("day"),
    sa.or_(sds_portfolio.c.valid_to.is_(None), sds_portfolio.c.valid_to > _B("day")),
)
_MESSAGE_COLUMNS = tuple(c.name for c in message.c)
_MESSAGE_ROW = (
    "id",
    "sender_unique_reference",
    "interface_id",
    "event_code",
    "sender",
    "mpan",
    "correlation_id",
    "transaction_id",
    "received_at",
    "origin",
    "body",
)
"""The message table's columns in the order ``log_finished`` writes a ``NewMessage``."""
assert set(_MESSAGE_ROW) == set(_MESSAGE_COLUMNS)
_DELIVERY_COLUMNS = ("message_id", "recipient", "state", "processed_at", "outcome_code", "outcome_detail")
_LAST_MESSAGE_ID = sa.select(sa.func.coalesce(sa.func.max(message.c.id), 0))
_ANY_PENDING = sa.select(delivery.c.id).where(delivery.c.state == "pending").limit(1)


# The statements the per-message lane runs per message, on the driver's cursor
# (``store.driver``): about 5 us each where SQLAlchemy's execute costs about 60.
def _select(table: sa.Table, names: Sequence[str], where: str, binds: Sequence[str]) -> Statement:
    return Statement(
        f"SELECT {', '.join(names)} FROM {table.name} WHERE {where}",
        binds=[table.c[b] for b in binds],
        results=[table.c[n] for n in names],
    )


def _insert(table: sa.Table, names: Sequence[str], *, returning: str | None = None) -> Statement:
    marks = ", ".join("?" for _ in names)
    tail = f" RETURNING {returning}" if returning else ""
    return Statement(
        f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({marks}){tail}",
        binds=[table.c[n] for n in names],
        results=[table.c[returning]] if returning else (),
    )


_MPAN_NAMES = (
    "mpan",
    "distributor",
    "gsp_group",
    "segment",
    "connection_type",
    "energisation",
    "domestic",
    "energy_direction",
    "dcc_service_flag",
    "meter_type",
    "postcode",
    "duos_tariff_id",
)
_D_MPAN = _select(mpan, _MPAN_NAMES, "mpan = ?", ["mpan"])
_D_MPAN_PERIODS = _select(
    supplier_period, ("supplier", "valid_from", "valid_to"), "mpan = ? ORDER BY valid_from", ["mpan"]
)
_APPOINTMENT_NAMES = (
    "mpan",
    "service",
    "provider",
    "provider_mpid",
    "mdr",
    "mdr_mpid",
    "valid_from",
    "valid_to",
    "supplier",
    "contract_reference",
    "scenario",
    "correlation_id",
)
_D_TIMELINE = _select(
    appointment,
    ("id", *_APPOINTMENT_NAMES),
    "mpan = ? AND retired_at IS NULL ORDER BY service, valid_from",
    ["mpan"],
)
_D_RETIRE = Statement(
    "UPDATE appointment SET retired_at = ?, retired_by = ? WHERE id = ? AND mpan = ? AND retired_at IS NULL",
    binds=[appointment.c.retired_at, appointment.c.retired_by, appointment.c.id, appointment.c.mpan],
)
APPOINTMENT_COLUMNS = (*_APPOINTMENT_NAMES, "recorded_at")
"""An appointment row as it is inserted: ``appointment_row``'s order."""
_D_INSERT_APPOINTMENT = _insert(appointment, APPOINTMENT_COLUMNS)
REQUEST_COLUMNS = (
    "correlation_id",
    "mpan",
    "service",
    "supplier",
    "supplier_mpid",
    "provider",
    "provider_mpid",
    "effective_from",
    "scenario",
    "received_on",
    "raw_block",
    "nominated_mdr",
    "state",
    "outcome_code",
    "activated",
)
"""A request row as it is inserted and read (after its id): ``request_row``'s order."""
_D_REQUEST = _select(appointment_request, ("id", *REQUEST_COLUMNS), "correlation_id = ?", ["correlation_id"])
_D_OPEN_REQUESTS = _select(
    appointment_request,
    ("id", *REQUEST_COLUMNS),
    "mpan = ? AND service = ? AND state = ?",
    ["mpan", "service", "state"],
)
_D_INSERT_REQUEST = _insert(appointment_request, REQUEST_COLUMNS)
_D_REQUESTS_TO_LAPSE = _select(
    appointment_request,
    ("id", *REQUEST_COLUMNS),
    "state = ? AND received_on <= ? ORDER BY id",
    ["state", "received_on"],
)
_D_REQUESTS_TO_ACTIVATE = _select(
    appointment_request,
    ("id", *REQUEST_COLUMNS),
    "state = ? AND activated = ? AND effective_from <= ? ORDER BY id",
    ["state", "activated", "effective_from"],
)
_D_SETTLE = Statement(
    "UPDATE appointment_request SET state = ?, outcome_code = ? WHERE correlation_id = ?",
    binds=[
        appointment_request.c.state,
        appointment_request.c.outcome_code,
        appointment_request.c.correlation_id,
    ],
)
_D_ACTIVATED = Statement(
    "UPDATE appointment_request SET activated = ? WHERE correlation_id = ?",
    binds=[appointment_request.c.activated, appointment_request.c.correlation_id],
)
_PORTFOLIO_NAMES = (
    "supplier",
    "mdr",
    "mdr_mpid",
    "valid_from",
    "valid_to",
    "contract_reference",
    "correlation_id",
)
_D_PORTFOLIO_ROWS = _select(
    sds_portfolio, _PORTFOLIO_NAMES, "sds = ? AND mpan = ? ORDER BY valid_from", ["sds", "mpan"]
)
_D_PORTFOLIO_DELETE = Statement(
    "DELETE FROM sds_portfolio WHERE sds = ? AND mpan = ?", binds=[sds_portfolio.c.sds, sds_portfolio.c.mpan]
)
_D_INSERT_PORTFOLIO = _insert(sds_portfolio, ("sds", "mpan", *_PORTFOLIO_NAMES))
_D_BODIES_BY_REFERENCE = _select(
    message, ("body",), "sender_unique_reference = ?", ["sender_unique_reference"]
)
_D_BODIES_BY_CORRELATION = _select(message, ("body",), "correlation_id = ?", ["correlation_id"])
_D_INSERT_MESSAGE = _insert(message, _MESSAGE_COLUMNS[1:], returning="id")
_D_INSERT_DELIVERY = _insert(delivery, ("message_id", "recipient", "state"))
_MESSAGE_NAMES = ", ".join(f"message.{c.name}" for c in message.c)
_PENDING_SQL = (
    f"SELECT delivery.id, delivery.recipient, {_MESSAGE_NAMES} FROM delivery "
    "JOIN message ON message.id = delivery.message_id WHERE delivery.state = ? ORDER BY delivery.id LIMIT ?"
)
_PENDING_RESULTS = [delivery.c.id, delivery.c.recipient, *message.c]
_D_PENDING = Statement(
    _PENDING_SQL, binds=[delivery.c.state, sa.column("batch", sa.Integer)], results=_PENDING_RESULTS
)
_D_PENDING_CLAIM = Statement(
    f"{_PENDING_SQL} FOR UPDATE OF delivery SKIP LOCKED",
    binds=[delivery.c.state, sa.column("batch", sa.Integer)],
    results=_PENDING_RESULTS,
)
"""On PostgreSQL, concurrent markets each claim different deliveries (row locks)."""
_FINISH_SQL = (
    "UPDATE delivery SET state = ?, processed_at = ?, outcome_code = ?, outcome_detail = ? "
    "WHERE state = ? AND id {among}"
)
_FINISH_BINDS = [
    delivery.c.state,
    delivery.c.processed_at,
    delivery.c.outcome_code,
    delivery.c.outcome_detail,
    delivery.c.state,
    sa.column("ids", sa.Text),
]
_D_FINISH_SQLITE = Statement(
    _FINISH_SQL.format(among="IN (SELECT value FROM json_each(?))"), binds=_FINISH_BINDS
)
_D_FINISH_POSTGRESQL = Statement(_FINISH_SQL.format(among="= ANY(?)"), binds=_FINISH_BINDS)
"""Deliveries finished alike (most are 'done' with no code), as one statement each: the ids as
a JSON array on SQLite, an array on PostgreSQL."""
_MDR_SAME = "mdr = ? AND mpan = ? AND sds = ?"
_MDR_KEY = [mdr_instruction.c.mdr, mdr_instruction.c.mpan, mdr_instruction.c.sds]
_D_MDR_WITHDRAW = Statement(
    f"DELETE FROM mdr_instruction WHERE {_MDR_SAME} AND valid_from >= ?",
    binds=[*_MDR_KEY, mdr_instruction.c.valid_from],
)
_D_MDR_END = Statement(
    f"UPDATE mdr_instruction SET valid_to = ? WHERE {_MDR_SAME} AND (valid_to IS NULL OR valid_to > ?)",
    binds=[mdr_instruction.c.valid_to, *_MDR_KEY, mdr_instruction.c.valid_to],
)
_D_MDR_STOP = Statement(
    f"UPDATE mdr_instruction SET valid_to = ? WHERE {_MDR_SAME} AND valid_from < ? "
    "AND (valid_to IS NULL OR valid_to > ?)",
    binds=[mdr_instruction.c.valid_to, *_MDR_KEY, mdr_instruction.c.valid_from, mdr_instruction.c.valid_to],
)
_D_INSERT_MDR = _insert(
    mdr_instruction, ("mdr", "mpan", "sds", "mdr_mpid", "valid_from", "valid_to", "correlation_id")
)


_REFERENCE_LOCK = sa.text("SELECT pg_advisory_xact_lock(:key)")
_NEXT_MESSAGE_IDS = sa.text(
    "SELECT nextval(pg_get_serial_sequence('message', 'id')) FROM generate_series(1, :count)"
)


def _write(
    connection: Connection, table: sa.Table, columns: Sequence[str], rows: list[tuple[Any, ...]]
) -> None:
    """Rows (tuples in ``columns`` order) with one executemany, or COPY on PostgreSQL from
    :data:`COPY_THRESHOLD` rows."""
    if not rows:
        return
    if len(rows) >= COPY_THRESHOLD or connection.dialect.name != "postgresql":
        insert_rows(connection, table, columns, rows)
        return
    connection.execute(sa.insert(table), [dict(zip(columns, row, strict=True)) for row in rows])


class DuplicateMessage(Exception):
    """A sender unique reference already in the message log (MSG1006)."""


class DeliveryTaken(Exception):
    """A delivery to finish was no longer pending: another market delivered it."""


@dataclass(frozen=True, slots=True)
class StoredMessage:
    id: int
    sender_unique_reference: str
    interface_id: str
    event_code: str
    sender: str
    sender_role: str
    mpan: str | None
    correlation_id: str | None
    transaction_id: str
    received_at: datetime
    origin: str
    body: bytes


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A message to log, with where it goes: (recipient, 'pending' | 'mailbox')."""

    reference: str
    interface_id: str
    event_code: str
    sender: str
    sender_role: str
    core: str | None
    correlation_id: str | None
    transaction_id: str
    at: datetime
    origin: str
    body: bytes
    recipients: tuple[tuple[str, str], ...]

    def row(self) -> dict[str, object]:
        """The ``message`` row (without its id); the sender's role is read from the body."""
        return {
            "sender_unique_reference": self.reference,
            "interface_id": self.interface_id,
            "event_code": self.event_code,
            "sender": self.sender,
            "mpan": self.core,
            "correlation_id": self.correlation_id,
            "transaction_id": self.transaction_id,
            "received_at": self.at,
            "origin": self.origin,
            "body": self.body,
        }


@dataclass(frozen=True, slots=True)
class StoredLog:
    """Messages with their deliveries in their final state, every value as the log stores it
    (bodies compressed, references and correlation ids as keys …): ``messages`` in
    ``_MESSAGE_ROW`` order without the id, ``deliveries`` per message in
    ``_DELIVERY_COLUMNS`` order without the message's id."""

    messages: list[tuple[Any, ...]]
    deliveries: list[list[tuple[Any, ...]]]


def stored_log(
    dialect: Dialect, messages: Sequence[NewMessage], deliveries: Sequence[Sequence[FinishedDelivery]]
) -> StoredLog:
    """What ``MarketStore.log_finished`` writes, converted for ``dialect``: the CPU part of
    logging, which a writer that shares the database does before taking the write lock."""
    rows = stored_rows(
        dialect,
        message,
        _MESSAGE_ROW[1:],
        [
            (
                m.reference,
                m.interface_id,
                m.event_code,
                m.sender,
                m.core,
                m.correlation_id,
                m.transaction_id,
                m.at,
                m.origin,
                m.body,
            )
            for m in messages
        ],
    )
    flat = stored_rows(dialect, delivery, _DELIVERY_COLUMNS[1:], [d for each in deliveries for d in each])
    per_message: list[list[tuple[Any, ...]]] = []
    at = 0
    for each in deliveries:
        per_message.append(flat[at : at + len(each)])
        at += len(each)
    return StoredLog(rows, per_message)


class FinishedDelivery(NamedTuple):
    """A delivery of a message to log, in its state: 'pending' | 'mailbox' (nothing more yet),
    or finished ('done' | 'refused' | 'failed') at ``processed_at`` with ``code`` and ``detail``."""

    recipient: str
    state: str
    processed_at: datetime | None = None
    code: str | None = None
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class PendingDelivery:
    id: int
    recipient: str
    message: StoredMessage


PARKED_STATES = ("failed", "refused")
"""Deliveries set aside with a code and reason; never in the way of the others."""


@dataclass(frozen=True, slots=True)
class ParkedDelivery:
    id: int
    message_id: int
    recipient: str
    state: str
    code: str | None
    reason: str | None
    interface_id: str
    event_code: str
    mpan: str | None
    sender_unique_reference: str


def _pending(row: Sequence[Any]) -> PendingDelivery:
    """A row of ``_D_PENDING``: the delivery's id and recipient, then the message's columns."""
    message_id, _reference, interface_id, event_code, sender, core, _correlation = row[2:9]
    transaction_id, received_at, origin, body = row[9:13]
    said = envelope(body)
    return PendingDelivery(
        id=row[0],
        recipient=row[1],
        message=StoredMessage(
            id=message_id,
            sender_unique_reference=said.reference,
            interface_id=interface_id,
            event_code=event_code,
            sender=sender,
            sender_role=said.sender_role,
            mpan=core,
            correlation_id=said.correlation_id,
            transaction_id=transaction_id,
            received_at=received_at,
            origin=origin,
            body=body,
        ),
    )


def stored_message(row: Any) -> StoredMessage:
    """A message-log row (the ``message`` table's columns) as a frozen ``StoredMessage``: the
    body as received (the column type decompresses it) and, from the body, the sender unique
    reference, sender role and correlation id the row keeps only as keys."""
    m = row._mapping
    body = bytes(m["body"])
    said = envelope(body)
    return StoredMessage(
        id=m["id"],
        sender_unique_reference=said.reference,
        interface_id=m["interface_id"],
        event_code=m["event_code"],
        sender=m["sender"],
        sender_role=said.sender_role,
        mpan=m["mpan"],
        correlation_id=said.correlation_id,
        transaction_id=m["transaction_id"],
        received_at=m["received_at"],
        origin=m["origin"],
        body=body,
    )


def appointment_from(row: Any) -> Appointment:
    """An appointment from a row of a ``SELECT`` that names its columns (``_appointment_of``
    reads them in order)."""
    m = row._mapping
    return _appointment_of([m[c] for c in ("id", *_APPOINTMENT_NAMES)])


def mpan_record_from(row: Any, periods: Iterable[Any]) -> MpanRecord:
    """An ``mpan`` row with its ``supplier_period`` rows as a frozen ``MpanRecord``."""
    m = row._mapping
    return MpanRecord(
        mpan=MpanCore(m["mpan"]),
        distributor=DipId(m["distributor"]),
        gsp_group=GspGroup(m["gsp_group"]),
        segment=MarketSegment(m["segment"]),
        connection_type=ConnectionType(m["connection_type"]),
        energisation=m["energisation"],
        domestic=bool(m["domestic"]),
        energy_direction=m["energy_direction"],
        dcc_service_flag=m["dcc_service_flag"],
        meter_type=m["meter_type"],
        postcode=m["postcode"],
        duos_tariff_id=m["duos_tariff_id"],
        suppliers=tuple(SupplierPeriod(DipId(p.supplier), Period(p.valid_from, p.valid_to)) for p in periods),
    )


def request_from(row: Any) -> AppointmentRequest:
    """A request from a row of a ``SELECT`` that names its columns (``_request_of`` reads them
    in order)."""
    m = row._mapping
    return _request_of([m[c] for c in ("id", *REQUEST_COLUMNS)])


def appointment_row(a: Appointment, *, at: datetime) -> tuple[Any, ...]:
    """``a`` as a row in ``APPOINTMENT_COLUMNS`` order, recorded ``at``."""
    return (
        str(a.mpan),
        a.service.value,
        str(a.provider),
        str(a.provider_mpid),
        None if a.mdr is None else str(a.mdr),
        None if a.mdr_mpid is None else str(a.mdr_mpid),
        a.period.start,
        a.period.end,
        str(a.supplier),
        a.contract_reference,
        None if a.scenario is None else a.scenario.value,
        a.correlation_id,
        at,
    )


def request_row(request: AppointmentRequest) -> tuple[Any, ...]:
    """``request`` as a row in ``REQUEST_COLUMNS`` order."""
    return (
        request.correlation_id,
        str(request.mpan),
        request.service.value,
        str(request.supplier),
        str(request.supplier_mpid),
        str(request.provider),
        str(request.provider_mpid),
        request.effective_from,
        request.scenario.value,
        request.received_on,
        request.raw_block,
        None if request.nominated_mdr is None else str(request.nominated_mdr),
        request.state.value,
        request.outcome_code,
        request.activated,
    )


def _appointment_of(r: Sequence[Any]) -> Appointment:
    """An appointment row as ``_D_TIMELINE`` reads it (id, then ``_APPOINTMENT_NAMES``)."""
    return Appointment(
        mpan=MpanCore(r[1]),
        service=Service(r[2]),
        provider=DipId(r[3]),
        provider_mpid=Mpid(r[4]),
        period=Period(r[7], r[8]),
        supplier=DipId(r[9]),
        mdr=DipId.parse_optional(r[5]),
        mdr_mpid=Mpid.parse_optional(r[6]),
        contract_reference=r[10],
        scenario=None if r[11] is None else Scenario(r[11]),
        correlation_id=r[12],
        id=r[0],
    )


def _request_of(r: Sequence[Any]) -> AppointmentRequest:
    """A request row as ``_D_REQUEST`` reads it (id, then ``REQUEST_COLUMNS``)."""
    return AppointmentRequest(
        correlation_id=r[1],
        mpan=MpanCore(r[2]),
        service=Service(r[3]),
        supplier=DipId(r[4]),
        supplier_mpid=Mpid(r[5]),
        provider=DipId(r[6]),
        provider_mpid=Mpid(r[7]),
        effective_from=r[8],
        scenario=Scenario(r[9]),
        received_on=r[10],
        raw_block=bytes(r[11]),
        nominated_mdr=DipId.parse_optional(r[12]),
        state=RequestState(r[13]),
        outcome_code=r[14],
        activated=bool(r[15]),
        id=r[0],
    )


def contract_terms(c: Contract) -> dict[str, Any]:
    return {
        "supported_mdrs": sorted(c.supported_mdrs),
        "default_mdr": c.default_mdr,
        "blank_mdr": c.blank_mdr.value,
        "valid_from": c.valid.start.isoformat(),
        "valid_to": c.valid.end.isoformat() if c.valid.end else None,
        "segments": sorted(c.segments),
        "connection_types": sorted(c.connection_types),
        "domestic_indicators": sorted(c.domestic_indicators),
        "gsp_groups": None if c.gsp_groups is None else sorted(c.gsp_groups),
        "meter_types": None if c.meter_types is None else sorted(c.meter_types),
        "requires_dcc_enrolment": c.requires_dcc_enrolment,
        "requires_fallback_frequency": c.requires_fallback_frequency,
        "min_lead_days": c.min_lead_days,
        "mdr_change_notice_days": c.mdr_change_notice_days,
        "mdr_change_max_notice_days": c.mdr_change_max_notice_days,
    }


def contract_from(sds: str, supplier: str, reference: str, t: dict[str, Any]) -> Contract:
    return Contract(
        sds=DipId(sds),
        supplier=DipId(supplier),
        reference=reference,
        supported_mdrs=frozenset(DipId(x) for x in t["supported_mdrs"]),
        default_mdr=DipId.parse_optional(t["default_mdr"]),
        blank_mdr=BlankMdrPolicy(t["blank_mdr"]),
        valid=Period(
            date.fromisoformat(t["valid_from"]),
            date.fromisoformat(t["valid_to"]) if t["valid_to"] else None,
        ),
        segments=frozenset(t["segments"]),
        connection_types=frozenset(t["connection_types"]),
        domestic_indicators=frozenset(t["domestic_indicators"]),
        gsp_groups=None if t["gsp_groups"] is None else frozenset(t["gsp_groups"]),
        meter_types=None if t["meter_types"] is None else frozenset(t["meter_types"]),
        requires_dcc_enrolment=t["requires_dcc_enrolment"],
        requires_fallback_frequency=t["requires_fallback_frequency"],
        min_lead_days=t["min_lead_days"],
        mdr_change_notice_days=t["mdr_change_notice_days"],
        mdr_change_max_notice_days=t["mdr_change_max_notice_days"],
    )


class MarketStore:
    """The market's tables, read and written inside the caller's transaction."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._driver = Driver(connection)

    @property
    def driver(self) -> Driver:
        """The hot statements' way to the database (``store.driver``), in this transaction."""
        return self._driver

    @property
    def connection(self) -> Connection:
        return self._connection

    # -- MPANs ---------------------------------------------------------------------------
    def add_mpan(self, record: MpanRecord) -> None:
        self.add_mpans([record])

    def add_mpans(self, records: Sequence[MpanRecord]) -> None:
        if not records:
            return
        bulk_insert(
            self.connection,
            mpan,
            [
                {
                    "mpan": str(r.mpan),
                    "distributor": str(r.distributor),
                    "gsp_group": str(r.gsp_group),
                    "segment": r.segment.value,
                    "connection_type": r.connection_type.value,
                    "energisation": r.energisation,
                    "domestic": r.domestic,
                    "energy_direction": r.energy_direction,
                    "dcc_service_flag": r.dcc_service_flag,
                    "meter_type": r.meter_type,
                    "postcode": r.postcode,
                    "duos_tariff_id": r.duos_tariff_id,
                }
                for r in records
            ],
        )
        periods = [
            {
                "mpan": str(r.mpan),
                "supplier": str(p.supplier),
                "valid_from": p.period.start,
                "valid_to": p.period.end,
            }
            for r in records
            for p in r.suppliers
        ]
        bulk_insert(self.connection, supplier_period, periods)

    def mpan_exists(self, core: str) -> bool:
        return self.connection.execute(sa.select(mpan.c.mpan).where(mpan.c.mpan == core)).first() is not None

    def get_mpan(self, core: str) -> MpanRecord | None:
        row = self._driver.first(_D_MPAN, (core,))
        if row is None:
            return None
        periods = self._driver.all(_D_MPAN_PERIODS, (core,))
        return MpanRecord(
            mpan=MpanCore(row[0]),
            distributor=DipId(row[1]),
            gsp_group=GspGroup(row[2]),
            segment=MarketSegment(row[3]),
            connection_type=ConnectionType(row[4]),
            energisation=row[5],
            domestic=bool(row[6]),
            energy_direction=row[7],
            dcc_service_flag=row[8],
            meter_type=row[9],
            postcode=row[10],
            duos_tariff_id=row[11],
            suppliers=tuple(SupplierPeriod(DipId(p[0]), Period(p[1], p[2])) for p in periods),
        )

    def iter_mpans(self, batch: int = 5000, *, after: str = "") -> Iterator[MpanRecord]:
        """Every MPAN (after ``after``) with its supplier periods, in MPAN order, batch by batch."""
        last = after
        while True:
            rows = self.connection.execute(
                sa.select(mpan).where(mpan.c.mpan > last).order_by(mpan.c.mpan).limit(batch)
            ).all()
            if not rows:
                return
            cores = [r.mpan for r in rows]
            periods: dict[str, list[Any]] = {}
            for p in self.connection.execute(
                sa.select(supplier_period)
                .where(supplier_period.c.mpan.in_(cores))
                .order_by(supplier_period.c.mpan, supplier_period.c.valid_from)
            ):
                periods.setdefault(p.mpan, []).append(p)
            for row in rows:
                yield mpan_record_from(row, periods.get(row.mpan, []))
            last = cores[-1]

    def change_supplier(self, core: str, supplier: DipId, from_day: date) -> None:
        """CSS's news of a change of supplier: the open period ends, the new one starts."""
        open_rows = self.connection.execute(
            sa.select(supplier_period.c.id, supplier_period.c.valid_from)
            .where(supplier_period.c.mpan == core)
            .where(sa.or_(supplier_period.c.valid_to.is_(None), supplier_period.c.valid_to > from_day))
        ).all()
        for row in open_rows:
            if row.valid_from >= from_day:
                raise ValueError(f"{core} already has a supplier period from {row.valid_from.isoformat()}")
            self.connection.execute(
                sa.update(supplier_period).where(supplier_period.c.id == row.id).values(valid_to=from_day)
            )
        self.connection.execute(
            sa.insert(supplier_period),
            {"mpan": core, "supplier": str(supplier), "valid_from": from_day, "valid_to": None},
        )

    def count_mpans(self) -> int:
        return int(self.connection.execute(sa.select(sa.func.count()).select_from(mpan)).scalar_one())

    # -- appointments --------------------------------------------------------------------
    def timeline(self, core: str) -> list[Appointment]:
        """The MPAN's current rows (both services), in service and date order."""
        return [_appointment_of(r) for r in self._driver.all(_D_TIMELINE, (core,))]

    def history(self, core: str) -> list[tuple[Appointment, datetime, datetime | None]]:
        """Every row ever recorded for the MPAN, retired ones included, with when."""
        rows = self.connection.execute(
            sa.select(appointment).where(appointment.c.mpan == core).order_by(appointment.c.id)
        )
        return [(appointment_from(r), r.recorded_at, r.retired_at) for r in rows]

    def apply(self, change: TimelineChange, *, at: datetime, by: str | None) -> None:
        """Retire the change's rows, then insert their successors."""
        driver = self._driver
        for row in change.retire:
            if driver.execute(_D_RETIRE, (at, by, row.id, str(row.mpan))) != 1:
                raise TimelineConflict(f"appointment row {row.id} is no longer current")
        driver.executemany(_D_INSERT_APPOINTMENT, [appointment_row(a, at=at) for a in change.insert])

    def gaps_on(self, day: date, limit: int | None = None, *, supplier: str | None = None) -> list[Gap]:
        """MPANs with a supplier on ``day`` (``supplier``, when given) lacking a DS, an MDR or
        an MS then (in SQL)."""
        current = sa.and_(
            appointment.c.mpan == supplier_period.c.mpan,
            appointment.c.retired_at.is_(None),
            appointment.c.valid_from <= day,
            sa.or_(appointment.c.valid_to.is_(None), appointment.c.valid_to > day),
        )
        ds = sa.exists().where(current, appointment.c.service == "DS")
        ms = sa.exists().where(current, appointment.c.service == "MS")
        query = (
            sa.select(supplier_period.c.mpan, supplier_period.c.supplier, ds.label("ds"), ms.label("ms"))
            .where(
                supplier_period.c.valid_from <= day,
                sa.or_(supplier_period.c.valid_to.is_(None), supplier_period.c.valid_to > day),
            )
            .where(sa.or_(~ds, ~ms))
            .order_by(supplier_period.c.mpan)
        )
        if supplier is not None:
            query = query.where(supplier_period.c.supplier == supplier)
        if limit is not None:
            query = query.limit(limit)
        found = []
        for row in self.connection.execute(query):
            missing = (("DS", "MDR") if not row.ds else ()) + (("MS",) if not row.ms else ())
            found.append(Gap(row.mpan, row.supplier, missing))
        return found

    def arrangement_counts(self, day: date) -> list[tuple[str, str, str | None, int]]:
        """(service, provider, MDR, MPANs) holding on ``day``."""
        query = (
            sa.select(appointment.c.service, appointment.c.provider, appointment.c.mdr, sa.func.count())
            .where(
                appointment.c.retired_at.is_(None),
                appointment.c.valid_from <= day,
                sa.or_(appointment.c.valid_to.is_(None), appointment.c.valid_to > day),
            )
            .group_by(appointment.c.service, appointment.c.provider, appointment.c.mdr)
            .order_by(appointment.c.service, appointment.c.provider, appointment.c.mdr)
        )
        return [(r[0], r[1], r[2], int(r[3])) for r in self.connection.execute(query)]

    # -- appointment requests ------------------------------------------------------------
    def add_request(self, request: AppointmentRequest) -> None:
        self._driver.execute(_D_INSERT_REQUEST, request_row(request))

    def request(self, correlation_id: str) -> AppointmentRequest | None:
        row = self._driver.first(_D_REQUEST, (correlation_id,))
        return None if row is None else _request_of(row)

    def open_requests(self, core: str, service: Service) -> list[AppointmentRequest]:
        rows = self._driver.all(_D_OPEN_REQUESTS, (core, service.value, RequestState.AWAITING_PROVIDER.value))
        return [_request_of(r) for r in rows]

    def settle_request(self, correlation_id: str, state: RequestState, code: str | None) -> None:
        self._driver.execute(_D_SETTLE, (state.value, code, correlation_id))

    def mark_activated(self, correlation_id: str) -> None:
        self._driver.execute(_D_ACTIVATED, (True, correlation_id))

    def requests_to_lapse(self, received_before_or_on: date) -> list[AppointmentRequest]:
        rows = self._driver.all(
            _D_REQUESTS_TO_LAPSE, (RequestState.AWAITING_PROVIDER.value, received_before_or_on)
        )
        return [_request_of(r) for r in rows]

    def requests_to_activate(self, day: date) -> list[AppointmentRequest]:
        rows = self._driver.all(_D_REQUESTS_TO_ACTIVATE, (RequestState.ACCEPTED.value, False, day))
        return [_request_of(r) for r in rows]

    # -- contracts -----------------------------------------------------------------------
    def add_contract(self, c: Contract) -> None:
        try:
            with self.connection.begin_nested():
                self.connection.execute(
                    sa.insert(contract),
                    {
                        "sds": str(c.sds),
                        "supplier": str(c.supplier),
                        "reference": c.reference,
                        "terms": contract_terms(c),
                    },
                )
        except IntegrityError:
            raise ValueError(
                f"contract {c.reference} between {c.sds} and {c.supplier} already exists"
            ) from None

    def contracts(self, *, sds: str | None = None, supplier: str | None = None) -> list[Contract]:
        query = sa.select(contract).order_by(contract.c.sds, contract.c.supplier, contract.c.reference)
        if sds is not None:
            query = query.where(contract.c.sds == sds)
        if supplier is not None:
            query = query.where(contract.c.supplier == supplier)
        return [
            contract_from(r.sds, r.supplier, r.reference, r.terms) for r in self.connection.execute(query)
        ]

    # -- the SDS's portfolio ---------------------------------------------------------------
    def portfolio_rows(self, *, sds: str, core: str) -> list[Held]:
        """What the SDS holds for the MPAN, in date order."""
        rows = self._driver.all(_D_PORTFOLIO_ROWS, (sds, core))
        return [
            Held(supplier, mdr, mdr_mpid, Period(start, end), contract_reference, correlation_id)
            for supplier, mdr, mdr_mpid, start, end, contract_reference, correlation_id in rows
        ]

    def portfolio_replace(self, *, sds: str, core: str, rows: Sequence[Held]) -> None:
        """The SDS's rows for the MPAN are now ``rows`` (its own record, rewritten whole)."""
        self._driver.execute(_D_PORTFOLIO_DELETE, (sds, core))
        self._driver.executemany(
            _D_INSERT_PORTFOLIO,
            [
                (
                    sds,
                    core,
                    r.supplier,
                    r.mdr,
                    r.mdr_mpid,
                    r.period.start,
                    r.period.end,
                    r.contract_reference,
                    r.correlation_id,
                )
                for r in rows
            ],
        )

    def data_service_on(self, core: str, day: date) -> tuple[str, str, str, str] | None:
        """(SDS, SDS MPID, MDR, MDR MPID) appointed to the MPAN on ``day``: the point query."""
        row = self.connection.execute(_DATA_SERVICE_ON, {"core": core, "day": day}).first()
        return None if row is None else (row[0], row[1], row[2], row[3])

    def portfolio_on(self, *, sds: str, core: str, day: date) -> PortfolioDay | None:
        """What the SDS serves the MPAN with on ``day``."""
        row = self.connection.execute(_PORTFOLIO_ON, {"sds": sds, "core": core, "day": day}).first()
        return None if row is None else PortfolioDay(row[0], row[1], row[2], row[3])

    def portfolios_on(self, day: date) -> list[tuple[str, str, str, str, str]]:
        """(SDS, MPAN, supplier, MDR, MDR MPID) of every MPAN an SDS serves on ``day``."""
        rows = self.connection.execute(
            sa.select(
                sds_portfolio.c.sds,
                sds_portfolio.c.mpan,
                sds_portfolio.c.supplier,
                sds_portfolio.c.mdr,
                sds_portfolio.c.mdr_mpid,
            )
            .where(
                sds_portfolio.c.valid_from <= day,
                sa.or_(sds_portfolio.c.valid_to.is_(None), sds_portfolio.c.valid_to > day),
            )
            .order_by(sds_portfolio.c.mpan)
        )
        return [(r[0], r[1], r[2], r[3], r[4]) for r in rows]

    # -- MDRs' instructions from their SDS --------------------------------------------------
    def mdr_instruct(
        self, *, mdr: str, core: str, sds: str, mdr_mpid: str, valid_from: date, correlation_id: str | None
    ) -> None:
        """An IF-061 accepted: retrieve for ``core`` from ``valid_from`` (replacing any later
        instruction of the same SDS for the MPAN, which an earlier start supersedes; another
        SDS's instructions are that SDS's to change)."""
        driver = self._driver
        driver.execute(_D_MDR_WITHDRAW, (mdr, core, sds, valid_from))
        driver.execute(_D_MDR_END, (valid_from, mdr, core, sds, valid_from))
        driver.execute(_D_INSERT_MDR, (mdr, core, sds, mdr_mpid, valid_from, None, correlation_id))

    def mdr_stop(self, *, mdr: str, core: str, sds: str, last_day: date) -> bool:
        """An IF-063: no retrieval for ``core`` after ``last_day`` (an instruction that would
        start later is withdrawn)."""
        end = last_day + timedelta(days=1)
        withdrawn = self._driver.execute(_D_MDR_WITHDRAW, (mdr, core, sds, end))
        done = self._driver.execute(_D_MDR_STOP, (end, mdr, core, sds, end, end))
        return bool(done or withdrawn)

    def mdr_instructions_on(self, day: date) -> list[tuple[str, str, str, str]]:
        """(MDR, MPAN, SDS, MDR MPID) for every instruction in force on ``day``."""
        rows = self.connection.execute(
            sa.select(
                mdr_instruction.c.mdr,
                mdr_instruction.c.mpan,
                mdr_instruction.c.sds,
                mdr_instruction.c.mdr_mpid,
            )
            .where(
                mdr_instruction.c.valid_from <= day,
                sa.or_(mdr_instruction.c.valid_to.is_(None), mdr_instruction.c.valid_to > day),
            )
            .order_by(mdr_instruction.c.mpan)
        )
        return [(r[0], r[1], r[2], r[3]) for r in rows]

    # -- the message log -------------------------------------------------------------------
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
        """Log one message, refusing a sender unique reference already logged
        (``DuplicateMessage``, MSG1006). The reference is indexed by a 64-bit key and checked
        against the bodies the key finds; on PostgreSQL a transaction-scoped advisory lock on
        the key makes the check and the insert one step for concurrent submitters (SQLite's
        writers are serial). ``sender_role`` is the body's and read back from it."""
        if self.connection.dialect.name == "postgresql":
            self.connection.execute(_REFERENCE_LOCK, {"key": text_key(reference)})
        if self.reference_seen(reference):
            raise DuplicateMessage(reference)
        new = NewMessage(
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
            recipients=(),
        )
        row = new.row()
        inserted = self._driver.all(_D_INSERT_MESSAGE, [row[c] for c in _MESSAGE_COLUMNS[1:]])
        return int(inserted[0][0])

    def correlation_seen(self, correlation_id: str, *, other_than: str) -> bool:
        """Whether a logged message carries this correlation ID, unless the message with
        reference ``other_than`` is itself logged: sent again, it is a duplicate (MSG1006)
        and its exchange's answers carry the correlation ID."""
        if self.reference_seen(other_than):
            return False
        rows = self._driver.all(_D_BODIES_BY_CORRELATION, (correlation_id,))
        return any(envelope(body).correlation_id == correlation_id for (body,) in rows)

    def reference_seen(self, reference: str) -> bool:
        rows = self._driver.all(_D_BODIES_BY_REFERENCE, (reference,))
        return any(envelope(body).reference == reference for (body,) in rows)

    def known_references(self, references: Iterable[str]) -> frozenset[str]:
        """Which of ``references`` are logged (one query; checked against the bodies)."""
        return self._known(message.c.sender_unique_reference, references, lambda said: said.reference)

    def known_correlations(self, correlations: Iterable[str]) -> frozenset[str]:
        """Which of ``correlations`` a logged message carries (one query; checked against the bodies)."""
        return self._known(message.c.correlation_id, correlations, lambda said: said.correlation_id)

    def _known(
        self, column: sa.Column[Any], values: Iterable[str], read: Callable[[Envelope], str | None]
    ) -> frozenset[str]:
        wanted = set(values)
        found: set[str] = set()
        listed = sorted(wanted)
        for offset in range(0, len(listed), 1000):
            rows = self.connection.execute(
                sa.select(message.c.body).where(column.in_(listed[offset : offset + 1000]))
            )
            found.update(v for v in (read(envelope(r.body)) for r in rows) if v in wanted)
        return frozenset(found)

    def add_deliveries(self, message_id: int, recipients: Iterable[str], *, state: str = "pending") -> None:
        self._driver.executemany(_D_INSERT_DELIVERY, [(message_id, r, state) for r in recipients])

    def next_delivery(self) -> PendingDelivery | None:
        found = self.pending_deliveries(1)
        return found[0] if found else None

    def pending_deliveries(self, limit: int) -> list[PendingDelivery]:
        """The oldest pending deliveries with their messages, in delivery order, claimed for
        this transaction.

        On PostgreSQL several markets may deliver at once: each claims rows with
        ``FOR UPDATE SKIP LOCKED``, so no delivery is applied twice, and leaves out any
        delivery with an earlier one for the same recipient and MPAN still pending that it
        did not claim (held by another market), so that each MPAN's messages are applied in
        order. SQLite serialises writers, so there every pending delivery is its own.
        """
        if self.connection.dialect.name != "postgresql":
            return [_pending(r) for r in self._driver.all(_D_PENDING, ("pending", limit))]
        rows = [_pending(r) for r in self._driver.all(_D_PENDING_CLAIM, ("pending", limit))]
        if not rows:
            return []
        claimed = {r.id for r in rows}
        cores = {r.message.mpan for r in rows if r.message.mpan is not None}
        earlier = self.connection.execute(
            sa.select(delivery.c.id, delivery.c.recipient, message.c.mpan)
            .join(message, message.c.id == delivery.c.message_id)
            .where(
                delivery.c.state == "pending",
                delivery.c.id < max(claimed),
                delivery.c.recipient.in_({r.recipient for r in rows}),
                message.c.mpan.in_(cores),
            )
        ).all()
        first_elsewhere: dict[tuple[str, str | None], int] = {}
        for row in earlier:
            if row.id not in claimed:
                key = (row.recipient, row.mpan)
                first_elsewhere[key] = min(row.id, first_elsewhere.get(key, row.id))
        return [r for r in rows if r.id < first_elsewhere.get((r.recipient, r.message.mpan), r.id + 1)]

    def has_pending(self) -> bool:
        """Whether any delivery is pending (claimed by another transaction or not)."""
        return self.connection.execute(_ANY_PENDING).first() is not None

    def finish_deliveries(
        self, rows: Sequence[tuple[int, str, str | None, str | None]], *, at: datetime
    ) -> None:
        """Record the outcome of several deliveries: (id, state, code, detail). Only a
        pending delivery is finished; finding one already finished means another market
        applied it, and raises ``DeliveryTaken`` so that this transaction is rolled back."""
        if not rows:
            return
        alike: dict[tuple[str, str | None, str | None], list[int]] = {}
        for delivery_id, state, code, detail in rows:
            alike.setdefault((state, code, detail), []).append(int(delivery_id))
        sqlite = self.connection.dialect.name == "sqlite"
        finished = 0
        for (state, code, detail), ids in alike.items():
            among: object = json.dumps(ids) if sqlite else ids
            finished += self._driver.execute(
                _D_FINISH_SQLITE if sqlite else _D_FINISH_POSTGRESQL,
                (state, at, code, detail, "pending", among),
            )
        if finished != len(rows):
            raise DeliveryTaken(f"{len(rows) - finished} of {len(rows)} deliveries were finished elsewhere")

    def parked_deliveries(self, *, limit: int = 1000) -> list[ParkedDelivery]:
        """Deliveries set aside (failed or refused), oldest first, with code and reason."""
        rows = self.connection.execute(
            sa.select(
                delivery.c.id,
                delivery.c.message_id,
                delivery.c.recipient,
                delivery.c.state,
                delivery.c.outcome_code,
                delivery.c.outcome_detail,
                message.c.interface_id,
                message.c.event_code,
                message.c.mpan,
                message.c.body,
            )
            .join(message, message.c.id == delivery.c.message_id)
            .where(delivery.c.state.in_(PARKED_STATES))
            .order_by(delivery.c.id)
            .limit(limit)
        ).all()
        return [
            ParkedDelivery(
                id=r.id,
                message_id=r.message_id,
                recipient=r.recipient,
                state=r.state,
                code=r.outcome_code,
                reason=r.outcome_detail,
                interface_id=r.interface_id,
                event_code=r.event_code,
                mpan=r.mpan,
                sender_unique_reference=envelope(r.body).reference,
            )
            for r in rows
        ]

    def requeue_deliveries(self, ids: Sequence[int]) -> int:
        """Make parked deliveries pending again (after a fix); returns how many."""
        return len(self.requeue_parked(ids))

    def requeue_parked(self, ids: Sequence[int]) -> list[int]:
        """Make the parked deliveries among ``ids`` pending again, with no retry record left
        (its attempts, back-off and last error belong to before the fix); returns their ids."""
        parked = [
            int(i)
            for i in self.connection.execute(
                sa.select(delivery.c.id).where(
                    delivery.c.id.in_(list(ids)), delivery.c.state.in_(PARKED_STATES)
                )
            ).scalars()
        ]
        if parked:
            self.connection.execute(
                sa.update(delivery)
                .where(delivery.c.id.in_(parked))
                .values(state="pending", processed_at=None, outcome_code=None, outcome_detail=None)
            )
            self.connection.execute(
                sa.delete(delivery_attempt).where(delivery_attempt.c.delivery_id.in_(parked))
            )
        return parked

    def log_messages(self, messages: Sequence[NewMessage]) -> list[int]:
        """Log messages known to be new (the market's own, with unique references) at once,
        with their deliveries; returns their ids in order. The ids are taken in one step (the
        sequence on PostgreSQL; after the highest on SQLite, whose writers are serial), then
        the rows go in with one executemany (COPY on PostgreSQL from a few hundred rows) per table."""
        return self.log_finished(
            messages, [[FinishedDelivery(r, state) for r, state in new.recipients] for new in messages]
        )

    def log_finished(
        self, messages: Sequence[NewMessage], deliveries: Sequence[Sequence[FinishedDelivery]]
    ) -> list[int]:
        """Like :meth:`log_messages`, each message with its deliveries given in their final
        state (the batch lane's: done, refused or failed, when, code and reason) instead of
        ``NewMessage.recipients``; returns the messages' ids in order."""
        return self.log_stored(stored_log(self.connection.dialect, messages, deliveries))

    def log_stored(self, log: StoredLog) -> list[int]:
        """Messages and deliveries already in their stored form (``stored_log``, done before
        the write lock was taken): ids in one step, then one statement per table."""
        if not log.messages:
            return []
        ids = self._next_message_ids(len(log.messages))
        rows = [(i, *row) for i, row in zip(ids, log.messages, strict=True)]
        insert_rows(self.connection, message, _MESSAGE_ROW, rows, stored=True)
        finished = [
            (message_id, *d) for message_id, each in zip(ids, log.deliveries, strict=True) for d in each
        ]
        insert_rows(self.connection, delivery, _DELIVERY_COLUMNS, finished, stored=True)
        return ids

    def _next_message_ids(self, count: int) -> list[int]:
        if self.connection.dialect.name == "postgresql":
            return [int(i) for i in self.connection.execute(_NEXT_MESSAGE_IDS, {"count": count}).scalars()]
        after = int(self.connection.execute(_LAST_MESSAGE_ID).scalar_one())
        return list(range(after + 1, after + 1 + count))

    def finish_delivery(
        self, delivery_id: int, *, state: str, at: datetime, code: str | None, detail: str | None
    ) -> None:
        done = self.connection.execute(
            sa.update(delivery)
            .where(delivery.c.id == delivery_id, delivery.c.state == "pending")
            .values(state=state, processed_at=at, outcome_code=code, outcome_detail=detail)
        )
        if done.rowcount != 1:
            raise DeliveryTaken(f"delivery {delivery_id} was finished elsewhere")

    def messages(
        self, *, core: str | None = None, correlation_id: str | None = None, after_id: int = 0
    ) -> list[StoredMessage]:
        if core is not None and not storable_mpan(core):
            return []  # not an MPAN core: no message names it
        query = sa.select(message).where(message.c.id > after_id).order_by(message.c.id)
        if core is not None:
            query = query.where(message.c.mpan == core)
        if correlation_id is not None:
            query = query.where(message.c.correlation_id == correlation_id)
        found = [stored_message(r) for r in self.connection.execute(query)]
        if correlation_id is None:
            return found
        return [m for m in found if m.correlation_id == correlation_id]  # the key's rare namesakes out

    def messages_by_id(self, ids: Sequence[int]) -> list[StoredMessage]:
        rows = self.connection.execute(
            sa.select(message).where(message.c.id.in_(list(ids))).order_by(message.c.id)
        )
        return [stored_message(r) for r in rows]

    def last_message_id(self) -> int:
        return int(self.connection.execute(_LAST_MESSAGE_ID).scalar_one())

    def deliveries_of(self, message_id: int) -> list[tuple[str, str, str | None, str | None]]:
        rows = self.connection.execute(
            sa.select(
                delivery.c.recipient,
                delivery.c.state,
                delivery.c.outcome_code,
                delivery.c.outcome_detail,
            )
            .where(delivery.c.message_id == message_id)
            .order_by(delivery.c.id)
        )
        return [(r[0], r[1], r[2], r[3]) for r in rows]

    # -- market state and participants -----------------------------------------------------
    def state(self, key: str) -> str | None:
        row = self.connection.execute(
            sa.select(market_state.c.value).where(market_state.c.key == key)
        ).first()
        return None if row is None else str(row[0])

    def set_state(self, key: str, value: str) -> None:
        updated = self.connection.execute(
            sa.update(market_state).where(market_state.c.key == key).values(value=value)
        )
        if updated.rowcount == 0:
            self.connection.execute(sa.insert(market_state), {"key": key, "value": value})

    def serialise(self, work: str) -> None:
        """Wait until no other transaction does ``work`` (the day's work, the market clock):
        a transaction-scoped advisory lock on PostgreSQL; SQLite's writers are serial."""
        if self.connection.dialect.name == "postgresql":
            self.connection.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:work))"), {"work": work})

    def modes(self) -> dict[str, str]:
        return {r.dip_id: r.mode for r in self.connection.execute(sa.select(participant_mode))}

    def set_mode(self, dip_id: str, mode: str) -> None:
        self.connection.execute(sa.delete(participant_mode).where(participant_mode.c.dip_id == dip_id))
        self.connection.execute(sa.insert(participant_mode), {"dip_id": dip_id, "mode": mode})
