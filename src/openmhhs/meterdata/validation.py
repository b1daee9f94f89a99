"""The SDS's processing of one MPAN's UK settlement day: validate what its MDR (and, in model
1B, the supplier) provided, estimate what is missing or invalid, and say how each settlement
period is to be submitted. Pure: inputs in, a settled day out.

Validation, in order:

1. **Clock**: the end-of-day register read must be stamped at local midnight (within five
   minutes); a meter whose clock is wrong has its half-hours two periods out, so none of the
   day's values is trusted (reason 3 Invalid) and the read is not used.
2. **Plausibility**: a value below zero or above the connection's limit is invalid (reason 3).
3. **Completeness**: every settlement period of the day (46, 48 or 50) must have a value;
   those without are missing (reason 2; reason 4 CommsFault when nothing came at all).
4. **Consistency**: when the day is complete, the half-hours must add up to the register
   advance (same meter at both ends), within a tolerance; otherwise all are invalid (reason 3).

Model 1B: periods still missing or invalid take the supplier's shared values for them,
when plausible (they are actual meter data, read with the supplier's DCC role).

Estimation of what remains (quality flag and method, DI-083):

* ``E1`` actual daily advance available: the register advance less the actual half-hours,
  spread over the missing periods by the usual daily shape;
* ``E0`` a single missing period between two actual ones: their mean;
* ``E5`` previous data: the same periods of the latest day with actual data;
* ``E7`` no recent data: the MPAN's annual consumption spread by the usual daily shape.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from openmhhs.meterdata.meters import daily_shape

__all__ = [
    "DayInputs",
    "Limits",
    "RegisterRead",
    "SettledDay",
    "SettledPeriod",
    "settle_day",
]

ACTUAL = "A"
MISSING, INVALID, COMMS_FAULT = "2", "3", "4"


@dataclass(frozen=True, slots=True)
class Limits:
    max_period_wh: int = 50_000
    """Whole-current connection: about 100 kW for half an hour."""
    tolerance_wh: int = 20
    """Allowed difference between the half-hours' sum and the register advance, per day."""
    clock_tolerance: timedelta = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class RegisterRead:
    meter_id: str
    start_wh: int
    end_wh: int
    end_at: datetime
    expected_end_at: datetime
    """The day's end (local midnight); a read stamped elsewhere shows a clock error."""
    start_meter_id: str | None = None
    """The meter whose register gave ``start_wh`` (None: the same meter)."""


@dataclass(frozen=True, slots=True)
class DayInputs:
    period_hours: tuple[float, ...]
    """Local clock time (hours) at the middle of each settlement period of the day."""
    mdr_wh: Sequence[int | None] | None
    """What the MDR provided per period; None when nothing was retrieved."""
    register: RegisterRead | None = None
    supplier_wh: Sequence[int | None] | None = None
    """Model 1B: the supplier's shared data per period."""
    history_wh: Sequence[int] | None = None
    """The latest earlier day's actual values per period (any period count)."""
    annual_wh: int = 3_100_000


@dataclass(frozen=True, slots=True)
class SettledPeriod:
    wh: int
    quality: str
    """DI-083: A, or an estimation method (E0, E1, E5, E7)."""
    reason: str | None
    """DI-076 estimation reason: 2 missing, 3 invalid, 4 comms fault; None when actual."""
    source: str
    """mdr, supplier or estimate."""


@dataclass(frozen=True, slots=True)
class SettledDay:
    periods: tuple[SettledPeriod, ...]
    problems: tuple[str, ...]

    @property
    def actual(self) -> int:
        return sum(1 for p in self.periods if p.quality == ACTUAL)

    @property
    def estimated(self) -> int:
        return len(self.periods) - self.actual

    @property
    def total_wh(self) -> int:
        return sum(p.wh for p in self.periods)


def settle_day(inputs: DayInputs, limits: Limits | None = None) -> SettledDay:
    limits = limits or Limits()
    n = len(inputs.period_hours)
    values: list[int | None] = [None] * n
    reasons: list[str | None] = [None] * n
    problems: list[str] = []
    register = inputs.register
    advance: int | None = None
    if register is not None:
        same_meter = register.start_meter_id in (None, register.meter_id)
        if abs(register.end_at - register.expected_end_at) > limits.clock_tolerance:
            problems.append(f"register read stamped {register.end_at:%H:%M} UTC: the meter's clock is wrong")
            register = None
        elif same_meter and register.end_wh >= register.start_wh:
            advance = register.end_wh - register.start_wh
    clock_bad = inputs.register is not None and register is None

    if inputs.mdr_wh is None:
        reasons = [COMMS_FAULT] * n
        problems.append("no data retrieved")
    else:
        if len(inputs.mdr_wh) != n:
            raise ValueError(f"{len(inputs.mdr_wh)} values for a day of {n} settlement periods")
        for i, value in enumerate(inputs.mdr_wh):
            if clock_bad:
                reasons[i] = INVALID
            elif value is None:
                reasons[i] = MISSING
            elif value < 0 or value > limits.max_period_wh:
                reasons[i] = INVALID
                problems.append(f"period {i + 1}: {value} Wh is implausible")
            else:
                values[i] = value
        if all(v is not None for v in values) and advance is not None:
            total = sum(v for v in values if v is not None)
            if abs(total - advance) > limits.tolerance_wh:
                problems.append(f"half-hours add to {total} Wh, the register advanced {advance} Wh")
                values = [None] * n
                reasons = [INVALID] * n
    sources = ["mdr" if v is not None else "estimate" for v in values]

    if inputs.supplier_wh is not None and len(inputs.supplier_wh) == n:
        for i, shared in enumerate(inputs.supplier_wh):
            if values[i] is None and shared is not None and 0 <= shared <= limits.max_period_wh:
                values[i], reasons[i], sources[i] = shared, None, "supplier"

    qualities = [ACTUAL if v is not None else "" for v in values]
    gaps = [i for i, v in enumerate(values) if v is None]
    if gaps:
        _estimate(inputs, values, qualities, gaps, advance)
    return SettledDay(
        tuple(
            SettledPeriod(
                int(values[i] or 0), qualities[i], None if qualities[i] == ACTUAL else reasons[i], sources[i]
            )
            for i in range(n)
        ),
        tuple(problems),
    )


def _weights(hours: Sequence[float], indexes: Sequence[int]) -> list[float]:
    return [daily_shape(hours[i]) for i in indexes]


def _spread(total: int, weights: Sequence[float]) -> list[int]:
    """``total`` Wh over periods in proportion to ``weights``, adding up exactly."""
    whole = sum(weights) or 1.0
    parts = [int(total * w / whole) for w in weights]
    parts[-1] += total - sum(parts)
    return parts


def _estimate(
    inputs: DayInputs,
    values: list[int | None],
    qualities: list[str],
    gaps: list[int],
    advance: int | None,
) -> None:
    hours = inputs.period_hours
    n = len(values)
    known = sum(v for v in values if v is not None)
    if advance is not None and advance >= known:  # E1: the day's advance is known
        for i, part in zip(gaps, _spread(advance - known, _weights(hours, gaps)), strict=True):
            values[i], qualities[i] = part, "E1"
        return
    for i in gaps:
        before = values[i - 1] if i > 0 and qualities[i - 1] == ACTUAL else None
        after = values[i + 1] if i + 1 < n and qualities[i + 1] == ACTUAL else None
        isolated = (i - 1 not in gaps) and (i + 1 not in gaps)
        if isolated and before is not None and after is not None:
            values[i], qualities[i] = (before + after) // 2, "E0"
    remaining = [i for i in gaps if not qualities[i]]
    if not remaining:
        return
    history = inputs.history_wh
    if history:
        m = len(history)
        for i in remaining:  # the same clock time of the previous day with data
            values[i], qualities[i] = int(history[min(m - 1, i * m // n)]), "E5"
        return
    daily = inputs.annual_wh // 365
    spread = _spread(daily, _weights(hours, range(n)))
    for i in remaining:
        values[i], qualities[i] = spread[i], "E7"
