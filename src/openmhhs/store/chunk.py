"""The batch lane's storage: a chunk of MPANs read with one query per table, and written back
with one executemany (COPY on PostgreSQL) per table.

``preload`` reads what every role holds for the chunk's MPANs (the RS's MPAN records, current
appointment rows and live requests; each SDS's portfolio and the MPAN facts it learned; the
MDRs' instructions; the DCC's notices; the contracts once) as frozen rows, with which the
batch lane seeds its ``MemoryUnitOfWork``. ``flush`` turns that unit of work's write log into
rows in their final state: an appointment row inserted and retired in the same chunk is
written once, retired; a request added and settled is written settled; a delivery is written
done, refused or failed, never pending-then-updated.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from openmhhs.dataservice.contracts import Contract
from openmhhs.dataservice.portfolio import Held
from openmhhs.dcc.access import MdrNotice, SupplyNotice
from openmhhs.periods import Period
from openmhhs.registration.model import Appointment, AppointmentRequest, MpanRecord, RequestState
from openmhhs.store.market_repo import MarketStore, _appointment, _request
from openmhhs.store.ports import Instruction
from openmhhs.store.tables import (
    appointment,
    appointment_request,
    dcc_mdr_notice,
    dcc_supply_notice,
    mdr_instruction,
    message,
    mpan,
    sds_portfolio,
    supplier_period,
)

__all__ = ["ChunkState", "PortfolioRow", "preload"]

_LIVE_REQUESTS = (RequestState.AWAITING_PROVIDER.value, RequestState.ACCEPTED.value)
"""The requests a delivery or the day's work can still change: awaiting their provider
(answered, superseded or lapsed) or accepted (activated). A settled one is only ever looked
up to be found not awaiting, which its absence says too (OMH0503)."""


@dataclass(frozen=True, slots=True)
class PortfolioRow:
    """One row of an SDS's portfolio, with whose it is."""

    sds: str
    mpan: str
    held: Held


@dataclass(frozen=True, slots=True)
class ChunkState:
    """Every role's records for one chunk of MPANs, as read at the chunk's start."""

    cores: tuple[str, ...]
    records: tuple[MpanRecord, ...] = ()
    appointments: tuple[Appointment, ...] = ()
    """Current (unretired) rows, both services, in MPAN, service and date order."""
    requests: tuple[AppointmentRequest, ...] = ()
    """Requests awaiting their provider or accepted, in the order they were received."""
    contracts: tuple[Contract, ...] = ()
    portfolio: tuple[PortfolioRow, ...] = ()
    instructions: tuple[Instruction, ...] = ()
    mdr_notices: tuple[MdrNotice, ...] = ()
    supply_notices: tuple[SupplyNotice, ...] = ()
    references_seen: frozenset[str] = field(default_factory=frozenset)
    """Of the sender unique references submitted in the chunk, those already logged (MSG1006)."""
    correlations_seen: frozenset[str] = field(default_factory=frozenset)
    """Of the correlation IDs submitted in the chunk, those already logged."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Rows of further tables (e.g. the SDS's MPAN facts), by table."""


def _in(column: sa.ColumnElement[Any], values: Sequence[str]) -> sa.ColumnElement[bool]:
    return column.in_(sa.bindparam("values", list(values), expanding=True))


def preload(
    connection: Connection,
    cores: Iterable[str],
    *,
    references: Iterable[str] = (),
    correlations: Iterable[str] = (),
) -> ChunkState:
    """Every role's records for ``cores``: one query per table."""
    chunk = tuple(sorted(set(cores)))
    if not chunk:
        return ChunkState(cores=())
    periods: dict[str, list[Any]] = {}
    for row in connection.execute(
        sa.select(supplier_period)
        .where(_in(supplier_period.c.mpan, chunk))
        .order_by(supplier_period.c.mpan, supplier_period.c.valid_from)
    ):
        periods.setdefault(row.mpan, []).append(row)
    records = tuple(
        MarketStore._record(row, periods.get(row.mpan, []))
        for row in connection.execute(sa.select(mpan).where(_in(mpan.c.mpan, chunk)).order_by(mpan.c.mpan))
    )
    appointments = tuple(
        _appointment(row)
        for row in connection.execute(
            sa.select(appointment)
            .where(_in(appointment.c.mpan, chunk), appointment.c.retired_at.is_(None))
            .order_by(appointment.c.mpan, appointment.c.service, appointment.c.valid_from)
        )
    )
    requests = tuple(
        _request(row)
        for row in connection.execute(
            sa.select(appointment_request)
            .where(
                _in(appointment_request.c.mpan, chunk),
                appointment_request.c.state.in_(_LIVE_REQUESTS),
            )
            .order_by(appointment_request.c.id)
        )
    )
    portfolio = tuple(
        PortfolioRow(
            r.sds,
            r.mpan,
            Held(
                r.supplier,
                r.mdr,
                r.mdr_mpid,
                Period(r.valid_from, r.valid_to),
                r.contract_reference,
                r.correlation_id,
            ),
        )
        for r in connection.execute(
            sa.select(sds_portfolio)
            .where(_in(sds_portfolio.c.mpan, chunk))
            .order_by(sds_portfolio.c.sds, sds_portfolio.c.mpan, sds_portfolio.c.valid_from)
        )
    )
    instructions = tuple(
        Instruction(r.mdr, r.mpan, r.sds, r.mdr_mpid, r.valid_from, r.valid_to, r.correlation_id)
        for r in connection.execute(
            sa.select(mdr_instruction)
            .where(_in(mdr_instruction.c.mpan, chunk))
            .order_by(mdr_instruction.c.id)
        )
    )
    mdr_notices = tuple(
        MdrNotice(mpan=r.mpan, mdr=r.mdr, valid_from=r.valid_from)
        for r in connection.execute(
            sa.select(dcc_mdr_notice.c.mpan, dcc_mdr_notice.c.mdr, dcc_mdr_notice.c.valid_from)
            .where(_in(dcc_mdr_notice.c.mpan, chunk))
            .order_by(dcc_mdr_notice.c.id)
        )
    )
    supply_notices = tuple(
        SupplyNotice(
            mpan=r.mpan, supplier=r.supplier, energy_direction=r.energy_direction, valid_from=r.valid_from
        )
        for r in connection.execute(
            sa.select(
                dcc_supply_notice.c.mpan,
                dcc_supply_notice.c.supplier,
                dcc_supply_notice.c.energy_direction,
                dcc_supply_notice.c.valid_from,
            )
            .where(_in(dcc_supply_notice.c.mpan, chunk))
            .order_by(dcc_supply_notice.c.id)
        )
    )
    return ChunkState(
        cores=chunk,
        records=records,
        appointments=appointments,
        requests=requests,
        contracts=tuple(MarketStore(connection).contracts()),
        portfolio=portfolio,
        instructions=instructions,
        mdr_notices=mdr_notices,
        supply_notices=supply_notices,
        references_seen=_seen(connection, message.c.sender_unique_reference, references),
        correlations_seen=_seen(connection, message.c.correlation_id, correlations),
    )


def _seen(connection: Connection, column: sa.Column[Any], values: Iterable[str]) -> frozenset[str]:
    wanted = sorted(set(values))
    if not wanted:
        return frozenset()
    return frozenset(
        r[0] for r in connection.execute(sa.select(column).where(_in(column, wanted)).distinct())
    )
