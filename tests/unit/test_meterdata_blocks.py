"""The vectorised rules are the per-MPAN rules: a block of meters (``SimulatedMeters.block``)
and a block of settled days (``settle_block``) equal, row by row, the single-MPAN answers, for
random fault patterns, on ordinary and clock-change days."""

from __future__ import annotations

import pickle
from datetime import UTC, date, timedelta

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from openmhhs.days import day_start
from openmhhs.meterdata.meters import FaultPlan, MeterProfile, SimulatedMeters, local_hours
from openmhhs.meterdata.snapshot import SCHEMA, Snapshot
from openmhhs.meterdata.validation import (
    QUALITIES,
    SOURCES,
    BlockInputs,
    DayInputs,
    RegisterRead,
    history_periods,
    settle_block,
    settle_day,
)

DAYS = [date(2025, 3, 30), date(2025, 7, 10), date(2025, 10, 26)]
MPANS = [str(2000056535971 + 13 * i) for i in range(40)]


@pytest.mark.parametrize("day", DAYS)
def test_a_block_of_meters_is_each_meter(day: date) -> None:
    meters = SimulatedMeters(
        11, FaultPlan(missing_rate=0.1, outage_rate=0.5, exchange_rate=0.3, clock_error_rate=0.2)
    )
    annual = [2_000_000 + 50_000 * i for i in range(len(MPANS))]
    kwp = [4.0 if i % 3 == 0 else 0.0 for i in range(len(MPANS))]
    block = meters.block(MPANS, day, annual_wh=annual, export_kwp=kwp, asked_on=day + timedelta(days=2))
    assert block.clock_error.any() and (~block.recorded).any()  # the faults are exercised
    for i, mpan in enumerate(MPANS):
        one = meters.day(mpan, day, MeterProfile(annual[i] / 1000, kwp[i]), asked_on=day + timedelta(days=2))
        assert one.meter_id == block.meter_id(i)
        assert one.import_wh == tuple(
            int(v) if ok else None for v, ok in zip(block.import_wh[i], block.recorded[i], strict=True)
        )
        assert one.reachable == block.reachable[i] and one.clock_error == block.clock_error[i]
        assert one.register_end_wh - one.register_start_wh == sum(one.true_import_wh)


@given(seed=st.integers(0, 10_000), day=st.sampled_from(DAYS))
@settings(max_examples=25, deadline=None)
def test_a_settled_block_is_each_settled_day(seed: int, day: date) -> None:
    rng = np.random.default_rng(seed)
    hours = local_hours(day)
    n, rows = len(hours), 30
    end = day_start(day + timedelta(days=1)).astimezone(UTC)
    inputs: list[DayInputs] = []
    for _ in range(rows):
        values: list[int | None] | None = [
            None if rng.random() < 0.1 else int(rng.integers(-50, 60_000 if rng.random() < 0.02 else 400))
            for _ in range(n)
        ]
        if rng.random() < 0.1:
            values = None
        register = None
        if values is not None and rng.random() < 0.7:
            total = sum(v for v in values if v is not None) + int(rng.integers(-30, 300))
            late = rng.random() < 0.1
            register = RegisterRead(
                "S1",
                1_000,
                1_000 + total,
                end - timedelta(hours=1 if late else 0),
                end,
                start_meter_id="S2" if rng.random() < 0.1 else None,
            )
        supplier = [None if rng.random() < 0.3 else int(rng.integers(0, 300)) for _ in range(n)]
        history = [int(v) for v in rng.integers(0, 300, size=int(rng.choice([46, 48, 50])))]
        inputs.append(
            DayInputs(
                period_hours=hours,
                mdr_wh=values,
                register=register,
                supplier_wh=supplier if rng.random() < 0.3 else None,
                history_wh=history if rng.random() < 0.5 else None,
                annual_wh=int(rng.integers(1_000_000, 9_000_000)),
            )
        )
    singles = [settle_day(x) for x in inputs]

    def column(values: list[list[int | None]]) -> tuple[np.ndarray, np.ndarray]:
        return (
            np.array([[0 if v is None else v for v in row] for row in values], dtype=np.int64),
            np.array([[v is not None for v in row] for row in values]),
        )

    mdr, recorded = column([list(x.mdr_wh) if x.mdr_wh is not None else [None] * n for x in inputs])
    shared, shared_ok = column([list(x.supplier_wh) if x.supplier_wh else [None] * n for x in inputs])
    block = settle_block(
        BlockInputs(
            period_hours=hours,
            retrieved=np.array([x.mdr_wh is not None for x in inputs]),
            mdr_wh=mdr,
            recorded=recorded,
            has_register=np.array([x.register is not None for x in inputs]),
            register_start_wh=np.array([x.register.start_wh if x.register else 0 for x in inputs]),
            register_end_wh=np.array([x.register.end_wh if x.register else 0 for x in inputs]),
            clock_ok=np.array([x.register is None or x.register.end_at == end for x in inputs]),
            same_meter=np.array([x.register is None or x.register.start_meter_id is None for x in inputs]),
            supplier_wh=shared,
            supplier_recorded=shared_ok,
            history_wh=np.array(
                [history_periods(x.history_wh, n) if x.history_wh else [0] * n for x in inputs]
            ),
            has_history=np.array([bool(x.history_wh) for x in inputs]),
            annual_wh=np.array([x.annual_wh for x in inputs]),
        )
    )
    for r, single in enumerate(singles):
        assert [p.wh for p in single.periods] == block.values_wh[r].tolist()
        assert [p.quality for p in single.periods] == [QUALITIES[q] for q in block.quality[r]]
        assert [p.source for p in single.periods] == [SOURCES[s] for s in block.source[r]]
        assert single.actual == block.actual[r]
    # only examples that exercise the estimates count (about 1 seed in 2,500 draws none)
    assume({p.quality for s in singles for p in s.periods} >= {"A", "E1"})


def test_a_task_carries_only_its_block_of_the_snapshot() -> None:
    """What a task is handed (pickled to a worker) grows with its block, not with the day."""
    day = date(2025, 7, 10)
    table = pa.table(
        {name: pa.nulls(20_000, type=f.type) for name, f in zip(SCHEMA.names, SCHEMA, strict=True)}
    )
    table = table.set_column(0, "mpan", pa.array([str(2000000000000 + i) for i in range(20_000)]))
    whole = Snapshot(day, table)
    block = whole.block(2_000, 1_000)
    assert block.table.column("mpan").to_pylist() == table.column("mpan").to_pylist()[2_000:3_000]
    assert len(pickle.dumps(block)) * 10 < len(pickle.dumps(whole))
    assert whole.block(19_990, 1_000).table.num_rows == 10
