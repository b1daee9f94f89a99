"""The appointment timeline: changes retire and succeed rows; one arrangement per day."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openmhhs.codes import ResponseCode
from openmhhs.ids import DipId, GspGroup, MpanCore, Mpid
from openmhhs.periods import Period
from openmhhs.registration.model import Appointment, MpanRecord, Service, SupplierPeriod
from openmhhs.registration.timeline import (
    OverlappingAppointments,
    as_of,
    change_mdr,
    check_invariant,
    gaps,
    replace_from,
)

CORE = MpanCore.from_stem("200000000001")
D0 = date(2025, 7, 1)
SDS = {"B": (DipId("2222222222"), Mpid("SDSB")), "A": (DipId("1111111111"), Mpid("SUPA"))}
MDR = {
    "B": (DipId("2222222222"), Mpid("SDSB")),
    "C": (DipId("3333333333"), Mpid("MDRC")),
    "A": (DipId("1111111111"), Mpid("SUPA")),
}


def ds(sds: str, mdr: str, start: date, end: date | None = None, row_id: int | None = None) -> Appointment:
    return Appointment(
        mpan=CORE,
        service=Service.DS,
        provider=SDS[sds][0],
        provider_mpid=SDS[sds][1],
        period=Period(start, end),
        supplier=DipId("1111111111"),
        mdr=MDR[mdr][0],
        mdr_mpid=MDR[mdr][1],
        id=row_id,
    )


def test_replace_closes_the_running_row_and_keeps_its_history() -> None:
    old = ds("A", "A", D0, row_id=1)
    change = replace_from([old], ds("B", "B", D0 + timedelta(days=10)))
    assert change.retire == (old,)
    closed, new = change.insert
    assert (closed.provider, closed.period) == (old.provider, Period(D0, D0 + timedelta(days=10)))
    assert new.provider == SDS["B"][0] and new.period.end is None


def test_replace_retires_a_prospective_row_starting_later() -> None:
    current = ds("A", "A", D0, D0 + timedelta(days=10), row_id=1)
    prospective = ds("B", "B", D0 + timedelta(days=10), row_id=2)
    change = replace_from([current, prospective], ds("B", "C", D0 + timedelta(days=5)))
    assert prospective in change.retire
    rows = change.applied_to([current, prospective])
    assert [r.period for r in rows] == [Period(D0, D0 + timedelta(days=5)), Period(D0 + timedelta(days=5))]


def test_mdr_change_splits_only_the_row_of_that_day() -> None:
    row = ds("B", "B", D0, row_id=1)
    change = change_mdr(
        [row],
        provider=SDS["B"][0],
        mdr=MDR["C"][0],
        mdr_mpid=MDR["C"][1],
        from_day=D0 + timedelta(days=3),
        correlation_id="C-1",
    )
    before, after = change.insert
    assert (before.mdr, before.period) == (MDR["B"][0], Period(D0, D0 + timedelta(days=3)))
    assert (after.mdr, after.period, after.correlation_id) == (
        MDR["C"][0],
        Period(D0 + timedelta(days=3)),
        "C-1",
    )


def test_mdr_change_on_the_first_day_replaces_the_row() -> None:
    row = ds("B", "B", D0, row_id=1)
    change = change_mdr(
        [row], provider=SDS["B"][0], mdr=MDR["C"][0], mdr_mpid=MDR["C"][1], from_day=D0, correlation_id=None
    )
    assert [r.mdr for r in change.insert] == [MDR["C"][0]]


def test_mdr_change_by_another_sds_is_refused() -> None:
    with pytest.raises(ValueError):
        change_mdr(
            [ds("B", "B", D0)],
            provider=SDS["A"][0],
            mdr=MDR["C"][0],
            mdr_mpid=MDR["C"][1],
            from_day=D0,
            correlation_id=None,
        )


def test_omh0501_two_arrangements_on_one_day() -> None:
    with pytest.raises(OverlappingAppointments) as raised:
        check_invariant([ds("A", "A", D0), ds("B", "B", D0 + timedelta(days=3))])
    assert raised.value.code is ResponseCode.OMH0501


def test_as_of_and_gaps() -> None:
    record = MpanRecord(
        mpan=CORE,
        distributor=DipId("9000000020"),
        gsp_group=GspGroup("_H"),
        suppliers=(SupplierPeriod(DipId("1111111111"), Period(D0)),),
    )
    rows = [ds("B", "B", D0 + timedelta(days=2))]
    assert as_of(rows, Service.DS, D0) is None
    assert as_of(rows, Service.DS, D0 + timedelta(days=2)) is rows[0]
    assert gaps([record], {CORE: rows}, D0)[0].missing == ("DS", "MDR", "MS")
    assert gaps([record], {CORE: rows}, D0 + timedelta(days=2))[0].missing == ("MS",)


operations = st.lists(
    st.tuples(
        st.sampled_from(["replace", "mdr"]),
        st.integers(0, 40),
        st.sampled_from(["A", "B"]),
        st.sampled_from(["A", "B", "C"]),
    ),
    max_size=25,
)


@given(operations)
def test_any_sequence_of_changes_keeps_one_arrangement_per_day(ops: list[tuple[str, int, str, str]]) -> None:
    rows: list[Appointment] = []
    for kind, offset, sds, mdr in ops:
        day = D0 + timedelta(days=offset)
        if kind == "replace":
            change = replace_from(rows, ds(sds, mdr, day))
        else:
            current = as_of(rows, Service.DS, day)
            if current is None:
                continue
            change = change_mdr(
                rows,
                provider=current.provider,
                mdr=MDR[mdr][0],
                mdr_mpid=MDR[mdr][1],
                from_day=day,
                correlation_id=None,
            )
        rows = change.applied_to(rows)
        check_invariant(rows)
        # whatever was decided for a day is what holds that day
        holding = as_of(rows, Service.DS, day)
        assert holding is not None
        assert holding.mdr == MDR[mdr][0]
