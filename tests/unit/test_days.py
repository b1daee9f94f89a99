"""UK local settlement days, clock changes and the DIP date-time format."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openmhhs.days import (
    InvalidDateTime,
    day_of,
    day_start,
    format_dip_datetime,
    parse_dip_datetime,
    parse_lenient_datetime,
    settlement_period_count,
    settlement_periods,
)


@pytest.mark.parametrize(
    ("day", "count"),
    [
        (date(2025, 3, 30), 46),  # last Sunday of March: clocks go forward
        (date(2025, 10, 26), 50),  # last Sunday of October: clocks go back
        (date(2026, 3, 29), 46),
        (date(2026, 10, 25), 50),
        (date(2025, 6, 1), 48),
        (date(2025, 12, 25), 48),
    ],
)
def test_settlement_period_counts(day: date, count: int) -> None:
    assert settlement_period_count(day) == count
    assert len(settlement_periods(day)) == count


def test_spring_day_starts_at_midnight_gmt_and_ends_at_midnight_bst() -> None:
    periods = settlement_periods(date(2025, 3, 30))
    assert periods[0][1] == datetime(2025, 3, 30, 0, 0, tzinfo=UTC)
    assert periods[-1][1] == datetime(2025, 3, 30, 22, 30, tzinfo=UTC)


def test_day_written_as_local_midnight_with_offset() -> None:
    assert format_dip_datetime(day_start(date(2025, 7, 1))) == "2025-07-01T00:00:00+01:00"
    assert format_dip_datetime(day_start(date(2025, 1, 1))) == "2025-01-01T00:00:00+00:00"
    assert len(format_dip_datetime(day_start(date(2025, 7, 1)))) == 25


def test_utc_midnight_in_summer_is_still_that_uk_day() -> None:
    assert day_of(parse_dip_datetime("2025-07-01T00:00:00+00:00")) == date(2025, 7, 1)
    assert day_of(parse_dip_datetime("2025-06-30T23:00:00+00:00")) == date(2025, 7, 1)


@pytest.mark.parametrize(
    "bad",
    [
        "2025-07-01",
        "2025-07-01T00:00:00Z",
        "2025-02-30T00:00:00+00:00",
        "2025-07-01 00:00:00+00:00",
    ],
)
def test_strict_dip_datetime_rejects_other_forms(bad: str) -> None:
    with pytest.raises(InvalidDateTime):
        parse_dip_datetime(bad)


def test_lenient_reading_of_published_isd_forms() -> None:
    assert parse_lenient_datetime("2024-04-04T12:00:00") == datetime(2024, 4, 4, 11, tzinfo=UTC)
    assert parse_lenient_datetime("2024-01-04T12:00:00Z") == datetime(2024, 1, 4, 12, tzinfo=UTC)
    with pytest.raises(InvalidDateTime):
        parse_lenient_datetime("2025-03-30T01:30:00")  # does not exist in UK local time


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)))
def test_day_round_trips_through_the_dip_format(day: date) -> None:
    assert day_of(parse_dip_datetime(format_dip_datetime(day_start(day)))) == day
