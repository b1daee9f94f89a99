"""Read-only queries behind the dashboard: what the market's database holds on a day, summed
in the database (participants, the ISD as of the day, delivery queues, outcomes, the DCC's
access log). Nothing here writes; meter data completeness comes from the consumption dataset
(``meterdata.query``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from openmhhs.identity.isd import IsdEntry
from openmhhs.identity.translation import moment_of
from openmhhs.store.identity_repo import load_registry
from openmhhs.store.tables import (
    dcc_access_log,
    delivery,
    delivery_attempt,
    message,
    mpan,
)

__all__ = [
    "AccessRow",
    "Queue",
    "access_log",
    "counts",
    "delivery_queues",
    "isd_on",
    "participants_on",
]


@dataclass(frozen=True, slots=True)
class Queue:
    """One participant's deliveries: how many wait, are done, failed, and were retried."""

    recipient: str
    states: dict[str, int]
    retried: int

    @property
    def total(self) -> int:
        return sum(self.states.values())


@dataclass(frozen=True, slots=True)
class AccessRow:
    at: str
    requester: str
    requester_mpid: str
    via: str
    mpan: str
    day: date
    code: str | None
    reason: str


def counts(connection: Connection) -> dict[str, int]:
    """Headline numbers: MPANs, messages, deliveries."""
    return {
        "mpans": int(connection.execute(sa.select(sa.func.count()).select_from(mpan)).scalar_one()),
        "messages": int(connection.execute(sa.select(sa.func.count()).select_from(message)).scalar_one()),
        "deliveries": int(connection.execute(sa.select(sa.func.count()).select_from(delivery)).scalar_one()),
    }


def isd_on(connection: Connection, day: date) -> list[IsdEntry]:
    """The ISD rows effective on the UK day, by company and DIP role."""
    at = moment_of(day)
    table = load_registry(connection).table
    return sorted(
        (e for e in table if e.effective_at(at)), key=lambda e: (e.company_number, str(e.dip_role), e.mpid)
    )


def participants_on(connection: Connection, day: date) -> list[dict[str, Any]]:
    """Each organisation with the DIP roles it holds on the day."""
    registry = load_registry(connection)
    rows: list[dict[str, Any]] = []
    for org in registry.organisations:
        held = list(registry.registrations(org.company_number))
        rows.append(
            {
                "name": org.name,
                "company": org.company_number,
                "dip_ids": sorted({str(r.dip_id) for r in held if r.dip_id}),
                "roles": sorted({str(r.dip_role) for r in held}),
                "roles_on_day": sorted(
                    str(role)
                    for dip_id in {r.dip_id for r in held if r.dip_id}
                    for role in registry.roles_of(dip_id, on=day)
                ),
                "sec": org.sec.value,
                "dcc_user_roles": sorted(r.value for r in org.dcc_user_roles),
            }
        )
    return rows


def delivery_queues(connection: Connection) -> list[Queue]:
    """Per recipient: deliveries by state (pending, mailbox, done, failed…) and how many
    needed more than one attempt (the HTTP hub's retries)."""
    states: dict[str, dict[str, int]] = {}
    for recipient, state, n in connection.execute(
        sa.select(delivery.c.recipient, delivery.c.state, sa.func.count()).group_by(
            delivery.c.recipient, delivery.c.state
        )
    ):
        states.setdefault(recipient, {})[state] = int(n)
    retried: dict[str, int] = dict(
        connection.execute(
            sa.select(delivery.c.recipient, sa.func.count())
            .select_from(delivery.join(delivery_attempt, delivery_attempt.c.delivery_id == delivery.c.id))
            .where(delivery_attempt.c.attempts > 1)
            .group_by(delivery.c.recipient)
        ).all()
    )
    return [Queue(r, states[r], int(retried.get(r, 0))) for r in sorted(states)]


def access_log(
    connection: Connection, *, refused_only: bool, limit: int = 200
) -> tuple[int, int, list[AccessRow]]:
    """(requests allowed, requests refused, the latest rows) of the DCC's access log."""
    by_outcome: dict[bool, int] = dict(
        connection.execute(
            sa.select(dcc_access_log.c.allowed, sa.func.count()).group_by(dcc_access_log.c.allowed)
        ).all()
    )
    query = sa.select(dcc_access_log).order_by(dcc_access_log.c.id.desc()).limit(limit)
    if refused_only:
        query = query.where(dcc_access_log.c.allowed.is_(False))
    rows = [
        AccessRow(
            at=r.at.isoformat(),
            requester=r.requester,
            requester_mpid=r.requester_mpid,
            via=r.via,
            mpan=r.mpan,
            day=r.day,
            code=r.code,
            reason=r.reason,
        )
        for r in connection.execute(query)
    ]
    return int(by_outcome.get(True, 0)), int(by_outcome.get(False, 0)), rows
