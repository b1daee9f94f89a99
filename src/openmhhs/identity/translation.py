"""Translation through the ISD M16 table, as of a moment: DIP ID + DIP role to MPID +
market role and back, the valid MDRs, and an MDR's 4-character id.

A look-up has exactly one answer or fails: no effective row (``OMH0301``) and several
effective rows (``OMH0302``) are different errors, never a silent first match. For MDRs
the absence is the Registration Service's REG1081 ("not a valid MDR").

"On a day" means at the start of that UK local day: a settlement day is served by whoever
is registered when it begins.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from openmhhs.codes import CodedError, ResponseCode
from openmhhs.days import day_start
from openmhhs.identity.isd import IsdEntry, IsdTable
from openmhhs.ids import DipId, DipRole, MarketRole, Mpid
from openmhhs.periods import Period

__all__ = [
    "ANY_MARKET_ROLE",
    "AmbiguousIsdMatch",
    "NoIsdMatch",
    "NotAValidMdr",
    "RoleNotHeld",
    "dip_for",
    "holds_role",
    "is_valid_mdr",
    "mdr_mpid",
    "moment_of",
    "mpid_for",
    "require_role",
    "valid_mdrs",
]


class NoIsdMatch(CodedError):
    code = ResponseCode.OMH0301
    rule = "identity.translation.match_exists"


class AmbiguousIsdMatch(CodedError):
    code = ResponseCode.OMH0302
    rule = "identity.translation.match_unique"


class NotAValidMdr(CodedError):
    code = ResponseCode.REG1081
    rule = "identity.mdr.registered_in_isd"


def moment_of(on: date | datetime) -> datetime:
    """A date means the start of that UK local day; a date-time must be timezone-aware."""
    if isinstance(on, datetime):
        if on.tzinfo is None:
            raise ValueError("look-ups need a timezone-aware moment")
        return on
    return day_start(on)


def _only(candidates: Iterable[IsdEntry], at: datetime, what: str) -> IsdEntry:
    effective = [entry for entry in candidates if entry.effective_at(at)]
    if not effective:
        raise NoIsdMatch(f"no ISD entry for {what} is effective at {at.isoformat()}")
    if len(effective) > 1:
        rows = ", ".join(entry.describe() for entry in effective)
        raise AmbiguousIsdMatch(f"{len(effective)} ISD entries for {what} at {at.isoformat()}: {rows}")
    return effective[0]


def mpid_for(table: IsdTable, *, dip_id: DipId, dip_role: DipRole, on: date | datetime) -> IsdEntry:
    """The row translating a DIP ID and role to its MPID and market role."""
    at = moment_of(on)
    return _only(table.effective_for_dip(dip_id, dip_role, at), at, f"DIP ID {dip_id} role {dip_role}")


class _AnyRole:
    def __repr__(self) -> str:
        return "ANY_MARKET_ROLE"


ANY_MARKET_ROLE = _AnyRole()
"""Do not filter on the market role (MDRs have none; the DIP role then disambiguates)."""


def dip_for(
    table: IsdTable,
    *,
    mpid: Mpid,
    market_role: MarketRole | _AnyRole | None,
    on: date | datetime,
    dip_role: DipRole | None = None,
) -> IsdEntry:
    """The row translating an MPID and market role back to a DIP ID and role.

    ``market_role=None`` matches rows without a market role (MDRs); ``ANY_MARKET_ROLE``
    matches any, so that the DIP role alone can pick the row.
    """
    candidates = [
        entry
        for entry in table.for_mpid(mpid)
        if entry.dip_id is not None
        and (market_role is ANY_MARKET_ROLE or entry.market_role == market_role)
        and (dip_role is None or entry.dip_role == dip_role)
    ]
    shown = "(any)" if market_role is ANY_MARKET_ROLE else market_role or "(none)"
    what = f"MPID {mpid} market role {shown}"
    if dip_role is not None:
        what += f" DIP role {dip_role}"
    return _only(candidates, moment_of(on), what)


def valid_mdrs(table: IsdTable, *, on: date | datetime) -> list[IsdEntry]:
    """Every MDR registration effective at the moment, ordered by MPID then DIP ID."""
    at = moment_of(on)
    mdrs = [e for e in table.for_role(DipRole.MDR) if e.dip_id is not None and e.effective_at(at)]
    return sorted(mdrs, key=lambda e: (e.mpid, e.dip_id or ""))


def is_valid_mdr(table: IsdTable, *, dip_id: DipId, on: date | datetime) -> bool:
    at = moment_of(on)
    return any(e.effective_at(at) for e in table.for_dip(dip_id, DipRole.MDR))


def mdr_mpid(table: IsdTable, *, dip_id: DipId, on: date | datetime) -> Mpid:
    """The 4-character id CSS and the DCC know the MDR by (REG1081 when not a valid MDR)."""
    try:
        return mpid_for(table, dip_id=dip_id, dip_role=DipRole.MDR, on=on).mpid
    except NoIsdMatch:
        raise NotAValidMdr(
            f"{dip_id} is not registered as an MDR in the ISD on {moment_of(on).date().isoformat()}"
        ) from None


class RoleNotHeld(CodedError):
    code = ResponseCode.OMH0304
    rule = "identity.role.held"


def holds_role(table: IsdTable, *, dip_id: DipId, role: DipRole, during: Period[date]) -> bool:
    """Whether an M16 row gives ``dip_id`` the DIP role at some moment of the UK days ``during``."""
    window = Period(day_start(during.start), day_start(during.end) if during.end is not None else None)
    return any(entry.valid.overlaps(window) for entry in table.for_dip(dip_id, role))


def require_role(table: IsdTable, *, dip_id: DipId, role: DipRole, during: Period[date], what: str) -> None:
    """``what`` (e.g. "the contract's SDS") must hold the DIP role in the ISD during those days:
    REG1081 for an MDR (the definitive list of valid MDRs), OMH0304 for any other role."""
    if holds_role(table, dip_id=dip_id, role=role, during=during):
        return
    days = during.start.isoformat() + (f" to {during.end.isoformat()}" if during.end else " onwards")
    detail = f"{what} {dip_id} holds no {role} role in the ISD on {days}"
    raise NotAValidMdr(detail) if role == DipRole.MDR else RoleNotHeld(detail)
