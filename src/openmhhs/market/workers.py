"""Parallel workers for the batch lane: the MPANs of a piece of bulk work split by a stable
hash over worker processes (spawned: each its own interpreter, connection, market and lane).

Every rule names one MPAN, so workers never share a record: what one worker plays depends on
its MPANs alone, and the result is that of one worker. The writes meet only in the database:
on SQLite each chunk's flush waits for the write lock (the busy timeout), on PostgreSQL the
workers write at once, each into the partitions of its MPANs.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
import zlib
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import date, datetime
from types import TracebackType
from typing import Any

from openmhhs.codes import CodedError, ResponseCode
from openmhhs.dip.schema import DipMessageStruct
from openmhhs.market.bus import Market, SubmitResult
from openmhhs.market.lane import DEFAULT_CHUNK, BatchLane, LaneStats, mpan_of
from openmhhs.registration.rules import RsSettings
from openmhhs.store.database import Database

__all__ = ["Playing", "WorkerDied", "Workers", "default_workers", "play_in_workers", "worker_of"]


class WorkerDied(CodedError):
    """A worker process ended (killed, out of memory) before its share was played. What its
    chunks committed stays; a migration rerun resumes from its checkpoint."""

    code = ResponseCode.OMH0520
    rule = "market.workers.all_finished"


def default_workers() -> int:
    """``--workers``' default: one per core."""
    return max(1, os.cpu_count() or 1)


def worker_of(core: str, workers: int) -> int:
    """The worker that plays MPAN ``core``: a hash stable across processes and runs."""
    return zlib.crc32(core.encode()) % workers


def _watch_parent(parent: int) -> None:
    """In a worker: end when the process that started it is gone (killed, say), rather than
    linger holding its pipes open."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.2)
        os._exit(1)

    threading.Thread(target=watch, name="watch-parent", daemon=True).start()


def _play(
    url: str,
    today: date,
    now: datetime,
    messages: Sequence[DipMessageStruct],
    registrations: Sequence[tuple[str, date | None]],
    chunk: int,
    settings: RsSettings | None,
) -> tuple[LaneStats, list[SubmitResult]]:
    """One worker's share, in the worker process."""
    lane = BatchLane(_market(url, today, now, settings), chunk=chunk)
    return lane.stats, lane.send(messages, registrations=registrations)


_MARKETS: dict[tuple[str, date, datetime, RsSettings | None], Market] = {}
"""In a worker: the market it played on last, kept for the next share of the same work (a
migration sends hundreds; opening the database and loading the market costs ~0.1 s)."""


def _market(url: str, today: date, now: datetime, settings: RsSettings | None) -> Market:
    key = (url, today, now, settings)
    market = _MARKETS.get(key)
    if market is None:
        for old in _MARKETS.values():
            old.db.dispose()
        _MARKETS.clear()
        market = Market(Database(url), today=today, now=now, settings=settings, batch_size=500)
        _MARKETS[key] = market
    return market


def _ready() -> int:
    """In a worker: that it is up (its process id), after a pause long enough for the other
    workers' first tasks to reach them rather than this one."""
    time.sleep(0.05)
    return os.getpid()


class Workers:
    """``count`` worker processes, kept for several pieces of work (``with Workers(n) as w``)."""

    def __init__(self, count: int) -> None:
        if count < 1:
            raise ValueError("at least one worker")
        self.count = count
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> Workers:
        if self.count > 1:
            self._pool = ProcessPoolExecutor(
                self.count,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_watch_parent,
                initargs=(os.getpid(),),
            )
        return self

    def start(self) -> float:
        """Start every worker process now rather than at the first ``play`` (each imports the
        market's modules, about a second on this machine); returns the seconds it took."""
        began = time.perf_counter()
        if self._pool is not None:
            seen: set[int] = set()
            while len(seen) < self.count:
                waiting = [self._pool.submit(_ready) for _ in range(self.count)]
                seen.update(f.result() for f in waiting)
        return time.perf_counter() - began

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def begin(
        self,
        url: str,
        *,
        today: date,
        now: datetime,
        messages: Sequence[DipMessageStruct],
        registrations: Sequence[tuple[str, date | None]] = (),
        chunk: int = DEFAULT_CHUNK,
        settings: RsSettings | None = None,
        market: Market | None = None,
    ) -> Playing:
        """Hand ``messages`` (and ``registrations``) to the workers, split by MPAN, without
        waiting: ``Playing.result()`` gives the workers' figures added up and the DIP's answer
        to each message, in order; the caller prepares its next piece of work meanwhile. Pieces
        at work together must be of different MPANs (each is split over all the workers). With
        one worker the work is played here and now (on ``market``, when given)."""
        if self._pool is None:
            if market is None:
                return Playing.done(_play(url, today, now, messages, registrations, chunk, settings))
            lane = BatchLane(market, chunk=chunk)
            return Playing.done((lane.stats, lane.send(messages, registrations=registrations)))
        shares: list[tuple[list[int], list[tuple[str, date | None]]]] = [([], []) for _ in range(self.count)]
        for n, message in enumerate(messages):
            shares[worker_of(mpan_of(message), self.count)][0].append(n)
        for change in registrations:
            shares[worker_of(change[0], self.count)][1].append(change)
        futures = [
            (
                indices,
                self._pool.submit(
                    _play, url, today, now, [messages[n] for n in indices], changes, chunk, settings
                ),
            )
            for indices, changes in shares
            if indices or changes
        ]
        return Playing(futures, len(messages))


class Playing:
    """Work handed to the workers (``Workers.begin``); ``result()`` waits for it."""

    def __init__(
        self, futures: list[tuple[list[int], Future[tuple[LaneStats, list[SubmitResult]]]]], count: int
    ):
        self._futures = futures
        self._count = count
        self._done: tuple[LaneStats, list[SubmitResult]] | None = None

    @classmethod
    def done(cls, result: tuple[LaneStats, list[SubmitResult]]) -> Playing:
        playing = cls([], len(result[1]))
        playing._done = result
        return playing

    def result(self) -> tuple[LaneStats, list[SubmitResult]]:
        """The workers' figures added up, and the DIP's answer to each message, in order."""
        if self._done is not None:
            return self._done
        total = LaneStats()
        results: dict[int, SubmitResult] = {}
        for indices, future in self._futures:
            try:
                stats, answers = future.result()
            except BrokenProcessPool:
                raise WorkerDied(
                    "a batch-lane worker process ended before its work was done; "
                    "what its chunks committed is kept (rerun to resume)"
                ) from None
            total.merge(stats)
            results.update(zip(indices, answers, strict=True))
        self._done = (total, [results[n] for n in range(self._count)])
        return self._done


def play_in_workers(url: str, *, workers: int, **work: Any) -> tuple[LaneStats, list[SubmitResult]]:
    """``Workers.begin`` once, waited for, with a pool made for it."""
    with Workers(workers) as pool:
        return pool.begin(url, **work).result()
