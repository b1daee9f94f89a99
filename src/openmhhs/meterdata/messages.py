"""The messages of meter data: the SDS's instructions to its MDR (IF-061 start, IF-063 stop)
and the MDR's answer (IF-062), the MDR's consumption and register readings (IF-064,
IF-065 [ReadingRemote]), and the SDS's settlement data (IF-021 [ActivePower]).

IF-021 carries UTC settlement periods grouped by UTC day (``settlementDayDate`` at 00:00
UTC, ``sp`` the period's UTC end): a UK local day in summer time spans two UTC days, and a
clock-change day's 46 or 50 periods are all there.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any, cast

import msgspec

from openmhhs.days import (
    day_start,
    format_dip_datetime,
    format_utc_datetime,
    settlement_period_count,
    settlement_periods,
)
from openmhhs.dip import schema as s
from openmhhs.dip.build import MessageFactory, SiteLike
from openmhhs.ids import DipId
from openmhhs.meterdata.validation import SettledPeriod

__all__ = [
    "HALF_HOUR",
    "kwh",
    "mdr_consumption",
    "mdr_readings",
    "mdr_start",
    "mdr_start_response",
    "mdr_stop",
    "period_ends",
    "settlement_data",
]

HALF_HOUR = timedelta(minutes=30)


def kwh(wh: int) -> str:
    """DT-016: kWh with three decimals, from whole watt-hours (exact)."""
    sign = "-" if wh < 0 else ""
    whole, fraction = divmod(abs(wh), 1000)
    return f"{sign}{whole}.{fraction:03d}"


def period_ends(day: date) -> list[datetime]:
    """The UTC end of each settlement period of the UK local day."""
    return [start + HALF_HOUR for _, start in settlement_periods(day)]


@lru_cache(maxsize=1024)
def _layout(day: date) -> tuple[tuple[str, tuple[tuple[int, str], ...]], ...]:
    """The UK day's periods grouped by the UTC day they start in: (UTC day, ((index, UTC end), ...))."""
    groups: dict[datetime, list[tuple[int, str]]] = {}
    for index, end in enumerate(period_ends(day)):
        start = (end - HALF_HOUR).astimezone(UTC)
        key = datetime(start.year, start.month, start.day, tzinfo=UTC)
        groups.setdefault(key, []).append((index, format_utc_datetime(end)))
    return tuple((format_utc_datetime(k), tuple(v)) for k, v in sorted(groups.items()))


# -- SDS -> MDR ----------------------------------------------------------------------------------
def mdr_start(
    factory: MessageFactory,
    *,
    site: SiteLike,
    mdr: DipId,
    mdr_mpid: str,
    mdr_from: date,
    supplier: DipId,
    supplier_mpid: str,
    energy_direction: str,
    energisation: str,
    energisation_from: date,
    consent: str,
    consent_from: date,
    now: datetime,
    correlation_id: str | None = None,
) -> s.IF061:
    return factory.build(
        s.IF061,
        s.IF061CustomBlock(
            b019=s.B019(
                assigned_mdr_dip_id=str(mdr),
                assigned_mdr_mpid=mdr_mpid,
                assigned_mdr_effective_from_date=format_dip_datetime(day_start(mdr_from)),
            ),
            b012=s.B012(
                service_provider_appointment_requesting_supplier_dip_id=str(supplier),
                service_provider_appointment_requesting_supplier_mpid=supplier_mpid,
            ),
            b078=s.B078(energy_direction=cast(Any, energy_direction)),
            b025=s.B025(
                energisation_status=cast(Any, energisation),
                energisation_status_effective_from_date=format_dip_datetime(day_start(energisation_from)),
            ),
            b068=s.B068(
                consent_granularity=cast(Any, consent),
                consent_granularity_effective_from_date=format_dip_datetime(day_start(consent_from)),
            ),
        ),
        site=site,
        recipients=[mdr],
        now=now,
        correlation_id=correlation_id,
    )


def mdr_start_response(
    factory: MessageFactory, *, to: s.IF061, accepted: bool, message: str, now: datetime
) -> s.IF062:
    custom = to.custom_block
    return factory.reply(
        s.IF062,
        s.IF062CustomBlock(
            b019=custom.b019,
            b012=custom.b012,
            b078=custom.b078,
            b025=custom.b025,
            b068=custom.b068,
        ),
        to=to,
        recipients=[DipId(to.common_block.s1.sender_dip_id)],
        now=now,
        response=s.R0(response_code="A" if accepted else "R", response_messages=[message[:200]]),
    )


def mdr_stop(
    factory: MessageFactory,
    *,
    site: SiteLike,
    mdr: DipId,
    mdr_mpid: str,
    last_day: date,
    now: datetime,
    reason: str | None = None,
) -> s.IF063:
    """Stop retrieving after ``last_day`` (B083's effective-to: the last day served, at its start)."""
    return factory.build(
        s.IF063,
        s.IF063CustomBlock(
            b083=s.B083(
                assigned_mdr_dip_id=str(mdr),
                assigned_mdr_mpid=mdr_mpid,
                assigned_mdr_effective_to_date=format_dip_datetime(day_start(last_day)),
            ),
            b060=s.B060(additional_information=reason) if reason else msgspec.UNSET,
        ),
        site=site,
        recipients=[mdr],
        now=now,
    )


# -- MDR -> SDS ----------------------------------------------------------------------------------
def mdr_consumption(
    factory: MessageFactory,
    *,
    site: SiteLike,
    sds: DipId,
    day: date,
    values_wh: Sequence[int | None],
    now: datetime,
    mq: str = "AI",
) -> s.IF064:
    """IF-064: the half-hours the meter recorded (periods it did not record are left out)."""
    days = []
    for utc_day, indexes in _layout(day):
        periods = [
            s.B084(sp=sp, v=kwh(value), q="A") for i, sp in indexes if (value := values_wh[i]) is not None
        ]
        if periods:
            days.append(
                s.B941(
                    settlement_day=s.B046(settlement_day_date=utc_day, period_duration=30),
                    mdr_consumption_periods=periods,
                )
            )
    return factory.build(
        s.IF064,
        s.IF064CustomBlock(b045=s.B045(measurement_quantity_id=cast(Any, mq)), b941_list=days),
        site=site,
        recipients=[sds],
        now=now,
    )


def mdr_readings(
    factory: MessageFactory,
    *,
    site: SiteLike,
    sds: DipId,
    meter_id: str,
    reads: Iterable[tuple[int, datetime]],
    now: datetime,
) -> s.IF065ReadingRemote:
    """IF-065 [ReadingRemote]: cumulative import register reads (Wh, when stamped)."""
    return factory.build(
        s.IF065ReadingRemote,
        s.IF065ReadingRemoteCustomBlock(
            b076_list=[
                s.B076(
                    meter_id=meter_id,
                    cumulative_register_reading=kwh(wh),
                    cumulative_register_reading_date_time=format_dip_datetime(at),
                )
                for wh, at in reads
            ]
        ),
        site=site,
        recipients=[sds],
        now=now,
    )


# -- SDS -> settlement ----------------------------------------------------------------------------
def settlement_data(
    factory: MessageFactory,
    *,
    site: SiteLike,
    recipients: Sequence[DipId],
    day: date,
    periods: Sequence[SettledPeriod],
    connection_type: str,
    connection_from: date,
    now: datetime,
    mq: str = "AI",
    event_code: str = "[ActivePower]",
) -> s.IF021:
    """IF-021 for one UK local day of one MPAN: every period, actual or estimated."""
    layout = _layout(day)
    if sum(len(indexes) for _, indexes in layout) != len(periods):
        raise ValueError(f"{len(periods)} settled periods for a day of {settlement_period_count(day)}")
    days = [
        s.B901(
            settlement_day=s.B046(settlement_day_date=utc_day, period_duration=30),
            consumption_periods=[
                s.B047(
                    sp=sp,
                    v=kwh(periods[i].wh),
                    q=cast(Any, periods[i].quality),
                    e=cast(Any, periods[i].reason),
                    arc=None,
                )
                for i, sp in indexes
            ],
        )
        for utc_day, indexes in layout
    ]
    return factory.build(
        s.IF021,
        s.IF021CustomBlock(
            b044=s.B044(issuing_data_service_dip_id=str(factory.sender.dip_id)),
            b067=s.B067(
                connection_type_indicator=cast(Any, connection_type),
                connection_type_effective_from_date=format_dip_datetime(day_start(connection_from)),
            ),
            b900=s.B900(
                mqid=s.B045(measurement_quantity_id=cast(Any, mq)),
                settlement_day_consumption_periods=days,
            ),
        ),
        site=site,
        recipients=recipients,
        now=now,
        event_code=event_code,
    )
