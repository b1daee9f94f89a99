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
from sqlalchemy.engine import Connection, Dialect

from openmhhs.dataservice.portfolio import Held
from openmhhs.dcc.access import MdrNotice, SupplyNotice
from openmhhs.periods import Period
from openmhhs.registration.model import RequestState
from openmhhs.store.bulk import insert_rows
from openmhhs.store.market_repo import (
    APPOINTMENT_COLUMNS,
    REQUEST_COLUMNS,
    FinishedDelivery,
    MarketStore,
    StoredLog,
    appointment_from,
    appointment_row,
    mpan_record_from,
    request_from,
    request_row,
    stored_log,
)
from openmhhs.store.memory import (
    ActivatedRequest,
    AddedRequest,
    AppliedTimeline,
    Instructed,
    LearnedFacts,
    MemoryUnitOfWork,
    PortfolioRow,
    RecordedMdr,
    RecordedSupply,
    ReplacedPortfolio,
    Seed,
    SettledRequest,
    Stopped,
    Write,
)
from openmhhs.store.ports import Instruction, MpanFacts, TimelineConflict
from openmhhs.store.tables import (
    appointment,
    appointment_request,
    dcc_mdr_notice,
    dcc_supply_notice,
    mdr_instruction,
    mpan,
    sds_mpan_fact,
    sds_portfolio,
    supplier_period,
)

__all__ = ["Flushed", "flush", "preload"]

_LIVE_REQUESTS = (RequestState.AWAITING_PROVIDER.value, RequestState.ACCEPTED.value)
"""The requests a delivery or the day's work can still change: awaiting their provider
(answered, superseded or lapsed) or accepted (activated). A settled one is only ever looked
up to be found not awaiting, which its absence says too (OMH0503)."""


def _in(column: sa.ColumnElement[Any], values: Sequence[str]) -> sa.ColumnElement[bool]:
    return column.in_(sa.bindparam("values", list(values), expanding=True))


def preload(
    connection: Connection,
    cores: Iterable[str],
    *,
    references: Iterable[str] = (),
    correlations: Iterable[str] = (),
    sdss: Iterable[str] = (),
) -> Seed:
    """Every role's records for ``cores``, one query per table, as the seed of the chunk's
    ``MemoryUnitOfWork``; with, of ``references`` and ``correlations`` (those submitted in
    the chunk), the ones already logged. ``sdss``: the SDSs whose portfolio and MPAN facts
    to read (those simulated here: no other writes them), so that the reads use their keys."""
    chunk = tuple(sorted(set(cores)))
    services = sorted(set(sdss))
    store = MarketStore(connection)
    if not chunk:
        return Seed(
            contracts=tuple(store.contracts()),
            known_references=store.known_references(references),
            known_correlations=store.known_correlations(correlations),
        )
    periods: dict[str, list[Any]] = {}
    for row in connection.execute(
        sa.select(supplier_period)
        .where(_in(supplier_period.c.mpan, chunk))
        .order_by(supplier_period.c.mpan, supplier_period.c.valid_from)
    ):
        periods.setdefault(row.mpan, []).append(row)
    records = tuple(
        mpan_record_from(row, periods.get(row.mpan, []))
        for row in connection.execute(sa.select(mpan).where(_in(mpan.c.mpan, chunk)).order_by(mpan.c.mpan))
    )
    appointments = tuple(
        appointment_from(row)
        for row in connection.execute(
            sa.select(appointment)
            .where(_in(appointment.c.mpan, chunk), appointment.c.retired_at.is_(None))
            .order_by(appointment.c.mpan, appointment.c.service, appointment.c.valid_from)
        )
    )
    requests = tuple(
        request_from(row)
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
            .where(sds_portfolio.c.sds.in_(services), _in(sds_portfolio.c.mpan, chunk))
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
    facts = tuple(
        MpanFacts(r.sds, r.mpan, r.energy_direction, r.energisation)
        for r in connection.execute(
            sa.select(sds_mpan_fact).where(
                sds_mpan_fact.c.sds.in_(services), _in(sds_mpan_fact.c.mpan, chunk)
            )
        )
    )
    return Seed(
        mpans=records,
        facts=facts,
        appointments=appointments,
        requests=requests,
        contracts=tuple(store.contracts()),
        portfolio=portfolio,
        instructions=instructions,
        mdr_notices=mdr_notices,
        supply_notices=supply_notices,
        known_references=store.known_references(references),
        known_correlations=store.known_correlations(correlations),
    )


# -- the flush ---------------------------------------------------------------------------------------
@dataclass
class Flushed:
    """How many rows a flush wrote, by table."""

    rows: dict[str, int] = field(default_factory=dict)

    def add(self, table: str, count: int) -> None:
        if count:
            self.rows[table] = self.rows.get(table, 0) + count


def flush(
    connection: Connection, uow: MemoryUnitOfWork, seed: Seed, *, messages: StoredLog | None = None
) -> Flushed:
    """Write what ``uow`` recorded since ``seed``, each table with one statement per kind of
    write, every row in its final state; ``messages``: the chunk's messages as
    ``stored_messages`` converted them (before the transaction), else converted here. Raises
    ``TimelineConflict`` or ``DeliveryTaken`` when another writer changed the chunk's rows
    since they were read (the caller rolls back)."""
    if messages is None:
        messages = stored_messages(connection.dialect, uow)
    writes = uow.writes
    done = Flushed()
    _flush_timeline(connection, writes, seed, done)
    _flush_requests(connection, writes, uow, seed, done)
    _flush_portfolio(connection, writes, uow, done)
    _flush_facts(connection, writes, uow, done)
    _flush_dcc(connection, writes, done)
    _flush_instructions(connection, writes, uow, done)
    _flush_messages(connection, messages, done)
    return done


_APPOINTMENT_COLUMNS = (*APPOINTMENT_COLUMNS, "retired_at", "retired_by")
_RETIRE_SEEDED = (
    sa.update(appointment)
    .where(
        appointment.c.id == sa.bindparam("row_id"),
        appointment.c.mpan == sa.bindparam("core"),  # on PostgreSQL, the one partition holding it
        appointment.c.retired_at.is_(None),
    )
    .values(retired_at=sa.bindparam("at"), retired_by=sa.bindparam("by"))
)


def _flush_timeline(connection: Connection, writes: Sequence[Write], seed: Seed, done: Flushed) -> None:
    seeded = {a.id for a in seed.appointments}
    new: dict[int, list[Any]] = {}
    retire: list[dict[str, Any]] = []
    for write in writes:
        if not isinstance(write, AppliedTimeline):
            continue
        for row in write.change.retire:
            assert row.id is not None
            if row.id in new:  # inserted in this chunk: written once, retired
                new[row.id][-2:] = [write.at, write.by]
            elif row.id in seeded:
                retire.append({"row_id": row.id, "core": str(row.mpan), "at": write.at, "by": write.by})
            else:
                raise TimelineConflict(f"appointment row {row.id} is not one of the chunk's")
        for a in write.inserted:
            assert a.id is not None
            new[a.id] = [*appointment_row(a, at=write.at), None, None]
    if retire:
        result = connection.execute(_RETIRE_SEEDED, retire)
        if connection.dialect.supports_sane_multi_rowcount and result.rowcount != len(retire):
            raise TimelineConflict("an appointment row of the chunk was retired by another writer")
        done.add("appointment retired", len(retire))
    done.add("appointment", insert_rows(connection, appointment, _APPOINTMENT_COLUMNS, new.values()))


_UPDATE_REQUEST = (
    sa.update(appointment_request)
    .where(appointment_request.c.correlation_id == sa.bindparam("correlation"))
    .values(state=sa.bindparam("new_state"), outcome_code=sa.bindparam("code"), activated=sa.bindparam("on"))
)


def _flush_requests(
    connection: Connection, writes: Sequence[Write], uow: MemoryUnitOfWork, seed: Seed, done: Flushed
) -> None:
    seeded = {r.correlation_id for r in seed.requests}
    added: list[str] = []
    changed: dict[str, None] = {}
    for write in writes:
        if isinstance(write, AddedRequest):
            added.append(write.request.correlation_id)
        elif isinstance(write, (SettledRequest, ActivatedRequest)) and write.correlation_id in seeded:
            changed[write.correlation_id] = None
    rows = []
    for correlation in added:
        r = uow.registration.request(correlation)
        assert r is not None
        rows.append(request_row(r))
    done.add("appointment_request", insert_rows(connection, appointment_request, REQUEST_COLUMNS, rows))
    updates = []
    for correlation in changed:
        r = uow.registration.request(correlation)
        assert r is not None
        updates.append(
            {
                "correlation": correlation,
                "new_state": r.state.value,
                "code": r.outcome_code,
                "on": r.activated,
            }
        )
    if updates:
        connection.execute(_UPDATE_REQUEST, updates)
        done.add("appointment_request updated", len(updates))


_PORTFOLIO_COLUMNS = (
    "sds",
    "mpan",
    "supplier",
    "mdr",
    "mdr_mpid",
    "valid_from",
    "valid_to",
    "correlation_id",
    "contract_reference",
)
_DELETE_PORTFOLIO = sa.delete(sds_portfolio).where(
    sds_portfolio.c.sds == sa.bindparam("sds"), sds_portfolio.c.mpan == sa.bindparam("core")
)


def _flush_portfolio(
    connection: Connection, writes: Sequence[Write], uow: MemoryUnitOfWork, done: Flushed
) -> None:
    touched = dict.fromkeys((w.sds, w.mpan) for w in writes if isinstance(w, ReplacedPortfolio))
    if not touched:
        return
    connection.execute(_DELETE_PORTFOLIO, [{"sds": sds, "core": core} for sds, core in touched])
    rows = [
        (
            sds,
            core,
            h.supplier,
            h.mdr,
            h.mdr_mpid,
            h.period.start,
            h.period.end,
            h.correlation_id,
            h.contract_reference,
        )
        for sds, core in touched
        for h in uow.dataservice.portfolio_rows(sds=sds, core=core)
    ]
    done.add("sds_portfolio", insert_rows(connection, sds_portfolio, _PORTFOLIO_COLUMNS, rows))


_DELETE_FACTS = sa.delete(sds_mpan_fact).where(
    sds_mpan_fact.c.sds == sa.bindparam("sds_"), sds_mpan_fact.c.mpan == sa.bindparam("core")
)


def _flush_facts(
    connection: Connection, writes: Sequence[Write], uow: MemoryUnitOfWork, done: Flushed
) -> None:
    touched = dict.fromkeys((w.facts.sds, w.facts.mpan) for w in writes if isinstance(w, LearnedFacts))
    if not touched:
        return
    connection.execute(_DELETE_FACTS, [{"sds_": sds, "core": core} for sds, core in touched])
    rows = []
    for sds, core in touched:
        facts = uow.dataservice.facts(sds=sds, core=core)
        if facts is not None:
            rows.append((facts.sds, facts.mpan, facts.energy_direction, facts.energisation))
    done.add(
        "sds_mpan_fact",
        insert_rows(connection, sds_mpan_fact, ("sds", "mpan", "energy_direction", "energisation"), rows),
    )


def _flush_dcc(connection: Connection, writes: Sequence[Write], done: Flushed) -> None:
    mdrs = [
        (w.mpan, w.mdr, w.mdr_mpid, w.valid_from, w.supplier, w.at, w.transaction_id)
        for w in writes
        if isinstance(w, RecordedMdr)
    ]
    supplies = [
        (w.mpan, w.supplier, w.energy_direction, w.valid_from, w.at, w.transaction_id)
        for w in writes
        if isinstance(w, RecordedSupply)
    ]
    done.add(
        "dcc_mdr_notice",
        insert_rows(
            connection,
            dcc_mdr_notice,
            ("mpan", "mdr", "mdr_mpid", "valid_from", "supplier", "received_at", "transaction_id"),
            mdrs,
        ),
    )
    done.add(
        "dcc_supply_notice",
        insert_rows(
            connection,
            dcc_supply_notice,
            ("mpan", "supplier", "energy_direction", "valid_from", "received_at", "transaction_id"),
            supplies,
        ),
    )


_DELETE_INSTRUCTIONS = sa.delete(mdr_instruction).where(
    mdr_instruction.c.mdr == sa.bindparam("mdr_"), mdr_instruction.c.mpan == sa.bindparam("core")
)


def _flush_instructions(
    connection: Connection, writes: Sequence[Write], uow: MemoryUnitOfWork, done: Flushed
) -> None:
    touched: dict[tuple[str, str], None] = {}
    for write in writes:
        if isinstance(write, Instructed):
            touched[(write.instruction.mdr, write.instruction.mpan)] = None
        elif isinstance(write, Stopped):
            touched[(write.mdr, write.mpan)] = None
    if not touched:
        return
    connection.execute(_DELETE_INSTRUCTIONS, [{"mdr_": mdr, "core": core} for mdr, core in touched])
    rows = [
        (i.mdr, i.mpan, i.sds, i.mdr_mpid, i.valid_from, i.valid_to, i.correlation_id)
        for mdr, core in touched
        for i in uow.mdr.instructions(mdr=mdr, core=core)
    ]
    done.add(
        "mdr_instruction",
        insert_rows(
            connection,
            mdr_instruction,
            ("mdr", "mpan", "sds", "mdr_mpid", "valid_from", "valid_to", "correlation_id"),
            rows,
        ),
    )


def stored_messages(dialect: Dialect, uow: MemoryUnitOfWork) -> StoredLog:
    """The chunk's messages with their deliveries in their final state, converted as the
    message log stores them (``market_repo.stored_log``): the CPU part of the flush, done
    before the write lock is taken so that other workers' flushes need not wait for it."""
    finished = uow.messages.finished()
    messages = [new for new, _ in finished]
    deliveries = [
        [FinishedDelivery(d.recipient, d.state, d.processed_at, d.code, d.detail) for d in finals]
        for _, finals in finished
    ]
    return stored_log(dialect, messages, deliveries)


def _flush_messages(connection: Connection, log: StoredLog, done: Flushed) -> None:
    """The chunk's messages with their deliveries in their final state, through the message
    log's bulk path (``MarketStore.log_stored``: ids in one step, one statement per table)."""
    MarketStore(connection).log_stored(log)
    done.add("message", len(log.messages))
    done.add("delivery", sum(len(d) for d in log.deliveries))
