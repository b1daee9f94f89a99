"""The SDS's portfolio for one MPAN, as pure operations over its rows, and the MDR instructions
a change of the portfolio calls for.

A row says: from ``period.start`` until its end, this SDS serves the MPAN with this MDR, for
this supplier. The SDS changes it only from the DIP messages it receives:

* IF-035 [DSAppAccepted] (``appoint``): from the MDR's effective-from, it serves with the
  assigned MDR (B019) for the requesting supplier (B012);
* IF-035 [SDS-MDROutcome] accepted (``change_mdr``): from the day, the MDR is another, if the
  SDS serves the MPAN that day;
* IF-001 (``change_supplier``): from the supply start, the supplier is another;
* IF-037 [DSDeApp] (``end``): it serves no more from the effective-to day.

``instructions(before, after)`` is the one rule for what each MDR must be told: for each MDR
whose days changed, IF-061 [MDRStart] from the first changed day it now serves and IF-063
[MDRStop] after the last day of each run of days, so that the MDR's instructions equal the
portfolio again. A message that changes nothing (the same fact told twice) calls for nothing:
each MDR is started and stopped exactly once per change.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta

from openmhhs.periods import Period

__all__ = ["Held", "Start", "Stop", "appoint", "change_mdr", "change_supplier", "end", "instructions"]

ONE_DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Held:
    supplier: str
    mdr: str
    mdr_mpid: str
    period: Period[date]
    contract_reference: str | None = None
    correlation_id: str | None = None


@dataclass(frozen=True, slots=True)
class Start:
    """IF-061: retrieve from ``from_day`` (for ``supplier``)."""

    mdr: str
    mdr_mpid: str
    from_day: date
    supplier: str


@dataclass(frozen=True, slots=True)
class Stop:
    """IF-063: retrieve nothing after ``last_day``."""

    mdr: str
    mdr_mpid: str
    last_day: date


def _cut(rows: Iterable[Held], at: date) -> tuple[list[Held], list[Held]]:
    """Rows split at ``at``: the parts before it and the parts from it."""
    before: list[Held] = []
    after: list[Held] = []
    for row in rows:
        period = row.period
        if period.end is not None and period.end <= at:
            before.append(row)
        elif period.start >= at:
            after.append(row)
        else:
            before.append(replace(row, period=Period(period.start, at)))
            after.append(replace(row, period=Period(at, period.end)))
    return before, after


def _sorted(rows: Iterable[Held]) -> list[Held]:
    return sorted((r for r in rows if not r.period.is_empty), key=lambda r: r.period.start)


def appoint(
    rows: Sequence[Held],
    *,
    start: date,
    supplier: str,
    mdr: str,
    mdr_mpid: str,
    contract_reference: str | None,
    correlation_id: str | None,
) -> list[Held]:
    """From ``start`` the SDS serves with ``mdr`` for ``supplier`` (what it held from then is
    replaced)."""
    before, _ = _cut(rows, start)
    return _sorted(
        [*before, Held(supplier, mdr, mdr_mpid, Period(start), contract_reference, correlation_id)]
    )


def change_mdr(
    rows: Sequence[Held], *, start: date, mdr: str, mdr_mpid: str, correlation_id: str | None
) -> list[Held]:
    """From ``start`` the MDR is ``mdr`` wherever the SDS serves; unchanged if it does not serve
    the MPAN on ``start``."""
    if not any(r.period.contains(start) for r in rows):
        return list(rows)
    before, after = _cut(rows, start)
    changed = [replace(r, mdr=mdr, mdr_mpid=mdr_mpid, correlation_id=correlation_id) for r in after]
    return _sorted([*before, *changed])


def change_supplier(rows: Sequence[Held], *, start: date, supplier: str) -> list[Held]:
    """From ``start`` the MPAN's supplier is ``supplier``."""
    before, after = _cut(rows, start)
    return _sorted([*before, *(replace(r, supplier=supplier) for r in after)])


def end(rows: Sequence[Held], *, at: date) -> list[Held]:
    """The SDS serves nothing from ``at``."""
    before, _ = _cut(rows, at)
    return _sorted(before)


def _runs(rows: Iterable[Held], mdr: str) -> list[Period[date]]:
    """The MDR's days as maximal runs."""
    runs: list[Period[date]] = []
    for row in _sorted(r for r in rows if r.mdr == mdr):
        if runs and runs[-1].end == row.period.start:
            runs[-1] = Period(runs[-1].start, row.period.end)
        else:
            runs.append(row.period)
    return runs


def _first_difference(a: list[Period[date]], b: list[Period[date]]) -> date | None:
    points = sorted({p for run in (*a, *b) for p in (run.start, run.end) if p is not None})
    for point in points:
        if any(r.contains(point) for r in a) != any(r.contains(point) for r in b):
            return point
    return None


def instructions(before: Sequence[Held], after: Sequence[Held]) -> list[Start | Stop]:
    """What the MDRs must be told for the portfolio to go from ``before`` to ``after``."""
    per_mdr: list[list[Start | Stop]] = []
    for mdr in sorted({r.mdr for r in (*before, *after)}):
        out: list[Start | Stop] = []
        per_mdr.append(out)
        was, now = _runs(before, mdr), _runs(after, mdr)
        if was == now:
            continue
        day = _first_difference(was, now)
        if day is None:
            continue
        mpid = next(r.mdr_mpid for r in (*after, *before) if r.mdr == mdr)
        if not _covered(now, day):
            out.append(Stop(mdr, mpid, day - ONE_DAY))
        for run in now:
            if run.end is not None and run.end <= day:
                continue
            begin = max(run.start, day)
            out.append(Start(mdr, mpid, begin, _supplier_on(after, mdr, begin)))
            if run.end is not None:
                out.append(Stop(mdr, mpid, run.end - ONE_DAY))
    # the MDRs that lose days are told first, then those that gain them
    per_mdr.sort(key=lambda told: not (told and isinstance(told[0], Stop)))
    return [x for told in per_mdr for x in told]


def _covered(runs: list[Period[date]], day: date) -> bool:
    return any(r.contains(day) for r in runs)


def _supplier_on(rows: Sequence[Held], mdr: str, day: date) -> str:
    for row in rows:
        if row.mdr == mdr and row.period.contains(day):
            return row.supplier
    return rows[0].supplier
