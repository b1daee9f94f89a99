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
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from openmhhs.codes import CodedError, ResponseCode
from openmhhs.days import parse_dip_datetime
from openmhhs.dip import schema as s

__all__ = ["EcsRefusal", "SettlementRefused", "check_settlement_data"]

MQ_FOR_EVENT = {"[ActivePower]": {"AI", "AE"}, "[ReactivePower]": {"RI", "RE"}}
ZERO_ADVANCE = {"ZE", "ZE1", "ZE2", "ZE3"}


class SettlementRefused(CodedError):
    code = ResponseCode.ECS1005
    rule = "ecs.consumption.valid"


@dataclass(frozen=True, slots=True)
class EcsRefusal:
    code: ResponseCode
    path: str
    detail: str


def check_settlement_data(
    message: s.IF021, *, max_period_kwh: Decimal = Decimal("50.000")
) -> list[EcsRefusal]:
    """Every ECS refusal the message would meet (empty: settlement records it)."""
    found: list[EcsRefusal] = []
    custom = message.custom_block
    event = message.common_block.s0.event_code
    mq = custom.b900.mqid.measurement_quantity_id
    if mq not in MQ_FOR_EVENT.get(event, set()):
        found.append(EcsRefusal(ResponseCode.ECS1002, "$.CustomBlock.B900.MQID", f"{mq} is not for {event}"))
    connection_from = parse_dip_datetime(custom.b067.connection_type_effective_from_date)
    seen: dict[datetime, int] = {}
    for d, day in enumerate(custom.b900.settlement_day_consumption_periods):
        base = f"$.CustomBlock.B900.settlementDayConsumptionPeriods[{d}]"
        if day.settlement_day.period_duration != 30:
            found.append(
                EcsRefusal(ResponseCode.ECS1004, f"{base}.settlementDay.periodDuration", "must be 30 minutes")
            )
        utc_day = parse_dip_datetime(day.settlement_day.settlement_day_date).astimezone(UTC)
        if (utc_day.hour, utc_day.minute, utc_day.second) != (0, 0, 0):
            found.append(
                EcsRefusal(
                    ResponseCode.ECS1014,
                    f"{base}.settlementDay.settlementDayDate",
                    f"{day.settlement_day.settlement_day_date} is not 00:00:00 UTC",
                )
            )
        day_end = utc_day + timedelta(days=1)
        within: set[datetime] = set()
        for p, period in enumerate(day.consumption_periods):
            path = f"{base}.consumptionPeriods[{p}]"
            end = parse_dip_datetime(period.sp).astimezone(UTC)
            if end.minute % 30 or end.second or not utc_day < end <= day_end:
                found.append(
                    EcsRefusal(
                        ResponseCode.ECS1005, f"{path}.sp", f"{period.sp} is not a period end of that day"
                    )
                )
            if end in within:
                found.append(EcsRefusal(ResponseCode.ECS1006, f"{path}.sp", f"{period.sp} appears twice"))
            elif end in seen and seen[end] != d:
                found.append(
                    EcsRefusal(ResponseCode.ECS1007, f"{path}.sp", f"{period.sp} is also in another day")
                )
            within.add(end)
            seen.setdefault(end, d)
            value = Decimal(period.v)
            if value < 0:
                found.append(EcsRefusal(ResponseCode.ECS1010, f"{path}.v", f"{period.v} is negative"))
            if period.q in ZERO_ADVANCE and value != 0:
                found.append(EcsRefusal(ResponseCode.ECS1011, f"{path}.v", f"{period.q} with {period.v}"))
            if value > max_period_kwh:
                found.append(EcsRefusal(ResponseCode.ECS1012, f"{path}.v", f"{period.v} > {max_period_kwh}"))
            if end <= connection_from:
                found.append(
                    EcsRefusal(
                        ResponseCode.ECS1013, f"{path}.sp", f"{period.sp} precedes the connection type"
                    )
                )
            if period.q != "A" and period.e is None:
                found.append(EcsRefusal(ResponseCode.ECS1015, f"{path}.e", f"{period.q} without a reason"))
    return found
