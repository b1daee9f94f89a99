"""The DCC and the Meter Data Retriever as participants, over a ``MemoryUnitOfWork`` (no
database): the DCC keeps what the RS tells it; an MDR retrieves only on its SDS's instruction,
refuses one naming another MDR (RCP1064), and an earlier start supersedes later instructions."""

from __future__ import annotations

from datetime import timedelta

import pytest

from openmhhs.dcc.access import MdrNotice, SupplyNotice
from openmhhs.dip.parse import encode
from openmhhs.ids import DipId, Mpid
from openmhhs.meterdata.messages import mdr_start
from openmhhs.store.memory import Instructed, RecordedMdr, RecordedSupply, Stopped
from openmhhs.store.ports import Instruction
from tests.market_harness import AURORA, BEACON, CIRRUS, DAWN, RS, TODAY, RawSite
from tests.memory_market import MemoryMarket

D = timedelta(days=1)
DCC = "9000000002"


@pytest.fixture
def market() -> MemoryMarket:
    m = MemoryMarket()
    m.contract()
    return m


def test_dcc_records_the_mdr_outcome_and_registrations(market: MemoryMarket) -> None:
    core = market.mpan(energy_direction="E", later=((DAWN, TODAY + 3 * D),))
    market.submit(market.dsapp(core, mdr=CIRRUS))
    rs = market.participants[RS][0]
    out = rs.registration_changed(core, since=None, ctx=market.context(), uow=market.uow)  # type: ignore[attr-defined]
    market.log_produced(out)
    market.drain()
    records = market.uow.dcc.records(core)
    assert records.mdrs == (MdrNotice(core, CIRRUS, TODAY),)
    assert [(n.supplier, n.energy_direction, n.valid_from) for n in records.supplies] == [
        (AURORA, "E", TODAY - 60 * D),
        (DAWN, "E", TODAY + 3 * D),
    ]
    assert records.supplies[0] == SupplyNotice(core, AURORA, "E", TODAY - 60 * D)
    kinds = [type(w) for w in market.uow.writes if isinstance(w, (RecordedMdr, RecordedSupply))]
    assert kinds == [RecordedMdr, RecordedSupply, RecordedSupply]


def test_mdr_instructed_by_its_sds(market: MemoryMarket) -> None:
    core = market.mpan()
    sent = market.submit(market.dsapp(core, mdr=CIRRUS))
    assert [(s.event_code, s.sender, s.recipients, s.code) for s in sent[-2:]] == [
        ("[MDRStart]", BEACON, (CIRRUS,), None),
        ("[MDRStartResponse]", CIRRUS, (BEACON,), "A"),
    ]
    assert market.uow.mdr.instructions(mdr=CIRRUS, core=core) == [
        Instruction(
            CIRRUS, core, BEACON, "MDRC", TODAY, None, sent[0].message.common_block.s1.sender_correlation_id
        )
    ]


def _start(market: MemoryMarket, core: str, *, mdr: str, mpid: str, day: object) -> list[object]:
    message = mdr_start(
        market.factory(BEACON, "SDS"),
        site=RawSite(core),
        mdr=DipId(mdr),
        mdr_mpid=mpid,
        mdr_from=day,  # type: ignore[arg-type]
        supplier=DipId(AURORA),
        supplier_mpid="SUPA",
        energy_direction="I",
        energisation="E",
        energisation_from=day,  # type: ignore[arg-type]
        consent="H",
        consent_from=day,  # type: ignore[arg-type]
        now=market.now,
        correlation_id=None,
    )
    return market.submit(message)  # type: ignore[return-value]


def test_rcp1064_an_instruction_for_another_mdr_is_refused(market: MemoryMarket) -> None:
    core = market.mpan()
    writes = len(market.uow.writes)
    sent = _start(market, core, mdr=CIRRUS, mpid="MDRZ", day=TODAY)
    assert [(s.event_code, s.recipients) for s in sent] == [("[MDRStartResponse]", (BEACON,))]  # type: ignore[attr-defined]
    assert b"RCP1064" in encode(sent[0].message)  # type: ignore[attr-defined]
    assert not [w for w in market.uow.writes[writes:] if isinstance(w, Instructed)]
    assert market.uow.mdr.instructions(mdr=CIRRUS, core=core) == []


def test_an_earlier_start_supersedes_later_instructions_and_a_stop_ends_them(market: MemoryMarket) -> None:
    core = market.mpan()
    _start(market, core, mdr=CIRRUS, mpid="MDRC", day=TODAY + 5 * D)
    _start(market, core, mdr=CIRRUS, mpid="MDRC", day=TODAY + 2 * D)
    assert [(i.valid_from, i.valid_to) for i in market.uow.mdr.instructions(mdr=CIRRUS, core=core)] == [
        (TODAY + 2 * D, None)
    ]
    assert market.uow.mdr.stop(mdr=CIRRUS, core=core, sds=BEACON, last_day=TODAY + 6 * D)
    assert [(i.valid_from, i.valid_to) for i in market.uow.mdr.instructions(mdr=CIRRUS, core=core)] == [
        (TODAY + 2 * D, TODAY + 7 * D)
    ]
    assert market.uow.mdr.stop(mdr=CIRRUS, core=core, sds=BEACON, last_day=TODAY) is True  # withdrawn
    assert market.uow.mdr.instructions(mdr=CIRRUS, core=core) == []
    assert not market.uow.mdr.stop(mdr=CIRRUS, core=core, sds=BEACON, last_day=TODAY)
    assert isinstance(market.uow.writes[-1], Stopped)


def test_a_savepoint_undoes_exactly_its_writes(market: MemoryMarket) -> None:
    core = market.mpan()
    uow = market.uow
    uow.mdr.instruct(
        mdr=CIRRUS, core=core, sds=BEACON, mdr_mpid="MDRC", valid_from=TODAY, correlation_id=None
    )
    kept = list(uow.writes)
    with pytest.raises(RuntimeError), uow.savepoint():
        uow.mdr.instruct(
            mdr=CIRRUS, core=core, sds=BEACON, mdr_mpid="MDRC", valid_from=TODAY - D, correlation_id=None
        )
        uow.dcc.record_mdr(
            core=core,
            mdr=CIRRUS,
            mdr_mpid=str(Mpid("MDRC")),
            valid_from=TODAY,
            supplier=AURORA,
            at=market.now,
            transaction_id="T",
        )
        raise RuntimeError
    assert uow.writes == kept
    assert [i.valid_from for i in uow.mdr.instructions(mdr=CIRRUS, core=core)] == [TODAY]
    assert uow.dcc.records(core).mdrs == ()
    uow.rollback()
    assert uow.writes == [] and uow.mdr.instructions(mdr=CIRRUS, core=core) == []
