"""Simulated smart meters, deterministic from a seed: half-hourly import (and export where
configured) per UK local settlement day (46/48/50 periods), a cumulative import register
consistent with the half-hours, and realistic faults.

Energy is in watt-hours (integers): the DIP's kWh values have three decimals (DT-016), so
one Wh is exactly their resolution and sums never drift.

Every figure is a pure function of (seed, MPAN, day): the same meter can be read again on
any machine, in any order, in parallel, and gives the same answer. The draws come from a
counter-based hash (splitmix64 of seed, MPAN, draw kind, day and period), so a whole block
of MPANs is simulated at once with numpy (``SimulatedMeters.block``); ``SimulatedMeters.day``
is that same computation for one MPAN. The register is built so
that it needs no history: ``R(d) = base + F(n) + w(d)``, where ``F`` is the integral of the
seasonal mean (closed form) and ``w`` a bounded deterministic wobble; a day's consumption
is ``R(d+1) - R(d)``, spread over its periods by a domestic shape with noise.

Faults (per ``FaultPlan``): a period the meter failed to record (lost for good); a
communications outage of 2-5 days (the DCC cannot reach the meter; its stored data is
retrievable once the outage ends); a meter exchange (a new meter id, its register starting
near zero); a clock error (the meter's clock is an hour fast for the day: its half-hours are
two periods late and its midnight register read is stamped an hour early).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt

from openmhhs.days import LONDON, day_start, settlement_periods

__all__ = [
    "FaultPlan",
    "MeterBlock",
    "MeterDay",
    "MeterProfile",
    "SimulatedMeters",
    "daily_shape",
    "local_hours",
]

EPOCH = date(2024, 1, 1)
"""Day 0 of every simulated meter's life (its registers and fault draws count from here)."""
BLOCK_DAYS = 30
"""Outages and exchanges are drawn per 30-day block of each MPAN's life."""


Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]

# draw kinds of the hash (each an independent stream)
_BASE, _WOBBLE, _HH, _METER, _NEW, _CLOCK, _MISSING, _SUN, _OUTAGE, _EXCHANGE = range(1, 11)
_NONE = -(2**31)
"""The day number hashed for "never exchanged" (the original meter)."""


@dataclass(frozen=True, slots=True)
class MeterProfile:
    annual_import_kwh: float = 3100.0
    export_kwp: float = 0.0
    """Solar capacity: export (MQ AE) is simulated when above zero."""


@dataclass(frozen=True, slots=True)
class FaultPlan:
    missing_rate: float = 0.002
    """Share of periods the meter fails to record."""
    outage_rate: float = 0.02
    """Chance, per MPAN and 30-day block, of a 2-5 day communications outage."""
    exchange_rate: float = 0.004
    """Chance, per MPAN and 30-day block, of a meter exchange."""
    clock_error_rate: float = 0.001
    """Chance, per MPAN and day, of a clock error."""

    @classmethod
    def none(cls) -> FaultPlan:
        return cls(0.0, 0.0, 0.0, 0.0)


@dataclass(frozen=True, slots=True)
class MeterDay:
    """What a meter holds for one UK local day, as a retrieval on ``asked_on`` finds it."""

    mpan: str
    day: date
    meter_id: str
    import_wh: tuple[int | None, ...]
    """Per settlement period, as recorded by the meter (None: not recorded)."""
    export_wh: tuple[int | None, ...] | None
    register_start_wh: int
    register_end_wh: int
    register_end_at: datetime
    """When the meter stamped its end-of-day register read (local midnight unless its clock is wrong)."""
    reachable: bool
    """False while a communications outage stops the DCC reaching the meter."""
    exchanged: bool
    """A new meter was installed at the start of this day."""
    clock_error: bool
    true_import_wh: tuple[int, ...]
    """What really flowed (for tests and reports; never sent)."""


@dataclass(frozen=True, slots=True)
class MeterBlock:
    """A block of MPANs' meters for one UK local day (row i is ``mpans[i]``), as arrays."""

    mpans: tuple[str, ...]
    day: date
    meter_serial: Ints
    """The meter's serial number (its id is ``S`` and eight digits, ``meter_id``)."""
    import_wh: Ints
    """(MPANs, periods): as recorded; meaningless where ``recorded`` is False."""
    recorded: Bools
    export_wh: Ints
    """(MPANs, periods): zero where there is no solar export (``has_export``)."""
    has_export: Bools
    register_start_wh: Ints
    register_end_wh: Ints
    reachable: Bools
    exchanged: Bools
    clock_error: Bools
    true_import_wh: Ints

    def meter_id(self, i: int) -> str:
        return f"S{int(self.meter_serial[i]):08d}"[:10]

    def register_end_at(self, i: int) -> datetime:
        midnight = day_start(self.day + timedelta(days=1))
        return (midnight - timedelta(hours=1) if self.clock_error[i] else midnight).astimezone(UTC)


def _mix(h: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """splitmix64's finaliser."""
    h = (h ^ (h >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    h = (h ^ (h >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return h ^ (h >> np.uint64(31))


def _uniform(*keys: Any) -> Floats:
    """Uniform draws in [0, 1), a pure function of the keys (broadcast together)."""
    with np.errstate(over="ignore"):
        h = np.zeros((), dtype=np.uint64)
        for key in keys:
            k = np.asarray(key, dtype=np.int64).astype(np.uint64)
            h = _mix(h ^ (k + np.uint64(0x9E3779B97F4A7C15)) * np.uint64(0xD6E8FEB86659FD93))
        return (h >> np.uint64(11)).astype(np.float64) / float(2**53)


def daily_shape(local_hour: Any) -> Any:
    """A domestic day: low at night, a morning and a larger evening peak (a float or an array)."""
    morning = 0.9 * np.exp(-(((np.asarray(local_hour) - 7.5) / 1.2) ** 2))
    evening = 1.6 * np.exp(-(((np.asarray(local_hour) - 18.5) / 2.0) ** 2))
    shape = 0.45 + morning + evening
    return float(shape) if np.ndim(shape) == 0 else shape


def _solar(local_hour: Floats) -> Floats:
    daylight = (local_hour >= 6.0) & (local_hour <= 20.0)
    return np.where(daylight, np.maximum(0.0, np.sin(np.pi * (local_hour - 6.0) / 14.0)), 0.0)


@lru_cache(maxsize=4096)
def local_hours(day: date) -> tuple[float, ...]:
    """The local clock time (hours) at the middle of each settlement period of ``day``."""
    return tuple(
        (start + timedelta(minutes=15)).astimezone(LONDON).hour
        + (start + timedelta(minutes=15)).astimezone(LONDON).minute / 60
        for _, start in settlement_periods(day)
    )


class SimulatedMeters:
    def __init__(self, seed: int, faults: FaultPlan | None = None) -> None:
        self.seed = seed
        self.faults = faults if faults is not None else FaultPlan()

    # -- the register ------------------------------------------------------------------------------
    @staticmethod
    def _integral_wh(mean: Floats, n: Ints | int) -> Floats:
        """Consumption from EPOCH to the start of day ``n``: the seasonal mean, integrated."""
        amplitude, phase = 0.3, 15
        n_ = np.asarray(n, dtype=np.float64)
        return mean * (n_ + amplitude * 365.25 / (2 * np.pi) * np.sin(2 * np.pi * (n_ - phase) / 365.25))

    def _cumulative_wh(self, keys: Ints, mean: Floats, n: Ints | int) -> Ints:
        base = 1_000_000 + np.floor(_uniform(self.seed, keys, _BASE) * 39_000_000).astype(np.int64)
        wobble = (_uniform(self.seed, keys, _WOBBLE, n) - 0.5) * 0.5 * mean
        return base + np.round(self._integral_wh(mean, n) + wobble).astype(np.int64)

    # -- faults ------------------------------------------------------------------------------------
    def _events(self, keys: Ints, kind: int, blocks: Ints, rate: float) -> tuple[Bools, Ints, Ints]:
        """Per (MPAN, block): whether ``kind`` happens in the 30-day block, its first day, its length."""
        k = keys[:, None]
        b = blocks[None, :] if blocks.ndim == 1 else blocks
        happens = (_uniform(self.seed, k, kind, b, 0) < rate) & (b >= 0)
        first = b * BLOCK_DAYS + np.floor(_uniform(self.seed, k, kind, b, 1) * BLOCK_DAYS).astype(np.int64)
        length = 2 + np.floor(_uniform(self.seed, k, kind, b, 2) * 4).astype(np.int64)
        return happens, first, length

    def _outages(self, keys: Ints, n: int) -> tuple[Bools, Ints, Ints]:
        """Whether an outage covers day ``n`` for each MPAN, and its first and last day numbers."""
        blocks = np.array([n // BLOCK_DAYS, (n - BLOCK_DAYS) // BLOCK_DAYS], dtype=np.int64)
        happens, first, length = self._events(keys, _OUTAGE, blocks, self.faults.outage_rate)
        covers = happens & (first <= n) & (n < first + length)
        which = np.argmax(covers, axis=1)
        rows = np.arange(len(keys))
        covered: Bools = np.asarray(covers.any(axis=1), dtype=np.bool_)
        return covered, first[rows, which], first[rows, which] + length[rows, which] - 1

    def outage(self, mpan: str, day: date) -> tuple[date, date] | None:
        """The communications outage covering ``day`` (first, last), if there is one."""
        covered, first, last = self._outages(np.array([int(mpan)], dtype=np.int64), (day - EPOCH).days)
        if not covered[0]:
            return None
        return EPOCH + timedelta(days=int(first[0])), EPOCH + timedelta(days=int(last[0]))

    def reachable(self, mpans: Sequence[str], asked_on: date) -> Bools:
        """Whether the DCC reaches each meter on ``asked_on`` (no communications outage then)."""
        keys = np.array([int(m) for m in mpans], dtype=np.int64)
        covered, _, _ = self._outages(keys, (asked_on - EPOCH).days)
        return ~covered

    def _last_exchange(self, keys: Ints, n: int) -> Ints:
        """The latest day number <= n on which each meter was exchanged (``_NONE``: never)."""
        if n < 0 or self.faults.exchange_rate <= 0:
            return np.full(len(keys), _NONE, dtype=np.int64)
        blocks = np.arange(n // BLOCK_DAYS + 1, dtype=np.int64)
        happens, first, _ = self._events(keys, _EXCHANGE, blocks, self.faults.exchange_rate)
        latest: Ints = np.where(happens & (first <= n), first, _NONE).max(axis=1)
        return latest

    # -- a block of meters for a day -----------------------------------------------------------------
    def block(
        self,
        mpans: Sequence[str],
        day: date,
        *,
        annual_wh: Sequence[float] | Floats,
        export_kwp: Sequence[float] | Floats,
        asked_on: date | None = None,
    ) -> MeterBlock:
        """Every meter of ``mpans`` for ``day``, as a retrieval on ``asked_on`` finds it."""
        keys = np.array([int(m) for m in mpans], dtype=np.int64)
        mean = np.asarray(annual_wh, dtype=np.float64) / 365.25
        kwp = np.asarray(export_kwp, dtype=np.float64)
        n = (day - EPOCH).days
        start_wh = self._cumulative_wh(keys, mean, n)
        end_wh = self._cumulative_wh(keys, mean, n + 1)
        total = np.maximum(0, end_wh - start_wh)
        hours = np.array(local_hours(day))
        index = np.arange(len(hours), dtype=np.int64)
        weights = daily_shape(hours)[None, :] * (
            0.7 + 0.6 * _uniform(self.seed, keys[:, None], _HH, n, index)
        )
        scale = total / weights.sum(axis=1)
        true = np.floor(weights * scale[:, None]).astype(np.int64)
        true[:, -1] += total - true.sum(axis=1)  # exact: the register advance is the sum of the half-hours

        exchanged_on = self._last_exchange(keys, n)
        serial = np.floor(_uniform(self.seed, keys, _METER, exchanged_on) * 10**8).astype(np.int64)
        fitted = np.floor(_uniform(self.seed, keys, _NEW, exchanged_on) * 50_000).astype(np.int64)
        was_exchanged = exchanged_on != _NONE
        at_exchange = self._cumulative_wh(keys, mean, np.where(was_exchanged, exchanged_on, 0))
        offset = np.where(was_exchanged, at_exchange - fitted, 0)

        faults = self.faults
        clock_error = _uniform(self.seed, keys, _CLOCK, n) < faults.clock_error_rate
        recorded_wh = np.where(clock_error[:, None], np.roll(true, 2, axis=1), true)
        recorded = np.ones(true.shape, dtype=np.bool_)
        recorded[clock_error, :2] = False  # an hour fast: each half-hour recorded two periods late
        recorded &= _uniform(self.seed, keys[:, None], _MISSING, n, index) >= faults.missing_rate
        clear = _uniform(self.seed, keys, _SUN, n)
        has_export = kwp > 0
        export = np.round(kwp[:, None] * 500 * _solar(hours)[None, :] * (0.2 + 0.8 * clear[:, None])).astype(
            np.int64
        )
        asked = asked_on or day + timedelta(days=1)
        covered, _, _ = self._outages(keys, (asked - EPOCH).days)
        return MeterBlock(
            mpans=tuple(mpans),
            day=day,
            meter_serial=serial,
            import_wh=recorded_wh,
            recorded=recorded,
            export_wh=np.where(has_export[:, None], export, 0),
            has_export=has_export,
            register_start_wh=start_wh - offset,
            register_end_wh=end_wh - offset,
            reachable=~covered,
            exchanged=exchanged_on == n,
            clock_error=clock_error,
            true_import_wh=true,
        )

    def day(self, mpan: str, day: date, profile: MeterProfile, *, asked_on: date | None = None) -> MeterDay:
        """One meter's day: ``block`` for a single MPAN."""
        b = self.block(
            [mpan],
            day,
            annual_wh=[profile.annual_import_kwh * 1000],
            export_kwp=[profile.export_kwp],
            asked_on=asked_on,
        )
        return MeterDay(
            mpan=mpan,
            day=day,
            meter_id=b.meter_id(0),
            import_wh=tuple(
                int(v) if ok else None for v, ok in zip(b.import_wh[0], b.recorded[0], strict=True)
            ),
            export_wh=tuple(int(v) for v in b.export_wh[0]) if b.has_export[0] else None,
            register_start_wh=int(b.register_start_wh[0]),
            register_end_wh=int(b.register_end_wh[0]),
            register_end_at=b.register_end_at(0),
            reachable=bool(b.reachable[0]),
            exchanged=bool(b.exchanged[0]),
            clock_error=bool(b.clock_error[0]),
            true_import_wh=tuple(int(v) for v in b.true_import_wh[0]),
        )
