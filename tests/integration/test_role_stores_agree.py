"""The memory repositories (the fake, and the batch lane's working state) and the SQL ones agree:
one sequence of writes and reads through the ports, run on each, answers the same (row ids
aside: each store numbers its own rows) and fails the same (TimelineConflict, MSG1006,
DeliveryTaken)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
import pytest

from openmhhs.dataservice.contracts import Contract
from openmhhs.dataservice.portfolio import Held
from openmhhs.ids import DipId, GspGroup, MpanCore, Mpid
from openmhhs.periods import Period
from openmhhs.registration.model import (
    Appointment,
    AppointmentRequest,
    MpanRecord,
    RequestState,
    Scenario,
    Service,
    SupplierPeriod,
)
from openmhhs.registration.timeline import TimelineChange, replace_from
from openmhhs.store.database import Database
from openmhhs.store.market_repo import DeliveryTaken, DuplicateMessage, MarketStore, NewMessage
from openmhhs.store.memory import MemoryUnitOfWork, Seed
from openmhhs.store.ports import DeliveryOutcome, MpanFacts, TimelineConflict, UnitOfWork
from openmhhs.store.unit_of_work import SqlUnitOfWork

D = timedelta(days=1)
DAY = date(2025, 7, 1)
AT = datetime(2025, 7, 1, 11, tzinfo=UTC)
CORE = MpanCore.from_stem("200000000777")
SUPPLIER, SDS, MDR, OTHER_MDR = (
    DipId("1111111111"),
    DipId("2222222222"),
    DipId("3333333333"),
    DipId("4444444444"),
)
RECORD = MpanRecord(
    mpan=CORE,
    distributor=DipId("9000000020"),
    gsp_group=GspGroup("_H"),
    suppliers=(SupplierPeriod(SUPPLIER, Period(DAY - 60 * D)),),
)
CONTRACT = Contract(
    sds=SDS, supplier=SUPPLIER, reference="C-1", supported_mdrs=frozenset({MDR}), default_mdr=MDR
)


def _no_ids(value: Any) -> Any:
    if isinstance(value, list):
        return [_no_ids(v) for v in value]
    if isinstance(value, (Appointment, AppointmentRequest)):
        return replace(value, id=None)
    return value


def _ds(provider: DipId, mdr: DipId, start: date, correlation: str) -> Appointment:
    return Appointment(
        mpan=CORE,
        service=Service.DS,
        provider=provider,
        provider_mpid=Mpid("SDSB"),
        period=Period(start),
        supplier=SUPPLIER,
        mdr=mdr,
        mdr_mpid=Mpid("MDRC"),
        scenario=Scenario.CSP,
        correlation_id=correlation,
    )


def _request(correlation: str, received: date) -> AppointmentRequest:
    return AppointmentRequest(
        correlation_id=correlation,
        mpan=CORE,
        service=Service.DS,
        supplier=SUPPLIER,
        supplier_mpid=Mpid("SUPA"),
        provider=SDS,
        provider_mpid=Mpid("SDSB"),
        effective_from=received + 2 * D,
        scenario=Scenario.CSP,
        received_on=received,
        raw_block=b"{}",
    )


def _body(reference: str, correlation: str | None) -> bytes:
    """A body carrying what the message log reads from it (the SQL log keeps the sender unique
    reference and correlation id only as keys, and reads them back from the body)."""
    s1: dict[str, str] = {"senderUniqueReference": reference, "senderRoleID": "SUP"}
    if correlation is not None:
        s1["senderCorrelationID"] = correlation
    return orjson.dumps({"CommonBlock": {"S1": s1}})


def _message(reference: str, correlation: str | None, recipients: tuple[tuple[str, str], ...]) -> NewMessage:
    return NewMessage(
        reference=reference,
        interface_id="IF-031",
        event_code="[DSApp]",
        sender=str(SUPPLIER),
        sender_role="SUP",
        core=str(CORE),
        correlation_id=correlation,
        transaction_id=f"T-{reference}",
        at=AT,
        origin="submitted",
        body=_body(reference, correlation),
        recipients=recipients,
    )


def scenario(uow: UnitOfWork) -> list[Any]:
    """What the ports answer to one sequence of writes, in order."""
    seen: list[Any] = []
    reg, ds, mdr, dcc, log = uow.registration, uow.dataservice, uow.mdr, uow.dcc, uow.messages
    seen.append(reg.get_mpan(str(CORE)))
    # the timeline: an appointment, then a replacement; retiring a retired row conflicts
    reg.apply(replace_from(reg.timeline(str(CORE)), _ds(SDS, MDR, DAY, "c1")), at=AT, by="c1")
    first = reg.timeline(str(CORE))
    reg.apply(replace_from(first, _ds(SDS, OTHER_MDR, DAY + 3 * D, "c2")), at=AT, by="c2")
    seen.append(_no_ids(reg.timeline(str(CORE))))
    with pytest.raises(TimelineConflict), uow.savepoint():
        reg.apply(TimelineChange(retire=tuple(first)), at=AT, by="c3")
    seen.append(_no_ids(reg.timeline(str(CORE))))
    # requests
    for correlation, received in (("r1", DAY - 9 * D), ("r2", DAY), ("r3", DAY - D)):
        reg.add_request(_request(correlation, received))
    reg.settle_request("r3", RequestState.ACCEPTED, "SP000")
    seen.append(_no_ids(reg.open_requests(str(CORE), Service.DS)))
    seen.append(_no_ids(reg.requests_to_lapse(DAY - 5 * D)))
    seen.append(_no_ids(reg.requests_to_activate(DAY + D)))
    reg.mark_activated("r3")
    seen.append(_no_ids(reg.requests_to_activate(DAY + D)))
    seen.append(_no_ids(reg.request("r3")))
    seen.append(reg.request("nobody"))
    # the SDS's portfolio and facts
    seen.append(ds.contracts(sds=str(SDS)))
    rows = [Held(str(SUPPLIER), str(MDR), "MDRC", Period(DAY, DAY + 3 * D), "C-1", "c1")]
    rows.append(Held(str(SUPPLIER), str(OTHER_MDR), "MDRO", Period(DAY + 3 * D), "C-1", "c2"))
    ds.portfolio_replace(sds=str(SDS), core=str(CORE), rows=rows)
    seen.append(ds.portfolio_rows(sds=str(SDS), core=str(CORE)))
    seen.append([ds.portfolio_on(sds=str(SDS), core=str(CORE), day=DAY + n * D) for n in (-1, 0, 3, 9)])
    seen.append(ds.facts(sds=str(SDS), core=str(CORE)))
    ds.learn(MpanFacts(str(SDS), str(CORE), "I", "E"))
    ds.learn(MpanFacts(str(SDS), str(CORE), "E", "D"))
    seen.append(ds.facts(sds=str(SDS), core=str(CORE)))
    # the DCC
    dcc.record_mdr(
        core=str(CORE),
        mdr=str(MDR),
        mdr_mpid="MDRC",
        valid_from=DAY,
        supplier=str(SUPPLIER),
        at=AT,
        transaction_id="T1",
    )
    dcc.record_supply(
        core=str(CORE),
        supplier=str(SUPPLIER),
        energy_direction="I",
        valid_from=DAY - 60 * D,
        at=AT,
        transaction_id="T2",
    )
    dcc.record_mdr(
        core=str(CORE),
        mdr=str(OTHER_MDR),
        mdr_mpid="MDRO",
        valid_from=DAY + 3 * D,
        supplier=str(SUPPLIER),
        at=AT,
        transaction_id="T3",
    )
    seen.append(dcc.records(str(CORE)))
    # an MDR's instructions: a later start, an earlier one superseding it, a stop, a withdrawal
    mdr.instruct(
        mdr=str(MDR),
        core=str(CORE),
        sds=str(SDS),
        mdr_mpid="MDRC",
        valid_from=DAY + 5 * D,
        correlation_id="i1",
    )
    mdr.instruct(
        mdr=str(MDR), core=str(CORE), sds="5555555555", mdr_mpid="MDRC", valid_from=DAY, correlation_id="i0"
    )
    mdr.instruct(
        mdr=str(MDR),
        core=str(CORE),
        sds=str(SDS),
        mdr_mpid="MDRC",
        valid_from=DAY + 2 * D,
        correlation_id="i2",
    )
    seen.append(mdr.instructions(mdr=str(MDR), core=str(CORE)))
    seen.append(mdr.stop(mdr=str(MDR), core=str(CORE), sds=str(SDS), last_day=DAY + 6 * D))
    seen.append(mdr.instructions(mdr=str(MDR), core=str(CORE)))
    seen.append(mdr.stop(mdr=str(MDR), core=str(CORE), sds=str(SDS), last_day=DAY))
    seen.append(mdr.stop(mdr=str(MDR), core=str(CORE), sds=str(SDS), last_day=DAY))
    seen.append(mdr.instructions(mdr=str(MDR), core=str(CORE)))
    # the message log: MSG1006, correlations, deliveries finished once
    first_id = log.log_message(
        reference="m1",
        interface_id="IF-031",
        event_code="[DSApp]",
        sender=str(SUPPLIER),
        sender_role="SUP",
        core=str(CORE),
        correlation_id="x1",
        transaction_id="T-m1",
        at=AT,
        origin="submitted",
        body=_body("m1", "x1"),
    )
    log.add_deliveries(first_id, [str(SDS)])
    log.add_deliveries(first_id, ["9999999999"], state="mailbox")
    with pytest.raises(DuplicateMessage):
        log.log_message(
            reference="m1",
            interface_id="IF-031",
            event_code="[DSApp]",
            sender=str(SUPPLIER),
            sender_role="SUP",
            core=str(CORE),
            correlation_id="x9",
            transaction_id="T-m1b",
            at=AT,
            origin="submitted",
            body=_body("m1", "x9"),
        )
    seen.append([log.correlation_seen("x1", other_than="m2"), log.correlation_seen("x1", other_than="m1")])
    seen.append([log.reference_seen("m1"), log.reference_seen("m2"), log.has_pending()])
    log.log_messages(
        [_message("m2", "x1", ((str(SDS), "pending"), (str(MDR), "pending"))), _message("m3", None, ())]
    )
    pending = log.pending_deliveries(10)
    seen.append([(p.recipient, p.message.sender_unique_reference, p.message.body) for p in pending])
    log.finish_deliveries([DeliveryOutcome(pending[0].id, "done", None, None)], at=AT)
    with pytest.raises(DeliveryTaken), uow.savepoint():
        log.finish_deliveries(
            [
                DeliveryOutcome(pending[1].id, "failed", "RCP1000", "x"),
                DeliveryOutcome(pending[0].id, "done", None, None),
            ],
            at=AT,
        )
    seen.append([(p.recipient, p.message.sender_unique_reference) for p in log.pending_deliveries(10)])
    seen.append([m.sender_unique_reference for m in log.messages_by_id([p.message.id for p in pending])])
    return seen


def test_memory_and_sql_repositories_agree(db: Database) -> None:
    with db.begin() as connection:
        store = MarketStore(connection)
        store.add_mpan(RECORD)
        store.add_contract(CONTRACT)
    with SqlUnitOfWork.begin(db) as uow:
        on_sql = scenario(uow)
    memory = MemoryUnitOfWork(Seed(mpans=(RECORD,), contracts=(CONTRACT,)))
    on_memory = scenario(memory)
    for step, (sql, mem) in enumerate(zip(on_sql, on_memory, strict=True)):
        assert sql == mem, f"step {step}"
    assert len(on_sql) == 26


def test_sql_unit_of_work_commits_rolls_back_and_owns_its_connection(db: Database) -> None:
    with db.begin() as connection:
        MarketStore(connection).add_mpan(RECORD)
    facts = MpanFacts(str(SDS), str(CORE), "E", "E")
    with SqlUnitOfWork.begin(db) as uow:
        uow.dataservice.learn(facts)
        uow.rollback()
        assert uow.dataservice.facts(sds=str(SDS), core=str(CORE)) is None
        uow.dataservice.learn(facts)
        uow.commit()
        uow.dataservice.learn(replace(facts, energisation="D"))
        uow.rollback()
    with db.begin() as connection:
        assert SqlUnitOfWork(connection).dataservice.facts(sds=str(SDS), core=str(CORE)) == facts
    with pytest.raises(RuntimeError), db.begin() as connection:
        SqlUnitOfWork(connection).commit()  # inside its caller's transaction: the caller ends it


def test_migration_0010_gives_each_serving_sds_the_facts_of_its_mpans(tmp_path: Any) -> None:
    """A database made before the SDS kept its own MPAN facts keeps its IF-061s' content."""
    import sqlalchemy as sa

    from openmhhs.store.migrate import upgrade
    from openmhhs.store.tables import mpan, sds_portfolio

    db = Database(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(db.engine, "0009")
    with db.engine.begin() as connection:
        connection.execute(
            sa.insert(mpan),
            {
                "mpan": str(CORE),
                "distributor": "9000000020",
                "gsp_group": "_H",
                "segment": "S",
                "connection_type": "W",
                "energisation": "D",
                "domestic": True,
                "energy_direction": "E",
                "dcc_service_flag": "A",
                "meter_type": "S2AD",
                "postcode": None,
                "duos_tariff_id": "A01",
            },
        )
        row = {
            "sds": str(SDS),
            "mpan": str(CORE),
            "supplier": str(SUPPLIER),
            "mdr": str(MDR),
            "mdr_mpid": "MDRC",
        }
        connection.execute(
            sa.insert(sds_portfolio),
            [
                {**row, "valid_from": DAY, "valid_to": DAY + D},
                {**row, "valid_from": DAY + D, "valid_to": None},
            ],
        )
    upgrade(db.engine, "0010")
    with db.engine.begin() as connection:
        facts = SqlUnitOfWork(connection).dataservice.facts(sds=str(SDS), core=str(CORE))
    assert facts == MpanFacts(str(SDS), str(CORE), "E", "D")
