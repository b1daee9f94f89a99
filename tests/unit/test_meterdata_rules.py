"""The pure rules of meter data: simulated meters, the SDS's validation and estimation, and the
ECS checks on IF-021 (each ECS code triggered). The DCC's access rules: tests/unit/test_dcc_access.py."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import msgspec
import pytest

from openmhhs.codes import ResponseCode
from openmhhs.days import day_start, settlement_period_count
from openmhhs.dip import schema as s
from openmhhs.dip.build import MessageFactory, Sender, Site
from openmhhs.dip.parse import encode, parse
from openmhhs.ids import DipId, DipRole, GspGroup, MpanCore
from openmhhs.meterdata.ecs import check_settlement_data
from openmhhs.meterdata.messages import kwh, mdr_consumption, period_ends, settlement_data
from openmhhs.meterdata.meters import FaultPlan, MeterProfile, SimulatedMeters, local_hours
from openmhhs.meterdata.validation import DayInputs, RegisterRead, SettledPeriod, settle_day

D = date(2025, 7, 10)
ONE = timedelta(days=1)


# -- meters -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("day", "periods"), [(date(2025, 3, 30), 46), (date(2025, 10, 26), 50), (D, 48)])
def test_meter_days_have_the_uk_day_periods_and_match_the_register(day: date, periods: int) -> None:
    meters = SimulatedMeters(7, FaultPlan.none())
    meter = meters.day("2000056535971", day, MeterProfile())
    assert len(meter.import_wh) == periods == settlement_period_count(day) == len(period_ends(day))
    assert sum(meter.true_import_wh) == meter.register_end_wh - meter.register_start_wh > 0
    assert meter.import_wh == meter.true_import_wh  # no faults
    following = meters.day("2000056535971", day + ONE, MeterProfile())
    assert following.register_start_wh == meter.register_end_wh  # the register is continuous
    assert meters.day("2000056535971", day, MeterProfile()) == meter  # deterministic


def test_meter_faults() -> None:
    always = SimulatedMeters(
        3, FaultPlan(missing_rate=0.5, outage_rate=1.0, exchange_rate=0.0, clock_error_rate=1.0)
    )
    meter = always.day("2000056535971", D, MeterProfile())
    assert meter.clock_error and meter.register_end_at == day_start(D + ONE).astimezone(UTC) - timedelta(
        hours=1
    )
    assert None in meter.import_wh
    outage = next(o for i in range(60) if (o := always.outage("2000056535971", D + i * ONE)))
    first, last = outage
    assert not always.day("2000056535971", first, MeterProfile(), asked_on=first).reachable
    if always.outage("2000056535971", last + ONE) is None:
        assert always.day("2000056535971", first, MeterProfile(), asked_on=last + ONE).reachable
    exchanged = SimulatedMeters(3, FaultPlan(0.0, 0.0, 1.0, 0.0))
    days = [exchanged.day("2000056535971", D + i * ONE, MeterProfile()) for i in range(60)]
    swap = next(i for i, m in enumerate(days) if m.exchanged and i > 0)
    assert days[swap].meter_id != days[swap - 1].meter_id
    assert days[swap].register_start_wh < 50_000  # the new meter's register starts near zero


# -- validation and estimation ----------------------------------------------------------------------------
def _inputs(values: list[int | None] | None, **options: object) -> DayInputs:
    return DayInputs(period_hours=local_hours(D), mdr_wh=values, **options)  # type: ignore[arg-type]


def _register(total: int, *, late: bool = False) -> RegisterRead:
    midnight = day_start(D + ONE).astimezone(UTC)
    return RegisterRead(
        "S1", 1_000_000, 1_000_000 + total, midnight - timedelta(hours=1 if late else 0), midnight
    )


def test_a_complete_consistent_day_is_all_actual() -> None:
    values = [100] * 48
    settled = settle_day(_inputs(values, register=_register(4800)))
    assert settled.actual == 48 and settled.estimated == 0 and settled.total_wh == 4800


def test_single_missing_period_is_interpolated_e0() -> None:
    values: list[int | None] = [100] * 48
    values[10], values[11] = 80, None
    values[12] = 120
    settled = settle_day(_inputs(values))
    assert settled.periods[11] == SettledPeriod(100, "E0", "2", "estimate")


def test_missing_periods_take_the_register_advance_e1() -> None:
    values: list[int | None] = [100] * 48
    values[20:24] = [None] * 4
    settled = settle_day(_inputs(values, register=_register(4800 + 400)))
    assert [p.quality for p in settled.periods[20:24]] == ["E1"] * 4
    assert settled.total_wh == 5200  # the day adds up to the register advance


def test_clock_error_invalidates_the_day() -> None:
    settled = settle_day(_inputs([100] * 48, register=_register(4800, late=True), history_wh=[90] * 48))
    assert settled.actual == 0 and {p.reason for p in settled.periods} == {"3"}
    assert {p.quality for p in settled.periods} == {"E5"} and settled.total_wh == 90 * 48


def test_implausible_and_inconsistent_values_are_invalid() -> None:
    values: list[int | None] = [100] * 48
    values[5] = -3
    values[6] = 60_000
    settled = settle_day(_inputs(values))
    assert settled.periods[5].reason == "3" and settled.periods[6].reason == "3"
    inconsistent = settle_day(_inputs([100] * 48, register=_register(9000)))
    assert inconsistent.actual == 0 and inconsistent.problems


def test_nothing_retrieved_is_a_comms_fault_estimated_from_the_profile_e7() -> None:
    settled = settle_day(_inputs(None, annual_wh=3_650_000))
    assert {(p.quality, p.reason) for p in settled.periods} == {("E7", "4")}
    assert settled.total_wh == 10_000


def test_model_1b_supplier_data_fills_what_the_mdr_lacks() -> None:
    values: list[int | None] = [100] * 48
    values[0:4] = [None] * 4
    settled = settle_day(_inputs(values, supplier_wh=[77] * 48))
    assert [p.source for p in settled.periods[:5]] == ["supplier"] * 4 + ["mdr"]
    assert settled.actual == 48


# -- IF-021 and the ECS checks --------------------------------------------------------------------------------
FACTORY = MessageFactory(Sender(DipId("2222222222"), DipRole.SDS), unique_prefix="u")
SITE = Site(MpanCore("2000056535971"), DipId("9000000020"), GspGroup("_H"))


def _if021(day: date, **options: object) -> s.IF021:
    n = settlement_period_count(day)
    periods = [SettledPeriod(123, "A", None, "mdr")] * n
    return settlement_data(
        FACTORY,
        site=SITE,
        recipients=[DipId("9000000003")],
        day=day,
        periods=periods,
        connection_type="W",
        connection_from=date(2020, 1, 1),
        now=datetime(2025, 11, 1, tzinfo=UTC),
        **options,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("day", "periods", "utc_days"),
    [(date(2025, 3, 30), 46, 1), (date(2025, 10, 26), 50, 2), (date(2025, 12, 1), 48, 1)],
)
def test_if021_carries_every_period_by_utc_day(day: date, periods: int, utc_days: int) -> None:
    message = _if021(day)
    parse(encode(message), now=None)
    groups = message.custom_block.b900.settlement_day_consumption_periods
    assert sum(len(g.consumption_periods) for g in groups) == periods and len(groups) == utc_days
    assert check_settlement_data(message) == []


def _tamper(message: s.IF021, *, day: int = 0, period: int = 0, **changes: object) -> s.IF021:
    b900 = message.custom_block.b900
    days = list(b900.settlement_day_consumption_periods)
    target = days[day]
    changed_periods = list(target.consumption_periods)
    if changes.get("settlement_day") is not None:
        target = msgspec.structs.replace(target, settlement_day=changes.pop("settlement_day"))  # type: ignore[arg-type]
    if changes.get("append") is not None:
        changed_periods.append(changes.pop("append"))  # type: ignore[arg-type]
    if changes:
        changed_periods[period] = msgspec.structs.replace(changed_periods[period], **changes)  # type: ignore[arg-type]
    days[day] = msgspec.structs.replace(target, consumption_periods=changed_periods)
    custom = msgspec.structs.replace(
        message.custom_block, b900=msgspec.structs.replace(b900, settlement_day_consumption_periods=days)
    )
    return msgspec.structs.replace(message, custom_block=custom)


def _codes(message: s.IF021) -> set[ResponseCode]:
    return {r.code for r in check_settlement_data(message)}


def test_each_ecs_code_is_triggered() -> None:
    base = _if021(date(2025, 12, 1))
    first = base.custom_block.b900.settlement_day_consumption_periods[0]
    sp0 = first.consumption_periods[0]
    assert _codes(_if021(date(2025, 12, 1), mq="RI")) == {ResponseCode.ECS1002}
    assert ResponseCode.ECS1004 in _codes(
        _tamper(
            base,
            settlement_day=s.B046(
                settlement_day_date=first.settlement_day.settlement_day_date, period_duration=15
            ),
        )
    )
    assert ResponseCode.ECS1014 in _codes(
        _tamper(
            base, settlement_day=s.B046(settlement_day_date="2025-12-01T01:00:00+00:00", period_duration=30)
        )
    )
    assert ResponseCode.ECS1005 in _codes(_tamper(base, sp="2025-12-01T00:15:00+00:00"))
    assert ResponseCode.ECS1006 in _codes(_tamper(base, append=sp0))
    two_days = _if021(date(2025, 7, 2))  # BST: two UTC days
    moved = two_days.custom_block.b900.settlement_day_consumption_periods[0].consumption_periods[0]
    assert ResponseCode.ECS1007 in _codes(_tamper(two_days, day=1, append=moved))
    assert _codes(_tamper(base, v="-1.000")) == {ResponseCode.ECS1010}
    assert _codes(_tamper(base, q="ZE", e="6", v="0.500")) == {ResponseCode.ECS1011}
    assert _codes(_tamper(base, v="99.000")) == {ResponseCode.ECS1012}
    late_connection = msgspec.structs.replace(
        base.custom_block.b067, connection_type_effective_from_date="2025-12-01T12:00:00+00:00"
    )
    assert ResponseCode.ECS1013 in _codes(
        msgspec.structs.replace(
            base, custom_block=msgspec.structs.replace(base.custom_block, b067=late_connection)
        )
    )
    assert _codes(_tamper(base, q="E1", e=None)) == {ResponseCode.ECS1015}
    assert _codes(_tamper(base, q="E1", e="2")) == set()


def test_kwh_formatting_is_exact() -> None:
    assert [kwh(0), kwh(1), kwh(1234), kwh(-5)] == ["0.000", "0.001", "1.234", "-0.005"]
    assert Decimal(kwh(98765)) == Decimal("98.765")


def test_if064_leaves_out_what_the_meter_did_not_record() -> None:
    values: list[int | None] = [10] * 48
    values[3] = None
    message = mdr_consumption(
        MessageFactory(Sender(DipId("3333333333"), DipRole.MDR)),
        site=SITE,
        sds=DipId("2222222222"),
        day=date(2025, 12, 1),
        values_wh=values,
        now=datetime(2025, 12, 2, tzinfo=UTC),
    )
    parse(encode(message), now=None)
    assert sum(len(d.mdr_consumption_periods) for d in message.custom_block.b941_list) == 47
