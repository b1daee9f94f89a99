"""What the Registration Service knows of an MPAN and of its service appointments.

MPAN registration data is what CSS tells the RS (supplier ownership) plus the site data the
RS holds (distributor, GSP Group, market segment, connection type, energisation, domestic
premises). Appointments are effective-dated per MPAN and service: a Data Service row
carries its MDR, so one DS row *is* one SDS==MDR combination.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from openmhhs.dip.vocabulary import ConnectionType, MarketSegment, Scenario
from openmhhs.ids import DipId, GspGroup, MpanCore, Mpid
from openmhhs.periods import Period

__all__ = [
    "Appointment",
    "AppointmentRequest",
    "ConnectionType",
    "MarketSegment",
    "MpanRecord",
    "RequestState",
    "Scenario",
    "Service",
    "SupplierPeriod",
]


class Service(StrEnum):
    DS = "DS"
    """Data Service (for smart MPANs, the SDS, with its MDR)."""
    MS = "MS"
    """Metering Service."""


@dataclass(frozen=True, slots=True)
class SupplierPeriod:
    supplier: DipId
    period: Period[date]


@dataclass(frozen=True, slots=True)
class MpanRecord:
    """An MPAN as the Registration Service holds it."""

    mpan: MpanCore
    distributor: DipId
    gsp_group: GspGroup
    segment: MarketSegment = MarketSegment.SMART
    connection_type: ConnectionType = ConnectionType.WHOLE_CURRENT
    energisation: str = "E"
    domestic: bool = True
    energy_direction: str = "I"
    dcc_service_flag: str = "A"
    """B029: A active (DCC enrolled and commissioned), I installed, N not enrolled."""
    meter_type: str = "S2AD"
    postcode: str | None = "SW1A 1AA"
    duos_tariff_id: str = "A01"
    suppliers: tuple[SupplierPeriod, ...] = field(default=())

    def supplier_on(self, day: date) -> DipId | None:
        for period in self.suppliers:
            if period.period.contains(day):
                return period.supplier
        return None

    def periods_of(self, supplier: DipId) -> list[Period[date]]:
        return [p.period for p in self.suppliers if p.supplier == supplier]


@dataclass(frozen=True, slots=True)
class Appointment:
    """One effective-dated appointment: for DS, one SDS==MDR combination."""

    mpan: MpanCore
    service: Service
    provider: DipId
    provider_mpid: Mpid
    period: Period[date]
    supplier: DipId
    mdr: DipId | None = None
    mdr_mpid: Mpid | None = None
    contract_reference: str | None = None
    scenario: Scenario | None = None
    correlation_id: str | None = None
    """The exchange that made it (the IF-031 or IF-034 correlation id)."""
    id: int | None = None
    """Its row id once stored."""

    def same_arrangement(self, other: Appointment) -> bool:
        return (self.service, self.provider, self.mdr) == (other.service, other.provider, other.mdr)


class RequestState(StrEnum):
    AWAITING_PROVIDER = "awaiting_provider"
    """IF-033 sent, IF-034 not yet received."""
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    LAPSED = "lapsed"
    SUPERSEDED = "superseded"


@dataclass(frozen=True, slots=True)
class AppointmentRequest:
    """A Supplier's IF-031 that passed validation, as the RS tracks it."""

    correlation_id: str
    mpan: MpanCore
    service: Service
    supplier: DipId
    supplier_mpid: Mpid
    provider: DipId
    provider_mpid: Mpid
    effective_from: date
    scenario: Scenario
    received_on: date
    raw_block: bytes
    """The B070/B071 block as requested (JSON), echoed in IF-033/IF-035."""
    nominated_mdr: DipId | None = None
    state: RequestState = RequestState.AWAITING_PROVIDER
    outcome_code: str | None = None
    activated: bool = False
    id: int | None = None
