"""The DCC's access gate: which MDR (by its 4-character id) and which supplier may read a
smart meter on a UK day, as the Registration Service's [DCC-MDROutcome] notices told the
DCC, and the decision on every read request, with its reason.

A notice says: from day D, MDR M (MPID) serves the MPAN, for supplier S. For a day, the
notice in force is the one with the latest effective-from on or before it (of two with the
same day, the later received). So an MDR replaced from D may read up to D-1 and not from D;
its successor from D and not before; a change of supplier brings a notice from the supply
start date. Before the first notice nobody may read as MDR.

Rules, in order, each with its code:

* ``OMH0701`` the requester is not a DCC user in the DCC user role it uses (SEC accession
  and the role held);
* ``OMH0702`` reading as MDR: no MDR is authorised for the MPAN on that day;
* ``OMH0703`` reading as MDR: another MDR id is authorised on that day;
* ``OMH0704`` reading with a supplier DCC role: the requester is not the MPAN's supplier
  on that day (model 2A: a supplier that is its own MDR may read with its supplier roles).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

from openmhhs.codes import ResponseCode
from openmhhs.identity.registry import DccUserRole

__all__ = ["AccessDecision", "AccessGate", "MdrNotice", "ReadRequest"]


@dataclass(frozen=True, slots=True)
class MdrNotice:
    """One [DCC-MDROutcome] as the DCC recorded it."""

    mpan: str
    mdr_dip_id: str
    mdr_mpid: str
    valid_from: date
    supplier: str
    received_at: datetime


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
    """The MDR id authorised for the MPAN that day, if any."""


@dataclass
class _Segments:
    starts: list[date] = field(default_factory=list)
    notices: list[MdrNotice] = field(default_factory=list)

    def on(self, day: date) -> MdrNotice | None:
        index = bisect.bisect_right(self.starts, day) - 1
        return self.notices[index] if index >= 0 else None


class AccessGate:
    """Immutable once built: build a new one when notices arrive."""

    def __init__(self, notices: Iterable[MdrNotice], dcc_roles: Mapping[str, frozenset[DccUserRole]]) -> None:
        by_mpan: dict[str, list[MdrNotice]] = {}
        for notice in notices:
            by_mpan.setdefault(notice.mpan, []).append(notice)
        self._segments: dict[str, _Segments] = {}
        for mpan, items in by_mpan.items():
            items.sort(key=lambda n: (n.valid_from, n.received_at))
            segments = _Segments()
            for notice in items:
                if segments.starts and segments.starts[-1] == notice.valid_from:
                    segments.notices[-1] = notice  # the later notice for the same day wins
                else:
                    segments.starts.append(notice.valid_from)
                    segments.notices.append(notice)
            self._segments[mpan] = segments
        self._roles = dcc_roles

    def serving(self, mpan: str, day: date) -> MdrNotice | None:
        segments = self._segments.get(mpan)
        return None if segments is None else segments.on(day)

    def check(self, request: ReadRequest) -> AccessDecision:
        notice = self.serving(request.mpan, request.day)
        serving = None if notice is None else notice.mdr_mpid
        role = request.via
        if role not in self._roles.get(request.requester_dip_id, frozenset()):
            return AccessDecision(
                request,
                False,
                ResponseCode.OMH0701,
                f"{request.requester_mpid} is not a DCC user in the {role.value} role",
                serving,
            )
        if request.via is DccUserRole.METER_DATA_RETRIEVER:
            if notice is None:
                return AccessDecision(
                    request,
                    False,
                    ResponseCode.OMH0702,
                    f"no MDR is authorised for {request.mpan} on {request.day}",
                    None,
                )
            if notice.mdr_mpid != request.requester_mpid:
                return AccessDecision(
                    request,
                    False,
                    ResponseCode.OMH0703,
                    f"{notice.mdr_mpid}, not {request.requester_mpid}, is the MDR of {request.mpan} "
                    f"on {request.day}",
                    serving,
                )
            return AccessDecision(request, True, None, f"MDR {serving} on {request.day}", serving)
        if notice is None or notice.supplier != request.requester_dip_id:
            held = "nobody known" if notice is None else notice.supplier
            return AccessDecision(
                request,
                False,
                ResponseCode.OMH0704,
                f"{request.requester_dip_id} is not the supplier of {request.mpan} on {request.day} "
                f"({held} is)",
                serving,
            )
        return AccessDecision(request, True, None, f"the supplier's {role.value} role", serving)

    def mpans(self) -> list[str]:
        return sorted(self._segments)
