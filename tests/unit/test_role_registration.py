"""The Registration Service as a participant, over a ``MemoryUnitOfWork`` (no database): every
REG code it answers, each with exactly the messages it sends, beside a valid neighbour."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from openmhhs.dip.parse import encode, parse
from openmhhs.dip.participant import Delivered
from openmhhs.dip.vocabulary import Scenario
from openmhhs.ids import DipId, Mpid
from openmhhs.market.ingress import deliver
from openmhhs.registration.model import RequestState, Service
from openmhhs.registration.service import RegistrationService
from openmhhs.store.memory import AddedRequest, AppliedTimeline, SettledRequest
from openmhhs.supplier.requests import request_metering_service
from tests.market_harness import AURORA, BEACON, CIRRUS, DAWN, METERWISE, RS, TODAY
from tests.memory_market import MemoryMarket, Sent, as_json, first_code

D = timedelta(days=1)
INITIAL = "[DSAppInitialResp]"


@pytest.fixture
def market() -> MemoryMarket:
    m = MemoryMarket()
    m.contract()
    return m


@pytest.fixture
def external() -> MemoryMarket:
    """BEACON's SDS is not simulated: its IF-034 is the test's to send."""
    m = MemoryMarket(external=frozenset({BEACON}))
    m.contract()
    return m


def refused_with(sent: list[Sent], code: str) -> None:
    """Exactly one message: IF-032 R with ``code`` to the supplier; nothing else happens."""
    assert [s.row() for s in sent] == [(INITIAL, RS, (AURORA,), code)] or [s.row() for s in sent] == [
        (INITIAL, RS, (DAWN,), code)
    ]


def accepted(sent: list[Sent]) -> None:
    assert first_code(sent) == "SP000", [s.row() for s in sent]


# --- IF-031 refused by the RS: IF-032 R, and nothing written ---------------------------------------

Case = Callable[[MemoryMarket], tuple[object, object]]


def _reg0000(m: MemoryMarket) -> tuple[object, object]:
    core = m.mpan()
    bad = core[:12] + str((int(core[12]) + 1) % 10)
    return m.dsapp(bad), m.dsapp(core)


def _reg1019(m: MemoryMarket) -> tuple[object, object]:
    core = m.mpan(later=((DAWN, TODAY + 10 * D),))
    return m.dsapp(core, effective=TODAY + 12 * D), m.dsapp(core, effective=TODAY + 9 * D)


def _reg1021(m: MemoryMarket) -> tuple[object, object]:
    core = m.mpan()
    return m.dsapp(core, supplier=DAWN), m.dsapp(core)


def _reg1024(m: MemoryMarket) -> tuple[object, object]:
    core = m.mpan()
    return m.dsapp(core, effective=TODAY - D), m.dsapp(core, effective=TODAY)


def _reg1031(m: MemoryMarket) -> tuple[object, object]:
    core = m.mpan()
    return m.dsapp(core, sds=CIRRUS, sds_mpid="MDRC"), m.dsapp(core)


def _reg1032(m: MemoryMarket) -> tuple[object, object]:
    core = m.mpan()
    return (
        m.dsapp(core, effective_text="2025-07-01T09:30:00+01:00"),
        m.dsapp(core, effective_text="2025-06-30T23:00:00+00:00"),
    )


def _reg1034(m: MemoryMarket) -> tuple[object, object]:
    m.contract("C-DAWN-1", supplier=DAWN)
    core = m.mpan(later=((DAWN, TODAY + 3 * D),))
    return (
        m.dsapp(core, supplier=DAWN, scenario="COS", ref="C-DAWN-1", effective=TODAY - D),
        m.dsapp(core, supplier=DAWN, scenario="COS", ref="C-DAWN-1", effective=TODAY + 3 * D),
    )


def _reg1036(m: MemoryMarket) -> tuple[object, object]:
    core = m.mpan(later=((DAWN, TODAY + 10 * D),))
    return m.dsapp(core, mdr=CIRRUS, mdr_from=TODAY + 11 * D), m.dsapp(core, mdr=CIRRUS, mdr_from=TODAY)


def _reg1081(m: MemoryMarket) -> tuple[object, object]:
    core = m.mpan()
    return m.dsapp(core, mdr=DAWN, mdr_mpid="DAWN"), m.dsapp(core, mdr=CIRRUS)


def _reg1083(m: MemoryMarket) -> tuple[object, object]:
    core = m.mpan()
    return m.dsapp(core, mdr=CIRRUS, mdr_from=TODAY + 2 * D), m.dsapp(core, mdr=CIRRUS, mdr_from=TODAY)


def _reg1084(m: MemoryMarket) -> tuple[object, object]:
    m.contract("C-DAWN-1", supplier=DAWN)
    core = m.mpan(later=((DAWN, TODAY + 3 * D),))
    return (
        m.dsapp(core, supplier=DAWN, ref="C-DAWN-1", effective=TODAY + 3 * D),
        m.dsapp(core, supplier=DAWN, scenario="COS", ref="C-DAWN-1", effective=TODAY + 3 * D),
    )


def _reg1090(m: MemoryMarket) -> tuple[object, object]:
    core = m.mpan()

    def msapp(mpid: str) -> object:
        return request_metering_service(
            m.factory(AURORA, "SUP"),
            site=m.site(core),
            rs=DipId(RS),
            ms=DipId(METERWISE),
            ms_mpid=Mpid(mpid),
            effective_from=TODAY,
            scenario=Scenario.CSP,
            contract_reference=None,
            now=m.now,
        )

    return msapp("MTRX"), msapp("MTRW")


def _reg1091(m: MemoryMarket) -> tuple[object, object]:
    core = m.mpan()
    return m.dsapp(core, sds_mpid="SDSX"), m.dsapp(core, sds_mpid="SDSB")


def _reg1092(m: MemoryMarket) -> tuple[object, object]:
    core = m.mpan()
    return m.dsapp(core, mdr=CIRRUS, mdr_mpid="MDRZ"), m.dsapp(core, mdr=CIRRUS, mdr_mpid="MDRC")


def _reg1099(m: MemoryMarket) -> tuple[object, object]:
    core = m.mpan()
    return m.dsapp(core, effective=TODAY + 29 * D), m.dsapp(core, effective=TODAY + 28 * D)


@pytest.mark.parametrize(
    ("code", "case"),
    [
        ("REG0000", _reg0000),
        ("REG1019", _reg1019),
        ("REG1021", _reg1021),
        ("REG1024", _reg1024),
        ("REG1031", _reg1031),
        ("REG1032", _reg1032),
        ("REG1034", _reg1034),
        ("REG1036", _reg1036),
        ("REG1081", _reg1081),
        ("REG1083", _reg1083),
        ("REG1084", _reg1084),
        ("REG1090", _reg1090),
        ("REG1091", _reg1091),
        ("REG1092", _reg1092),
        ("REG1099", _reg1099),
    ],
)
def test_request_refused_with_its_code_and_nothing_written(
    market: MemoryMarket, code: str, case: Case
) -> None:
    refused, valid = case(market)
    writes = len(market.uow.writes)
    sent = market.submit(refused)  # type: ignore[arg-type]
    initial = "[MSAppInitialResp]" if code == "REG1090" else INITIAL
    assert [s.row()[0] for s in sent] == [initial] and sent[0].code == code
    assert sent[0].recipients in ((AURORA,), (DAWN,))
    role_writes = [w for w in market.uow.writes[writes:] if isinstance(w, (AddedRequest, AppliedTimeline))]
    assert role_writes == []
    accepted(market.submit(valid))  # type: ignore[arg-type]


def test_exact_exchange_of_an_accepted_appointment(market: MemoryMarket) -> None:
    core = market.mpan()
    sent = market.submit(market.dsapp(core, mdr=CIRRUS))
    assert [s.row() for s in sent] == [
        (INITIAL, RS, (AURORA,), "A"),
        ("[DSAppSPRequest]", RS, (BEACON,), None),
        ("[DSAppSPResponse]", BEACON, (RS,), "SP000"),
        ("[DSAppAccepted]", RS, (AURORA, BEACON), "SP000"),
        ("[SDS-MDROutcome]", RS, (BEACON, AURORA), "A"),
        ("[DCC-MDROutcome]", RS, ("9000000002",), None),
        ("[MDRStart]", BEACON, (CIRRUS,), None),
        ("[MDRStartResponse]", CIRRUS, (BEACON,), "A"),
    ]
    (row,) = market.uow.registration.timeline(core)
    assert (row.service, str(row.provider), str(row.mdr)) == (Service.DS, BEACON, CIRRUS)


# --- codes that need an appointment first -----------------------------------------------------------


def test_reg1025_usp_only_with_the_current_provider(market: MemoryMarket) -> None:
    core = market.mpan()
    market.appoint(core)
    refused_with(
        market.submit(market.dsapp(core, sds=AURORA, sds_mpid="SUPA", scenario="USP", mdr=CIRRUS)), "REG1025"
    )
    accepted(market.submit(market.dsapp(core, scenario="USP", mdr=CIRRUS)))


def test_reg1026_csp_cannot_propose_the_current_provider(market: MemoryMarket) -> None:
    market.contract("C-AURORA-SELF", sds=AURORA, mdrs=(AURORA,), default=AURORA)
    core = market.mpan()
    market.appoint(core)
    refused_with(market.submit(market.dsapp(core)), "REG1026")
    sent = market.submit(market.dsapp(core, sds=AURORA, sds_mpid="SUPA", ref="C-AURORA-SELF"))
    accepted(sent)
    # the outgoing SDS is de-appointed (IF-037) and stops its MDR
    assert ("[DSDeApp]", RS, (BEACON,), None) in [s.row() for s in sent]


def test_reg1033_scenario_not_valid(market: MemoryMarket) -> None:
    core = market.mpan()
    market.appoint(core)
    refused_with(market.submit(market.dsapp(core, scenario="ALG")), "REG1033")
    refused_with(market.submit(market.dsapp(core, scenario="USP")), "REG1033")  # USP without an MDR
    accepted(market.submit(market.dsapp(core, scenario="USP", mdr=CIRRUS)))


def test_reg1082_supplier_led_mdr_change_too_far_ahead(market: MemoryMarket) -> None:
    core = market.mpan()
    market.appoint(core)
    refused_with(
        market.submit(market.dsapp(core, scenario="USP", mdr=CIRRUS, mdr_from=TODAY + 6 * D)), "REG1082"
    )
    accepted(market.submit(market.dsapp(core, scenario="USP", mdr=CIRRUS, mdr_from=TODAY + 5 * D)))


def test_reg1098_usp_with_the_current_mdr(market: MemoryMarket) -> None:
    core = market.mpan()
    market.appoint(core)
    refused_with(market.submit(market.dsapp(core, scenario="USP", mdr=BEACON)), "REG1098")


# --- IF-034 [SDS-MDRUpdate]: IF-035 [SDS-MDROutcome] R to the SDS and the supplier ----------------------


@pytest.mark.parametrize(
    ("code", "update"),
    [
        ("REG1080", {"sds": AURORA}),
        ("REG1084", {"supplier": DAWN}),
        ("REG1024", {"effective": TODAY - D}),
        ("REG1082", {"effective": TODAY + 6 * D}),
        ("REG1093", {"mdr_mpid": "MDRZ"}),
        ("REG1098", {"mdr": BEACON}),
        ("REG0000", {"core": "2000000000000"}),
    ],
)
def test_mdr_update_refused(market: MemoryMarket, code: str, update: dict[str, object]) -> None:
    core = market.mpan()
    market.appoint(core)
    target = str(update.pop("core", core))
    sds = str(update.get("sds", BEACON))
    supplier = str(update.get("supplier", AURORA))
    before = market.uow.registration.timeline(core)
    sent = market.submit(market.mdr_update(target, **update))  # type: ignore[arg-type]
    assert [(s.event_code, s.recipients, s.code) for s in sent] == [
        ("[SDS-MDROutcome]", (sds, supplier) if sds != supplier else (sds,), code)
    ]
    assert market.uow.registration.timeline(core) == before


def test_reg1083_mdr_update_across_a_scheduled_change(market: MemoryMarket) -> None:
    core = market.mpan()
    market.appoint(core)
    accepted(market.submit(market.dsapp(core, scenario="USP", mdr=CIRRUS, mdr_from=TODAY + 2 * D)))
    sent = market.submit(market.mdr_update(core, mdr=BEACON, effective=TODAY + 3 * D))
    assert [(s.event_code, s.code) for s in sent] == [("[SDS-MDROutcome]", "REG1083")]


def test_mdr_update_accepted(market: MemoryMarket) -> None:
    core = market.mpan()
    market.appoint(core)
    sent = market.submit(market.mdr_update(core, mdr=CIRRUS, effective=TODAY + D))
    rows = [s.row() for s in sent]
    assert rows[:2] == [
        ("[SDS-MDROutcome]", RS, (BEACON, AURORA), "A"),
        ("[DCC-MDROutcome]", RS, ("9000000002",), None),
    ]
    assert ("[MDRStart]", BEACON, (CIRRUS,), None) in rows and ("[MDRStop]", BEACON, (BEACON,), None) in rows


# --- the provider's IF-034 -------------------------------------------------------------------------


def _ask(m: MemoryMarket, core: str) -> dict[str, object]:
    sent = m.submit(m.dsapp(core))
    assert [s.row()[0] for s in sent] == [INITIAL, "[DSAppSPRequest]"]
    return as_json(sent[1].message)


def test_reg1089_subsequent_appointment_received(external: MemoryMarket) -> None:
    core = external.mpan()
    _ask(external, core)
    sent = external.submit(external.dsapp(core, mdr=CIRRUS))
    assert [s.row() for s in sent] == [
        (INITIAL, RS, (AURORA,), "A"),
        ("[DSAppRejected]", RS, (AURORA, BEACON), "REG1089"),
        ("[DSAppSPRequest]", RS, (BEACON,), None),
    ]
    states = sorted(r.state for r in external.uow.registration.open_requests(core, Service.DS))
    assert states == [RequestState.AWAITING_PROVIDER]


@pytest.mark.parametrize(
    ("answer", "code"),
    [
        ({"mdr": CIRRUS, "mdr_mpid": "MDRZ"}, "REG1093"),
        ({"code": "SP001"}, "REG1094"),  # A with a rejection code
        ({"mdr": None}, "REG1094"),  # accepted without an MDR
        ({"response": "R", "code": "SP042", "mdr": None}, "REG1094"),
    ],
)
def test_provider_answer_refused(external: MemoryMarket, answer: dict[str, object], code: str) -> None:
    core = external.mpan()
    request = _ask(external, core)
    sent = external.submit(external.sds_answer(request, **answer))  # type: ignore[arg-type]
    assert [s.row() for s in sent] == [("[DSAppRejected]", RS, (AURORA, BEACON), code)]
    assert external.uow.registration.timeline(core) == []


def test_provider_rejection_is_passed_on(external: MemoryMarket) -> None:
    core = external.mpan()
    request = _ask(external, core)
    sent = external.submit(external.sds_answer(request, response="R", code="SP007", mdr=None))
    assert [s.row() for s in sent] == [("[DSAppRejected]", RS, (AURORA, BEACON), "SP007")]


def test_answer_no_request_awaits_changes_nothing(external: MemoryMarket) -> None:
    core = external.mpan()
    request = _ask(external, core)
    external.submit(external.sds_answer(request))
    again = external.sds_answer(request)
    parsed = parse(encode(again), now=None)
    rs = external.participants[RS][0]
    assert isinstance(rs, RegistrationService)
    writes = len(external.uow.writes)
    handled = deliver(
        external.uow,
        Delivered(parsed.message, parsed.spec, "T-1", BEACON),
        [rs],
        external.context(),
        check_values=True,
        isolate=True,
    )
    assert (handled.state, handled.code and handled.code.value, handled.produced) == ("done", "OMH0503", ())
    assert len(external.uow.writes) == writes and len(external.uow.registration.timeline(core)) == 1


# --- daily work: lapses and activations -------------------------------------------------------------


def test_unanswered_request_lapses(external: MemoryMarket) -> None:
    core = external.mpan()
    _ask(external, core)
    sent = external.pass_days(RegistrationService(dip_id=DipId(RS), dcc=None).settings.lapse_after_days)
    assert [s.row() for s in sent] == [("[DSAppLapsed]", RS, (AURORA, BEACON), None)]
    settled = [w for w in external.uow.writes if isinstance(w, SettledRequest)]
    assert settled[-1].state is RequestState.LAPSED


def test_appointment_activates_on_its_day(market: MemoryMarket) -> None:
    core = market.mpan()
    accepted(market.submit(market.dsapp(core, effective=TODAY + 2 * D)))
    assert market.pass_days(1) == []
    assert [s.row() for s in market.pass_days(1)] == [("[DSAppActive]", RS, (AURORA, BEACON), None)]
