"""The read side: every question the command line (``openmhhs timeline``, ``gaps``,
``messages``, the outcomes ``submit`` prints), the query API (``/api/timeline``, ``/api/gaps``)
and the dashboard ask of the appointment data and the message log, asked here once and
answered with frozen rows.

The point query ("which SDS and MDR serve MPAN M on day D", with the Metering Service beside
it) is a prepared statement run through the driver's own cursor (``ServedOn``): it is the
question asked most, and SQLAlchemy's per-call work would be most of its cost. The other
questions read through the store (``store.market_repo``), which owns how rows are kept.
Nothing here writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, NamedTuple

from sqlalchemy.engine import Connection

from openmhhs.market.outcomes import Outcome, outcome_of
from openmhhs.periods import Period
from openmhhs.registration.model import Appointment, MpanRecord, Service
from openmhhs.registration.timeline import Gap, as_of
from openmhhs.store.market_repo import MarketStore, StoredMessage

__all__ = [
    "Delivered",
    "Held",
    "Logged",
    "Retired",
    "ServedOn",
    "Timeline",
    "arrangements_on",
    "exchange",
    "gaps_on",
    "held",
    "held_on",
    "logged",
    "outcome",
    "retired",
    "timeline",
]


class Held(NamedTuple):
    """One appointment period as the readers show it: a Data Service (with its MDR) or a
    Metering Service, ``[start, end)``. (A named tuple: the point query makes one per row
    from the driver's row at the cost of a tuple.)"""

    service: str
    provider: str
    provider_mpid: str
    mdr: str | None
    mdr_mpid: str | None
    start: date
    end: date | None
    supplier: str
    scenario: str | None
    correlation_id: str | None


def held(row: Appointment) -> Held:
    return Held(
        service=row.service.value,
        provider=str(row.provider),
        provider_mpid=str(row.provider_mpid),
        mdr=None if row.mdr is None else str(row.mdr),
        mdr_mpid=None if row.mdr_mpid is None else str(row.mdr_mpid),
        start=row.period.start,
        end=row.period.end,
        supplier=str(row.supplier),
        scenario=None if row.scenario is None else row.scenario.value,
        correlation_id=row.correlation_id,
    )


def _by_start(rows: Sequence[Appointment]) -> tuple[Appointment, ...]:
    return tuple(sorted(rows, key=lambda r: (r.period.start, r.service.value)))


@dataclass(frozen=True, slots=True)
class Timeline:
    """A registered MPAN and its current appointment rows (both services), by start date."""

    record: MpanRecord
    rows: tuple[Appointment, ...]

    def on(self, day: date) -> tuple[Appointment, ...]:
        """The rows holding on ``day`` (at most one per service), by start date."""
        return held_on(self.rows, day)

    def overlapping(self, window: Period[date]) -> tuple[Appointment, ...]:
        return tuple(r for r in self.rows if r.period.overlaps(window))


def held_on(rows: Sequence[Appointment], day: date) -> tuple[Appointment, ...]:
    """Of ``rows``, those holding on ``day``, by start date (the timeline's ``as_of``)."""
    return _by_start([r for r in (as_of(rows, Service.DS, day), as_of(rows, Service.MS, day)) if r])


def timeline(connection: Connection, core: str) -> Timeline | None:
    """The MPAN's timeline; None when the MPAN is not registered."""
    store = MarketStore(connection)
    record = store.get_mpan(core)
    if record is None:
        return None
    return Timeline(record, _by_start(store.timeline(core)))


@dataclass(frozen=True, slots=True)
class Retired:
    """A row a later change retired, with when it was recorded and retired."""

    row: Appointment
    recorded_at: datetime
    retired_at: datetime


def retired(connection: Connection, core: str) -> tuple[Retired, ...]:
    """The MPAN's retired rows, oldest first."""
    return tuple(
        Retired(row, recorded, gone)
        for row, recorded, gone in MarketStore(connection).history(core)
        if gone is not None
    )


def gaps_on(
    connection: Connection, day: date, *, limit: int | None = None, supplier: str | None = None
) -> list[Gap]:
    """MPANs with a supplier on ``day`` (``supplier``'s only, when given) lacking a DS, an MDR
    or an MS."""
    return MarketStore(connection).gaps_on(day, limit, supplier=supplier)


def arrangements_on(connection: Connection, day: date) -> list[tuple[str, str, str | None, int]]:
    """(service, provider, MDR, MPANs) holding on ``day``."""
    return MarketStore(connection).arrangement_counts(day)


class Delivered(NamedTuple):
    """Where a logged message went and how its delivery ended."""

    recipient: str
    state: str
    code: str | None
    detail: str | None


@dataclass(frozen=True, slots=True)
class Logged:
    """A logged message with its deliveries."""

    message: StoredMessage
    to: tuple[Delivered, ...]


def logged(
    connection: Connection,
    *,
    core: str | None = None,
    correlation_id: str | None = None,
    deliveries: bool = True,
) -> list[Logged]:
    """The message log, oldest first (one MPAN's or one exchange's), with each message's
    deliveries unless ``deliveries`` is False."""
    store = MarketStore(connection)
    return [
        Logged(m, tuple(Delivered(*d) for d in store.deliveries_of(m.id)) if deliveries else ())
        for m in store.messages(core=core, correlation_id=correlation_id)
    ]


def exchange(connection: Connection, correlation_id: str) -> list[Logged]:
    """Every message of one exchange (correlation id), with its deliveries."""
    return logged(connection, correlation_id=correlation_id)


def outcome(
    connection: Connection, correlation_id: str | None, *, since: StoredMessage | None = None
) -> Outcome | None:
    """How an exchange ended (``market.outcomes.outcome_of``), judged from ``since`` (its first
    message when not given); None for an exchange not in the log."""
    messages = MarketStore(connection).messages(correlation_id=correlation_id) if correlation_id else []
    first = since or (messages[0] if messages else None)
    return None if first is None else outcome_of(first, messages)


# -- the point query, through the driver's cursor -------------------------------------------------
_HELD_ON = (
    "SELECT service, provider, provider_mpid, mdr, mdr_mpid, valid_from, valid_to, supplier, "
    "scenario, correlation_id FROM appointment WHERE mpan = {core} AND retired_at IS NULL "
    "AND valid_from <= {day} AND (valid_to IS NULL OR valid_to > {day}) ORDER BY valid_from, service"
)
_REGISTERED = "SELECT 1 FROM mpan WHERE mpan = {core}"


class ServedOn:
    """ "Who serves MPAN M on day D": ``ask(core, day)`` gives the rows holding that day (the
    Data Service with its MDR first when both start together, then the Metering Service), an
    empty tuple for a registered MPAN with none, None for an MPAN not registered.

    Two statements, prepared once on the connection's own driver cursor and run with the
    driver's parameters (SQLite caches each compiled statement per connection; psycopg
    prepares them on the server): the rows of the day, and only when there are none, whether
    the MPAN is registered. Use it within the connection's transaction (``Database.read()``)."""

    def __init__(self, connection: Connection) -> None:
        raw: Any = connection.connection.dbapi_connection
        self._sqlite = connection.dialect.name == "sqlite"
        if self._sqlite:
            self._held_on = _HELD_ON.format(day="?1", core="?2")
            self._registered = _REGISTERED.format(core="?")
        else:
            self._held_on = _HELD_ON.format(day="%(day)s", core="%(core)s")
            self._registered = _REGISTERED.format(core="%(core)s")
        self._cursor: Any = raw.cursor()

    def ask(self, core: str, day: date) -> tuple[Held, ...] | None:
        cursor = self._cursor
        if self._sqlite:
            cursor.execute(self._held_on, (day.isoformat(), core))
            rows = cursor.fetchall()
            if rows:
                iso = date.fromisoformat
                return tuple(
                    Held(s, p, pm, m, mm, iso(start), None if end is None else iso(end), sup, sc, cid)
                    for s, p, pm, m, mm, start, end, sup, sc, cid in rows
                )
            cursor.execute(self._registered, (core,))
        else:
            cursor.execute(self._held_on, {"day": day, "core": core}, prepare=True)
            found = cursor.fetchall()
            if found:
                return tuple(Held._make(row) for row in found)
            cursor.execute(self._registered, {"core": core}, prepare=True)
        return () if cursor.fetchone() is not None else None

    def data_service(self, core: str, day: date) -> Held | None:
        """The Data Service (with its MDR) appointed to the MPAN on ``day``."""
        for row in self.ask(core, day) or ():
            if row.service == "DS":
                return row
        return None

    def close(self) -> None:
        self._cursor.close()

    def __enter__(self) -> ServedOn:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
