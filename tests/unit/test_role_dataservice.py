"""The Smart Data Service as a participant, over a ``MemoryUnitOfWork`` (no database): every SP
and DS code it decides, each with exactly the messages the exchange produces, and the MPAN facts
it learns from the messages it receives (never from the RS's records)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from openmhhs.dataservice.decisions import MdrChangeRefused
from openmhhs.dataservice.service import SmartDataService
from openmhhs.dip.build import Site
from openmhhs.identity.isd import IsdTable
from openmhhs.ids import DipId, GspGroup
from openmhhs.market.ingress import IsdDirectory
from openmhhs.periods import Period
from openmhhs.store.memory import LearnedFacts
from openmhhs.store.ports import MpanFacts
from tests.isd_samples import entry
from tests.market_harness import AURORA, BEACON, CIRRUS, DAWN, LDSO, RS, TODAY
from tests.memory_market import MemoryMarket, Sent, first_code

D = timedelta(days=1)


@pytest.fixture
def market() -> MemoryMarket:
    m = MemoryMarket()
    m.contract()
    return m


def rejected_by_sds(sent: list[Sent], code: str) -> None:
    """The RS passes the request on; the SDS answers ``code``; the RS publishes the rejection."""
    assert [s.row() for s in sent] == [
        ("[DSAppInitialResp]", RS, (sent[0].recipients[0],), "A"),
        ("[DSAppSPRequest]", RS, (BEACON,), None),
        ("[DSAppSPResponse]", BEACON, (RS,), code),
        ("[DSAppRejected]", RS, (sent[0].recipients[0], BEACON), code),
    ]


Case = Callable[[MemoryMarket], tuple[Any, Any]]


def _sp001(m: MemoryMarket) -> tuple[Any, Any]:
    core = m.mpan(supplier=DAWN)
    m_contract = (lambda: m.contract("C-DAWN-1", supplier=DAWN), m.dsapp(core, supplier=DAWN, ref="C-DAWN-1"))
    return m.dsapp(core, supplier=DAWN, ref=None), m_contract


def _sp002(m: MemoryMarket) -> tuple[Any, Any]:
    core = m.mpan()
    return m.dsapp(core, ref="C-NOBODY"), m.dsapp(core, ref=None)


def _sp003(m: MemoryMarket) -> tuple[Any, Any]:
    m.contract("C-AURORA-W", connection_types=frozenset({"W"}))
    core = m.mpan(connection_type="L")
    return m.dsapp(core, ref="C-AURORA-W"), m.dsapp(core, ref="C-AURORA-1")


def _sp004(m: MemoryMarket) -> tuple[Any, Any]:
    core = m.mpan(connection_type="U")
    return m.dsapp(core), None


def _sp006(m: MemoryMarket) -> tuple[Any, Any]:
    m.contract("C-SMETS2", meter_types=frozenset({"S2AD"}))
    return m.dsapp(m.mpan(meter_type="S1"), ref="C-SMETS2"), m.dsapp(m.mpan(), ref="C-SMETS2")


def _sp007(m: MemoryMarket) -> tuple[Any, Any]:
    m.contract("C-NORTH", gsp_groups=frozenset({"_G", "_P"}))
    return m.dsapp(m.mpan(), ref="C-NORTH"), None


def _sp008(m: MemoryMarket) -> tuple[Any, Any]:
    return m.dsapp(m.mpan(postcode=None)), m.dsapp(m.mpan())


def _sp009(m: MemoryMarket) -> tuple[Any, Any]:
    m.contract("C-NON-DCC", requires_dcc_enrolment=False)
    core = m.mpan(dcc_service_flag="N")
    return m.dsapp(core), m.dsapp(core, ref="C-NON-DCC")


def _sp010(m: MemoryMarket) -> tuple[Any, Any]:
    m.contract("C-HOMES", domestic_indicators=frozenset({True}))
    core = m.mpan()
    return m.dsapp(core, ref="C-HOMES", domestic=False), m.dsapp(core, ref="C-HOMES", domestic=True)


def _sp011(m: MemoryMarket) -> tuple[Any, Any]:
    m.contract("C-NOTICE", min_lead_days=5)
    core = m.mpan()
    return m.dsapp(core, ref="C-NOTICE", effective=TODAY + 4 * D), m.dsapp(
        core, ref="C-NOTICE", effective=TODAY + 5 * D
    )


def _sp099(m: MemoryMarket) -> tuple[Any, Any]:
    m.contract("C-LATER", valid=Period(TODAY + 10 * D))
    core = m.mpan()
    return m.dsapp(core, ref="C-LATER"), m.dsapp(core, ref="C-LATER", effective=TODAY + 10 * D)


def _ds001_blank(m: MemoryMarket) -> tuple[Any, Any]:
    m.contract("C-NOMINATE", default=None)
    core = m.mpan()
    return m.dsapp(core, ref="C-NOMINATE"), m.dsapp(core, ref="C-NOMINATE", mdr=CIRRUS)


def _ds001_unsupported(m: MemoryMarket) -> tuple[Any, Any]:
    core = m.mpan()
    return m.dsapp(core, mdr=AURORA), m.dsapp(core, mdr=BEACON)


def _ds003(m: MemoryMarket) -> tuple[Any, Any]:
    m.contract("C-FALLBACK", requires_fallback_frequency=True)
    core = m.mpan()
    return m.dsapp(core, ref="C-FALLBACK"), m.dsapp(core, ref="C-FALLBACK", fallback="M")


@pytest.mark.parametrize(
    ("code", "case"),
    [
        ("SP001", _sp001),
        ("SP002", _sp002),
        ("SP003", _sp003),
        ("SP004", _sp004),
        ("SP006", _sp006),
        ("SP007", _sp007),
        ("SP008", _sp008),
        ("SP009", _sp009),
        ("SP010", _sp010),
        ("SP011", _sp011),
        ("SP099", _sp099),
        ("DS001", _ds001_blank),
        ("DS001", _ds001_unsupported),
        ("DS003", _ds003),
    ],
)
def test_sds_decides_with_its_code(market: MemoryMarket, code: str, case: Case) -> None:
    refused, valid = case(market)
    sent = market.submit(refused)
    rejected_by_sds(sent, code)
    assert market.uow.dataservice.portfolio_rows(sds=BEACON, core=refused.common_block.m0.mpan_core) == []
    if isinstance(valid, tuple):
        valid[0]()
        valid = valid[1]
    if valid is not None:
        assert first_code(market.submit(valid)) == "SP000"


def test_sp005_segment_not_supported() -> None:
    market = MemoryMarket()
    market.isd = IsdTable([*market.isd, entry(BEACON, "ADS", "SDSB", "A", company="02222222", row=99)])
    market.directory = IsdDirectory(market.isd)
    market.contract()
    sent = market.submit(market.dsapp(market.mpan(segment="A")))
    rejected_by_sds(sent, "SP005")


def test_sp000_accepts_and_instructs_the_mdr_with_what_it_learned(market: MemoryMarket) -> None:
    core = market.mpan(energy_direction="E", energisation="D")
    sent = market.submit(market.dsapp(core, mdr=CIRRUS))
    assert first_code(sent) == "SP000"
    facts = MpanFacts(BEACON, core, "E", "D")
    assert market.uow.dataservice.facts(sds=BEACON, core=core) == facts
    assert LearnedFacts(facts) in market.uow.writes
    (start,) = [s for s in sent if s.event_code == "[MDRStart]"]
    assert start.message.custom_block.b078.energy_direction == "E"
    assert start.message.custom_block.b025.energisation_status == "D"
    (held,) = market.uow.dataservice.portfolio_rows(sds=BEACON, core=core)
    assert (held.supplier, held.mdr, held.period) == (AURORA, CIRRUS, Period(TODAY))


def test_sds_never_reads_the_registration_services_records(market: MemoryMarket) -> None:
    """What the RS holds changes after the IF-033; the SDS tells its MDR what it was told."""
    core = market.mpan(energy_direction="E")
    assert first_code(market.submit(market.dsapp(core))) == "SP000"
    record = market.uow.registration.get_mpan(core)
    assert record is not None
    from dataclasses import replace

    market.uow.registration.put_mpan(replace(record, energy_direction="I"))
    sent = market.submit(market.mdr_update(core, mdr=CIRRUS, effective=TODAY + D))
    (start,) = [s for s in sent if s.event_code == "[MDRStart]"]
    assert start.message.custom_block.b078.energy_direction == "E"


def test_ds004_ds005_ds006_supplier_led_mdr_change_notice(market: MemoryMarket) -> None:
    market.contract("C-NOTICE-MDR", mdr_change_notice_days=2, mdr_change_max_notice_days=4)
    core = market.mpan()
    market.appoint(core, ref="C-NOTICE-MDR")
    for day, code in ((TODAY + D, "DS004"), (TODAY + 5 * D, "DS006")):
        sent = market.submit(market.dsapp(core, ref="C-NOTICE-MDR", scenario="USP", mdr=CIRRUS, mdr_from=day))
        rejected_by_sds(sent, code)
    sent = market.submit(
        market.dsapp(core, ref="C-NOTICE-MDR", scenario="USP", mdr=CIRRUS, mdr_from=TODAY + 3 * D)
    )
    assert first_code(sent) == "SP000"


@pytest.mark.parametrize(
    ("day", "mdr", "code"),
    [
        (TODAY - D, CIRRUS, "DS005"),
        (TODAY + D, CIRRUS, "DS004"),
        (TODAY + 5 * D, CIRRUS, "DS006"),
        (TODAY + 3 * D, DAWN, "DS001"),
    ],
)
def test_sds_refuses_its_own_change(market: MemoryMarket, day: Any, mdr: str, code: str) -> None:
    market.contract("C-NOTICE-MDR", mdr_change_notice_days=2, mdr_change_max_notice_days=4)
    core = market.mpan()
    market.appoint(core, ref="C-NOTICE-MDR")
    sds = market.participants[BEACON][0]
    assert isinstance(sds, SmartDataService)
    writes = len(market.uow.writes)
    with pytest.raises(MdrChangeRefused) as refused:
        sds.request_mdr_change(
            site=Site(core, DipId(LDSO), GspGroup("_H")),
            new_mdr=DipId(mdr),
            effective_from=day,
            rs=DipId(RS),
            ctx=market.context(),
            uow=market.uow,
        )
    assert refused.value.code.value == code
    assert len(market.uow.writes) == writes


def test_sds_led_change_sp099_sp001_and_accepted(market: MemoryMarket) -> None:
    core = market.mpan()
    sds = market.participants[BEACON][0]
    assert isinstance(sds, SmartDataService)
    site = Site(core, DipId(LDSO), GspGroup("_H"))

    def change(**kw: Any) -> Any:
        return sds.request_mdr_change(
            site=site,
            new_mdr=DipId(CIRRUS),
            effective_from=TODAY + D,
            rs=DipId(RS),
            ctx=market.context(),
            uow=market.uow,
            **kw,
        )

    with pytest.raises(MdrChangeRefused) as refused:
        change()  # not served yet
    assert refused.value.code.value == "SP099"
    market.appoint(core)
    market.uow.dataservice.portfolio_replace(
        sds=BEACON,
        core=core,
        rows=[
            type(h)(DAWN, h.mdr, h.mdr_mpid, h.period, None, h.correlation_id)
            for h in market.uow.dataservice.portfolio_rows(sds=BEACON, core=core)
        ],
    )
    with pytest.raises(MdrChangeRefused) as refused:
        change()  # no contract with the supplier it serves for
    assert refused.value.code.value == "SP001"


def test_change_of_supplier_moves_the_mdr_instruction(market: MemoryMarket) -> None:
    core = market.mpan()
    market.appoint(core)
    rs = market.participants[RS][0]
    market.change_supplier(core, DAWN, TODAY + 3 * D)
    rs = market.participants[RS][0]
    out = rs.registration_changed(core, since=TODAY + 3 * D, ctx=market.context(), uow=market.uow)  # type: ignore[attr-defined]
    market.log_produced(out)
    market.drain()
    (held_before, held_after) = market.uow.dataservice.portfolio_rows(sds=BEACON, core=core)
    assert (held_before.supplier, held_after.supplier) == (AURORA, DAWN)
    assert held_after.period.start == TODAY + 3 * D


def test_every_code_the_rs_and_the_sds_answer_is_reached_here() -> None:
    """Each REG/SP/DS code in the RS's and the SDS's code paths has a role test above or in
    test_role_registration.py (a new code without one fails here)."""
    import re
    from pathlib import Path

    import openmhhs

    source = Path(openmhhs.__file__).parent
    rooms = ["registration/rules.py", "registration/service.py", "dataservice/decisions.py"]
    rooms += ["dataservice/service.py", "identity/translation.py", "identity/registry.py", "ids.py"]
    codes = {
        c
        for room in rooms
        for c in re.findall(r"ResponseCode\.((?:REG|SP|DS)\d{3,4})", (source / room).read_text())
    }
    here = Path(__file__).read_text() + (Path(__file__).parent / "test_role_registration.py").read_text()
    tested = set(re.findall(r'"((?:REG|SP|DS)\d{3,4})"', here))
    assert len(codes) >= 40 and codes <= tested, sorted(codes - tested)
