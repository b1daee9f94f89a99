"""The messages of meter data: the SDS's instructions to its MDR (IF-061 start, IF-063 stop)
and the MDR's answer (IF-062), the MDR's consumption and register readings (IF-064,
IF-065 [ReadingRemote]), and the SDS's settlement data (IF-021 [ActivePower]).

IF-021 carries UTC settlement periods grouped by UTC day (``settlementDayDate`` at 00:00
UTC, ``sp`` the period's UTC end): a UK local day in summer time spans two UTC days, and a
clock-change day's 46 or 50 periods are all there.

``settlement_bodies`` writes the IF-021 JSON of a whole block of MPAN-days of one UK day from
arrays, with no Python object per half-hour: the bytes of every piece of a message (its
envelope, each period's opening, each DT-016 kWh value, each quality/reason ending) are cut from
messages built and encoded by ``settlement_data`` itself, each piece checked against the schema
once, and joined per MPAN-day. The bodies are byte for byte what ``encode(settlement_data(…))``
gives for the same MPAN-day.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any, cast

import msgspec
import numpy as np
import numpy.typing as npt

from openmhhs.days import (
    day_start,
    format_dip_datetime,
    format_utc_datetime,
    settlement_period_count,
    settlement_periods,
)
from openmhhs.dip import schema as s
from openmhhs.dip.build import MessageFactory, SiteLike, correlation_from_reference
from openmhhs.dip.parse import encode, parse
from openmhhs.ids import DipId
from openmhhs.meterdata.validation import SettledPeriod

Ints = npt.NDArray[np.int64]

__all__ = [
    "HALF_HOUR",
    "kwh",
    "mdr_consumption",
    "mdr_readings",
    "mdr_start",
    "mdr_start_response",
    "mdr_stop",
    "period_ends",
    "period_layout",
    "settlement_bodies",
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
def period_layout(day: date) -> tuple[tuple[str, tuple[tuple[int, str], ...]], ...]:
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
    for utc_day, indexes in period_layout(day):
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
    layout = period_layout(day)
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


# -- IF-021 bodies of a block, from arrays ----------------------------------------------------------
_MARK = re.compile(rb'"@@(\d+)@@"')
_ENVELOPE_FIELDS = (
    ("CommonBlock", "S1", "senderUniqueReference"),
    ("CommonBlock", "S1", "senderCorrelationID"),
    ("CommonBlock", "A0", "primaryRecipients"),
    ("CommonBlock", "M0", "MPANCore"),
    ("CommonBlock", "M0", "distributorDIPID"),
    ("CommonBlock", "M0", "GSPGroupID"),
    ("CustomBlock", "B067", "connectionTypeIndicator"),
    ("CustomBlock", "B067", "connectionTypeEffectiveFromDate"),
    ("CustomBlock", "B900", "MQID", "measurementQuantityID"),
    ("CustomBlock", "B900", "settlementDayConsumptionPeriods"),
)
"""What differs between two IF-021s of one sender for one day, in the envelope's field order."""
REASONS = 11
"""DI-076 estimation reasons are 1 to 10; 0 stands for none (an actual period)."""


@dataclass(frozen=True, slots=True)
class SettlementRows:
    """A block of MPAN-days of one UK day for one sender, row by row."""

    mpan: Sequence[str]
    distributor: Sequence[str]
    gsp_group: Sequence[str]
    recipients: Sequence[Sequence[str]]
    connection_type: Sequence[str]
    connection_from: Sequence[date]
    mq: Sequence[str]
    values_wh: npt.NDArray[np.int64]
    """(rows, periods): settled values, each within [0, ``max_wh``] (what ECS accepts)."""
    quality: npt.NDArray[np.uint8]
    """(rows, periods): index into the ``qualities`` given to ``settlement_bodies``."""
    reason: npt.NDArray[np.uint8]
    """(rows, periods): the DI-076 reason as a number, 0 for none."""


@dataclass(frozen=True, slots=True)
class _RawSite:
    mpan: str
    distributor: str
    gsp_group: str

    def m0(self) -> s.M0:
        return s.M0(
            mpan_core=self.mpan, distributor_dip_id=self.distributor, gsp_group_id=cast(Any, self.gsp_group)
        )


@lru_cache(maxsize=8)
def _kwh_table(max_wh: int) -> tuple[npt.NDArray[np.object_], Ints]:
    """DT-016 text of every value from 0 to ``max_wh`` Wh, and its length."""
    text = np.array([kwh(v).encode() for v in range(max_wh + 1)], dtype=object)
    return text, _lengths(text)


def _lengths(pieces: npt.NDArray[np.object_]) -> Ints:
    return np.fromiter((len(p) for p in pieces), dtype=np.int64, count=len(pieces))


@lru_cache(maxsize=64)
def _period_pieces(
    day: date, qualities: tuple[str, ...]
) -> tuple[npt.NDArray[np.object_], npt.NDArray[np.object_], bytes]:
    """For each period of the day the bytes before its value (closing the previous period and
    opening its UTC day where it starts one), for each (quality, reason) the bytes after the
    value, and the bytes closing the list; every combination decoded once as a B047."""
    layout = period_layout(day)
    groups = []
    for utc_day, indexes in layout:
        group = encode_struct(
            s.B901(
                settlement_day=s.B046(settlement_day_date=utc_day, period_duration=30),
                consumption_periods=cast(Any, [msgspec.Raw(b'"@@0@@"')]),
            )
        )
        opening, closing = group.split(b'"@@0@@"')
        groups.append((opening, closing, indexes))
    sample_sp = groups[0][2][0][1]

    def cut(sp: str, q: str, e: str | None) -> tuple[bytes, bytes]:
        head, tail = encode_struct(s.B047(sp=sp, v="@@0@@", q=cast(Any, q), e=cast(Any, e), arc=None)).split(
            b"@@0@@"
        )
        msgspec.json.decode(head + b"0.000" + tail, type=s.B047)  # the schema accepts the piece
        return head, tail

    tails = [cut(sample_sp, q, None if r == 0 else str(r))[1] for q in qualities for r in range(REASONS)]
    heads: list[bytes] = [b""] * sum(len(i) for _, _, i in groups)
    previous = b"["
    for opening, closing, indexes in groups:
        for k, (i, sp) in enumerate(indexes):
            lead = previous + (opening if k == 0 else b"")
            heads[i] = lead + cut(sp, "A", None)[0]
            previous = b","
        previous = closing + b","
    return (
        np.array([*heads, b""], dtype=object)[:-1],
        np.array([*tails, b""], dtype=object)[:-1],
        groups[-1][1] + b"]",
    )


def encode_struct(value: Any) -> bytes:
    return msgspec.json.encode(value)


def _envelope(
    factory: MessageFactory, *, day: date, now: datetime, event_code: str, first: Sequence[Any]
) -> list[bytes]:
    """The envelope of an IF-021 of this sender, cut at the fields that differ per MPAN-day
    (``_ENVELOPE_FIELDS``): built by ``settlement_data`` for the first row, its JSON re-encoded
    with markers in those fields (and checked to re-encode to the same bytes)."""
    mpan, distributor, gsp, recipients, connection_type, connection_from, mq, periods = first
    message = settlement_data(
        MessageFactory(factory.sender, unique_prefix="t"),
        site=_RawSite(mpan, distributor, gsp),
        recipients=[DipId(r) for r in recipients],
        day=day,
        periods=periods,
        connection_type=connection_type,
        connection_from=connection_from,
        now=now,
        mq=mq,
        event_code=event_code,
    )
    body = encode(message)
    tree = msgspec.json.decode(body)
    if msgspec.json.encode(tree) != body:  # the generic re-encoding must be the struct's
        raise ValueError("IF-021 template does not re-encode to the message's bytes")
    for number, path in enumerate(_ENVELOPE_FIELDS):
        node = tree
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = f"@@{number}@@"
    parts = _MARK.split(msgspec.json.encode(tree))
    if [int(p) for p in parts[1::2]] != list(range(len(_ENVELOPE_FIELDS))):
        raise ValueError("IF-021 template fields out of order")
    return parts[0::2]


def settlement_bodies(
    factory: MessageFactory,
    rows: SettlementRows,
    *,
    day: date,
    now: datetime,
    qualities: Sequence[str],
    max_wh: int,
    event_code: str = "[ActivePower]",
    check_first: bool = True,
) -> tuple[list[str], list[bytes]]:
    """The IF-021 of each row (its sender unique reference and JSON body), in row order; the
    first body is parsed in full against the schema when ``check_first``."""
    count = len(rows.mpan)
    if count == 0:
        return [], []
    values, quality, reason = rows.values_wh, rows.quality, rows.reason
    n = values.shape[1]
    if sum(len(i) for _, i in period_layout(day)) != n:
        raise ValueError(f"{n} settled periods for a day of {settlement_period_count(day)}")
    if values.min() < 0 or values.max() > max_wh:
        raise ValueError(f"IF-021 values must be within 0 and {max_wh} Wh (what settlement accepts)")
    heads, tails, end = _period_pieces(day, tuple(qualities))
    # the pieces of every row's periods (openings, values, endings: bytes objects shared, not
    # made per half-hour) joined for the whole block at once, then cut at each row's length
    value_text, value_lengths = _kwh_table(max_wh)
    ending_index = quality.astype(np.int64) * REASONS + reason
    pieces = np.empty((count, 3 * n), dtype=object)
    pieces[:, 0::3] = heads[None, :]
    pieces[:, 1::3] = value_text[values]
    pieces[:, 2::3] = tails[ending_index]
    lengths = (
        _lengths(heads).sum() + value_lengths[values].sum(axis=1) + _lengths(tails)[ending_index].sum(axis=1)
    )
    block = b"".join(pieces.ravel().tolist())
    cuts = np.concatenate([[0], np.cumsum(lengths)]).tolist()
    periods = [block[a:b] + end for a, b in itertools.pairwise(cuts)]
    first_periods = [
        SettledPeriod(int(v), qualities[q], None if r == 0 else str(r), "")
        for v, q, r in zip(values[0], quality[0], reason[0], strict=True)
    ]
    parts = _envelope(
        factory,
        day=day,
        now=now,
        event_code=event_code,
        first=(
            rows.mpan[0],
            rows.distributor[0],
            rows.gsp_group[0],
            rows.recipients[0],
            rows.connection_type[0],
            rows.connection_from[0],
            rows.mq[0],
            first_periods,
        ),
    )
    text = msgspec.json.encode
    references = factory.sender_unique_references(s.IF021.INTERFACE_ID, now, count)
    bodies: list[bytes] = []
    known: dict[object, bytes] = {}

    def once(value: Any) -> bytes:
        found = known.get(value)
        if found is None:
            found = known[value] = text(value)
        return found

    for i in range(count):
        reference = references[i]
        start = rows.connection_from[i]
        if start not in known:
            known[start] = text(format_dip_datetime(day_start(start)))
        fields = (
            text(reference),
            text(correlation_from_reference(reference)),
            once(tuple(rows.recipients[i])),
            text(rows.mpan[i]),
            once(rows.distributor[i]),
            once(rows.gsp_group[i]),
            once(rows.connection_type[i]),
            known[start],
            once(rows.mq[i]),
            periods[i],
        )
        body = [parts[0]]
        for field_bytes, after in zip(fields, parts[1:], strict=True):
            body += (field_bytes, after)
        bodies.append(b"".join(body))
    if check_first:
        parse(bodies[0], now=None)  # the whole first message, against the official schema
    return references, bodies
