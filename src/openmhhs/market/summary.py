"""What a run produced, read back from the database: arrangements by model, SDS and MDR,
outcomes by code, message volumes, gaps, and the stories of sample MPANs."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import msgspec
import sqlalchemy as sa

from openmhhs.identity.isd import IsdEntry
from openmhhs.identity.registry import Registry
from openmhhs.market.description import MarketDescription
from openmhhs.market.driver import RunResult, outcome_counts
from openmhhs.meterdata.engine import EngineStats
from openmhhs.meterdata.query import completeness, samples
from openmhhs.registration.model import Appointment
from openmhhs.registration.timeline import Gap
from openmhhs.store.database import Database
from openmhhs.store.identity_repo import load_registry
from openmhhs.store.market_repo import MarketStore, StoredMessage
from openmhhs.store.tables import appointment, message, mpan_profile

__all__ = ["MeterSummary", "Summary", "summarise", "summarise_meter_data"]


@dataclass
class Summary:
    market: MarketDescription
    run: RunResult
    registry: Registry
    isd: list[IsdEntry]
    by_model: list[tuple[str, str, str, str, int]]
    """(model, customer group, SDS, MDR, MPANs) of the Data Service on the last day."""
    outcomes: Counter[str]
    volumes: list[tuple[str, str, int]]
    gaps_start: list[Gap]
    gaps_end: list[Gap]
    timelines: dict[str, list[tuple[Appointment, bool]]] = field(default_factory=dict)
    """Per sample MPAN: every row, and whether it was retired by a later change."""
    sequence: list[StoredMessage] = field(default_factory=list)
    sequence_recipients: dict[int, list[str]] = field(default_factory=dict)
    meter: MeterSummary | None = None
    meter_seconds: float = 0.0


@dataclass
class MeterSummary:
    """What ``data run`` wrote to the consumption dataset: completeness per settlement day, and
    sample MPANs' half-hourly consumption, read from the dataset (DuckDB)."""

    stats: EngineStats
    dataset: Path
    first: date
    last: date
    completeness: list[tuple[date, int, int]]
    """(day, actual periods, estimated periods) of every MPAN-day."""
    samples: dict[str, list[tuple[date, list[int], int]]]
    """Per sample MPAN: (day, Wh per period, estimated periods)."""


def summarise_meter_data(
    dataset: Path, stats: EngineStats, *, first: date, last: date, count: int = 3
) -> MeterSummary:
    return MeterSummary(
        stats=stats,
        dataset=dataset,
        first=first,
        last=last,
        completeness=[(d, a, e) for d, _, a, e in completeness(dataset)],
        samples=samples(dataset, count),
    )


def summarise(db: Database, market: MarketDescription, run: RunResult) -> Summary:
    end: date = run.end
    with db.begin() as connection:
        registry = load_registry(connection)
        store = MarketStore(connection)
        by_model = [
            (r[0], r[1], r[2], r[3] or "-", int(r[4]))
            for r in connection.execute(
                sa.select(
                    mpan_profile.c.model,
                    mpan_profile.c.customer_group,
                    appointment.c.provider,
                    appointment.c.mdr,
                    sa.func.count(),
                )
                .select_from(mpan_profile.join(appointment, appointment.c.mpan == mpan_profile.c.mpan))
                .where(
                    appointment.c.service == "DS",
                    appointment.c.retired_at.is_(None),
                    appointment.c.valid_from <= end,
                    sa.or_(appointment.c.valid_to.is_(None), appointment.c.valid_to > end),
                )
                .group_by(
                    mpan_profile.c.model,
                    mpan_profile.c.customer_group,
                    appointment.c.provider,
                    appointment.c.mdr,
                )
                .order_by(
                    mpan_profile.c.model,
                    mpan_profile.c.customer_group,
                    appointment.c.provider,
                    appointment.c.mdr,
                )
            )
        ]
        volumes = [
            (r[0], r[1], int(r[2]))
            for r in connection.execute(
                sa.select(message.c.interface_id, message.c.event_code, sa.func.count())
                .group_by(message.c.interface_id, message.c.event_code)
                .order_by(message.c.interface_id, message.c.event_code)
            )
        ]
        gaps_start = store.gaps_on(run.start)
        gaps_end = store.gaps_on(end)
        timelines = {
            core: [(row, retired is not None) for row, _, retired in store.history(core)]
            for core in run.sample
        }
        sequence = _example_exchange(store, run)
        recipients = {m.id: [d[0] for d in store.deliveries_of(m.id)] for m in sequence}
    return Summary(
        market=market,
        run=run,
        registry=registry,
        isd=list(registry.table),
        by_model=by_model,
        outcomes=outcome_counts(db),
        volumes=volumes,
        gaps_start=gaps_start,
        gaps_end=gaps_end,
        timelines=timelines,
        sequence=sequence,
        sequence_recipients=recipients,
    )


def _example_exchange(store: MarketStore, run: RunResult) -> list[StoredMessage]:
    """The messages of one change-of-supplier appointment, with the outgoing SDS's
    de-appointment (IF-037, under its own correlation id) when the change of supplier
    changed the SDS: the first such MPAN, else the run's example exchange."""
    for core in run.changes_of_supplier[:200]:
        found = store.messages(core=core)
        deapp = next((m for m in found if m.interface_id == "IF-037"), None)
        if deapp is None:
            continue
        request = [m for m in found if m.event_code == "[DSApp]" and m.id < deapp.id][-1:]
        if request and request[0].correlation_id:
            exchange = store.messages(correlation_id=request[0].correlation_id)
            return sorted([*exchange, deapp], key=lambda m: m.id)
    return store.messages(correlation_id=run.example_correlation) if run.example_correlation else []


def event_of(stored: StoredMessage) -> str:
    return f"{stored.interface_id} {stored.event_code}"


def decode(stored: StoredMessage) -> object:
    return msgspec.json.decode(stored.body)
