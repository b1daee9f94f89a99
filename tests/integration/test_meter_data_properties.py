"""Property: for random fault patterns (missing periods, communication outages, meter
exchanges, clock errors), every settlement day of every appointed MPAN is submitted exactly
once with actual or estimated values for all its periods, and actual data that arrives late
replaces the estimates (an amendment with more actual periods)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openmhhs.cli.model import read_description
from openmhhs.days import settlement_period_count
from openmhhs.market.driver import run_market
from openmhhs.market.loader import load_market, register_population
from openmhhs.market.population import population
from openmhhs.meterdata.meters import FaultPlan
from openmhhs.meterdata.run import RETRY_DAYS, DataRun
from openmhhs.store.database import Database
from openmhhs.store.market_repo import MarketStore
from openmhhs.store.meterdata_repo import MeterDataStore

FIRST = date(2025, 10, 20)  # the run crosses the autumn clock change (26 October: 50 periods)
DAYS = 9


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("meter") / "template.db"
    db = Database(f"sqlite:///{path}")
    description, text = read_description("1b-fully-separated-data-sharing")
    members = population(description, size=12, seed=5)
    with db.begin() as connection:
        load_market(connection, description, source=text, at=datetime(2025, 7, 1, 9, tzinfo=UTC))
        register_population(connection, members)
    run_market(db, description, members, seed=5)
    db.dispose()
    yield path


faults = st.builds(
    FaultPlan,
    missing_rate=st.sampled_from([0.0, 0.01, 0.2]),
    outage_rate=st.sampled_from([0.0, 0.5, 1.0]),
    exchange_rate=st.sampled_from([0.0, 0.5]),
    clock_error_rate=st.sampled_from([0.0, 0.05, 0.3]),
)


@given(plan=faults, seed=st.integers(0, 10_000))
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_every_day_submitted_once_and_late_actuals_replace_estimates(
    template: Path, tmp_path: Path, plan: FaultPlan, seed: int
) -> None:
    path = tmp_path / f"run-{seed}-{hash(plan) & 0xFFFF}.db"
    shutil.copy(template, path)
    db = Database(f"sqlite:///{path}")
    runner = DataRun(db, seed=seed, faults=plan)
    last = FIRST + timedelta(days=DAYS - 1)
    runner.run(FIRST, last)
    with db.read() as connection:
        submissions = MeterDataStore(connection).submissions()
        served = {
            (mpan, FIRST + timedelta(days=i)): sds
            for i in range(DAYS)
            for sds, mpan, _, _, _ in MarketStore(connection).portfolios_on(FIRST + timedelta(days=i))
        }
    versions: dict[tuple[str, date], list[int]] = {}
    actual: dict[tuple[str, date], list[int]] = {}
    for x in sorted(submissions, key=lambda x: (x.mpan, x.day, x.version)):
        assert x.periods == settlement_period_count(x.day) == x.actual + x.estimated == len(x.values_wh)
        versions.setdefault((x.mpan, x.day), []).append(x.version)
        actual.setdefault((x.mpan, x.day), []).append(x.actual)
    assert set(versions) == set(served)  # every appointed MPAN-day, and nothing else
    for key, numbers in versions.items():
        assert numbers == list(range(1, len(numbers) + 1)), key  # submitted once, then amended
        assert actual[key] == sorted(set(actual[key])), key  # amendments bring actual data
    # a day the MDR could not reach the next morning, but could within the retry window
    # before the run ended, ends with the actual data (amended, unless the supplier's shared
    # data already gave it)
    meters = runner.meters
    for (mpan, day), _ in served.items():
        profile = runner.facts[mpan].profile
        if meters.day(mpan, day, profile, asked_on=day + timedelta(days=1)).reachable:
            continue
        later = [
            day + timedelta(days=k)
            for k in range(2, RETRY_DAYS + 1)
            if day + timedelta(days=k - 1) <= last
            and meters.day(mpan, day, profile, asked_on=day + timedelta(days=k)).reachable
        ]
        held = meters.day(mpan, day, profile, asked_on=last)
        recorded = sum(v is not None for v in held.import_wh)
        if later and not held.clock_error:
            # the last submission of the day has at least every period the meter recorded as actual
            assert actual[(mpan, day)][-1] >= recorded, (mpan, day, later, actual[(mpan, day)])
