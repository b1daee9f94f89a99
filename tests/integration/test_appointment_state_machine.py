"""A hypothesis state machine drives the in-process market through random sequences of
Data and Metering Service appointments, Supplier-led and SDS-led MDR changes, changes of
supplier (with the incoming supplier's appointments and the outgoing providers'
de-appointments) and days passing. After every step:

* the database holds at most one current row per MPAN, service and day (one SDS==MDR);
* the gap report computed in SQL equals the one computed from the timelines;
* an MPAN fully served on a day stays fully served on it (appointments are replaced, never
  dropped);
* no delivery failed.

CI runs 2,000 steps on SQLite and 2,000 on PostgreSQL (``HYPOTHESIS_PROFILE=ci``).
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Callable
from datetime import date, timedelta
from importlib.resources import files
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from openmhhs.dataservice.contracts import Contract
from openmhhs.dataservice.service import SmartDataService
from openmhhs.dip.build import MessageFactory, Sender, Site
from openmhhs.dip.vocabulary import Scenario
from openmhhs.identity.m16_format import read_json
from openmhhs.ids import DipId, DipRole, GspGroup, MpanCore, Mpid
from openmhhs.market.bus import Market
from openmhhs.periods import Period
from openmhhs.registration.model import MpanRecord, Service, SupplierPeriod
from openmhhs.registration.timeline import gaps
from openmhhs.store.database import Database, normalise_url
from openmhhs.store.identity_repo import ImportMode, import_isd
from openmhhs.store.market_repo import MarketStore
from openmhhs.store.tables import appointment, delivery
from openmhhs.supplier.requests import request_data_service, request_metering_service
from tests.conftest import PG_URL

SUPPLIERS = {"1111111111": "SUPA", "4444444444": "DAWN"}
SDS = {"1111111111": "SUPA", "2222222222": "SDSB"}
MDRS = {"1111111111": "SUPA", "2222222222": "SDSB", "3333333333": "MDRC"}
RS, METERWISE, LDSO = DipId("9000000001"), DipId("5555555555"), DipId("9000000020")
START = date(2025, 7, 1)
CORES = [MpanCore.from_stem(f"2000000{n:05d}") for n in range(1, 5)]

STEPS = 100 if os.environ.get("HYPOTHESIS_PROFILE") == "ci" else 25
STEPS_RUN = [0]
"""Steps executed (invariants run after each step, and once before the first)."""
EXAMPLES = 20 if os.environ.get("HYPOTHESIS_PROFILE") == "ci" else 4
MIN_STEPS = 2000 if os.environ.get("HYPOTHESIS_PROFILE") == "ci" else 100


def _sqlite() -> tuple[str, Callable[[], None]]:
    folder = tempfile.mkdtemp(prefix="openmhhs-sm-")
    return f"sqlite:///{Path(folder) / 'sm.db'}", lambda: None


def _postgres() -> tuple[str, Callable[[], None]]:
    admin = PG_URL.replace("postgresql+psycopg://", "postgresql://")
    name = f"openmhhs_sm_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return normalise_url(f"{admin.rpartition('/')[0]}/{name}"), drop


def machine(make_database: Callable[[], tuple[str, Callable[[], None]]]) -> type[RuleBasedStateMachine]:
    class AppointmentMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            STEPS_RUN[0] -= 1  # invariants also run once before the first step
            url, self.drop = make_database()
            self.db = Database(url)
            self.today = START
            self.factories = {
                dip_id: MessageFactory(Sender(DipId(dip_id), DipRole.SUP), unique_prefix=f"s{n}")
                for n, dip_id in enumerate(SUPPLIERS)
            }
            self.served: dict[tuple[str, date], bool] = {}
            with self.db.begin() as connection:
                isd = files("openmhhs.data").joinpath("market_isd.json").read_bytes()
                import_isd(connection, read_json(isd), mode=ImportMode.REPLACE)
                store = MarketStore(connection)
                store.add_mpans(
                    [
                        MpanRecord(
                            mpan=core,
                            distributor=LDSO,
                            gsp_group=GspGroup("_H"),
                            suppliers=(
                                SupplierPeriod(DipId("1111111111"), Period(START - timedelta(days=90))),
                            ),
                        )
                        for core in CORES
                    ]
                )
                for sds in SDS:
                    for supplier in SUPPLIERS:
                        store.add_contract(
                            Contract(
                                sds=DipId(sds),
                                supplier=DipId(supplier),
                                reference=f"C-{sds[:2]}-{supplier[:2]}",
                                supported_mdrs=frozenset(DipId(m) for m in MDRS),
                                default_mdr=DipId(sds),
                            )
                        )

        def teardown(self) -> None:
            self.db.dispose()
            self.drop()

        # -- helpers ----------------------------------------------------------------------
        def market(self) -> Market:
            return Market(self.db, today=self.today)

        def supplier_of(self, core: str, day: date) -> str | None:
            with self.db.begin() as connection:
                record = MarketStore(connection).get_mpan(core)
            assert record is not None
            found = record.supplier_on(day)
            return None if found is None else str(found)

        def send(self, *messages: object) -> None:
            market = self.market()
            market.send(list(messages))  # type: ignore[arg-type]
            market.run()

        # -- rules --------------------------------------------------------------------------
        @rule(
            index=st.integers(0, len(CORES) - 1),
            sds=st.sampled_from(sorted(SDS)),
            mdr=st.sampled_from([None, *sorted(MDRS)]),
            ahead=st.integers(0, 6),
            scenario=st.sampled_from([Scenario.CSP, Scenario.USP]),
        )
        def appoint_data_service(
            self, index: int, sds: str, mdr: str | None, ahead: int, scenario: Scenario
        ) -> None:
            core = CORES[index]
            day = self.today + timedelta(days=ahead)
            supplier = self.supplier_of(core, self.today)
            if supplier is None:
                return
            self.send(
                request_data_service(
                    self.factories[supplier],
                    site=Site(core, LDSO, GspGroup("_H")),
                    rs=RS,
                    sds=DipId(sds),
                    sds_mpid=Mpid(SDS[sds]),
                    effective_from=day,
                    scenario=scenario,
                    contract_reference=f"C-{sds[:2]}-{supplier[:2]}",
                    now=self.market().now,
                    mdr=DipId.parse_optional(mdr),
                    mdr_mpid=Mpid(MDRS[mdr]) if mdr else None,
                )
            )

        @rule(index=st.integers(0, len(CORES) - 1), ahead=st.integers(0, 6))
        def appoint_metering_service(self, index: int, ahead: int) -> None:
            core = CORES[index]
            supplier = self.supplier_of(core, self.today)
            if supplier is None:
                return
            self.send(
                request_metering_service(
                    self.factories[supplier],
                    site=Site(core, LDSO, GspGroup("_H")),
                    rs=RS,
                    ms=METERWISE,
                    ms_mpid=Mpid("MTRW"),
                    effective_from=self.today + timedelta(days=ahead),
                    scenario=Scenario.CSP,
                    contract_reference=None,
                    now=self.market().now,
                )
            )

        @rule(
            index=st.integers(0, len(CORES) - 1), mdr=st.sampled_from(sorted(MDRS)), ahead=st.integers(0, 6)
        )
        def sds_changes_mdr(self, index: int, mdr: str, ahead: int) -> None:
            core = CORES[index]
            market = self.market()
            with self.db.begin() as connection:
                rows = MarketStore(connection).timeline(core)
            current = next(
                (r for r in rows if r.service is Service.DS and r.period.contains(self.today)), None
            )
            if current is None:
                return
            sds = market.participant(str(current.provider), SmartDataService)
            assert isinstance(sds, SmartDataService)
            try:
                with market.unit_of_work() as uow:
                    message = sds.request_mdr_change(
                        site=Site(core, LDSO, GspGroup("_H")),
                        new_mdr=DipId(mdr),
                        effective_from=self.today + timedelta(days=ahead),
                        rs=RS,
                        ctx=market.context(),
                        uow=uow,
                    )
            except Exception:  # the SDS's own notice rules may refuse: nothing is sent
                return
            market.send([message])
            market.run()

        @rule(
            index=st.integers(0, len(CORES) - 1), ahead=st.integers(1, 10), sds=st.sampled_from(sorted(SDS))
        )
        def change_of_supplier(self, index: int, ahead: int, sds: str) -> None:
            core = CORES[index]
            ssd = self.today + timedelta(days=ahead)
            current = self.supplier_of(core, ssd)
            incoming = next(s for s in SUPPLIERS if s != current)
            try:
                with self.db.begin() as connection:
                    MarketStore(connection).change_supplier(core, DipId(incoming), ssd)
            except ValueError:
                return  # a later change of supplier is already recorded
            now = self.market().now
            self.send(
                request_data_service(
                    self.factories[incoming],
                    site=Site(core, LDSO, GspGroup("_H")),
                    rs=RS,
                    sds=DipId(sds),
                    sds_mpid=Mpid(SDS[sds]),
                    effective_from=ssd,
                    scenario=Scenario.COS,
                    contract_reference=f"C-{sds[:2]}-{incoming[:2]}",
                    now=now,
                ),
                request_metering_service(
                    self.factories[incoming],
                    site=Site(core, LDSO, GspGroup("_H")),
                    rs=RS,
                    ms=METERWISE,
                    ms_mpid=Mpid("MTRW"),
                    effective_from=ssd,
                    scenario=Scenario.COS,
                    contract_reference=None,
                    now=now,
                ),
            )

        @rule(days=st.integers(1, 3))
        def days_pass(self, days: int) -> None:
            self.today += timedelta(days=days)
            self.market().run()

        # -- invariants -------------------------------------------------------------------
        @invariant()
        def one_arrangement_per_mpan_and_day(self) -> None:
            a, b = appointment.alias("a"), appointment.alias("b")
            overlap = (
                sa.select(sa.func.count())
                .select_from(
                    a.join(b, sa.and_(a.c.mpan == b.c.mpan, a.c.service == b.c.service, a.c.id < b.c.id))
                )
                .where(a.c.retired_at.is_(None), b.c.retired_at.is_(None))
                .where(sa.or_(a.c.valid_to.is_(None), a.c.valid_to > b.c.valid_from))
                .where(sa.or_(b.c.valid_to.is_(None), b.c.valid_to > a.c.valid_from))
                .where(sa.or_(a.c.valid_to.is_(None), a.c.valid_to > a.c.valid_from))
                .where(sa.or_(b.c.valid_to.is_(None), b.c.valid_to > b.c.valid_from))
            )
            with self.db.begin() as connection:
                assert connection.execute(overlap).scalar_one() == 0

        @invariant()
        def gap_report_agrees_and_service_is_never_dropped(self) -> None:
            with self.db.begin() as connection:
                store = MarketStore(connection)
                records = list(store.iter_mpans())
                rows = {str(r.mpan): store.timeline(r.mpan) for r in records}
                for offset in (0, 3, 10):
                    day = self.today + timedelta(days=offset)
                    in_sql = {(g.mpan, g.missing) for g in store.gaps_on(day)}
                    in_domain = {(g.mpan, g.missing) for g in gaps(records, rows, day)}
                    assert in_sql == in_domain, (day, in_sql ^ in_domain)
                    missing = {mpan for mpan, _ in in_sql}
                    for record in records:
                        key = (str(record.mpan), day)
                        served = str(record.mpan) not in missing
                        if self.served.get(key):
                            assert served, f"{record.mpan} lost its service on {day}"
                        self.served[key] = served

        @invariant()
        def count_step(self) -> None:
            STEPS_RUN[0] += 1

        @invariant()
        def nothing_failed(self) -> None:
            with self.db.begin() as connection:
                failed = connection.execute(
                    sa.select(delivery.c.outcome_detail).where(delivery.c.state == "failed")
                ).all()
            assert failed == []

    return AppointmentMachine


SETTINGS = settings(
    max_examples=EXAMPLES,
    stateful_step_count=STEPS,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def _run(make_database: Callable[[], tuple[str, Callable[[], None]]]) -> None:
    STEPS_RUN[0] = 0
    run_state_machine_as_test(machine(make_database), settings=SETTINGS)
    # hypothesis may end a run early; keep drawing runs until the promised number of steps ran
    while STEPS_RUN[0] < MIN_STEPS:
        run_state_machine_as_test(machine(make_database), settings=SETTINGS)
    print(f"state machine: {STEPS_RUN[0]} steps")


def test_state_machine_on_sqlite() -> None:
    _run(_sqlite)


@pytest.mark.postgres
def test_state_machine_on_postgresql() -> None:
    if not PG_URL:
        pytest.fail("OPENMHHS_REQUIRE_PG=1 but OPENMHHS_TEST_PG_URL is not set")
    _run(_postgres)
