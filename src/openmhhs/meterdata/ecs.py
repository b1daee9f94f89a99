"""What central settlement checks in an IF-021 before it records consumption (the ECS
rules of the DIP response codes), as pure checks: the SDS runs them before it sends, so
that it never submits what settlement would refuse, and a settlement receiver runs them on
what arrives.

Checked: ECS1002 (measurement quantity for the event), ECS1004 (period duration), ECS1005
(a period end not on the half-hour, or outside its UTC settlement day), ECS1006 (a period
end twice in one day), ECS1007 (a period end in two days of the message), ECS1010
(negative value), ECS1011 (a zero-advance estimate with a value), ECS1012 (above the
maximum permitted), ECS1013 (before the connection type's effective-from), ECS1014 (a UTC
settlement day not at 00:00:00), ECS1015 (an estimate without an estimation reason).
Not checked (they depend on settlement's own state: run dates, MPAN status): ECS1003,
ECS1008, ECS1009, ECS1016.

The rules are written once, in array form (``ecs_masks``): a block of MPAN-days of one UK day
(rows x periods) is checked in a few numpy operations, and ``check_settlement_data`` checks one
built message by reading it into the same arrays (one row).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from openmhhs.codes import CodedError, ResponseCode
from openmhhs.days import parse_dip_datetime
from openmhhs.dip import schema as s

__all__ = [
    "MAX_PERIOD_KWH",
    "EcsMasks",
    "EcsRefusal",
    "PeriodLayout",
    "SettlementRefused",
    "check_settlement_data",
    "ecs_masks",
]

MQ_FOR_EVENT = {"[ActivePower]": {"AI", "AE"}, "[ReactivePower]": {"RI", "RE"}}
ZERO_ADVANCE = ("ZE", "ZE1", "ZE2", "ZE3")
MAX_PERIOD_KWH = Decimal("50.000")
DAY_SECONDS = 86_400

Bools = npt.NDArray[np.bool_]
Ints = npt.NDArray[np.int64]


class SettlementRefused(CodedError):
    code = ResponseCode.ECS1005
    rule = "ecs.consumption.valid"


@dataclass(frozen=True, slots=True)
class EcsRefusal:
    code: ResponseCode
    path: str
    detail: str


@dataclass(frozen=True, slots=True)
class PeriodLayout:
    """Where a message's periods sit: per UTC settlement day of the message its start (UTC epoch
    seconds) and period duration (minutes); per period its UTC end (epoch seconds) and day."""

    day_starts: Ints
    durations: Ints
    ends: Ints
    day_of: Ints


@dataclass(frozen=True, slots=True)
class EcsMasks:
    """Each ECS refusal where it applies: per settlement day of the layout (``by_day``), per
    period of the layout (``by_period``, the same for every row) or per row and period."""

    wrong_quantity: Bools
    """ECS1002, per row."""
    by_day: dict[ResponseCode, Bools]
    by_period: dict[ResponseCode, Bools]
    by_value: dict[ResponseCode, Bools]

    def refused_rows(self) -> Bools:
        """Rows settlement would refuse for any reason."""
        rows: Bools = self.wrong_quantity.copy()
        if any(m.any() for m in (*self.by_day.values(), *self.by_period.values())):
            rows[:] = True
        for mask in self.by_value.values():
            rows |= mask.any(axis=1)
        return rows

    def codes(self, row: int) -> list[ResponseCode]:
        """The ECS codes refusing one row, sorted."""
        found = {ResponseCode.ECS1002} if self.wrong_quantity[row] else set()
        found |= {code for code, m in (*self.by_day.items(), *self.by_period.items()) if m.any()}
        found |= {code for code, m in self.by_value.items() if m[row].any()}
        return sorted(found, key=lambda c: c.value)


def ecs_masks(
    *,
    event: str,
    mq: npt.NDArray[np.str_],
    layout: PeriodLayout,
    value_wh: npt.NDArray[np.int64] | npt.NDArray[np.float64],
    quality: npt.NDArray[np.str_],
    has_reason: Bools,
    connection_from: Ints,
    max_period_kwh: Decimal = MAX_PERIOD_KWH,
) -> EcsMasks:
    """The ECS rules over rows (MPAN-days) x periods: ``mq`` and ``connection_from`` (UTC epoch
    seconds of the connection type's effective-from) per row; ``value_wh``, ``quality`` and
    ``has_reason`` per row and period (Wh: a DT-016 kWh value times 1000)."""
    allowed_mq = np.array(sorted(MQ_FOR_EVENT.get(event, set())) or [""])
    ends, day_of = layout.ends, layout.day_of
    start = layout.day_starts[day_of]
    again_in_day = _seen_before(ends, day_of)
    again = _seen_before(ends, np.zeros_like(day_of))
    value = np.asarray(value_wh)
    estimate = quality != "A"
    return EcsMasks(
        wrong_quantity=~np.isin(mq, allowed_mq),
        by_day={
            ResponseCode.ECS1004: layout.durations != 30,
            ResponseCode.ECS1014: layout.day_starts % DAY_SECONDS != 0,
        },
        by_period={
            ResponseCode.ECS1005: (ends % 1800 != 0) | ~((start < ends) & (ends <= start + DAY_SECONDS)),
            ResponseCode.ECS1006: again_in_day,
            ResponseCode.ECS1007: again & ~again_in_day,
        },
        by_value={
            ResponseCode.ECS1010: value < 0,
            ResponseCode.ECS1011: np.isin(quality, ZERO_ADVANCE) & (value != 0),
            ResponseCode.ECS1012: value > int(max_period_kwh * 1000),
            ResponseCode.ECS1013: ends[None, :] <= np.asarray(connection_from)[:, None],
            ResponseCode.ECS1015: estimate & ~has_reason,
        },
    )


def _seen_before(ends: Ints, group: Ints) -> Bools:
    """Per period: the same end already appeared earlier in the same group."""
    order = np.lexsort((np.arange(len(ends)), ends, group))
    same = (ends[order][1:] == ends[order][:-1]) & (group[order][1:] == group[order][:-1])
    seen = np.zeros(len(ends), dtype=np.bool_)
    seen[order[1:]] = same
    return seen


def _epoch(value: str) -> int:
    return int(parse_dip_datetime(value).astimezone(UTC).timestamp())


_DAY_CODES = (ResponseCode.ECS1004, ResponseCode.ECS1014)
_PERIOD_CODES = (
    ResponseCode.ECS1005,
    ResponseCode.ECS1006,
    ResponseCode.ECS1007,
    ResponseCode.ECS1010,
    ResponseCode.ECS1011,
    ResponseCode.ECS1012,
    ResponseCode.ECS1013,
    ResponseCode.ECS1015,
)


def check_settlement_data(message: s.IF021, *, max_period_kwh: Decimal = MAX_PERIOD_KWH) -> list[EcsRefusal]:
    """Every ECS refusal the message would meet (empty: settlement records it): ``ecs_masks``
    over the message read as one row, each refusal with its JSON path."""
    custom = message.custom_block
    event = message.common_block.s0.event_code
    mq = custom.b900.mqid.measurement_quantity_id
    days = custom.b900.settlement_day_consumption_periods
    periods = [
        (d, p, period) for d, day in enumerate(days) for p, period in enumerate(day.consumption_periods)
    ]
    layout = PeriodLayout(
        day_starts=np.array([_epoch(day.settlement_day.settlement_day_date) for day in days], dtype=np.int64),
        durations=np.array([day.settlement_day.period_duration for day in days], dtype=np.int64),
        ends=np.array([_epoch(period.sp) for _, _, period in periods], dtype=np.int64),
        day_of=np.array([d for d, _, _ in periods], dtype=np.int64),
    )
    values = [Decimal(period.v) for _, _, period in periods]
    masks = ecs_masks(
        event=event,
        mq=np.array([mq]),
        layout=layout,
        value_wh=np.array([[float(v * 1000) for v in values]], dtype=np.float64).reshape(1, len(periods)),
        quality=np.array([[period.q for _, _, period in periods]], dtype=np.str_).reshape(1, len(periods)),
        has_reason=np.array([[period.e is not None for _, _, period in periods]], dtype=np.bool_).reshape(
            1, len(periods)
        ),
        connection_from=np.array([_epoch(custom.b067.connection_type_effective_from_date)], dtype=np.int64),
        max_period_kwh=max_period_kwh,
    )
    found: list[EcsRefusal] = []
    if masks.wrong_quantity[0]:
        found.append(EcsRefusal(ResponseCode.ECS1002, "$.CustomBlock.B900.MQID", f"{mq} is not for {event}"))
    for d, day in enumerate(days):
        base = f"$.CustomBlock.B900.settlementDayConsumptionPeriods[{d}]"
        date_text = day.settlement_day.settlement_day_date
        for code in _DAY_CODES:
            if masks.by_day[code][d]:
                found.append(_day_refusal(code, base, date_text))
    for i, (d, p, period) in enumerate(periods):
        path = f"$.CustomBlock.B900.settlementDayConsumptionPeriods[{d}].consumptionPeriods[{p}]"
        for code in _PERIOD_CODES:
            mask = masks.by_period.get(code)
            hit = mask[i] if mask is not None else masks.by_value[code][0, i]
            if hit:
                found.append(_period_refusal(code, path, period, max_period_kwh))
    return found


def _day_refusal(code: ResponseCode, base: str, date_text: str) -> EcsRefusal:
    if code is ResponseCode.ECS1004:
        return EcsRefusal(code, f"{base}.settlementDay.periodDuration", "must be 30 minutes")
    return EcsRefusal(code, f"{base}.settlementDay.settlementDayDate", f"{date_text} is not 00:00:00 UTC")


def _period_refusal(code: ResponseCode, path: str, period: s.B047, max_period_kwh: Decimal) -> EcsRefusal:
    detail = {
        ResponseCode.ECS1005: ("sp", f"{period.sp} is not a period end of that day"),
        ResponseCode.ECS1006: ("sp", f"{period.sp} appears twice"),
        ResponseCode.ECS1007: ("sp", f"{period.sp} is also in another day"),
        ResponseCode.ECS1010: ("v", f"{period.v} is negative"),
        ResponseCode.ECS1011: ("v", f"{period.q} with {period.v}"),
        ResponseCode.ECS1012: ("v", f"{period.v} > {max_period_kwh}"),
        ResponseCode.ECS1013: ("sp", f"{period.sp} precedes the connection type"),
        ResponseCode.ECS1015: ("e", f"{period.q} without a reason"),
    }[code]
    return EcsRefusal(code, f"{path}.{detail[0]}", detail[1])


def utc_seconds(at: datetime) -> int:
    """UTC epoch seconds of an aware date-time (the unit of ``PeriodLayout``)."""
    return int(at.astimezone(UTC).timestamp())
