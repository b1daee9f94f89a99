"""Half-open periods: the algebra every effective-dated record relies on."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openmhhs.periods import Period

days = st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 31))


@st.composite
def periods(draw: st.DrawFn) -> Period[date]:
    start = draw(days)
    length = draw(st.one_of(st.none(), st.integers(0, 400)))
    return Period(start, None if length is None else start + timedelta(days=length))


def test_end_is_exclusive() -> None:
    period = Period(date(2025, 1, 1), date(2025, 1, 3))
    assert period.contains(date(2025, 1, 1))
    assert period.contains(date(2025, 1, 2))
    assert not period.contains(date(2025, 1, 3))


def test_touching_periods_do_not_overlap() -> None:
    first = Period(date(2025, 1, 1), date(2025, 1, 3))
    assert not first.overlaps(Period(date(2025, 1, 3)))
    assert first.overlaps(Period(date(2025, 1, 2)))


def test_end_before_start_is_refused() -> None:
    with pytest.raises(ValueError):
        Period(date(2025, 1, 3), date(2025, 1, 1))


@given(periods(), periods())
def test_overlap_is_symmetric(a: Period[date], b: Period[date]) -> None:
    assert a.overlaps(b) == b.overlaps(a)


@given(periods(), periods(), days)
def test_intersection_contains_exactly_the_common_days(a: Period[date], b: Period[date], day: date) -> None:
    both = a.intersection(b)
    in_both = a.contains(day) and b.contains(day)
    assert (both is not None and both.contains(day)) == in_both


@given(periods(), days)
def test_empty_periods_contain_nothing_and_overlap_nothing(a: Period[date], day: date) -> None:
    empty = Period(day, day)
    assert empty.is_empty
    assert not empty.contains(day)
    assert not empty.overlaps(a)
