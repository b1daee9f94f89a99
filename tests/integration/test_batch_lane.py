"""The batch lane's guarantees beside its speed (issue 13 items 3 and 5): a chunk in which a
participant fails is rolled back and replayed message by message, which parks only the failing
delivery; MPANs split over two worker processes leave what one process leaves."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from importlib.resources import files
from typing import Any

import pytest
import sqlalchemy as sa

from openmhhs.dataservice.contracts import Contract
from openmhhs.dataservice.service import SmartDataService
from openmhhs.dip.build import MessageFactory, Sender, Site
from openmhhs.dip.participant import Context, Delivered
from openmhhs.dip.schema import DipMessageStruct
from openmhhs.dip.vocabulary import Scenario
from openmhhs.identity.m16_format import read_json
from openmhhs.ids import DipId, DipRole, GspGroup, MpanCore, Mpid
from openmhhs.market.bus import Market
from openmhhs.market.lane import BatchLane
from openmhhs.market.workers import Workers, worker_of
from openmhhs.periods import Period
from openmhhs.registration.model import MpanRecord, SupplierPeriod
from openmhhs.store.database import Database
from openmhhs.store.identity_repo import ImportMode, import_isd
from openmhhs.store.market_repo import MarketStore
from openmhhs.store.ports import UnitOfWork
from openmhhs.store.tables import (
    appointment,
    appointment_request,
    dcc_mdr_notice,
    delivery,
    mdr_instruction,
    message,
    sds_mpan_fact,
    sds_portfolio,
)
from openmhhs.supplier.requests import request_data_service

TODAY = date(2025, 7, 1)
SUPPLIER, SDS, RS, LDSO = DipId("1111111111"), DipId("2222222222"), DipId("9000000001"), DipId("9000000020")


def _cores(n: int) -> list[str]:
    return [str(MpanCore.from_stem(f"20{i:010d}")) for i in range(1, n + 1)]


@pytest.fixture
def market_db(db_url: str) -> Iterator[Database]:
    """The ISD, 24 MPANs of one Supplier and its contract with the SDS."""
    db = Database(db_url)
    with db.begin() as connection:
        isd = files("openmhhs.data").joinpath("market_isd.json").read_bytes()
        import_isd(connection, read_json(isd), mode=ImportMode.REPLACE)
        store = MarketStore(connection)
        store.add_mpans(
            [
                MpanRecord(
                    mpan=MpanCore(core),
                    distributor=LDSO,
                    gsp_group=GspGroup("_H"),
                    suppliers=(SupplierPeriod(SUPPLIER, Period(date(2025, 5, 1))),),
                )
                for core in _cores(24)
            ]
        )
        store.add_contract(
            Contract(
                sds=SDS, supplier=SUPPLIER, reference="C-1", supported_mdrs=frozenset({SDS}), default_mdr=SDS
            )
        )
    yield db
    db.dispose()


def _requests(market: Market, cores: list[str]) -> list[DipMessageStruct]:
    factory = MessageFactory(Sender(SUPPLIER, DipRole.SUP), unique_prefix="lane")
    return [
        request_data_service(
            factory,
            site=Site(MpanCore(core), LDSO, GspGroup("_H")),
            rs=RS,
            sds=SDS,
            sds_mpid=Mpid("SDSB"),
            effective_from=TODAY,
            scenario=Scenario.CSP,
            contract_reference="C-1",
            now=market.now,
        )
        for core in cores
    ]


def test_a_failing_participant_replays_its_chunk_and_parks_only_its_message(
    market_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    cores = _cores(24)
    broken = cores[5]
    receive = SmartDataService.receive

    def failing(self: SmartDataService, delivered: Delivered, ctx: Context, uow: UnitOfWork) -> Any:
        if delivered.message.common_block.m0.mpan_core == broken:  # type: ignore[attr-defined]
            raise RuntimeError("the SDS's handler broke")
        return receive(self, delivered, ctx, uow)

    monkeypatch.setattr(SmartDataService, "receive", failing)
    market = Market(market_db, today=TODAY, batch_size=500)
    lane = BatchLane(market, chunk=10)
    results = lane.send(_requests(market, cores))
    assert all(r.accepted for r in results)
    assert lane.stats.chunks == 3 and lane.stats.replayed == 1  # the chunk holding the broken MPAN
    with market_db.read() as connection:
        parked = connection.execute(
            sa.select(message.c.mpan, message.c.interface_id, delivery.c.outcome_code)
            .join(message, message.c.id == delivery.c.message_id)
            .where(delivery.c.state == "failed")
        ).all()
        appointed = set(
            connection.execute(
                sa.select(appointment.c.mpan).where(appointment.c.retired_at.is_(None))
            ).scalars()
        )
        pending = connection.execute(
            sa.select(sa.func.count()).where(delivery.c.state == "pending")
        ).scalar_one()
    assert [tuple(p) for p in parked] == [(broken, "IF-033", "RCP1000")]
    assert appointed == set(cores) - {broken}
    assert pending == 0


def _outcome(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """The roles' records and the message log, without what a process draws at random (its
    participants' unique prefixes, the DIP's transaction ids, hence references and bodies)."""
    kept = {
        appointment: [c for c in appointment.c if c.name != "id"],
        appointment_request: [c for c in appointment_request.c if c.name != "id"],
        sds_portfolio: [c for c in sds_portfolio.c if c.name != "id"],
        sds_mpan_fact: list(sds_mpan_fact.c),
        mdr_instruction: [c for c in mdr_instruction.c if c.name != "id"],
        dcc_mdr_notice: [c for c in dcc_mdr_notice.c if c.name not in ("id", "transaction_id")],
    }
    found: dict[str, list[tuple[Any, ...]]] = {}
    with db.read() as connection:
        for table, columns in kept.items():
            found[table.name] = sorted((tuple(r) for r in connection.execute(sa.select(*columns))), key=repr)
        found["message"] = sorted(
            (
                tuple(r)
                for r in connection.execute(
                    sa.select(
                        message.c.interface_id,
                        message.c.event_code,
                        message.c.sender,
                        message.c.mpan,
                        message.c.correlation_id,
                        message.c.received_at,
                        delivery.c.recipient,
                        delivery.c.state,
                        delivery.c.outcome_code,
                    ).join(delivery, delivery.c.message_id == message.c.id, isouter=True)
                )
            ),
            key=repr,
        )
    return found


def test_two_workers_leave_what_one_leaves(db_url: str, market_db: Database, tmp_path: Any) -> None:
    cores = _cores(24)
    assert {worker_of(c, 2) for c in cores} == {0, 1}  # both workers have MPANs
    one = Market(market_db, today=TODAY, batch_size=500)
    requests = _requests(one, cores)
    with Workers(1) as pool:
        _, alone = pool.begin(market_db.url, today=TODAY, now=one.now, messages=requests, chunk=5).result()
    first = _outcome(market_db)

    with market_db.begin() as connection:  # the same market again, empty of appointments
        for table in (appointment, appointment_request, sds_portfolio, sds_mpan_fact, mdr_instruction):
            connection.execute(sa.delete(table))
        for table in (dcc_mdr_notice, delivery, message):
            connection.execute(sa.delete(table))
        connection.execute(sa.text("DELETE FROM market_state"))
    half = len(requests) // 2
    with Workers(2) as pool:
        assert pool.start() >= 0  # both processes up before the work (the bench's way)
        stats, split = pool.begin(
            market_db.url, today=TODAY, now=one.now, messages=requests[:half], chunk=5
        ).result()
        # a second share of the same work: each worker plays it on the market it kept
        more, rest = pool.begin(
            market_db.url, today=TODAY, now=one.now, messages=requests[half:], chunk=5
        ).result()
    stats.merge(more)
    split += rest
    assert stats.chunks >= 2 and stats.replayed == 0
    assert [r.code for r in split] == [r.code for r in alone]
    assert [r.correlation_id for r in split] == [r.correlation_id for r in alone]
    assert _outcome(market_db) == first
    assert len(first["appointment"]) == len(cores)
