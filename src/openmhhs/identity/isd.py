"""The ISD ID look-up table (ISD entity M16): effective-dated rows mapping a DIP ID and DIP
role to a DTN MPID and market role, per company.

It is the definitive list of valid MDRs. Rows are never edited: a change ends one row
(``datetimeTo``) and starts another; inactive rows stay. A table refuses overlapping
effective periods for the same key, because a translation must never have two answers:

* one DIP registration (DIP ID + DIP role) maps to one MPID at a time;
* one DTN identity (MPID + market role, where the role is given) maps to one DIP ID;
* one MPID within one DIP role belongs to one DIP ID (the MDR's 4-character id, which
  CSS and the DCC use for meter access, must identify exactly one MDR).

And whatever the dates, one DIP ID and one MPID belong to one organisation (company
registration number): a table that gives either to two organisations is refused (OMH0303).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from openmhhs.codes import CodedError, ResponseCode
from openmhhs.ids import CompanyNumber, DipId, DipRole, MarketRole, Mpid
from openmhhs.periods import Period

__all__ = [
    "IsdEntry",
    "IsdFileRejected",
    "IsdIdentityShared",
    "IsdOverlap",
    "IsdTable",
    "RowProblem",
    "find_overlaps",
    "find_shared_identities",
]


@dataclass(frozen=True, slots=True)
class IsdEntry:
    """One M16 row: ``dip_id``/``dip_role`` == ``mpid``/``market_role`` over ``valid``."""

    company_number: CompanyNumber
    company_name: str | None
    mpid: Mpid
    market_role: MarketRole | None
    dip_id: DipId | None
    dip_role: DipRole
    valid: Period[datetime]
    row: int = field(default=0, compare=False)
    """Where the row came from (1-based position in its file), for error messages."""

    def effective_at(self, at: datetime) -> bool:
        return self.valid.contains(at)

    def describe(self) -> str:
        role = self.market_role or "-"
        return f"{self.dip_id or '-'} {self.dip_role} == {self.mpid} {role} {self.valid}"


@dataclass(frozen=True, slots=True)
class RowProblem:
    """A bad row (or pair of rows) in an ISD file, in words a person can act on."""

    row: int
    where: str
    message: str
    code: ResponseCode = ResponseCode.OMH0202

    def __str__(self) -> str:
        return f"row {self.row} ({self.where}): {self.code.value} {self.message}"


class IsdFileRejected(CodedError):
    """An ISD file with bad rows: nothing from it is loaded."""

    code = ResponseCode.OMH0202
    rule = "identity.isd.file_valid"

    def __init__(self, problems: Sequence[RowProblem], *, source: str = "ISD file") -> None:
        shown = "; ".join(str(p) for p in problems[:20])
        more = f"; and {len(problems) - 20} more" if len(problems) > 20 else ""
        super().__init__(f"{source} rejected, nothing loaded: {shown}{more}")
        self.problems = list(problems)


class IsdUnreadable(CodedError):
    code = ResponseCode.OMH0201
    rule = "identity.isd.file_readable"


class IsdOverlap(CodedError):
    code = ResponseCode.OMH0203
    rule = "identity.isd.no_overlap"

    def __init__(self, problems: Sequence[RowProblem]) -> None:
        super().__init__("; ".join(str(p) for p in problems[:20]))
        self.problems = list(problems)


class IsdIdentityShared(CodedError):
    """A DIP ID or an MPID given to two organisations: nothing is loaded."""

    code = ResponseCode.OMH0303
    rule = "identity.isd.one_organisation"

    def __init__(self, problems: Sequence[RowProblem]) -> None:
        super().__init__("; ".join(str(p) for p in problems[:20]))
        self.problems = list(problems)


def find_shared_identities(entries: Iterable[IsdEntry]) -> list[RowProblem]:
    """Every row whose DIP ID or MPID an earlier row gives to another organisation."""
    first: dict[tuple[str, str], IsdEntry] = {}
    problems: list[RowProblem] = []
    for entry in entries:
        keys = [("DIP ID", str(entry.dip_id))] if entry.dip_id is not None else []
        keys.append(("MPID", str(entry.mpid)))
        for kind, value in keys:
            holder = first.setdefault((kind, value), entry)
            if holder.company_number != entry.company_number:
                problems.append(
                    RowProblem(
                        row=entry.row,
                        where=f"{kind} {value}",
                        message=(
                            f"held by organisation {entry.company_number} here and by "
                            f"{holder.company_number} in row {holder.row}: one {kind} belongs to "
                            f"one organisation"
                        ),
                        code=ResponseCode.OMH0303,
                    )
                )
    return problems


_KINDS = {"D": "DIP ID/DIP role", "M": "MPID/market role", "R": "MPID/DIP role"}


def find_overlaps(entries: Iterable[IsdEntry]) -> list[RowProblem]:
    """Every row whose effective period overlaps an earlier-starting row of the same key."""
    by_key: dict[tuple[str, str, str], list[IsdEntry]] = defaultdict(list)
    for entry in entries:
        if entry.valid.is_empty:
            continue
        if entry.dip_id is not None:
            by_key["D", entry.dip_id, entry.dip_role].append(entry)
        if entry.market_role is not None:
            by_key["M", entry.mpid, entry.market_role].append(entry)
        by_key["R", entry.mpid, entry.dip_role].append(entry)
    problems: list[RowProblem] = []
    for (letter, first, second), group in by_key.items():
        if len(group) < 2:
            continue
        kind, values = _KINDS[letter], (first, second)
        group.sort(key=lambda e: e.valid.start)
        latest_end_entry = group[0]
        for entry in group[1:]:
            if latest_end_entry.valid.overlaps(entry.valid):
                problems.append(
                    RowProblem(
                        row=entry.row,
                        where=f"{kind} {'/'.join(values)}",
                        message=(
                            f"effective period {entry.valid} overlaps row "
                            f"{latest_end_entry.row} ({latest_end_entry.valid})"
                        ),
                        code=ResponseCode.OMH0203,
                    )
                )
            if latest_end_entry.valid.end is not None and (
                entry.valid.end is None or entry.valid.end > latest_end_entry.valid.end
            ):
                latest_end_entry = entry
    problems.sort(key=lambda p: p.row)
    return problems


class IsdTable:
    """An immutable, validated set of M16 rows, indexed for translation."""

    __slots__ = ("_by_dip", "_by_mpid", "_by_role", "_effective", "_entries")

    def __init__(self, entries: Iterable[IsdEntry], *, checked: bool = False) -> None:
        """``checked=True`` only from a reader that has just run ``find_overlaps`` and
        ``find_shared_identities``."""
        self._entries: tuple[IsdEntry, ...] = tuple(entries)
        problems = [] if checked else find_overlaps(self._entries)
        if problems:
            raise IsdOverlap(problems)
        if not checked and (shared := find_shared_identities(self._entries)):
            raise IsdIdentityShared(shared)
        by_dip: dict[tuple[str, str], list[IsdEntry]] = defaultdict(list)
        by_mpid: dict[str, list[IsdEntry]] = defaultdict(list)
        by_role: dict[str, list[IsdEntry]] = defaultdict(list)
        for entry in self._entries:
            if entry.dip_id is not None:
                by_dip[(entry.dip_id, entry.dip_role)].append(entry)
            by_mpid[entry.mpid].append(entry)
            by_role[entry.dip_role].append(entry)
        self._by_dip = dict(by_dip)
        self._by_mpid = dict(by_mpid)
        self._by_role = dict(by_role)
        self._effective: dict[tuple[str, str, datetime], tuple[IsdEntry, ...]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[IsdEntry]:
        return iter(self._entries)

    @property
    def entries(self) -> tuple[IsdEntry, ...]:
        return self._entries

    def for_dip(self, dip_id: DipId, dip_role: DipRole) -> list[IsdEntry]:
        return list(self._by_dip.get((dip_id, dip_role), ()))

    def effective_for_dip(self, dip_id: DipId, dip_role: DipRole, at: datetime) -> tuple[IsdEntry, ...]:
        """The rows of ``dip_id``/``dip_role`` effective at ``at`` (remembered: the table never
        changes, and a market asks the same question for every message of a day)."""
        key = (dip_id, dip_role, at)
        found = self._effective.get(key)
        if found is None:
            found = tuple(e for e in self._by_dip.get((dip_id, dip_role), ()) if e.effective_at(at))
            if len(self._effective) >= 65_536:
                self._effective.clear()
            self._effective[key] = found
        return found

    def for_mpid(self, mpid: Mpid) -> list[IsdEntry]:
        return list(self._by_mpid.get(mpid, ()))

    def for_role(self, dip_role: DipRole) -> list[IsdEntry]:
        return list(self._by_role.get(dip_role, ()))

    def for_dip_id(self, dip_id: DipId) -> list[IsdEntry]:
        return [e for e in self._entries if e.dip_id == dip_id]
