"""Running meter data over the market in the database, day by day: each MDR retrieves, for
the MPANs its SDS instructed it to serve, the previous day's half-hours and register reads
through the DCC gate (IF-064, IF-065); each SDS validates and estimates every MPAN it serves
that day and submits it to settlement (IF-021), amending earlier days when late actual data
arrives.

The work is partitioned by (day, chunk of MPANs): a partition reads what it needs, runs the
pure rules (``gate``, ``meters``, ``validation``, ``ecs``) and writes its results in one
transaction. Partitions of one day are independent of each other, and a day depends on the
previous only through the estimation history and the retrieval backlog (both keyed by MPAN),
so the same functions run unchanged on a distributed engine that shards by MPAN and walks
days in order (see docs/meterdata.md).

Re-running a day already submitted changes nothing: each (SDS, MPAN, day) is submitted once
(version 1), then amended (version 2, 3...) only when actual data replaces estimates.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta

from openmhhs.days import LONDON, day_start, days
from openmhhs.dcc.access import reading_role, supplier_role_for
from openmhhs.dip.build import MessageFactory, Sender, Site
from openmhhs.dip.parse import encode, parse
from openmhhs.dip.schema import DipMessageStruct
from openmhhs.identity.registry import DccUserRole
from openmhhs.ids import DipId, DipRole, GspGroup, MpanCore
from openmhhs.market.ingress import new_message
from openmhhs.meterdata.ecs import check_settlement_data
from openmhhs.meterdata.gate import AccessDecision, AccessGate, ReadRequest, dcc_user_roles, presented_id
from openmhhs.meterdata.messages import mdr_consumption, mdr_readings, settlement_data
from openmhhs.meterdata.meters import FaultPlan, MeterDay, MeterProfile, SimulatedMeters, local_hours
from openmhhs.meterdata.snapshot import annual_wh
from openmhhs.meterdata.validation import DayInputs, Limits, RegisterRead, SettledDay, settle_day
from openmhhs.registration.model import MpanRecord
from openmhhs.store.database import Database
from openmhhs.store.dcc_repo import DccRepository
from openmhhs.store.identity_repo import load_registry
from openmhhs.store.market_repo import MarketStore, NewMessage
from openmhhs.store.meterdata_repo import MeterDataStore, Reading, Submission

__all__ = ["DataRun", "DataRunStats"]

RETRY_DAYS = 5
"""An MDR keeps trying to retrieve a day it could not reach for this many days."""
CHUNK = 2000


@dataclass
class DataRunStats:
    days: list[date] = field(default_factory=list)
    mpan_days: int = 0
    periods: int = 0
    actual: int = 0
    estimated: int = 0
    supplier_periods: int = 0
    refusals: int = 0
    unreachable: int = 0
    late_retrievals: int = 0
    if064: int = 0
    if065: int = 0
    if021: int = 0
    amendments: int = 0
    ecs_refused: int = 0
    by_day: dict[date, dict[str, int]] = field(default_factory=dict)

    def count(self, day: date, key: str, n: int = 1) -> None:
        self.by_day.setdefault(day, defaultdict(int))[key] += n


@dataclass(frozen=True, slots=True)
class _Facts:
    site: Site
    connection_type: str
    connection_from: date
    energy_direction: str
    profile: MeterProfile


def _facts(record: MpanRecord) -> _Facts:
    annual = annual_wh(record) / 1000
    export = record.energy_direction == "E"
    start = min((p.period.start for p in record.suppliers), default=date(2000, 1, 1))
    return _Facts(
        Site(MpanCore(str(record.mpan)), record.distributor, GspGroup(str(record.gsp_group))),
        record.connection_type.value,
        start,
        record.energy_direction,
        MeterProfile(annual_import_kwh=annual, export_kwp=4.0 if export else 0.0),
    )


class DataRun:
    def __init__(
        self,
        db: Database,
        *,
        seed: int = 2025,
        faults: FaultPlan | None = None,
        limits: Limits | None = None,
    ) -> None:
        self.db = db
        self.meters = SimulatedMeters(seed, faults)
        self.limits = limits or Limits()
        self.history: dict[str, list[int]] = {}
        self.backlog: dict[tuple[str, str, str, str], set[date]] = defaultdict(set)
        self._factories: dict[tuple[str, str], MessageFactory] = {}
        self._prefix = f"{random.Random().randrange(16**4):04x}"
        with db.read() as connection:
            store = MarketStore(connection)
            registry = load_registry(connection)
            self.facts = {str(r.mpan): _facts(r) for r in store.iter_mpans()}
            self.sharing = MeterDataStore(connection).sharing_suppliers()
            records = DccRepository(connection).all_records()
        self.isd = registry.table
        self.dcc_roles = dcc_user_roles(registry)
        self.gate = AccessGate(records, isd=self.isd, dcc_roles=self.dcc_roles)
        self._presented: dict[tuple[str, DccUserRole, date], str] = {}
        self.mds = next(
            (str(e.dip_id) for e in registry.table if str(e.dip_role) == "MDS" and e.dip_id), None
        )

    # -- helpers ---------------------------------------------------------------------------------------
    def _factory(self, dip_id: str, role: str) -> MessageFactory:
        key = (dip_id, role)
        if key not in self._factories:
            self._factories[key] = MessageFactory(
                Sender(DipId(dip_id), DipRole(role)), unique_prefix=f"m{self._prefix}{len(self._factories)}"
            )
        return self._factories[key]

    def mpid_of(self, dip_id: str, via: DccUserRole, day: date) -> str:
        """The 4-character id a DIP ID presents to the DCC in a role for a day."""
        key = (dip_id, via, day)
        found = self._presented.get(key)
        if found is None:
            found = self._presented[key] = presented_id(self.isd, dip_id, via, day)
        return found

    def via_for(self, dip_id: str, mpan: str) -> DccUserRole:
        """The DCC user role an MDR retrieves the MPAN with (``dcc.access.retrieval_role``); an MDR
        holding none is refused by the gate as not a DCC user in the MDR role."""
        facts = self.facts.get(mpan)
        direction = "I" if facts is None else facts.energy_direction
        held = self.dcc_roles.get(dip_id, frozenset())
        return reading_role(held=held, energy_direction=direction)

    @staticmethod
    def _log(message: DipMessageStruct, body: bytes, at: datetime) -> NewMessage:
        """The message as the DIP logs it; the data run records no deliveries for it."""
        logged = new_message(message, body, at=at, origin="data", route=lambda _: "mailbox")
        return replace(logged, recipients=())

    def _checked(self, message: DipMessageStruct, at: datetime, log: list[NewMessage]) -> None:
        body = encode(message)
        parse(body, now=None)  # never send what the DIP would refuse
        log.append(self._log(message, body, at))

    # -- the run -----------------------------------------------------------------------------------------
    def run(
        self, first: date, last: date, *, progress: Callable[[date, int, int], None] | None = None
    ) -> DataRunStats:
        stats = DataRunStats()
        for day in days(first, last):
            self.run_day(day, stats, progress=progress)
        return stats

    def run_day(
        self, day: date, stats: DataRunStats, *, progress: Callable[[date, int, int], None] | None = None
    ) -> None:
        asked_on = day + timedelta(days=1)
        at = datetime(asked_on.year, asked_on.month, asked_on.day, 2, tzinfo=LONDON).astimezone(UTC)
        with self.db.read() as connection:
            store = MarketStore(connection)
            instructions = store.mdr_instructions_on(day)
            served = store.portfolios_on(day)
            done = MeterDataStore(connection).latest_submissions(day)
        stats.days.append(day)
        mpans = sorted({m for _, m, _, _ in instructions} | {m for _, m, _, _, _ in served})
        by_mpan_instr: dict[str, list[tuple[str, str, str, str]]] = defaultdict(list)
        for instruction in instructions:
            by_mpan_instr[instruction[1]].append(instruction)
        by_mpan_served: dict[str, list[tuple[str, str, str, str, str]]] = defaultdict(list)
        for row in served:
            by_mpan_served[row[1]].append(row)
        late = self._retry_backlog(day, asked_on, at, stats)
        for start in range(0, len(mpans), CHUNK):
            chunk = mpans[start : start + CHUNK]
            self._partition(day, asked_on, at, chunk, by_mpan_instr, by_mpan_served, done, stats)
            if progress is not None:
                progress(day, min(start + CHUNK, len(mpans)), len(mpans))
        if not mpans and progress is not None:
            progress(day, 0, 0)
        if late:  # late actual data: amend the days it belongs to
            decisions: list[AccessDecision] = []
            submissions: list[Submission] = []
            log: list[NewMessage] = []
            for reading, messages in late:
                log += messages
                self._amend(reading, asked_on, at, submissions, log, decisions, stats)
            self._write(decisions, [r for r, _ in late], submissions, log, at)

    def _retry_backlog(
        self, day: date, asked_on: date, at: datetime, stats: DataRunStats
    ) -> list[tuple[Reading, list[NewMessage]]]:
        """Earlier days an MDR could not reach, tried again; what it now gets."""
        found: list[tuple[Reading, list[NewMessage]]] = []
        decisions: list[AccessDecision] = []
        for key, pending in list(self.backlog.items()):
            mdr, mpan, sds, mdr_mpid = key
            for old in sorted(pending):
                if (day - old).days > RETRY_DAYS:
                    pending.discard(old)
                    continue
                if old >= day:
                    continue
                got = self._retrieve(mdr, mpan, sds, mdr_mpid, old, asked_on, at, decisions, stats)
                if got is not None:
                    pending.discard(old)
                    found.append(got)
                    stats.late_retrievals += 1
            if not pending:
                del self.backlog[key]
        if decisions or found:
            with self.db.begin() as connection:
                MeterDataStore(connection).log_access(decisions, at=at)
        return found

    def _retrieve(
        self,
        mdr: str,
        mpan: str,
        sds: str,
        mdr_mpid: str,
        day: date,
        asked_on: date,
        at: datetime,
        decisions: list[AccessDecision],
        stats: DataRunStats,
    ) -> tuple[Reading, list[NewMessage]] | None:
        facts = self.facts.get(mpan)
        if facts is None:
            return None
        via = self.via_for(mdr, mpan)
        decision = self.gate.check(ReadRequest(mdr, self.mpid_of(mdr, via, day), via, mpan, day))
        decisions.append(decision)
        if not decision.allowed:
            stats.refusals += 1
            stats.count(day, "refusals")
            return None
        meter = self.meters.day(mpan, day, facts.profile, asked_on=asked_on)
        if not meter.reachable:
            self.backlog[(mdr, mpan, sds, mdr_mpid)].add(day)
            stats.unreachable += 1
            stats.count(day, "unreachable")
            return None
        export = facts.energy_direction == "E" and meter.export_wh is not None
        values = meter.export_wh if export and meter.export_wh is not None else meter.import_wh
        factory = self._factory(mdr, "MDR")
        log: list[NewMessage] = []
        self._checked(
            mdr_consumption(
                factory,
                site=facts.site,
                sds=DipId(sds),
                day=day,
                values_wh=values,
                now=at,
                mq="AE" if export else "AI",
            ),
            at,
            log,
        )
        stats.if064 += 1
        if not export:
            self._checked(
                mdr_readings(
                    factory,
                    site=facts.site,
                    sds=DipId(sds),
                    meter_id=meter.meter_id,
                    reads=[
                        (meter.register_start_wh, day_start(day)),
                        (meter.register_end_wh, meter.register_end_at),
                    ],
                    now=at,
                ),
                at,
                log,
            )
            stats.if065 += 1
        reading = Reading(
            sds,
            mpan,
            day,
            "mdr",
            meter.meter_id,
            values,
            None if export else meter.register_start_wh,
            None if export else meter.register_end_wh,
            None if export else meter.register_end_at,
            None,
            at,
        )
        return reading, log

    def _supplier_data(
        self, supplier: str, mpan: str, day: date, asked_on: date, decisions: list[AccessDecision]
    ) -> MeterDay | None:
        """Model 1B: the supplier's own read of the meter (its supplier DCC role), later in the day."""
        facts = self.facts[mpan]
        via = supplier_role_for(facts.energy_direction)
        decision = self.gate.check(ReadRequest(supplier, self.mpid_of(supplier, via, day), via, mpan, day))
        decisions.append(decision)
        if not decision.allowed:
            return None
        meter = self.meters.day(mpan, day, facts.profile, asked_on=asked_on + timedelta(days=1))
        return meter if meter.reachable else None

    def _partition(
        self,
        day: date,
        asked_on: date,
        at: datetime,
        mpans: Sequence[str],
        instructions: dict[str, list[tuple[str, str, str, str]]],
        served: dict[str, list[tuple[str, str, str, str, str]]],
        done: dict[tuple[str, str], tuple[int, int]],
        stats: DataRunStats,
    ) -> None:
        decisions: list[AccessDecision] = []
        readings: dict[tuple[str, str], Reading] = {}
        log: list[NewMessage] = []
        for mpan in mpans:
            for mdr, _, sds, mdr_mpid in instructions.get(mpan, ()):
                if (sds, mpan) in done:
                    continue  # this day was retrieved and submitted by an earlier run
                got = self._retrieve(mdr, mpan, sds, mdr_mpid, day, asked_on, at, decisions, stats)
                if got is not None:
                    readings[(sds, mpan)] = got[0]
                    log += got[1]
        submissions: list[Submission] = []
        for mpan in mpans:
            for sds, _, supplier, _, _ in served.get(mpan, ()):
                if (sds, mpan) in done or mpan not in self.facts:
                    continue
                settled = self._settle(
                    sds, mpan, supplier, day, asked_on, readings.get((sds, mpan)), decisions
                )
                self._submit(sds, mpan, supplier, day, 1, settled, at, submissions, log, stats)
        self._write(decisions, list(readings.values()), submissions, log, at)

    def _write(
        self,
        decisions: list[AccessDecision],
        readings: list[Reading],
        submissions: list[Submission],
        log: list[NewMessage],
        at: datetime,
    ) -> None:
        with self.db.begin() as connection:
            data = MeterDataStore(connection)
            data.log_access(decisions, at=at)
            data.save_readings(readings)
            data.save_submissions(submissions)
            MarketStore(connection).log_messages(log)

    def _settle(
        self,
        sds: str,
        mpan: str,
        supplier: str,
        day: date,
        asked_on: date,
        reading: Reading | None,
        decisions: list[AccessDecision],
    ) -> SettledDay:
        facts = self.facts[mpan]
        register = None
        if reading is not None and reading.register_end_at is not None:
            assert reading.register_start_wh is not None and reading.register_end_wh is not None
            register = RegisterRead(
                meter_id=reading.meter_id,
                start_wh=reading.register_start_wh,
                end_wh=reading.register_end_wh,
                end_at=reading.register_end_at,
                expected_end_at=day_start(day + timedelta(days=1)).astimezone(UTC),
            )
        shared = None
        if supplier in self.sharing and facts.energy_direction != "E":
            meter = self._supplier_data(supplier, mpan, day, asked_on, decisions)
            shared = None if meter is None else meter.import_wh
        return settle_day(
            DayInputs(
                period_hours=local_hours(day),
                mdr_wh=None if reading is None else reading.values_wh,
                register=register,
                supplier_wh=shared,
                history_wh=self.history.get(mpan),
                annual_wh=int(facts.profile.annual_import_kwh * 1000),
            ),
            self.limits,
        )

    def _submit(
        self,
        sds: str,
        mpan: str,
        supplier: str,
        day: date,
        version: int,
        settled: SettledDay,
        at: datetime,
        submissions: list[Submission],
        log: list[NewMessage],
        stats: DataRunStats,
    ) -> None:
        facts = self.facts[mpan]
        recipients = [DipId(r) for r in dict.fromkeys([self.mds, supplier, str(facts.site.distributor)]) if r]
        message = settlement_data(
            self._factory(sds, "SDS"),
            site=facts.site,
            recipients=recipients,
            day=day,
            periods=settled.periods,
            connection_type=facts.connection_type,
            connection_from=facts.connection_from,
            now=at,
            mq="AE" if facts.energy_direction == "E" else "AI",
        )
        if check_settlement_data(message):
            stats.ecs_refused += 1
            stats.count(day, "ecs_refused")
            return
        self._checked(message, at, log)
        submissions.append(
            Submission(
                sds,
                mpan,
                day,
                version,
                len(settled.periods),
                settled.actual,
                settled.estimated,
                settled.total_wh,
                [p.wh for p in settled.periods],
                message.common_block.s1.sender_unique_reference,
                at,
            )
        )
        stats.if021 += 1
        if version == 1:
            stats.mpan_days += 1
            stats.periods += len(settled.periods)
            stats.actual += settled.actual
            stats.estimated += settled.estimated
            stats.supplier_periods += sum(1 for p in settled.periods if p.source == "supplier")
            stats.count(day, "actual", settled.actual)
            stats.count(day, "estimated", settled.estimated)
            if settled.estimated == 0:
                self.history[mpan] = [p.wh for p in settled.periods]
        else:
            stats.amendments += 1
            stats.count(day, "amendments")

    def _amend(
        self,
        reading: Reading,
        asked_on: date,
        at: datetime,
        submissions: list[Submission],
        log: list[NewMessage],
        decisions: list[AccessDecision],
        stats: DataRunStats,
    ) -> None:
        """Late actual data for an earlier day: resubmit it if it now has more actual periods."""
        with self.db.read() as connection:
            latest = (
                MeterDataStore(connection).latest_submissions(reading.day).get((reading.sds, reading.mpan))
            )
            served = {
                (s, m): sup
                for s, m, sup, _, _ in MarketStore(connection).portfolios_on(reading.day)
                if m == reading.mpan
            }
        supplier = served.get((reading.sds, reading.mpan))
        if latest is None or supplier is None:
            return
        settled = self._settle(reading.sds, reading.mpan, supplier, reading.day, asked_on, reading, decisions)
        if settled.actual > latest[1]:
            self._submit(
                reading.sds,
                reading.mpan,
                supplier,
                reading.day,
                latest[0] + 1,
                settled,
                at,
                submissions,
                log,
                stats,
            )
