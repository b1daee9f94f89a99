"""UK local settlement days and the DIP's date-time format.

MHHS days are UK local days (Europe/London): 48 half-hour settlement periods, 46 on the
spring clock change and 50 in the autumn. The DIP writes date-times as 25-character ISO
8601 strings with an offset (``2024-07-01T00:00:00+01:00``). An effective-from date-time
denotes the UK local day in which it falls; openmhhs writes a day as its local midnight.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from openmhhs.codes import CodedError, ResponseCode

__all__ = [
    "LONDON",
    "InvalidDateTime",
    "day_end",
    "day_of",
    "day_start",
    "days",
    "format_dip_datetime",
    "format_utc_datetime",
    "parse_dip_datetime",
    "parse_lenient_datetime",
    "settlement_period_count",
    "settlement_periods",
]

LONDON = ZoneInfo("Europe/London")
HALF_HOUR = timedelta(minutes=30)

_DIP_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}\Z")


class InvalidDateTime(CodedError):
    code = ResponseCode.OMH0107
    rule = "days.datetime.format"


def parse_dip_datetime(value: str) -> datetime:
    """Parse the DIP's strict 25-character form (``YYYY-MM-DDThh:mm:ss+hh:mm``)."""
    if not isinstance(value, str) or _DIP_DATETIME.match(value) is None:
        raise InvalidDateTime(f"expected YYYY-MM-DDThh:mm:ss+hh:mm (25 characters), got {value!r}")
    try:
        return datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidDateTime(f"{value!r} is not a real date-time ({exc})") from None


def parse_lenient_datetime(value: str) -> datetime:
    """Parse an ISO 8601 date-time as found in published ISD files.

    Accepts the DIP's 25-character form, a ``Z`` suffix, fractions of a second, and a date
    or date-time without offset, which is read as UK local time (the official M16 example
    carries ``2024-04-04T12:00:00``).
    """
    if not isinstance(value, str) or not value.strip():
        raise InvalidDateTime(f"expected an ISO 8601 date-time, got {value!r}")
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidDateTime(f"{value!r} is not an ISO 8601 date-time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=LONDON)
        # A wall-clock time that does not exist (spring gap) or is ambiguous is refused.
        if parsed.astimezone(UTC).astimezone(LONDON).replace(tzinfo=None) != parsed.replace(tzinfo=None):
            raise InvalidDateTime(f"{value!r} does not exist in UK local time")
    return parsed


@functools.lru_cache(maxsize=1024)
def format_dip_datetime(moment: datetime) -> str:
    """The DIP's 25-character form, in UK local time with its offset."""
    if moment.tzinfo is None:
        raise ValueError("refusing to format a naive date-time")
    return moment.astimezone(LONDON).isoformat(timespec="seconds")


@functools.lru_cache(maxsize=1024)
def format_utc_datetime(moment: datetime) -> str:
    """The DIP's 25-character form in UTC (``+00:00``)."""
    if moment.tzinfo is None:
        raise ValueError("refusing to format a naive date-time")
    return moment.astimezone(UTC).isoformat(timespec="seconds")


@functools.lru_cache(maxsize=4096)
def day_start(day: date) -> datetime:
    """The instant UK local day ``day`` begins (its local midnight), timezone-aware."""
    return datetime(day.year, day.month, day.day, tzinfo=LONDON)


def day_end(day: date) -> datetime:
    """The instant the UK local day ends (the next day's local midnight)."""
    return day_start(day + timedelta(days=1))


def day_of(moment: datetime) -> date:
    """The UK local day containing ``moment``."""
    if moment.tzinfo is None:
        raise ValueError("refusing to place a naive date-time on a UK day")
    return moment.astimezone(LONDON).date()


def settlement_period_count(day: date) -> int:
    """46, 48 or 50 half-hour settlement periods in a UK local day."""
    seconds = (day_end(day).astimezone(UTC) - day_start(day).astimezone(UTC)).total_seconds()
    return int(seconds // 1800)


def settlement_periods(day: date) -> list[tuple[int, datetime]]:
    """Each settlement period of the UK local day as ``(number, UTC start)``, from 1."""
    start = day_start(day).astimezone(UTC)
    return [(n + 1, start + n * HALF_HOUR) for n in range(settlement_period_count(day))]


def days(first: date, last: date) -> Iterator[date]:
    """Every day from ``first`` to ``last`` inclusive."""
    current = first
    while current <= last:
        yield current
        current += timedelta(days=1)
