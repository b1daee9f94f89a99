"""Simulated smart meters, deterministic from a seed: half-hourly import (and export where
configured) per UK local settlement day (46/48/50 periods), a cumulative import register
consistent with the half-hours, and realistic faults.

Energy is in watt-hours (integers): the DIP's kWh values have three decimals (DT-016), so
one Wh is exactly their resolution and sums never drift.

Every figure is a pure function of (seed, MPAN, day): the same meter can be read again on
any machine, in any order, in parallel, and gives the same answer. The register is built so
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

import math
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

from openmhhs.days import LONDON, day_start, settlement_periods

__all__ = ["FaultPlan", "MeterDay", "MeterProfile", "SimulatedMeters", "daily_shape", "local_hours"]

EPOCH = date(2024, 1, 1)
"""Day 0 of every simulated meter's life (its registers and fault draws count from here)."""
BLOCK_DAYS = 30
"""Outages and exchanges are drawn per 30-day block of each MPAN's life."""


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


def _rng(*parts: object) -> random.Random:
    return random.Random("/".join(str(p) for p in parts))


def daily_shape(local_hour: float) -> float:
    """A domestic day: low at night, a morning and a larger evening peak."""
    morning = 0.9 * math.exp(-(((local_hour - 7.5) / 1.2) ** 2))
    evening = 1.6 * math.exp(-(((local_hour - 18.5) / 2.0) ** 2))
    return 0.45 + morning + evening


def _solar(local_hour: float) -> float:
    return max(0.0, math.sin(math.pi * (local_hour - 6.0) / 14.0)) if 6.0 <= local_hour <= 20.0 else 0.0


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
    def _mean_daily_wh(self, profile: MeterProfile) -> float:
        return profile.annual_import_kwh * 1000 / 365.25

    def _integral_wh(self, profile: MeterProfile, n: int) -> float:
        """Consumption from EPOCH to the start of day ``n``: the seasonal mean, integrated."""
        amplitude, phase = 0.3, 15
        a = self._mean_daily_wh(profile)
        return a * (n + amplitude * 365.25 / (2 * math.pi) * math.sin(2 * math.pi * (n - phase) / 365.25))

    def _wobble_wh(self, mpan: str, n: int, profile: MeterProfile) -> float:
        return (_rng(self.seed, mpan, "w", n).random() - 0.5) * 0.5 * self._mean_daily_wh(profile)

    def _cumulative_wh(self, mpan: str, n: int, profile: MeterProfile) -> int:
        base = _rng(self.seed, mpan, "base").randrange(1_000_000, 40_000_000)
        return base + round(self._integral_wh(profile, n) + self._wobble_wh(mpan, n, profile))

    # -- faults ------------------------------------------------------------------------------------
    def _block_event(self, mpan: str, kind: str, n: int, rate: float) -> tuple[int, int] | None:
        """The (first day, length) of ``kind`` in the 30-day block holding day ``n``, if any."""
        return _block_event(self.seed, mpan, kind, n // BLOCK_DAYS, rate)

    def outage(self, mpan: str, day: date) -> tuple[date, date] | None:
        """The communications outage covering ``day`` (first, last), if there is one."""
        n = (day - EPOCH).days
        for block_day in (n, n - BLOCK_DAYS):
            found = self._block_event(mpan, "outage", block_day, self.faults.outage_rate)
            if found is not None and found[0] <= n < found[0] + found[1]:
                first = EPOCH + timedelta(days=found[0])
                return first, first + timedelta(days=found[1] - 1)
        return None

    def _last_exchange(self, mpan: str, n: int) -> int | None:
        """The latest day number <= n on which the meter was exchanged."""
        block = n // BLOCK_DAYS
        for b in range(block, -1, -1):
            found = self._block_event(mpan, "exchange", b * BLOCK_DAYS, self.faults.exchange_rate)
            if found is not None and found[0] <= n:
                return found[0]
        return None

    # -- a day ---------------------------------------------------------------------------------------
    def day(self, mpan: str, day: date, profile: MeterProfile, *, asked_on: date | None = None) -> MeterDay:
        n = (day - EPOCH).days
        start_wh = self._cumulative_wh(mpan, n, profile)
        end_wh = self._cumulative_wh(mpan, n + 1, profile)
        total = max(0, end_wh - start_wh)
        hours = local_hours(day)
        rng = _rng(self.seed, mpan, "hh", n)
        weights = [daily_shape(h) * (0.7 + 0.6 * rng.random()) for h in hours]
        scale = total / sum(weights)
        true = [int(w * scale) for w in weights]
        true[-1] += total - sum(true)  # exact: the register advance is the sum of the half-hours

        exchanged_on = self._last_exchange(mpan, n)
        meter_serial = _rng(self.seed, mpan, "meter", exchanged_on).randrange(10**8)
        meter_id = f"S{meter_serial:08d}"[:10]
        offset = 0
        if exchanged_on is not None:  # the new meter's register starts near zero
            fitted = _rng(self.seed, mpan, "new", exchanged_on).randrange(0, 50_000)
            offset = self._cumulative_wh(mpan, exchanged_on, profile) - fitted
        faults = self.faults
        clock_error = _rng(self.seed, mpan, "clock", n).random() < faults.clock_error_rate
        recorded: list[int | None] = list(true)
        if clock_error:  # an hour fast: each half-hour recorded two periods late
            recorded = [None, None, *true[:-2]]
        missing = _rng(self.seed, mpan, "missing", n)
        recorded = [None if missing.random() < faults.missing_rate else v for v in recorded]
        midnight = day_start(day + timedelta(days=1))
        end_at = midnight - timedelta(hours=1) if clock_error else midnight
        export: tuple[int | None, ...] | None = None
        if profile.export_kwp > 0:
            clear = _rng(self.seed, mpan, "sun", n).random()
            export = tuple(round(profile.export_kwp * 500 * _solar(h) * (0.2 + 0.8 * clear)) for h in hours)
        asked = asked_on or day + timedelta(days=1)
        return MeterDay(
            mpan=mpan,
            day=day,
            meter_id=meter_id,
            import_wh=tuple(recorded),
            export_wh=export,
            register_start_wh=start_wh - offset,
            register_end_wh=end_wh - offset,
            register_end_at=end_at.astimezone(UTC),
            reachable=self.outage(mpan, asked) is None,
            exchanged=exchanged_on == n,
            clock_error=clock_error,
            true_import_wh=tuple(true),
        )


@lru_cache(maxsize=2_000_000)
def _block_event(seed: int, mpan: str, kind: str, block: int, rate: float) -> tuple[int, int] | None:
    if rate <= 0:
        return None
    rng = _rng(seed, mpan, kind, block)
    if rng.random() >= rate:
        return None
    return block * BLOCK_DAYS + rng.randrange(BLOCK_DAYS), rng.randrange(2, 6)
