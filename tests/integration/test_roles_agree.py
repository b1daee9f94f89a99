"""Every role agrees with the Registration Service, every day, through every change (issue 11).

A hypothesis state machine drives the in-process market through random sequences of Data
Service appointments (prospective ones too, later replaced from an earlier day), Supplier-led
and SDS-led MDR changes (pending ones retired by later appointments), changes of supplier (with
or without the incoming supplier's appointment) and a change of an MDR's 4-character id in the
ISD. After every step, for every MPAN and every day of the window, each role's own record —
learnt only from the DIP messages it received — agrees with the RS's timeline:

* the DCC: the MDR its records authorise (and that MDR's id that day), the supplier it holds,
  the gate's decision for every MDR and supplier, and the access list;
* each MDR: the days it is instructed to retrieve;
* each SDS: its portfolio (MDR and supplier per day), which is where the data run takes the
  IF-021 recipients from.

CI runs 30 examples of up to 12 steps (``HYPOTHESIS_PROFILE=ci``); locally 5.
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
from datetime import date, timedelta
from importlib.resources import files
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from openmhhs.dataservice.contracts import Contract
from openmhhs.dataservice.service import SmartDataService
from openmhhs.dcc.access import Authorised, MdrIds, authorised_mdr
from openmhhs.dcc.access_list import write_access_list
from openmhhs.dip.build import MessageFactory, Sender, Site
from openmhhs.dip.vocabulary import Scenario
from openmhhs.identity.m16_format import read_json
from openmhhs.identity.participants_format import read_participants
from openmhhs.identity.registry import DccUserRole
from openmhhs.ids import DipId, DipRole, GspGroup, MpanCore, Mpid
from openmhhs.market.bus import Market
from openmhhs.meterdata.gate import AccessGate, ReadRequest, dcc_user_roles
from openmhhs.periods import Period
from openmhhs.registration.model import MpanRecord, Service, SupplierPeriod
from openmhhs.registration.timeline import as_of
from openmhhs.store.database import Database
from openmhhs.store.dcc_repo import DccRepository
from openmhhs.store.identity_repo import ImportMode, import_isd, load_isd, load_registry, save_organisations
from openmhhs.store.market_repo import MarketStore
from openmhhs.store.tables import delivery, mdr_instruction

SUPPLIERS = {"1111111111": "SUPA", "4444444444": "DAWN"}
SDS = {"1111111111": "SUPA", "2222222222": "SDSB"}
MDRS = ("1111111111", "2222222222", "3333333333")
CIRRUS = "3333333333"
RS, LDSO = DipId("9000000001"), DipId("9000000020")
START = date(2025, 7, 1)
WINDOW = 14
CORES = [MpanCore.from_stem(f"2100000{n:05d}") for n in range(1, 3)]
CI = os.environ.get("HYPOTHESIS_PROFILE") == "ci"

PARTICIPANTS = """
organisations:
  - {company_number: "01111111", name: Aurora, sec: acceded,
     dcc_user_roles: [import_supplier, export_supplier, meter_data_retriever]}
  - {company_number: "02222222", name: Beacon, sec: acceded, dcc_user_roles: [meter_data_retriever]}
  - {company_number: "03333333", name: Cirrus, sec: acceded, dcc_user_roles: [meter_data_retriever]}
  - {company_number: "04444444", name: Dawn, sec: acceded, dcc_user_roles: [import_supplier]}
"""


def _isd(cirrus_from: date | None) -> bytes:
    """The market's ISD; Cirrus is MDRC, and MDRX from ``cirrus_from`` when given."""
    rows: list[dict[str, Any]] = json.loads(files("openmhhs.data").joinpath("market_isd.json").read_text())
    if cirrus_from is not None:
        switch = f"{cirrus_from.isoformat()}T00:00:00+01:00"
        for company in rows:
            if company["companyRegNumber"] == "03333333":
                for row in company["companyDetails"]:
                    if row["MPID"] == "MDRC":
                        row["datetimeTo"] = switch
                company["companyDetails"].append(
                    {
                        "MPID": "MDRX",
                        "marketRole": None,
                        "DIPID": CIRRUS,
                        "DIPRole": "MDR",
                        "datetimeFrom": switch,
                        "datetimeTo": None,
                    }
                )
    return json.dumps(rows).encode()


class RolesMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.folder = tempfile.mkdtemp(prefix="openmhhs-agree-")
        self.db = Database(f"sqlite:///{Path(self.folder) / 'agree.db'}")
        self.today = START
        self.cirrus_from: date | None = None
        self.factories = {
            dip_id: MessageFactory(Sender(DipId(dip_id), DipRole.SUP), unique_prefix=f"g{n}")
            for n, dip_id in enumerate(SUPPLIERS)
        }
        with self.db.begin() as connection:
            import_isd(connection, read_json(_isd(None)), mode=ImportMode.REPLACE)
            save_organisations(connection, read_participants(PARTICIPANTS))
            store = MarketStore(connection)
            store.add_mpans(
                [
                    MpanRecord(
                        mpan=core,
                        distributor=LDSO,
                        gsp_group=GspGroup("_H"),
                        suppliers=(SupplierPeriod(DipId("1111111111"), Period(START - timedelta(days=90))),),
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
        market = self.market()
        market.registrations_changed([(str(core), None) for core in CORES])  # as `mpan add` does
        market.deliver()

    def teardown(self) -> None:
        self.db.dispose()

    # -- helpers ------------------------------------------------------------------------------
    def market(self) -> Market:
        return Market(self.db, today=self.today)

    def record(self, core: str) -> MpanRecord:
        with self.db.read() as connection:
            found = MarketStore(connection).get_mpan(core)
        assert found is not None
        return found

    def mdr_mpid(self, mdr: str, day: date) -> str:
        if mdr == CIRRUS:
            return "MDRX" if self.cirrus_from is not None and day >= self.cirrus_from else "MDRC"
        return SDS.get(mdr, "SDSB")

    def send(self, *messages: Any) -> None:
        market = self.market()
        market.send(list(messages))
        market.run()

    # -- rules ----------------------------------------------------------------------------------
    @rule(
        index=st.integers(0, len(CORES) - 1),
        sds=st.sampled_from(sorted(SDS)),
        mdr=st.sampled_from([None, *MDRS]),
        ahead=st.integers(0, 6),
        usp=st.booleans(),
    )
    def appoint(self, index: int, sds: str, mdr: str | None, ahead: int, usp: bool) -> None:
        core = CORES[index]
        day = self.today + timedelta(days=ahead)
        supplier = self.record(core).supplier_on(self.today)
        assert supplier is not None
        self.send(
            request_data_service_for(
                self.factories[str(supplier)],
                core=core,
                sds=sds,
                supplier=str(supplier),
                day=day,
                scenario=Scenario.USP if usp and mdr else Scenario.CSP,
                mdr=mdr,
                mdr_mpid=None if mdr is None else self.mdr_mpid(mdr, day),
                now=self.market().now,
            )
        )

    @rule(index=st.integers(0, len(CORES) - 1), mdr=st.sampled_from(MDRS), ahead=st.integers(0, 5))
    def sds_changes_mdr(self, index: int, mdr: str, ahead: int) -> None:
        core = CORES[index]
        market = self.market()
        with self.db.read() as connection:
            current = as_of(MarketStore(connection).timeline(core), Service.DS, self.today)
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
        except Exception:  # the SDS's own contract rules may refuse: nothing is sent
            return
        market.send([message])
        market.run()

    @rule(
        index=st.integers(0, len(CORES) - 1),
        ahead=st.integers(1, 8),
        sds=st.sampled_from([None, *sorted(SDS)]),
    )
    def change_of_supplier(self, index: int, ahead: int, sds: str | None) -> None:
        core = CORES[index]
        ssd = self.today + timedelta(days=ahead)
        current = self.record(core).supplier_on(ssd)
        incoming = next(s for s in SUPPLIERS if s != current)
        try:
            with self.db.begin() as connection:
                MarketStore(connection).change_supplier(core, DipId(incoming), ssd)
        except ValueError:
            return  # a later change of supplier is already recorded
        market = self.market()
        market.registrations_changed([(str(core), ssd)])  # as `mpan supplier` does
        market.deliver()
        if sds is not None:  # the incoming supplier may appoint its SDS, or not (yet)
            self.send(
                request_data_service_for(
                    self.factories[incoming],
                    core=core,
                    sds=sds,
                    supplier=incoming,
                    day=ssd,
                    scenario=Scenario.COS,
                    mdr=None,
                    mdr_mpid=None,
                    now=self.market().now,
                )
            )

    @rule(ahead=st.integers(1, 8))
    def cirrus_changes_its_id(self, ahead: int) -> None:
        if self.cirrus_from is not None:
            return
        self.cirrus_from = self.today + timedelta(days=ahead)
        with self.db.begin() as connection:
            import_isd(connection, read_json(_isd(self.cirrus_from)), mode=ImportMode.REPLACE)

    @rule(days=st.integers(1, 3))
    def days_pass(self, days: int) -> None:
        self.today += timedelta(days=days)
        self.market().run()

    # -- every role agrees with the RS ------------------------------------------------------------
    @invariant()
    def every_role_agrees_with_the_timeline(self) -> None:
        days = [START + timedelta(days=n) for n in range((self.today - START).days + WINDOW)]
        with self.db.read() as connection:
            store = MarketStore(connection)
            records = {str(c): store.get_mpan(c) for c in CORES}
            timelines = {str(c): store.timeline(c) for c in CORES}
            isd = load_isd(connection)
            roles = dcc_user_roles(load_registry(connection))
            dcc = DccRepository(connection).all_records()
            instructed = connection.execute(sa.select(mdr_instruction)).all()
            portfolios = {
                (sds, str(c)): store.portfolio_rows(sds=sds, core=str(c)) for sds in SDS for c in CORES
            }
            failed = connection.execute(
                sa.select(delivery.c.outcome_detail).where(delivery.c.state == "failed")
            ).all()
        assert failed == []
        ids = MdrIds(isd)
        gate = AccessGate(dcc, isd=isd, dcc_roles=roles)
        for day in days:
            listed = _access_list(self.db, day, Path(self.folder))
            for core in map(str, CORES):
                record = records[core]
                assert record is not None
                ds = as_of(timelines[core], Service.DS, day)
                supplier = record.supplier_on(day)
                mdr = None if ds is None else str(ds.mdr)
                where = f"{core} on {day}"
                # the DCC
                found = authorised_mdr(records=dcc[core], day=day, mdr_id=ids)
                if mdr is None:
                    assert not isinstance(found, Authorised), where
                    assert core not in listed, where
                else:
                    assert isinstance(found, Authorised) and found.mdr == mdr, (where, found, ds)
                    assert found.mpid == self.mdr_mpid(mdr, day), where
                    assert listed[core] == (mdr, found.mpid), where
                held = dcc[core].supply_on(day)
                assert (None if held is None else held.supplier) == str(supplier), where
                for candidate in MDRS:
                    read = ReadRequest(
                        candidate, self.mdr_mpid(candidate, day), DccUserRole.METER_DATA_RETRIEVER, core, day
                    )
                    assert gate.check(read).allowed is (candidate == mdr), (where, candidate)
                for who, who_mpid in SUPPLIERS.items():
                    read = ReadRequest(who, who_mpid, DccUserRole.IMPORT_SUPPLIER, core, day)
                    assert gate.check(read).allowed is (who == str(supplier)), (where, who)
                # the MDRs
                told = {
                    r.mdr
                    for r in instructed
                    if r.mpan == core and r.valid_from <= day and (r.valid_to is None or day < r.valid_to)
                }
                assert told == ({mdr} if mdr else set()), (where, told, ds)
                # the SDSs (their portfolio's supplier is the IF-021 recipient)
                for sds in SDS:
                    serving = [r for r in portfolios[(sds, core)] if r.period.contains(day)]
                    if ds is not None and str(ds.provider) == sds:
                        assert [(r.mdr, r.supplier) for r in serving] == [(mdr, str(supplier))], (where, sds)
                    else:
                        assert serving == [], (where, sds, serving)


def _access_list(db: Database, day: date, folder: Path) -> dict[str, tuple[str, str]]:
    path = folder / "access.csv"
    write_access_list(db, day, path)
    with path.open() as f:
        rows = list(csv.DictReader(f))
    assert len({r["mpan"] for r in rows}) == len(rows)
    return {r["mpan"]: (r["mdr_dip_id"], r["mdr_id"]) for r in rows}


def request_data_service_for(
    factory: MessageFactory,
    *,
    core: str,
    sds: str,
    supplier: str,
    day: date,
    scenario: Scenario,
    mdr: str | None,
    mdr_mpid: str | None,
    now: Any,
) -> Any:
    from openmhhs.supplier.requests import request_data_service

    return request_data_service(
        factory,
        site=Site(MpanCore(core), LDSO, GspGroup("_H")),
        rs=RS,
        sds=DipId(sds),
        sds_mpid=Mpid(SDS[sds]),
        effective_from=day,
        scenario=scenario,
        contract_reference=f"C-{sds[:2]}-{supplier[:2]}",
        now=now,
        mdr=DipId.parse_optional(mdr),
        mdr_mpid=Mpid.parse_optional(mdr_mpid),
    )


def test_every_role_agrees_with_the_registration_service() -> None:
    run_state_machine_as_test(
        RolesMachine,
        settings=settings(
            max_examples=30 if CI else 5,
            stateful_step_count=12,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )


def _agreeing(machine: RolesMachine) -> RolesMachine:
    machine.every_role_agrees_with_the_timeline()
    return machine


def test_a_change_that_splits_a_row_before_a_later_one_is_republished() -> None:
    """Beacon serves, Aurora is appointed from day 5, then Beacon changes its MDR from day 2:
    the DCC, the MDRs and the SDSs still hold Aurora's row from day 5."""
    m = _agreeing(RolesMachine())
    m.appoint(index=0, sds="2222222222", mdr=None, ahead=0, usp=False)
    m.appoint(index=0, sds="1111111111", mdr=None, ahead=5, usp=False)
    _agreeing(m).sds_changes_mdr(index=0, mdr=CIRRUS, ahead=2)
    _agreeing(m).teardown()


def test_a_csp_from_an_earlier_day_retires_a_pending_mdr_change() -> None:
    """Case 1 in the property's terms: a pending SDS-led change, then another SDS from earlier."""
    m = _agreeing(RolesMachine())
    m.appoint(index=0, sds="1111111111", mdr=None, ahead=0, usp=False)
    m.sds_changes_mdr(index=0, mdr="2222222222", ahead=4)
    _agreeing(m).appoint(index=0, sds="2222222222", mdr=CIRRUS, ahead=2, usp=False)
    _agreeing(m).days_pass(days=3)
    _agreeing(m).teardown()
