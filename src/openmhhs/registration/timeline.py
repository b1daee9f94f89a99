"""The appointment timeline of one MPAN: pure operations over its current rows.

Rows are never edited in place. A change retires the rows it affects and inserts their
successors: closing a period retires the open row and inserts the same arrangement with
an end; an MDR change splits the SDS's row at the change day. Every change is checked
against the invariant before it is returned: for each service, at most one row holds on
any day, so only one SDS==MDR combination holds for an MPAN on any day.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date

from openmhhs.codes import CodedError, ResponseCode
from openmhhs.ids import DipId, Mpid
from openmhhs.periods import Period
from openmhhs.registration.model import Appointment, MpanRecord, Service

__all__ = [
    "Gap",
    "OverlappingAppointments",
    "TimelineChange",
    "as_of",
    "change_mdr",
    "check_invariant",
    "gaps",
    "replace_from",
]


class OverlappingAppointments(CodedError):
    """Two rows of one service would hold on the same day for one MPAN."""

    code = ResponseCode.OMH0501
    rule = "registration.timeline.one_arrangement_per_day"


@dataclass(frozen=True, slots=True)
class TimelineChange:
    retire: tuple[Appointment, ...] = ()
    insert: tuple[Appointment, ...] = ()

    def applied_to(self, rows: Sequence[Appointment]) -> list[Appointment]:
        gone = {id(r) for r in self.retire}
        kept = [r for r in rows if id(r) not in gone]
        return sorted([*kept, *self.insert], key=lambda r: (r.service, r.period.start))


def check_invariant(rows: Iterable[Appointment]) -> None:
    """Raise when two current rows of the same MPAN and service overlap."""
    by_key: dict[tuple[str, str], list[Appointment]] = {}
    for row in rows:
        if not row.period.is_empty:
            by_key.setdefault((row.mpan, row.service), []).append(row)
    for (mpan, service), group in by_key.items():
        group.sort(key=lambda r: r.period.start)
        for earlier, later in itertools.pairwise(group):
            if earlier.period.overlaps(later.period):
                raise OverlappingAppointments(
                    f"MPAN {mpan} would have two {service} arrangements on "
                    f"{later.period.start.isoformat()}: {earlier.provider}/{earlier.mdr} "
                    f"{earlier.period} and {later.provider}/{later.mdr} {later.period}"
                )


def as_of(rows: Iterable[Appointment], service: Service, day: date) -> Appointment | None:
    """The row of ``service`` holding on ``day``, if any."""
    for row in rows:
        if row.service is service and row.period.contains(day):
            return row
    return None


def replace_from(rows: Sequence[Appointment], new: Appointment) -> TimelineChange:
    """``new`` holds from its start: rows of its service that start on or after it are
    retired; a row running across its start is closed there; the result is checked."""
    retire: list[Appointment] = []
    insert: list[Appointment] = []
    start = new.period.start
    for row in rows:
        if row.service is not new.service or row.period.is_empty:
            continue
        if row.period.start >= start:
            retire.append(row)
        elif row.period.end is None or row.period.end > start:
            retire.append(row)
            insert.append(replace(row, period=row.period.ending(start), id=None))
    insert.append(new)
    change = TimelineChange(tuple(retire), tuple(insert))
    check_invariant(change.applied_to(rows))
    return change


def change_mdr(
    rows: Sequence[Appointment],
    *,
    provider: DipId,
    mdr: DipId,
    mdr_mpid: Mpid,
    from_day: date,
    correlation_id: str | None,
) -> TimelineChange:
    """Split the provider's DS row holding on ``from_day`` so that ``mdr`` serves from then.

    Only the row holding on that day changes; a later row (say, an accepted change of
    supplier) keeps its own MDR.
    """
    current = as_of(rows, Service.DS, from_day)
    if current is None or current.provider != provider:
        raise ValueError(f"{provider} is not the Data Service on {from_day.isoformat()}")
    retire = [current]
    insert: list[Appointment] = []
    if current.period.start < from_day:
        insert.append(replace(current, period=current.period.ending(from_day), id=None))
    insert.append(
        replace(
            current,
            mdr=mdr,
            mdr_mpid=mdr_mpid,
            period=Period(from_day, current.period.end),
            correlation_id=correlation_id,
            id=None,
        )
    )
    change = TimelineChange(tuple(retire), tuple(insert))
    check_invariant(change.applied_to(rows))
    return change


@dataclass(frozen=True, slots=True)
class Gap:
    """An MPAN lacking a Data Service, an MDR or a Metering Service on a day."""

    mpan: str
    supplier: str | None
    missing: tuple[str, ...] = field(default=())


def gaps(records: Iterable[MpanRecord], rows_by_mpan: dict[str, list[Appointment]], day: date) -> list[Gap]:
    """MPANs with a supplier on ``day`` that lack a DS, an MDR (on the DS) or an MS then."""
    found: list[Gap] = []
    for record in records:
        supplier = record.supplier_on(day)
        if supplier is None:
            continue
        rows = rows_by_mpan.get(record.mpan, [])
        ds = as_of(rows, Service.DS, day)
        missing = []
        if ds is None:
            missing += ["DS", "MDR"]
        elif ds.mdr is None:
            missing.append("MDR")
        if as_of(rows, Service.MS, day) is None:
            missing.append("MS")
        if missing:
            found.append(Gap(record.mpan, supplier, tuple(missing)))
    return found
