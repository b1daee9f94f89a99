"""Running a described market: the flows of the main job, through the in-process market.

On the start day every MPAN gets its Data Service (the SDS and MDR its Supplier's brand or
customer type routes to) and its Metering Service; the SDS's four decision cases are played
on their own MPANs (accept a nominated MDR, apply the default to a blank nomination, reject a
blank nomination the contract forbids and reject an unsupported MDR, each refusal followed
by the Supplier's corrected request); MDRs then change both ways (Supplier-led USP and
SDS-led [SDS-MDRUpdate]); some MPANs change supplier (CSS, then the incoming Supplier's COS
appointments, the outgoing providers' de-appointments); and the days pass until every
change has taken effect.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

import msgspec
import sqlalchemy as sa

from openmhhs.dataservice.contracts import BlankMdrPolicy, Contract
from openmhhs.dataservice.decisions import MdrChangeRefused
from openmhhs.dataservice.service import SmartDataService
from openmhhs.dip import schema as s
from openmhhs.dip.build import MessageFactory, Sender, Site
from openmhhs.dip.schema import DipMessageStruct
from openmhhs.dip.vocabulary import Scenario
from openmhhs.ids import DipId, DipRole, Mpid
from openmhhs.market.bus import Market
from openmhhs.market.description import MarketDescription, Route, SupplierPlan
from openmhhs.market.lane import BatchLane
from openmhhs.market.population import Member
from openmhhs.store.database import Database
from openmhhs.store.market_repo import MarketStore
from openmhhs.store.tables import appointment_request, message, mpan_profile
from openmhhs.supplier.requests import request_data_service, request_metering_service

__all__ = ["CaseResult", "RunResult", "run_market"]

Progress = Callable[[str, int, int], None]
"""progress(phase, done, total)"""


@dataclass
class CaseResult:
    name: str
    mpan: str | None
    expected: str
    codes: list[str] = field(default_factory=list)
    note: str = ""

    @property
    def passed(self) -> bool:
        return bool(self.codes) and self.codes[0] == self.expected


@dataclass
class RunResult:
    start: date
    end: date
    mpans: int
    appointments_requested: int = 0
    seconds: float = 0.0
    deliveries: int = 0
    messages: int = 0
    failed: int = 0
    cases: list[CaseResult] = field(default_factory=list)
    supplier_led_mdr_changes: list[str] = field(default_factory=list)
    sds_led_mdr_changes: list[str] = field(default_factory=list)
    changes_of_supplier: list[str] = field(default_factory=list)
    example_correlation: str | None = None
    sample: list[str] = field(default_factory=list)

    @property
    def appointments_per_second(self) -> float:
        return self.appointments_requested / self.seconds if self.seconds else 0.0


class _Suppliers:
    def __init__(self, market: MarketDescription, prefix: str) -> None:
        self.factories = {
            str(p.supplier): MessageFactory(Sender(p.supplier, DipRole.SUP), unique_prefix=f"{prefix}{n}")
            for n, p in enumerate(market.suppliers)
        }

    def __getitem__(self, supplier: str) -> MessageFactory:
        return self.factories[supplier]


def _contract_for(market: MarketDescription, plan: SupplierPlan, route: Route) -> Contract:
    mine = [c for c in market.contracts if c.sds == route.sds and c.supplier == plan.supplier]
    if route.contract is not None:
        return next(c for c in mine if c.reference == route.contract)
    return mine[0]


def _mpid(market: MarketDescription, dip_id: DipId) -> Mpid:
    party = market.party(dip_id)
    assert party is not None
    return party.mpid


def _site(member: Member) -> Site:
    return Site(member.record.mpan, member.record.distributor, member.record.gsp_group)


class _Run:
    def __init__(
        self,
        db: Database,
        market: MarketDescription,
        members: Sequence[Member],
        progress: Progress,
        seed: int,
        lane: str = "batch",
    ) -> None:
        self.db = db
        self.lane = lane
        self.market = market
        self.members = list(members)
        self.progress = progress
        self.rng = random.Random(seed)
        self.suppliers = _Suppliers(market, f"p{seed % 1000}")
        self.result = RunResult(start=market.start, end=market.start, mpans=len(members))
        self.rs = DipId(market.by_role("REGS")[0].dip_id)
        self.ms = market.metering_service
        self._busy: set[str] = set()
        """MPANs already used by a case or a change: each MPAN tells one story."""

    def new_market(self, day: date) -> Market:
        return Market(self.db, today=day, batch_size=500)

    def ds_request(
        self,
        member: Member,
        *,
        plan: SupplierPlan,
        route: Route,
        day: date,
        scenario: Scenario,
        effective: date,
        mdr: DipId | bool | None = True,
        mdr_from: date | None = None,
        now: object = None,
    ) -> s.IF031DSApp:
        contract = _contract_for(self.market, plan, route)
        nominated = route.mdr if mdr is True else (None if mdr is False else mdr)
        return request_data_service(
            self.suppliers[str(plan.supplier)],
            site=_site(member),
            rs=self.rs,
            sds=route.sds,
            sds_mpid=_mpid(self.market, route.sds),
            effective_from=effective,
            scenario=scenario,
            contract_reference=contract.reference,
            now=now,
            mdr=nominated if isinstance(nominated, str) else None,
            mdr_mpid=_mpid(self.market, nominated) if isinstance(nominated, str) else None,
            mdr_from=mdr_from,
            domestic=member.record.domestic,
        )

    def ms_request(
        self, member: Member, *, plan: SupplierPlan, effective: date, scenario: Scenario, now: object
    ) -> s.IF031MSApp | None:
        if self.ms is None:
            return None
        return request_metering_service(
            self.suppliers[str(plan.supplier)],
            site=_site(member),
            rs=self.rs,
            ms=self.ms,
            ms_mpid=_mpid(self.market, self.ms),
            effective_from=effective,
            scenario=scenario,
            contract_reference=None,
            now=now,
        )

    def send(
        self,
        market: Market,
        messages: Iterable[DipMessageStruct | None],
        registrations: Sequence[tuple[str, date | None]] = (),
    ) -> list[str]:
        """Send ``messages`` (after the RS publishes ``registrations``, IF-001) and run the
        market until all is delivered: through the batch lane, or message by message."""
        batch = [m for m in messages if m is not None]
        if not batch and not registrations:
            return []
        if self.lane == "batch":
            lane = BatchLane(market)
            results = lane.send(batch, registrations=registrations)
            self.result.deliveries += lane.stats.delivered
            self.result.messages += len(batch) + lane.stats.produced
            self.result.failed += lane.stats.failed
            return [r.correlation_id or "" for r in results]
        if registrations:
            market.registrations_changed(list(registrations))
        results = market.send(batch) if batch else []
        stats = market.run()
        self.result.deliveries += stats.delivered
        self.result.messages += len(batch) + stats.produced
        self.result.failed += stats.failed
        return [r.correlation_id or "" for r in results]

    # -- the start day --------------------------------------------------------------------------
    def start_day(self, reserved: set[str]) -> None:
        day = self.market.start
        market = self.new_market(day)
        todo = [m for m in self.members if str(m.record.mpan) not in reserved]
        total = len(todo)
        step = 500
        for offset in range(0, total, step):
            chunk = todo[offset : offset + step]
            messages: list[DipMessageStruct | None] = []
            for member in chunk:
                messages.append(
                    self.ds_request(
                        member,
                        plan=member.plan,
                        route=member.route,
                        day=day,
                        scenario=Scenario.CSP,
                        effective=day,
                        now=market.now,
                    )
                )
                messages.append(
                    self.ms_request(
                        member, plan=member.plan, effective=day, scenario=Scenario.CSP, now=market.now
                    )
                )
            self.result.appointments_requested += sum(1 for m in messages if m is not None)
            self.send(market, messages)
            self.progress("appointments", offset + len(chunk), total)

    # -- the SDS's four decision cases ----------------------------------------------------------
    def decision_cases(self) -> set[str]:
        """Plays the four cases on their own MPANs; returns those MPANs."""
        used: set[str] = set()
        by_policy: dict[str, list[Member]] = {}
        for each in self.members:
            policy = _contract_for(self.market, each.plan, each.route).blank_mdr.value
            by_policy.setdefault(policy, []).append(each)
        day = self.market.start
        market = self.new_market(day)
        valid_mdrs = [p.dip_id for p in self.market.by_role("MDR")]

        def pick(candidates: list[Member]) -> Member | None:
            for member in candidates:
                if str(member.record.mpan) not in used:
                    used.add(str(member.record.mpan))
                    return member
            return None

        def play(
            case: CaseResult, member: Member | None, first: s.IF031DSApp | None, retry: s.IF031DSApp | None
        ) -> None:
            if member is None or first is None:
                case.note = "not applicable in this model"
                self.result.cases.append(case)
                return
            case.mpan = str(member.record.mpan)
            ms = self.ms_request(
                member, plan=member.plan, effective=day, scenario=Scenario.CSP, now=market.now
            )
            case.codes.append(self._outcome(market, first))
            if retry is not None:
                case.codes.append(self._outcome(market, retry))
            self.send(market, [ms])
            self.result.appointments_requested += 2 + (retry is not None)
            self.result.cases.append(case)

        everyone = self.members
        member: Member | None = pick(
            [m for m in everyone if _contract_for(self.market, m.plan, m.route).supported_mdrs]
        )
        first = None
        if member is not None:
            contract = _contract_for(self.market, member.plan, member.route)
            chosen = member.route.mdr or sorted(contract.supported_mdrs)[0]
            first = self.ds_request(
                member,
                plan=member.plan,
                route=member.route,
                day=day,
                scenario=Scenario.CSP,
                effective=day,
                mdr=chosen,
                now=market.now,
            )
        play(CaseResult("Accept with the Supplier's nominated MDR", None, "SP000"), member, first, None)

        member = pick(by_policy.get(BlankMdrPolicy.DEFAULT.value, []))
        first = (
            None
            if member is None
            else self.ds_request(
                member,
                plan=member.plan,
                route=member.route,
                day=day,
                scenario=Scenario.CSP,
                effective=day,
                mdr=False,
                now=market.now,
            )
        )
        play(
            CaseResult("Accept a blank nomination with the contractual default MDR", None, "SP000"),
            member,
            first,
            None,
        )

        member = pick(by_policy.get(BlankMdrPolicy.REJECT.value, []))
        first = retry = None
        if member is not None:
            first = self.ds_request(
                member,
                plan=member.plan,
                route=member.route,
                day=day,
                scenario=Scenario.CSP,
                effective=day,
                mdr=False,
                now=market.now,
            )
            retry = self.ds_request(
                member,
                plan=member.plan,
                route=member.route,
                day=day,
                scenario=Scenario.CSP,
                effective=day,
                now=market.now,
            )
        play(
            CaseResult("Reject a blank nomination the contract does not allow", None, "DS001"),
            member,
            first,
            retry,
        )

        member = None
        unsupported: DipId | None = None
        for candidate in everyone:
            contract = _contract_for(self.market, candidate.plan, candidate.route)
            others = [m for m in valid_mdrs if m not in contract.supported_mdrs]
            if others and str(candidate.record.mpan) not in used:
                member, unsupported = candidate, others[0]
                used.add(str(candidate.record.mpan))
                break
        first = retry = None
        if member is not None:
            first = self.ds_request(
                member,
                plan=member.plan,
                route=member.route,
                day=day,
                scenario=Scenario.CSP,
                effective=day,
                mdr=unsupported,
                now=market.now,
            )
            retry = self.ds_request(
                member,
                plan=member.plan,
                route=member.route,
                day=day,
                scenario=Scenario.CSP,
                effective=day,
                now=market.now,
            )
        play(
            CaseResult("Reject a nominated MDR the contract does not support", None, "DS001"),
            member,
            first,
            retry,
        )
        return used

    def _outcome(self, market: Market, request: s.IF031DSApp) -> str:
        correlation = self.send(market, [request])[0]
        with self.db.begin() as connection:
            row = connection.execute(
                sa.select(appointment_request.c.state, appointment_request.c.outcome_code).where(
                    appointment_request.c.correlation_id == correlation
                )
            ).first()
        return str(row.outcome_code) if row is not None and row.outcome_code else "REFUSED"

    # -- changes of MDR, both ways --------------------------------------------------------------
    def mdr_changes(self, share: float) -> None:
        day = self.market.start + timedelta(days=1)
        market = self.new_market(day)
        candidates = []
        for member in self.members:
            contract = _contract_for(self.market, member.plan, member.route)
            if len(contract.supported_mdrs) >= 2 and str(member.record.mpan) not in self._busy:
                candidates.append((member, contract))
        self.rng.shuffle(candidates)
        count = max(1, int(len(self.members) * share)) if candidates else 0
        supplier_led, sds_led = candidates[:count], candidates[count : 2 * count]
        messages: list[DipMessageStruct | None] = []
        for member, contract in supplier_led:
            with self.db.begin() as connection:  # the MDR on the change's effective day
                current = _current_mdr(MarketStore(connection), member, day + timedelta(days=2))
            alternatives = sorted(m for m in contract.supported_mdrs if m != current)
            if current is None or not alternatives:
                continue
            messages.append(
                self.ds_request(
                    member,
                    plan=member.plan,
                    route=member.route,
                    day=day,
                    scenario=Scenario.USP,
                    effective=day + timedelta(days=2),
                    mdr=alternatives[0],
                    mdr_from=day + timedelta(days=2),
                    now=market.now,
                )
            )
            self.result.supplier_led_mdr_changes.append(str(member.record.mpan))
            self._busy.add(str(member.record.mpan))
        self.result.appointments_requested += len(messages)  # a USP request is an IF-031 too
        self.send(market, messages)
        self.progress("MDR changes", 1, 2)
        sds_messages: list[DipMessageStruct | None] = []
        for member, contract in sds_led:
            sds = market.participant(str(member.route.sds), SmartDataService)
            if not isinstance(sds, SmartDataService):
                continue
            with self.db.begin() as connection:
                current = _current_mdr(MarketStore(connection), member, day + timedelta(days=3))
            alternatives = sorted(m for m in contract.supported_mdrs if m != current)
            if current is None or not alternatives:
                continue
            try:
                with market.unit_of_work() as uow:
                    sds_messages.append(
                        sds.request_mdr_change(
                            site=_site(member),
                            new_mdr=alternatives[0],
                            effective_from=day + timedelta(days=3),
                            rs=self.rs,
                            ctx=market.context(),
                            uow=uow,
                        )
                    )
            except MdrChangeRefused:
                continue
            self.result.sds_led_mdr_changes.append(str(member.record.mpan))
            self._busy.add(str(member.record.mpan))
        self.send(market, sds_messages)
        self.progress("MDR changes", 2, 2)

    # -- changes of supplier -----------------------------------------------------------------------
    def changes_of_supplier(self, share: float) -> None:
        gainers = self.market.suppliers[1:]
        if not gainers:
            return
        gainer = gainers[0]
        day = self.market.start + timedelta(days=2)
        ssd = self.market.start + timedelta(days=8)
        candidates = [m for m in self.members if str(m.record.mpan) not in self._busy]
        self.rng.shuffle(candidates)
        chosen = candidates[: max(1, int(len(self.members) * share))]
        group = gainer.groups[0]
        with self.db.begin() as connection:
            store = MarketStore(connection)
            for member in chosen:
                store.change_supplier(member.record.mpan, gainer.supplier, ssd)
            # the run is reported after the supply start date: profile the MPAN as the gainer's
            connection.execute(
                sa.update(mpan_profile)
                .where(mpan_profile.c.mpan.in_([str(m.record.mpan) for m in chosen]))
                .values(
                    supplier=str(gainer.supplier),
                    customer_group=group.name,
                    model=group.model or self.market.model,
                )
            )
        market = self.new_market(day)
        changed: list[tuple[str, date | None]] = [(str(m.record.mpan), ssd) for m in chosen]
        messages: list[DipMessageStruct | None] = []
        for member in chosen:
            moved = Member(member.record, gainer, group.name, group.model or self.market.model, group.route)
            messages.append(
                self.ds_request(
                    moved,
                    plan=gainer,
                    route=group.route,
                    day=day,
                    scenario=Scenario.COS,
                    effective=ssd,
                    now=market.now,
                )
            )
            messages.append(
                self.ms_request(moved, plan=gainer, effective=ssd, scenario=Scenario.COS, now=market.now)
            )
            self.result.changes_of_supplier.append(str(member.record.mpan))
            self._busy.add(str(member.record.mpan))
        self.result.appointments_requested += sum(1 for m in messages if m is not None)
        correlations = self.send(market, messages, changed)
        self.result.example_correlation = correlations[0] if correlations else None

    def days_pass(self, until: date) -> None:
        day = self.market.start + timedelta(days=3)
        total = (until - day).days + 1
        done = 0
        while day <= until:
            stats = self.new_market(day).run()
            self.result.deliveries += stats.delivered
            self.result.messages += stats.produced
            self.result.failed += stats.failed
            done += 1
            self.progress("days", done, total)
            day += timedelta(days=1)
        self.result.end = until


def _current_mdr(store: MarketStore, member: Member, day: date) -> DipId | None:
    for row in store.timeline(member.record.mpan):
        if row.service.value == "DS" and row.period.contains(day):
            return row.mdr
    return None


def run_market(
    db: Database,
    market: MarketDescription,
    members: Sequence[Member],
    *,
    progress: Progress = lambda phase, done, total: None,
    seed: int = 2025,
    mdr_change_share: float = 0.01,
    change_of_supplier_share: float = 0.01,
    lane: str = "batch",
) -> RunResult:
    """The main job's flows over a loaded market and population: the population's bulk work
    (its registrations reaching the DCC, every MPAN's first appointments) through the batch
    lane unless ``lane="message"``; the cases and changes message by message."""
    run = _Run(db, market, members, progress, seed, lane)
    started = time.perf_counter()
    first = run.new_market(market.start)  # the loaded registrations reach the DCC (IF-001)
    loaded: list[tuple[str, date | None]] = [(str(m.record.mpan), None) for m in members]
    if lane == "batch":
        run.send(first, [], loaded)
    elif first.registrations_changed(loaded):
        first.deliver()
    reserved = run.decision_cases()
    run._busy |= reserved
    run.start_day(reserved)
    run.mdr_changes(mdr_change_share)
    run.changes_of_supplier(change_of_supplier_share)
    run.days_pass(market.start + timedelta(days=10))
    run.result.seconds = time.perf_counter() - started
    sample = [c.mpan for c in run.result.cases if c.mpan]
    for bucket in (
        run.result.supplier_led_mdr_changes,
        run.result.sds_led_mdr_changes,
        run.result.changes_of_supplier,
    ):
        sample += bucket[:1]
    seen_groups: set[str] = set()
    for member in members:
        if member.group not in seen_groups:
            seen_groups.add(member.group)
            sample.append(str(member.record.mpan))
    run.result.sample = list(dict.fromkeys(sample))[:10]
    return run.result


def outcome_counts(db: Database) -> Counter[str]:
    """Outcomes of every appointment request and MDR change of the run, by code."""
    counts: Counter[str] = Counter()
    with db.begin() as connection:
        for state, code, n in connection.execute(
            sa.select(
                appointment_request.c.state, appointment_request.c.outcome_code, sa.func.count()
            ).group_by(appointment_request.c.state, appointment_request.c.outcome_code)
        ):
            counts[code or state.upper()] += int(n)
        for (body,) in connection.execute(
            sa.select(message.c.body).where(
                message.c.event_code.in_(["[DSAppInitialResp]", "[MSAppInitialResp]"])
            )
        ):
            decoded = msgspec.json.decode(body)
            r0 = decoded["CommonBlock"].get("R0")
            if r0 and r0["responseCode"] == "R":
                counts[(r0["responseMessages"][0] or "R").split(" ", 1)[0]] += 1
        for (body,) in connection.execute(
            sa.select(message.c.body).where(message.c.event_code == "[SDS-MDROutcome]")
        ):
            decoded = msgspec.json.decode(body)
            if decoded["CommonBlock"]["S1"]["senderCorrelationID"].startswith("C-IF-034"):
                b099 = decoded["CustomBlock"]["B099"]
                code = (
                    "SP000"
                    if b099["responseCode"] == "A"
                    else (b099["responseMessages"][0] or "R").split(" ", 1)[0]
                )
                counts[f"MDR change {code}"] += 1
    return counts
