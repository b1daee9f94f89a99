"""Migration replay at GB scale: a synthetic population of any size (GB has about 32 million
electricity MPANs) streamed through the real appointment flow in batches.

Each batch registers its MPANs, sends the Supplier's IF-031 for the Data Service and the
Metering Service, runs the market until every resulting message is delivered, then records
its checkpoint in ``market_state``. Memory is that of one batch, whatever the total. By
default the batch goes through the batch lane (``market.lane``: a chunk of MPANs per
transaction, in memory, split over worker processes by MPAN); ``lane="message"`` plays it
message by message (``Market.send`` + ``Market.run``).

Resuming after a crash (or a kill) continues from the checkpoint: the interrupted batch is
re-made from its indices (member ``i`` depends only on the seed and ``i``); MPANs already
registered are not registered again, requests already accepted are not sent again, and the
messages already in the outbox are delivered by the market run. Nothing is duplicated.
"""

from __future__ import annotations

import resource
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import msgspec
import sqlalchemy as sa

from openmhhs.codes import CodedError, ResponseCode
from openmhhs.dip import schema as s
from openmhhs.dip.schema import DipMessageStruct
from openmhhs.dip.vocabulary import Scenario
from openmhhs.failpoints import failpoint
from openmhhs.market.bus import Market
from openmhhs.market.description import MarketDescription
from openmhhs.market.driver import _Run, _Suppliers
from openmhhs.market.lane import DEFAULT_CHUNK, LaneStats
from openmhhs.market.loader import load_market, register_population
from openmhhs.market.population import Member, synthetic_members
from openmhhs.market.workers import Playing, Workers
from openmhhs.store.database import Database
from openmhhs.store.market_repo import MarketStore
from openmhhs.store.tables import message, mpan

__all__ = ["CHECKPOINT_KEY", "Checkpoint", "Migration", "MigrationRefused", "MigrationStats"]

CHECKPOINT_KEY = "migration"

Progress = Callable[[int, int], None]
"""``progress(done, total)``: MPANs migrated so far."""


class MigrationRefused(CodedError):
    code = ResponseCode.OMH0403
    rule = "migration.resumable"


class Checkpoint(msgspec.Struct, frozen=True, kw_only=True):
    """What a migration has done, stored in ``market_state`` after every batch."""

    scenario: str
    total: int
    seed: int
    batch: int
    done: int = 0
    started_at: str = ""
    seconds: float = 0.0
    """Time spent migrating, summed over every run of this migration."""


@dataclass
class MigrationStats:
    total: int
    done_before: int
    done: int = 0
    appointments_requested: int = 0
    registered: int = 0
    skipped_registered: int = 0
    skipped_requested: int = 0
    messages: int = 0
    deliveries: int = 0
    failed: int = 0
    """IF-031s the hub refused, and deliveries that failed."""
    seconds: float = 0.0
    batches: int = 0
    rss_mb: list[int] = field(default_factory=list)
    """Peak resident memory after each batch of this run (constant when memory is)."""

    @property
    def migrated_now(self) -> int:
        return self.done - self.done_before

    @property
    def mpans_per_second(self) -> float:
        return self.migrated_now / self.seconds if self.seconds else 0.0


def _rss_mb() -> int:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


@dataclass(frozen=True, slots=True)
class _Playing:
    """A batch handed to the lane: its MPANs and the messages the Supplier sent."""

    work: Playing
    count: int
    messages: int


class Migration:
    """One migration of ``total`` synthetic MPANs into ``db`` under ``market``."""

    def __init__(
        self,
        db: Database,
        market: MarketDescription,
        *,
        source: str,
        total: int,
        seed: int = 2025,
        batch: int = 2_000,
        lane: str = "batch",
        workers: int = 1,
        chunk: int = DEFAULT_CHUNK,
    ) -> None:
        if total < 1 or batch < 1:
            raise MigrationRefused("--mpans and --batch must be 1 or more")
        if workers < 1:
            raise MigrationRefused("--workers must be 1 or more")
        self.lane = lane
        self.workers = workers
        self._pool: Workers | None = None
        self.chunk = chunk
        self.db = db
        self.market = market
        self.source = source
        self.wanted = Checkpoint(scenario=market.name, total=total, seed=seed, batch=batch)

    # -- the checkpoint ---------------------------------------------------------------------------
    def checkpoint(self) -> Checkpoint | None:
        with self.db.read() as connection:
            text = MarketStore(connection).state(CHECKPOINT_KEY)
        return None if text is None else msgspec.json.decode(text, type=Checkpoint)

    def _start(self, now: datetime) -> Checkpoint:
        """The checkpoint to continue from: a new migration loads the market first."""
        found = self.checkpoint()
        if found is not None:
            want = self.wanted
            same = (found.scenario, found.total, found.seed, found.batch) == (
                want.scenario,
                want.total,
                want.seed,
                want.batch,
            )
            if not same:
                raise MigrationRefused(
                    f"this database holds a migration of {found.total:,} MPANs of {found.scenario} "
                    f"(seed {found.seed}, batch {found.batch}); resume it with the same options or "
                    "use a new database"
                )
            return found
        with self.db.begin() as connection:
            store = MarketStore(connection)
            if store.count_mpans():
                raise MigrationRefused(
                    "the database already holds MPANs that are not a migration's: use a new database"
                )
            load_market(connection, self.market, source=self.source, at=now)
            started = msgspec.structs.replace(self.wanted, started_at=now.isoformat())
            store.set_state(CHECKPOINT_KEY, msgspec.json.encode(started).decode())
        return started

    # -- the run ------------------------------------------------------------------------------------
    def run(self, *, now: datetime, progress: Progress = lambda done, total: None) -> MigrationStats:
        with Workers(self.workers if self.lane == "batch" else 1) as self._pool:
            return self._run(now, progress)

    def _run(self, now: datetime, progress: Progress) -> MigrationStats:
        point = self._start(now)
        stats = MigrationStats(total=point.total, done_before=point.done, done=point.done)
        flows = _Run(self.db, self.market, [], lambda *_: None, point.seed)
        # A new process must not reuse the references of an interrupted one (MSG1006).
        flows.suppliers = _Suppliers(self.market, secrets.token_hex(3))
        market = Market(self.db, today=self.market.start, batch_size=500)
        progress(point.done, point.total)
        handed = point.done  # MPANs whose batch is played, or being played by the workers
        playing: _Playing | None = None
        since = time.perf_counter()
        batches = 0
        while handed < point.total:
            count = min(point.batch, point.total - handed)
            members = synthetic_members(self.market, seed=point.seed, start=handed, count=count)
            # What an interrupted run left is looked for in the first two batches: on the batch
            # lane a batch is prepared while the one before it plays, so a run can stop with
            # two batches begun past its checkpoint.
            check = batches < 2
            self._register(members, stats, check=check)
            registrations = [(str(m.record.mpan), None) for m in members]
            messages = self._requests(flows, market, members, stats, check=check)
            begun = self._begin(market, messages, registrations, stats)
            if playing is not None:
                point, since = self._finish(playing, point, stats, since, progress)
            playing = _Playing(begun, count, len(messages))
            handed += count
            batches += 1
        if playing is not None:
            point, since = self._finish(playing, point, stats, since, progress)
        return stats

    def _begin(
        self,
        market: Market,
        messages: list[DipMessageStruct],
        registrations: list[tuple[str, None]],
        stats: MigrationStats,
    ) -> Playing:
        """The batch played: through the per-message lane here and now, or handed to the batch
        lane's workers (split by MPAN) without waiting, or played in this process by one."""
        if self.lane == "message":
            market.registrations_changed(registrations)
            for offset in range(0, len(messages), 1_000):
                results = market.send(messages[offset : offset + 1_000])
                stats.failed += sum(1 for r in results if not r.accepted)
            run = market.run()
            stats.deliveries += run.delivered
            stats.messages += run.produced
            stats.failed += run.failed
            return Playing.done((LaneStats(), []))
        assert self._pool is not None
        return self._pool.begin(
            self.db.url,
            today=market.today,
            now=market.now,
            messages=messages,
            registrations=registrations,
            chunk=self.chunk,
            market=market,
        )

    def _finish(
        self, playing: _Playing, point: Checkpoint, stats: MigrationStats, since: float, progress: Progress
    ) -> tuple[Checkpoint, float]:
        """Wait for a batch, then write the checkpoint past it; returns the new checkpoint and
        when it was written."""
        played, _ = playing.work.result()
        stats.failed += played.refused + played.failed
        stats.deliveries += played.delivered
        stats.messages += playing.messages + played.produced
        failpoint("migrate.batch.before-checkpoint")
        at = time.perf_counter()
        elapsed = at - since
        point = msgspec.structs.replace(
            point, done=point.done + playing.count, seconds=point.seconds + elapsed
        )
        with self.db.begin() as connection:
            MarketStore(connection).set_state(CHECKPOINT_KEY, msgspec.json.encode(point).decode())
        stats.seconds += elapsed
        stats.done = point.done
        stats.batches += 1
        stats.rss_mb.append(_rss_mb())
        progress(point.done, point.total)
        return point, at

    def _register(self, members: Sequence[Member], stats: MigrationStats, *, check: bool) -> None:
        """Register the batch's MPANs; after a crash, only those not yet registered."""
        with self.db.begin() as connection:
            todo = list(members)
            if check:
                cores = [str(m.record.mpan) for m in members]
                known = {
                    r[0] for r in connection.execute(sa.select(mpan.c.mpan).where(mpan.c.mpan.in_(cores)))
                }
                todo = [m for m in members if str(m.record.mpan) not in known]
                stats.skipped_registered += len(members) - len(todo)
            register_population(connection, todo)
            stats.registered += len(todo)

    def _requests(
        self,
        flows: _Run,
        market: Market,
        members: Sequence[Member],
        stats: MigrationStats,
        *,
        check: bool,
    ) -> list[DipMessageStruct]:
        """The Supplier's IF-031s for the batch; after a crash, only those the hub has not accepted."""
        asked: set[tuple[str, str]] = set()
        if check:
            cores = [str(m.record.mpan) for m in members]
            with self.db.read() as connection:
                # Sent IF-031s are logged when the hub accepts them, before any delivery.
                asked = {
                    (r[0], "MS" if r[1] in s.IF031MSApp.EVENT_CODES else "DS")
                    for r in connection.execute(
                        sa.select(message.c.mpan, message.c.event_code).where(
                            message.c.interface_id == "IF-031", message.c.mpan.in_(cores)
                        )
                    )
                }
        messages: list[DipMessageStruct] = []
        for member in members:
            core = str(member.record.mpan)
            if (core, "DS") in asked:
                stats.skipped_requested += 1
            else:
                messages.append(
                    flows.ds_request(
                        member,
                        plan=member.plan,
                        route=member.route,
                        day=self.market.start,
                        scenario=Scenario.CSP,
                        effective=self.market.start,
                        now=market.now,
                    )
                )
            if (core, "MS") in asked:
                stats.skipped_requested += 1
                continue
            ms = flows.ms_request(
                member, plan=member.plan, effective=self.market.start, scenario=Scenario.CSP, now=market.now
            )
            if ms is not None:
                messages.append(ms)
        stats.appointments_requested += len(messages)
        return messages
