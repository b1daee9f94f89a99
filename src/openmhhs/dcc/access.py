"""The DCC's access decision, as a pure function of what the DCC holds: its records of the
Registration Service's messages and the ISD as of the day.

The DCC keeps two kinds of notice per MPAN, each "from day D, this holds":

* [DCC-MDROutcome] (IF-035, B066): from D, MDR M (by DIP ID) serves the MPAN;
* IF-001 [InitialRegistration]/[ChangeOfSupplier] (B002, B023): from D, supplier S supplies
  the MPAN, whose energy direction is import (I) or export (E).

A notice replaces what the DCC knew from its day onwards (``merge``): the Registration
Service republishes the notices of every later row that still stands, so "replace from D"
keeps the DCC's record equal to the RS's timeline for every day.

Rules, in order, each with its code (``decide``):

* ``OMH0701`` the requester is not a DCC user in the DCC user role it uses;
* reading as MDR: ``OMH0702`` no MDR is authorised for the MPAN that day; ``OMH0703`` another
  MDR is; ``OMH0706`` the MDR's ISD registration is not effective that day (an ended
  registration ends authorisation); ``OMH0707`` the id presented is not the MDR's 4-character
  id that day (ids are translated through the ISD as of the day, never frozen);
* reading with a supplier role: ``OMH0704`` the requester is not the MPAN's registered supplier
  that day (with or without a Data Service); ``OMH0708`` Import Supplier for an export MPAN or
  Export Supplier for an import one.

``retrieval_role`` is the one rule for which DCC user role an MDR reads an MPAN with: its Meter
Data Retriever role, or (a Supplier acting as its own MDR) the supplier role matching the MPAN's
energy direction; ``None`` when it holds neither (``OMH0709``). The data run and ``openmhhs
model check`` both call it.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Protocol, TypeVar

from openmhhs.codes import ResponseCode
from openmhhs.identity.isd import IsdTable
from openmhhs.identity.registry import DccUserRole
from openmhhs.identity.translation import AmbiguousIsdMatch, NoIsdMatch, mpid_for
from openmhhs.ids import DipId, DipRole

__all__ = [
    "EXPORT",
    "IMPORT",
    "AccessDecision",
    "DccRecords",
    "MdrIds",
    "MdrNotice",
    "ReadRequest",
    "SupplyNotice",
    "authorise",
    "authorised_mdr",
    "decide",
    "merge",
    "reading_role",
    "retrieval_role",
    "supplier_role_for",
]

IMPORT, EXPORT = "I", "E"


@dataclass(frozen=True, slots=True)
class MdrNotice:
    """A [DCC-MDROutcome] as the DCC recorded it: from ``valid_from``, ``mdr`` serves ``mpan``."""

    mpan: str
    mdr: str
    valid_from: date


@dataclass(frozen=True, slots=True)
class SupplyNotice:
    """An IF-001 as the DCC recorded it: from ``valid_from``, ``supplier`` supplies ``mpan``."""

    mpan: str
    supplier: str
    energy_direction: str
    valid_from: date


class _Dated(Protocol):
    @property
    def valid_from(self) -> date: ...


N = TypeVar("N", bound=_Dated)


def merge(notices: Iterable[N]) -> tuple[N, ...]:
    """The notices that stand, in day order, from notices in the order received: each replaces
    what was known from its day onwards. Each standing notice holds until the next one's day.

    Equivalently (property-tested), the notice in force on a day is the latest received of those
    effective by that day, which is how the access list asks the database for a whole day."""
    standing: list[N] = []
    for notice in notices:
        while standing and standing[-1].valid_from >= notice.valid_from:
            standing.pop()
        standing.append(notice)
    return tuple(standing)


def _on(standing: tuple[N, ...], starts: tuple[date, ...], day: date) -> N | None:
    index = bisect.bisect_right(starts, day) - 1
    return standing[index] if index >= 0 else None


@dataclass(frozen=True, slots=True)
class DccRecords:
    """What the DCC holds for one MPAN, merged."""

    mdrs: tuple[MdrNotice, ...] = ()
    supplies: tuple[SupplyNotice, ...] = ()

    @classmethod
    def received(cls, mdrs: Iterable[MdrNotice], supplies: Iterable[SupplyNotice]) -> DccRecords:
        """From notices in the order the DCC received them."""
        return cls(merge(mdrs), merge(supplies))

    def mdr_on(self, day: date) -> MdrNotice | None:
        return _on(self.mdrs, tuple(n.valid_from for n in self.mdrs), day)

    def supply_on(self, day: date) -> SupplyNotice | None:
        return _on(self.supplies, tuple(n.valid_from for n in self.supplies), day)


class MdrIds:
    """An MDR's 4-character id on a day, from the ISD (``None`` when no single MDR row of that
    DIP ID is effective at the start of the day). Answers are remembered per (MDR, day)."""

    def __init__(self, isd: IsdTable) -> None:
        self._isd = isd
        self._seen: dict[tuple[str, date], str | None] = {}

    def __call__(self, mdr: str, day: date) -> str | None:
        key = (mdr, day)
        if key not in self._seen:
            try:
                found: str | None = str(
                    mpid_for(self._isd, dip_id=DipId(mdr), dip_role=DipRole.MDR, on=day).mpid
                )
            except (NoIsdMatch, AmbiguousIsdMatch):
                found = None
            self._seen[key] = found
        return self._seen[key]


MdrIdOn = Callable[[str, date], "str | None"]


@dataclass(frozen=True, slots=True)
class ReadRequest:
    requester_dip_id: str
    requester_mpid: str
    """The 4-character id the requester presents to the DCC."""
    via: DccUserRole
    mpan: str
    day: date


@dataclass(frozen=True, slots=True)
class AccessDecision:
    request: ReadRequest
    allowed: bool
    code: ResponseCode | None
    reason: str
    serving_mdr: str | None = None
    """The 4-character id of the MDR authorised for the MPAN that day, if any."""


@dataclass(frozen=True, slots=True)
class Authorised:
    mdr: str
    mpid: str


@dataclass(frozen=True, slots=True)
class NotAuthorised:
    code: ResponseCode
    reason: str
    mdr: str | None = None


def authorised_mdr(*, records: DccRecords, day: date, mdr_id: MdrIdOn) -> Authorised | NotAuthorised:
    """The MDR (DIP ID and its 4-character id that day) that may read the MPAN on ``day``."""
    notice = records.mdr_on(day)
    return authorise(mdr=None if notice is None else notice.mdr, day=day, mdr_id=mdr_id)


def authorise(*, mdr: str | None, day: date, mdr_id: MdrIdOn) -> Authorised | NotAuthorised:
    """The MDR of the notice in force on ``day`` is authorised if it is an MDR in the ISD that
    day, under its 4-character id of that day."""
    if mdr is None:
        return NotAuthorised(ResponseCode.OMH0702, f"no MDR is authorised on {day}")
    mpid = mdr_id(mdr, day)
    if mpid is None:
        return NotAuthorised(
            ResponseCode.OMH0706, f"MDR {mdr} has no ISD MDR registration effective on {day}", mdr
        )
    return Authorised(mdr, mpid)


def supplier_role_for(energy_direction: str) -> DccUserRole:
    """The supplier DCC user role that reads an MPAN of this energy direction."""
    return DccUserRole.EXPORT_SUPPLIER if energy_direction == EXPORT else DccUserRole.IMPORT_SUPPLIER


def retrieval_role(*, held: frozenset[DccUserRole], energy_direction: str) -> DccUserRole | None:
    """The DCC user role an MDR retrieves an MPAN's data with: Meter Data Retriever if it holds
    it, else (a Supplier acting as its own MDR) the supplier role matching the direction."""
    if DccUserRole.METER_DATA_RETRIEVER in held:
        return DccUserRole.METER_DATA_RETRIEVER
    role = supplier_role_for(energy_direction)
    return role if role in held else None


def reading_role(*, held: frozenset[DccUserRole], energy_direction: str) -> DccUserRole:
    """The DCC user role an MDR asks with: ``retrieval_role``, or, holding no usable role, its
    Meter Data Retriever role, which the gate then refuses (OMH0701)."""
    return retrieval_role(held=held, energy_direction=energy_direction) or DccUserRole.METER_DATA_RETRIEVER


def decide(
    *,
    request: ReadRequest,
    records: DccRecords,
    mdr_id: MdrIdOn,
    dcc_roles: Mapping[str, frozenset[DccUserRole]],
) -> AccessDecision:
    """May the requester read the MPAN's meter for the day, as the DCC decides it?"""
    day = request.day
    found = authorised_mdr(records=records, day=day, mdr_id=mdr_id)
    serving = found.mpid if isinstance(found, Authorised) else None

    def refuse(code: ResponseCode, reason: str) -> AccessDecision:
        return AccessDecision(request, False, code, reason, serving)

    role = request.via
    if role not in dcc_roles.get(request.requester_dip_id, frozenset()):
        return refuse(
            ResponseCode.OMH0701, f"{request.requester_mpid} is not a DCC user in the {role.value} role"
        )
    if role is DccUserRole.METER_DATA_RETRIEVER:
        if isinstance(found, NotAuthorised):
            if found.mdr is not None and found.mdr != request.requester_dip_id:
                return refuse(
                    ResponseCode.OMH0703,
                    f"{found.mdr}, not {request.requester_dip_id}, is the MDR of {request.mpan} on {day}",
                )
            return refuse(found.code, f"{request.mpan}: {found.reason}")
        if found.mdr != request.requester_dip_id:
            return refuse(
                ResponseCode.OMH0703,
                f"{found.mpid} ({found.mdr}), not {request.requester_mpid} ({request.requester_dip_id}), "
                f"is the MDR of {request.mpan} on {day}",
            )
        if found.mpid != request.requester_mpid:
            return refuse(
                ResponseCode.OMH0707,
                f"{request.requester_mpid} is not the id of MDR {found.mdr} on {day} ({found.mpid} is)",
            )
        return AccessDecision(request, True, None, f"MDR {found.mpid} on {day}", serving)
    supply = records.supply_on(day)
    if supply is None or supply.supplier != request.requester_dip_id:
        held = "nobody known" if supply is None else supply.supplier
        return refuse(
            ResponseCode.OMH0704,
            f"{request.requester_dip_id} is not the supplier of {request.mpan} on {day} ({held} is)",
        )
    needed = supplier_role_for(supply.energy_direction)
    if role is not needed:
        direction = "an export" if supply.energy_direction == EXPORT else "an import"
        return refuse(
            ResponseCode.OMH0708,
            f"{request.mpan} is {direction} MPAN: read it as {needed.value}, not {role.value}",
        )
    return AccessDecision(request, True, None, f"the supplier's {role.value} role", serving)
