"""The DCC's access gate for a data run: the DCC's records of every MPAN, the ISD and the DCC
user roles held, and on every read request the decision of ``openmhhs.dcc.access.decide`` —
the same function ``openmhhs dcc check`` and ``openmhhs dcc access-list`` use, so that the three
can never disagree."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from openmhhs.dcc.access import (
    AccessDecision,
    Authorised,
    DccRecords,
    MdrIds,
    ReadRequest,
    authorised_mdr,
    decide,
)
from openmhhs.identity.isd import IsdTable
from openmhhs.identity.registry import DccUserRole, Registry
from openmhhs.identity.translation import AmbiguousIsdMatch, NoIsdMatch, mpid_for
from openmhhs.ids import DipId, DipRole

__all__ = ["AccessDecision", "AccessGate", "ReadRequest", "dcc_user_roles", "presented_id"]

_NOTHING = DccRecords()


class AccessGate:
    """Immutable once built: build a new one when the DCC's records change."""

    def __init__(
        self,
        records: Mapping[str, DccRecords],
        *,
        isd: IsdTable,
        dcc_roles: Mapping[str, frozenset[DccUserRole]],
    ) -> None:
        self._records = records
        self._mdr_ids = MdrIds(isd)
        self._roles = dcc_roles

    def check(self, request: ReadRequest) -> AccessDecision:
        return decide(
            request=request,
            records=self._records.get(request.mpan, _NOTHING),
            mdr_id=self._mdr_ids,
            dcc_roles=self._roles,
        )

    def serving(self, mpan: str, day: date) -> Authorised | None:
        """The MDR authorised for the MPAN on ``day`` (DIP ID and its id that day), if any."""
        found = authorised_mdr(records=self._records.get(mpan, _NOTHING), day=day, mdr_id=self._mdr_ids)
        return found if isinstance(found, Authorised) else None

    def energy_direction(self, mpan: str, day: date) -> str | None:
        supply = self._records.get(mpan, _NOTHING).supply_on(day)
        return None if supply is None else supply.energy_direction

    def mpans(self) -> list[str]:
        return sorted(self._records)


def dcc_user_roles(registry: Registry) -> dict[str, frozenset[DccUserRole]]:
    """The DCC user roles each DIP ID's organisation holds (SEC accession and roles)."""
    roles: dict[str, frozenset[DccUserRole]] = {}
    for entry in registry.table:
        organisation = None if entry.dip_id is None else registry.organisation_of(entry.dip_id)
        if organisation is not None and entry.dip_id is not None:
            roles[str(entry.dip_id)] = frozenset(r for r in DccUserRole if organisation.holds(r))
    return roles


def presented_id(isd: IsdTable, requester: str, via: DccUserRole, day: date) -> str:
    """The 4-character id a participant presents to the DCC for a read of ``day``: its MDR MPID
    when reading as MDR, its supplier MPID otherwise, as the ISD has it that day."""
    role = DipRole.MDR if via is DccUserRole.METER_DATA_RETRIEVER else DipRole.SUP
    try:
        return str(mpid_for(isd, dip_id=DipId(requester), dip_role=role, on=day).mpid)
    except (NoIsdMatch, AmbiguousIsdMatch):
        return "????"
