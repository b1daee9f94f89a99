"""The DCC's pure access rules (``openmhhs.dcc.access``) and the SDS's portfolio rules
(``openmhhs.dataservice.portfolio``), without a database: notice merging ("from D replaces what
was known from D onwards"), each refusal code, identity as of the day, energy direction, and the
MDR instructions a portfolio change calls for."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openmhhs.codes import ResponseCode
from openmhhs.dataservice import portfolio
from openmhhs.dataservice.portfolio import Held, Start, Stop
from openmhhs.dcc.access import (
    DccRecords,
    MdrNotice,
    ReadRequest,
    SupplyNotice,
    decide,
    merge,
    reading_role,
    retrieval_role,
)
from openmhhs.identity.registry import DccUserRole
from openmhhs.periods import Period

D = date(2025, 7, 10)
ONE = timedelta(days=1)
CORE = "2000000000011"
AURORA, BEACON, CIRRUS, DAWN = "1111111111", "2222222222", "3333333333", "4444444444"
MDR = DccUserRole.METER_DATA_RETRIEVER
IMP, EXP = DccUserRole.IMPORT_SUPPLIER, DccUserRole.EXPORT_SUPPLIER
ROLES = {
    CIRRUS: frozenset({MDR}),
    BEACON: frozenset({MDR}),
    AURORA: frozenset({IMP}),
    DAWN: frozenset({IMP, EXP}),
}


def _ids(mdr: str, day: date) -> str | None:
    """The ISD as of the day: Cirrus is MDRC, then MDRX from D+3; Beacon's MDR row ends at D+8."""
    if mdr == CIRRUS:
        return "MDRC" if day < D + 3 * ONE else "MDRX"
    if mdr == BEACON:
        return "SDSB" if day < D + 8 * ONE else None
    return None


def _records(*mdrs: tuple[str, date], supplies: tuple[tuple[str, str, date], ...] = ()) -> DccRecords:
    return DccRecords.received(
        [MdrNotice(CORE, m, d) for m, d in mdrs], [SupplyNotice(CORE, s, e, d) for s, e, d in supplies]
    )


def _decide(records: DccRecords, who: str, mpid: str, day: date, via: DccUserRole = MDR) -> object:
    return decide(
        request=ReadRequest(who, mpid, via, CORE, day), records=records, mdr_id=_ids, dcc_roles=ROLES
    )


def test_a_notice_replaces_what_was_known_from_its_day_onwards() -> None:
    # Cirrus from D; a pending change to Beacon from D+5; then another SDS's MDR (Dawn) from D+2
    merged = merge(
        [MdrNotice(CORE, CIRRUS, D), MdrNotice(CORE, BEACON, D + 5 * ONE), MdrNotice(CORE, DAWN, D + 2 * ONE)]
    )
    assert [(n.mdr, n.valid_from) for n in merged] == [(CIRRUS, D), (DAWN, D + 2 * ONE)]
    # the later notice for the same day wins; an earlier day replaces everything after it
    assert [n.mdr for n in merge([MdrNotice(CORE, CIRRUS, D), MdrNotice(CORE, BEACON, D)])] == [BEACON]
    assert [n.mdr for n in merge([MdrNotice(CORE, CIRRUS, D + ONE), MdrNotice(CORE, BEACON, D)])] == [BEACON]
    # republished later notices restore what a split removed
    again = merge(
        [
            MdrNotice(CORE, CIRRUS, D),
            MdrNotice(CORE, DAWN, D + 6 * ONE),
            MdrNotice(CORE, BEACON, D + 2 * ONE),
            MdrNotice(CORE, DAWN, D + 6 * ONE),
        ]
    )
    assert [(n.mdr, n.valid_from) for n in again] == [(CIRRUS, D), (BEACON, D + 2 * ONE), (DAWN, D + 6 * ONE)]


@given(st.lists(st.tuples(st.sampled_from([CIRRUS, BEACON, DAWN]), st.integers(0, 12)), max_size=8))
def test_merged_notices_agree_with_the_latest_received_effective_by_the_day(
    received: list[tuple[str, int]],
) -> None:
    """What the access list asks the database for a whole day is the same rule as ``merge``."""
    notices = [MdrNotice(CORE, mdr, D + n * ONE) for mdr, n in received]
    records = DccRecords.received(notices, [])
    for n in range(-1, 14):
        day = D + n * ONE
        effective = [x for x in notices if x.valid_from <= day]
        assert records.mdr_on(day) == (effective[-1] if effective else None)


@pytest.mark.parametrize(
    ("who", "mpid", "day", "code"),
    [
        (CIRRUS, "MDRC", D - ONE, ResponseCode.OMH0702),  # before any notice
        (CIRRUS, "MDRC", D, None),
        (CIRRUS, "MDRC", D + 3 * ONE, ResponseCode.OMH0707),  # its id is MDRX from D+3
        (CIRRUS, "MDRX", D + 3 * ONE, None),
        (CIRRUS, "MDRX", D + 4 * ONE, None),  # its last day
        (CIRRUS, "MDRX", D + 5 * ONE, ResponseCode.OMH0703),  # Beacon's from D+5
        (BEACON, "SDSB", D + 4 * ONE, ResponseCode.OMH0703),
        (BEACON, "SDSB", D + 5 * ONE, None),
        (BEACON, "SDSB", D + 8 * ONE, ResponseCode.OMH0706),  # its ISD MDR registration ended
        (AURORA, "SUPA", D, ResponseCode.OMH0701),  # no MDR DCC user role
    ],
)
def test_an_mdr_reads_only_on_its_days_with_its_id_of_the_day(
    who: str, mpid: str, day: date, code: ResponseCode | None
) -> None:
    records = _records((CIRRUS, D), (BEACON, D + 5 * ONE))
    decision = _decide(records, who, mpid, day)
    assert decision.allowed is (code is None), decision.reason  # type: ignore[attr-defined]
    assert decision.code is code  # type: ignore[attr-defined]


def test_the_registered_supplier_reads_with_the_role_of_the_mpans_direction() -> None:
    records = _records(supplies=((AURORA, "I", D - 30 * ONE), (DAWN, "E", D + 5 * ONE)))
    # no Data Service yet: the registered supplier may still read
    assert _decide(records, AURORA, "SUPA", D, IMP).allowed  # type: ignore[attr-defined]
    assert _decide(records, AURORA, "SUPA", D + 5 * ONE, IMP).code is ResponseCode.OMH0704  # type: ignore[attr-defined]
    assert _decide(records, DAWN, "DAWN", D + 4 * ONE, IMP).code is ResponseCode.OMH0704  # type: ignore[attr-defined]
    # the change of supplier also made the MPAN export: Dawn must read it as Export Supplier
    assert _decide(records, DAWN, "DAWN", D + 5 * ONE, IMP).code is ResponseCode.OMH0708  # type: ignore[attr-defined]
    assert _decide(records, DAWN, "DAWN", D + 5 * ONE, EXP).allowed  # type: ignore[attr-defined]
    assert _decide(records, AURORA, "SUPA", D, EXP).code is ResponseCode.OMH0701  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("held", "direction", "role"),
    [
        (frozenset({MDR, IMP}), "E", MDR),
        (frozenset({IMP}), "I", IMP),
        (frozenset({EXP}), "E", EXP),
        (frozenset({EXP}), "I", None),  # case 8: only Export Supplier, import MPANs
        (frozenset({IMP}), "E", None),
        (frozenset(), "I", None),
    ],
)
def test_retrieval_role(held: frozenset[DccUserRole], direction: str, role: DccUserRole | None) -> None:
    assert retrieval_role(held=held, energy_direction=direction) is role


def test_an_mdr_with_no_usable_role_asks_with_its_mdr_role() -> None:
    asked = reading_role(held=frozenset({EXP}), energy_direction="I")
    assert asked is MDR
    assert reading_role(held=frozenset({IMP}), energy_direction="I") is IMP


# -- the SDS's portfolio ---------------------------------------------------------------------------
def _held(mdr: str, start: date, end: date | None = None, supplier: str = AURORA) -> Held:
    return Held(supplier, mdr, mdr[:4], Period(start, end))


def test_the_same_fact_twice_tells_nobody_anything() -> None:
    rows = portfolio.appoint(
        [], start=D, supplier=AURORA, mdr=CIRRUS, mdr_mpid="MDRC", contract_reference="C", correlation_id="x"
    )
    assert portfolio.instructions([], rows) == [Start(CIRRUS, "MDRC", D, AURORA)]
    # a supplier-led change of MDR arrives as [DSAppAccepted] and as [SDS-MDROutcome]
    changed = portfolio.appoint(
        rows,
        start=D + 3 * ONE,
        supplier=AURORA,
        mdr=BEACON,
        mdr_mpid="SDSB",
        contract_reference="C",
        correlation_id="y",
    )
    assert portfolio.instructions(rows, changed) == [
        Stop(CIRRUS, "MDRC", D + 2 * ONE),
        Start(BEACON, "SDSB", D + 3 * ONE, AURORA),
    ]
    again = portfolio.change_mdr(changed, start=D + 3 * ONE, mdr=BEACON, mdr_mpid="SDSB", correlation_id="y")
    assert portfolio.instructions(changed, again) == []
    # re-appointing the same MDR from a later day (a change of supplier) changes no MDR's days
    same = portfolio.appoint(
        changed,
        start=D + 6 * ONE,
        supplier=DAWN,
        mdr=BEACON,
        mdr_mpid="SDSB",
        contract_reference="D",
        correlation_id="z",
    )
    assert portfolio.instructions(changed, same) == []
    assert [r.supplier for r in same] == [AURORA, AURORA, DAWN]


def test_a_retired_pending_change_stops_both_mdrs() -> None:
    # Cirrus until D+5, then a pending change to Beacon; the SDS is de-appointed from D+2
    rows = [_held(CIRRUS, D, D + 5 * ONE), _held(BEACON, D + 5 * ONE)]
    ended = portfolio.end(rows, at=D + 2 * ONE)
    assert ended == [_held(CIRRUS, D, D + 2 * ONE)]
    assert portfolio.instructions(rows, ended) == [
        Stop(BEACON, "2222", D + 4 * ONE),  # withdrawn: it would have started on D+5
        Stop(CIRRUS, "3333", D + ONE),
    ]


def test_a_change_of_supplier_splits_rows_and_keeps_the_mdrs() -> None:
    rows = [_held(CIRRUS, D)]
    moved = portfolio.change_supplier(rows, start=D + 4 * ONE, supplier=DAWN)
    assert [(r.supplier, r.period.start) for r in moved] == [(AURORA, D), (DAWN, D + 4 * ONE)]
    assert portfolio.instructions(rows, moved) == []


def test_an_mdr_change_where_the_sds_does_not_serve_is_ignored() -> None:
    rows = [_held(CIRRUS, D, D + 2 * ONE)]
    assert (
        portfolio.change_mdr(rows, start=D + 3 * ONE, mdr=BEACON, mdr_mpid="SDSB", correlation_id=None)
        == rows
    )
