"""The batch lane: bulk work (a migration, a bulk change of MDR, the demo's population) played
through the same market as the per-message lane, a chunk of MPANs at a time.

Per chunk: one transaction; every role's records for the chunk's MPANs read with one query
per table (``store.chunk.preload``) into a ``MemoryUnitOfWork``; the submitted messages
accepted through the DIP's one ingress; every message delivered in memory, in the order the
per-message lane delivers them, through the same delivery function, each message handed on as
the struct that was validated when it was produced (encoded once, validated once, never parsed
again); the day's work (activations of what was accepted) run the same way; then the write
log flushed with one statement per table (``store.chunk.flush``) and committed.

Every rule is the participants' own: the lane only changes where their records live while a
chunk is played. If anything in a chunk fails (a participant raises, another writer changed a
row the chunk read), the chunk is rolled back and replayed through the per-message lane
(``Market.send`` + ``Market.run``), which sets aside only the failing delivery.

MPANs never interact (every rule names one MPAN), so chunks may be played by several worker
processes at once, MPANs split by a stable hash (``openmhhs.market.workers``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

from openmhhs.bulk import gc_paused
from openmhhs.dip.catalogue import EVENTS
from openmhhs.dip.parse import Parsed, Perspective, encode, parse_batch
from openmhhs.dip.participant import Context
from openmhhs.dip.schema import DipMessageStruct
from openmhhs.failpoints import failpoint
from openmhhs.market.bus import Market, RunStats, SubmitResult
from openmhhs.market.ingress import INFRASTRUCTURE, PRODUCED, admit, deliver_pending, prepare
from openmhhs.store.chunk import flush, preload, stored_messages
from openmhhs.store.market_repo import NewMessage, PendingDelivery
from openmhhs.store.memory import MemoryUnitOfWork
from openmhhs.store.ports import DeliveryOutcome

__all__ = ["DEFAULT_CHUNK", "LANES", "BatchLane", "LaneStats", "mpan_of"]

log = logging.getLogger(__name__)

DEFAULT_CHUNK = 250
"""MPANs per chunk: large enough that one query per table is cheap per MPAN, small enough
that a failing chunk replayed message by message costs little, and that workers' flushes
(serial on SQLite) interleave with each other's play instead of meeting at the end of one
big chunk (two workers, bench: 1,000 MPANs per chunk 873/s, 250 per chunk 1,258/s)."""
LANES = ("batch", "message")
"""``--lane``: ``batch`` (this module, the default for bulk work) or ``message`` (``Market``)."""


def mpan_of(message: DipMessageStruct) -> str:
    """The MPAN a message is about (its M0 block); a chunk holds every message of its MPANs."""
    common = message.common_block  # type: ignore[attr-defined]
    return str(common.m0.mpan_core) if common.m0 is not None else ""


@dataclass
class LaneStats:
    """What the lane did, over every chunk so far."""

    chunks: int = 0
    replayed: int = 0
    """Chunks rolled back and replayed through the per-message lane."""
    submitted: int = 0
    refused: int = 0
    """Submitted messages the DIP refused (their answers say why)."""
    delivered: int = 0
    published: int = 0
    """IF-001s the RS published for the registrations."""
    produced: int = 0
    """Messages the participants sent while the lane delivered (besides ``published``)."""
    failed: int = 0
    days: list[date] = field(default_factory=list)

    def add(self, run: RunStats) -> None:
        self.delivered += run.delivered
        self.produced += run.produced
        self.failed += run.failed

    def merge(self, other: LaneStats) -> None:
        """Another worker's figures, added to these."""
        self.chunks += other.chunks
        self.replayed += other.replayed
        self.submitted += other.submitted
        self.refused += other.refused
        self.published += other.published
        self.delivered += other.delivered
        self.produced += other.produced
        self.failed += other.failed


class ChunkFailed(Exception):
    """Something in a chunk failed: it is rolled back and replayed message by message."""


class BatchLane:
    """Bulk work through ``market``, ``chunk`` MPANs per transaction."""

    def __init__(self, market: Market, *, chunk: int = DEFAULT_CHUNK) -> None:
        if chunk < 1:
            raise ValueError("a chunk holds at least one MPAN")
        self.market = market
        self.chunk = chunk
        self.stats = LaneStats()

    # -- the entry point ------------------------------------------------------------------------
    def send(
        self,
        messages: Sequence[DipMessageStruct],
        *,
        registrations: Sequence[tuple[str, date | None]] = (),
        origin: str = PRODUCED,
    ) -> list[SubmitResult]:
        """Submit ``messages`` (a simulated participant's own, as ``Market.send``) and deliver
        everything they set off, the day's work included; ``registrations`` are MPANs whose
        supplier registration changed (as ``Market.registrations_changed``: the RS publishes
        IF-001 for each, before the messages). Returns the DIP's answer to each message."""
        self.market.bring_to_today()
        by_mpan: dict[str, list[int]] = {}
        for n, message in enumerate(messages):
            by_mpan.setdefault(mpan_of(message), []).append(n)
        changed: dict[str, list[tuple[str, date | None]]] = {}
        for core, since in registrations:
            changed.setdefault(core, []).append((core, since))
        cores = list(dict.fromkeys([*changed, *by_mpan]))
        results: list[SubmitResult | None] = [None] * len(messages)
        for start in range(0, len(cores), self.chunk):
            part = cores[start : start + self.chunk]
            indices = sorted(n for core in part for n in by_mpan.get(core, []))
            chunk_messages = [messages[n] for n in indices]
            chunk_changes = [c for core in part for c in changed.get(core, [])]
            answers = self.play(chunk_messages, registrations=chunk_changes, origin=origin)
            for n, answer in zip(indices, answers, strict=True):
                results[n] = answer
        done = [r for r in results if r is not None]
        assert len(done) == len(messages)
        return done

    def play(
        self,
        messages: Sequence[DipMessageStruct],
        *,
        registrations: Sequence[tuple[str, date | None]] = (),
        origin: str = PRODUCED,
    ) -> list[SubmitResult]:
        """One chunk: in memory and flushed at once, or, should anything fail, replayed through
        the per-message lane."""
        self.stats.chunks += 1
        self.stats.submitted += len(messages)
        try:
            # A chunk makes hundreds of thousands of objects and frees them together: the
            # cyclic collector would walk them all again and again (a third of the CPU).
            with gc_paused():
                results, run = self._in_memory(messages, registrations, origin)
        except INFRASTRUCTURE:
            raise  # the database, not a message: nothing to replay
        except Exception as exc:
            log.info("batch lane: chunk replayed message by message (%s: %s)", type(exc).__name__, exc)
            self.stats.replayed += 1
            results = self._per_message(messages, registrations, origin)
        else:
            self.stats.add(run)
        self.stats.refused += sum(1 for r in results if not r.accepted)
        return results

    # -- the per-message lane, for a chunk that failed -------------------------------------------
    def _per_message(
        self,
        messages: Sequence[DipMessageStruct],
        registrations: Sequence[tuple[str, date | None]],
        origin: str,
    ) -> list[SubmitResult]:
        market = self.market
        if registrations:
            self.stats.published += market.registrations_changed(list(registrations))
        results = market.send(messages, origin=origin) if messages else []
        self.stats.add(market.run())
        return results

    # -- the chunk in memory ------------------------------------------------------------------------
    def _in_memory(
        self,
        messages: Sequence[DipMessageStruct],
        registrations: Sequence[tuple[str, date | None]],
        origin: str,
    ) -> tuple[list[SubmitResult], RunStats]:
        market = self.market
        raws = [encode(m) for m in messages]
        cores = {mpan_of(m) for m in messages} | {core for core, _ in registrations}
        cores.discard("")
        references = [m.common_block.s1.sender_unique_reference for m in messages]  # type: ignore[attr-defined]
        correlations = [
            c
            for m in messages
            if (c := m.common_block.s1.sender_correlation_id)  # type: ignore[attr-defined]
        ]
        run, published = RunStats(), RunStats()
        # Read without the write lock, so that workers play their chunks at once; the flush
        # finds any row another writer changed since (and the chunk is replayed).
        with market.db.read() as connection:
            seed = preload(
                connection,
                cores,
                references=references,
                correlations=correlations,
                sdss=[d for d, group in market.participants.items() if any("SDS" in p.roles for p in group)],
            )
        uow = MemoryUnitOfWork(seed)
        lane = _Memory(market, uow)
        if registrations:
            lane.registrations_changed(registrations, published)
        results = [lane.submit(raw, origin) for raw in raws]
        lane.run(run)
        uow.commit()
        stored = stored_messages(market.db.engine.dialect, uow)  # CPU work before the write lock
        failpoint("lane.chunk.before-flush")
        with market.db.begin() as connection:
            flush(connection, uow, seed, messages=stored)
        failpoint("lane.chunk.after-commit")
        self.stats.published += published.produced
        return results, run


class _Memory:
    """The market's ingress, delivery and day's work over a ``MemoryUnitOfWork``, handing each
    message on as the struct validated when it was accepted or produced."""

    def __init__(self, market: Market, uow: MemoryUnitOfWork) -> None:
        self.market = market
        self.uow = uow
        self.parsed: dict[int, Parsed] = {}
        """Every message of the chunk, as validated once, by its id in ``uow``."""

    def submit(self, raw: bytes, origin: str) -> SubmitResult:
        """The DIP's ingress (``ingress.admit``), as ``Market.submit`` calls it."""
        market = self.market
        (item,) = parse_batch(raw, now=market.now, perspective=Perspective.DIP)
        if not isinstance(item, Parsed):
            return SubmitResult(
                item.sender_unique_reference, item.code, item.error.detail, path=item.error.path
            )
        admission = admit(
            self.uow.messages,
            item,
            directory=market.directory,
            at=market.now,
            origin=origin,
            route=market.route,
        )
        if admission.message_id is not None:
            self.parsed[admission.message_id] = item
        return SubmitResult.of(admission)

    def registrations_changed(self, changes: Sequence[tuple[str, date | None]], run: RunStats) -> None:
        rs = self.market.rs
        if rs is None:
            return
        ctx = self.market.context()
        produced: list[DipMessageStruct] = []
        for core, since in changes:
            produced += rs.registration_changed(core, since=since, ctx=ctx, uow=self.uow)
        self.log(produced, run)

    def prepared(self, message: DipMessageStruct, run: RunStats) -> tuple[NewMessage, Parsed]:
        """A produced message encoded once and validated once (``ingress.prepare``, as
        ``Market`` does); the validated struct is kept for its delivery."""
        market = self.market
        done = prepare(
            message, at=market.now, origin=PRODUCED, route=market.route, validate=market.validate_produced
        )
        run.produced += 1
        return done.new, done.parsed if done.parsed is not None else _unparsed(message, done.new.body)

    def log(self, produced: Iterable[DipMessageStruct], run: RunStats) -> None:
        entries = [self.prepared(m, run) for m in produced]
        ids = self.uow.messages.log_messages([new for new, _ in entries])
        for message_id, (_, item) in zip(ids, entries, strict=True):
            self.parsed[message_id] = item

    def run(self, run: RunStats) -> None:
        """Deliver until nothing is pending; then the day's work, and again, until it is done
        (as ``Market.run`` does on today)."""
        market = self.market
        ctx = market.context()
        while True:
            while self.uow.messages.has_pending():
                self.deliver_batch(self.uow.messages.pending_deliveries(market.batch_size), ctx, run)
            produced: list[DipMessageStruct] = []
            for group in market.participants.values():
                for participant in group:
                    produced += participant.daily(ctx, self.uow)
            if not produced:
                return
            self.log(produced, run)

    def deliver_batch(self, batch: Sequence[PendingDelivery], ctx: Context, run: RunStats) -> None:
        """One batch of deliveries through ``ingress.deliver``, as ``Market`` delivers one
        without savepoints: a failing receiver fails the chunk (``ParticipantFailed``)."""
        finished: list[DeliveryOutcome] = []
        produced: list[DipMessageStruct] = []
        for pending in batch:
            parsed = self.parsed[pending.message.id]
            finished.append(
                deliver_pending(
                    self.uow,
                    pending,
                    parsed,
                    self.market.participants,
                    ctx,
                    isolate=False,
                    then=produced.extend,
                )
            )
            run.delivered += 1
        self.log(produced, run)
        self.uow.messages.finish_deliveries(finished, at=ctx.now)


def _unparsed(message: DipMessageStruct, raw: bytes) -> Parsed:
    """A produced message the market does not validate (``validate_produced=False``): the
    struct itself, with its event's spec."""
    common = message.common_block  # type: ignore[attr-defined]
    spec = EVENTS[(message.INTERFACE_ID, common.s0.event_code)]
    return Parsed(message=message, spec=spec, raw=raw)
