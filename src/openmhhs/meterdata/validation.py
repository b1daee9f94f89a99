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

The rules run on a block of MPAN-days of one UK day at once (``settle_block``, numpy arrays of
MPANs x periods); ``settle_day`` is the same for one MPAN-day.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt

from openmhhs.meterdata.meters import daily_shape

__all__ = [
    "QUALITIES",
    "SOURCES",
    "BlockInputs",
    "DayInputs",
    "Limits",
    "RegisterRead",
    "SettledBlock",
    "SettledDay",
    "SettledPeriod",
    "history_block",
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


Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]
Codes = npt.NDArray[np.uint8]

QUALITIES = (ACTUAL, "E0", "E1", "E5", "E7")
"""The DI-083 flag of each quality code of a ``SettledBlock``."""
_A, _E0, _E1, _E5, _E7 = range(5)
SOURCES = ("mdr", "supplier", "estimate")
_MDR, _SUPPLIER, _ESTIMATE = range(3)
REASON_NONE = 0
"""Reason code of an actual period (the others are the DI-076 reasons 2, 3 and 4 as numbers)."""


@dataclass(frozen=True, slots=True)
class BlockInputs:
    """A block of MPAN-days of one UK day (rows), as arrays of rows x periods."""

    period_hours: tuple[float, ...]
    retrieved: Bools
    """Per row: the MDR provided the day (False: nothing retrieved)."""
    mdr_wh: Ints
    recorded: Bools
    """Per row and period: the MDR provided a value."""
    has_register: Bools
    register_start_wh: Ints
    register_end_wh: Ints
    clock_ok: Bools
    """Per row: the end-of-day register read is stamped at the day's end (within tolerance)."""
    same_meter: Bools
    supplier_wh: Ints
    supplier_recorded: Bools
    """Model 1B: per row and period, the supplier's shared data has a value."""
    history_wh: Ints
    """Per row: the latest earlier day's actual values mapped onto this day's periods."""
    has_history: Bools
    annual_wh: Ints


@dataclass(frozen=True, slots=True)
class SettledBlock:
    values_wh: Ints
    quality: Codes
    """Index into ``QUALITIES``."""
    reason: Codes
    """0 for an actual period, else the DI-076 reason (2, 3, 4)."""
    source: Codes
    """Index into ``SOURCES``."""
    clock_bad: Bools
    nothing: Bools
    implausible: Bools
    inconsistent: Bools

    @property
    def actual(self) -> Ints:
        counts: Ints = (self.quality == _A).sum(axis=1).astype(np.int64)
        return counts


def history_periods(history: Sequence[int], n: int) -> list[int]:
    """E5: the latest day with actual data, period by period onto a day of ``n`` periods (the
    same clock time: days of 46, 48 and 50 periods are stretched onto each other)."""
    values = np.array([list(history)], dtype=np.int64).reshape(1, len(history))
    return [int(v) for v in history_block(values, np.array([len(history)], dtype=np.int64), n)[0]]


def history_block(values: Ints, lengths: Ints, n: int) -> Ints:
    """``history_periods`` for rows at once: row i's first ``lengths[i]`` values (a day of 46, 48
    or 50 periods) onto a day of ``n`` periods."""
    m = np.maximum(lengths, 1)[:, None]
    index = np.minimum(m - 1, np.arange(n, dtype=np.int64)[None, :] * m // n)
    mapped: Ints = np.take_along_axis(values, index, axis=1).astype(np.int64)
    return mapped


def _spread_rows(total: Ints, weights: npt.NDArray[np.float64], where: Bools) -> Ints:
    """Per row, ``total`` Wh over the periods in ``where`` in proportion to ``weights``, adding up
    exactly (the remainder goes to the row's last such period). Integer arithmetic (weights in
    millionths), so a row's answer never depends on the rest of its block."""
    w = np.where(where, np.round(weights * 1_000_000).astype(np.int64), 0)
    whole = w.sum(axis=1)
    whole = np.where(whole == 0, 1, whole)
    parts = np.where(where, total[:, None] * w // whole[:, None], 0)
    last = where.shape[1] - 1 - np.argmax(where[:, ::-1], axis=1)
    rows = np.flatnonzero(where.any(axis=1))
    parts[rows, last[rows]] += total[rows] - parts[rows].sum(axis=1)
    spread: Ints = parts.astype(np.int64)
    return spread


def settle_block(inputs: BlockInputs, limits: Limits | None = None) -> SettledBlock:
    """Validate and estimate every row of the block (see the module's rules)."""
    limits = limits or Limits()
    rows, n = inputs.mdr_wh.shape
    advance = inputs.register_end_wh - inputs.register_start_wh
    clock_bad = inputs.has_register & ~inputs.clock_ok
    advance_ok = inputs.has_register & inputs.clock_ok & inputs.same_meter & (advance >= 0)

    retrieved = inputs.retrieved[:, None]
    reason = np.full((rows, n), REASON_NONE, dtype=np.uint8)
    reason[~inputs.retrieved] = int(COMMS_FAULT)
    implausible = (
        retrieved
        & ~clock_bad[:, None]
        & inputs.recorded
        & ((inputs.mdr_wh < 0) | (inputs.mdr_wh > limits.max_period_wh))
    )
    missing = retrieved & ~clock_bad[:, None] & ~inputs.recorded
    reason[missing] = int(MISSING)
    reason[implausible | (retrieved & clock_bad[:, None])] = int(INVALID)
    have = retrieved & ~clock_bad[:, None] & inputs.recorded & ~implausible
    values = np.where(have, inputs.mdr_wh, 0)
    total = values.sum(axis=1)
    inconsistent = (
        inputs.retrieved & have.all(axis=1) & advance_ok & (np.abs(total - advance) > limits.tolerance_wh)
    )
    have[inconsistent] = False
    reason[inconsistent] = int(INVALID)
    values[inconsistent] = 0
    source = np.where(have, _MDR, _ESTIMATE).astype(np.uint8)

    shared = (
        ~have
        & inputs.supplier_recorded
        & (inputs.supplier_wh >= 0)
        & (inputs.supplier_wh <= limits.max_period_wh)
    )
    values = np.where(shared, inputs.supplier_wh, values)
    reason[shared] = REASON_NONE
    source[shared] = _SUPPLIER
    have |= shared

    quality = np.where(have, _A, 0).astype(np.uint8)
    gaps = ~have
    if gaps.any():
        hours = np.asarray(inputs.period_hours, dtype=np.float64)
        shape = np.asarray(daily_shape(hours), dtype=np.float64)
        known = np.where(have, values, 0).sum(axis=1)
        e1 = gaps.any(axis=1) & advance_ok & (advance >= known)
        e1_where = gaps & e1[:, None]
        e1_parts = _spread_rows(np.where(e1, advance - known, 0), shape, e1_where)
        values = np.where(e1_where, e1_parts, values)
        quality[e1_where] = _E1
        rest = gaps & ~e1[:, None]
        before = np.zeros_like(have)
        after = np.zeros_like(have)
        before[:, 1:] = have[:, :-1]
        after[:, :-1] = have[:, 1:]
        e0 = rest & before & after
        prev = np.zeros_like(values)
        nxt = np.zeros_like(values)
        prev[:, 1:] = values[:, :-1]
        nxt[:, :-1] = values[:, 1:]
        values = np.where(e0, (prev + nxt) // 2, values)
        quality[e0] = _E0
        remaining = rest & ~e0
        e5 = remaining & inputs.has_history[:, None]
        values = np.where(e5, inputs.history_wh, values)
        quality[e5] = _E5
        e7 = remaining & ~inputs.has_history[:, None]
        if e7.any():
            everywhere = np.ones((rows, n), dtype=np.bool_)
            profile = _spread_rows(inputs.annual_wh // 365, shape, everywhere)
            values = np.where(e7, profile, values)
            quality[e7] = _E7
    return SettledBlock(
        values_wh=values.astype(np.int64),
        quality=quality,
        reason=np.where(quality == _A, REASON_NONE, reason).astype(np.uint8),
        source=source,
        clock_bad=clock_bad,
        nothing=~inputs.retrieved,
        implausible=implausible,
        inconsistent=inconsistent,
    )


def settle_day(inputs: DayInputs, limits: Limits | None = None) -> SettledDay:
    """One MPAN-day: ``settle_block`` for a block of one row."""
    limits = limits or Limits()
    n = len(inputs.period_hours)
    if inputs.mdr_wh is not None and len(inputs.mdr_wh) != n:
        raise ValueError(f"{len(inputs.mdr_wh)} values for a day of {n} settlement periods")
    mdr = inputs.mdr_wh if inputs.mdr_wh is not None else [None] * n
    register = inputs.register
    shared = inputs.supplier_wh if inputs.supplier_wh is not None and len(inputs.supplier_wh) == n else None
    history = history_periods(inputs.history_wh, n) if inputs.history_wh else [0] * n

    def row(values: Sequence[int | None]) -> tuple[Ints, Bools]:
        return (
            np.array([[0 if v is None else v for v in values]], dtype=np.int64),
            np.array([[v is not None for v in values]], dtype=np.bool_),
        )

    mdr_wh, recorded = row(mdr)
    supplier_wh, supplier_recorded = row(shared if shared is not None else [None] * n)
    block = settle_block(
        BlockInputs(
            period_hours=inputs.period_hours,
            retrieved=np.array([inputs.mdr_wh is not None]),
            mdr_wh=mdr_wh,
            recorded=recorded,
            has_register=np.array([register is not None]),
            register_start_wh=np.array([0 if register is None else register.start_wh], dtype=np.int64),
            register_end_wh=np.array([0 if register is None else register.end_wh], dtype=np.int64),
            clock_ok=np.array(
                [
                    register is None
                    or abs(register.end_at - register.expected_end_at) <= limits.clock_tolerance
                ]
            ),
            same_meter=np.array([register is None or register.start_meter_id in (None, register.meter_id)]),
            supplier_wh=supplier_wh,
            supplier_recorded=supplier_recorded,
            history_wh=np.array([history], dtype=np.int64),
            has_history=np.array([bool(inputs.history_wh)]),
            annual_wh=np.array([inputs.annual_wh], dtype=np.int64),
        ),
        limits,
    )
    problems: list[str] = []
    if block.clock_bad[0] and register is not None:
        problems.append(f"register read stamped {register.end_at:%H:%M} UTC: the meter's clock is wrong")
    if block.nothing[0]:
        problems.append("no data retrieved")
    problems += [
        f"period {i + 1}: {mdr[int(i)]} Wh is implausible" for i in np.flatnonzero(block.implausible[0])
    ]
    if block.inconsistent[0] and register is not None:
        problems.append(
            f"half-hours add to {int(mdr_wh[0].sum())} Wh, "
            f"the register advanced {register.end_wh - register.start_wh} Wh"
        )
    return SettledDay(
        tuple(
            SettledPeriod(
                int(block.values_wh[0, i]),
                QUALITIES[block.quality[0, i]],
                None if block.reason[0, i] == REASON_NONE else str(block.reason[0, i]),
                SOURCES[block.source[0, i]],
            )
            for i in range(n)
        ),
        tuple(problems),
    )
