"""Supplier–SDS contracts: what an SDS agreed to do for a Supplier.

A contract names the MDRs the SDS will use for the Supplier's MPANs, the contractual
default MDR, and what to do when the Supplier leaves the MDR blank (apply the default or
reject), the segments, connection types, domestic indicators, GSP Groups and meter types it
covers, lead times, and the notice an MDR change needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from openmhhs.codes import CodedError, ResponseCode
from openmhhs.ids import DipId
from openmhhs.periods import Period

__all__ = ["BlankMdrPolicy", "Contract", "ContractInvalid"]


class BlankMdrPolicy(StrEnum):
    DEFAULT = "default"
    """A blank supplier nomination gets the contractual default MDR."""
    REJECT = "reject"
    """The contract requires the Supplier to nominate the MDR (blank: DS001)."""


class ContractInvalid(CodedError):
    code = ResponseCode.OMH0401
    rule = "dataservice.contract.valid"


@dataclass(frozen=True, slots=True)
class Contract:
    sds: DipId
    supplier: DipId
    reference: str
    supported_mdrs: frozenset[DipId]
    default_mdr: DipId | None = None
    blank_mdr: BlankMdrPolicy = BlankMdrPolicy.DEFAULT
    valid: Period[date] = field(default_factory=lambda: Period(date(2000, 1, 1)))
    segments: frozenset[str] = frozenset({"S"})
    connection_types: frozenset[str] = frozenset({"W", "L", "H", "E"})
    domestic_indicators: frozenset[bool] = frozenset({True, False})
    gsp_groups: frozenset[str] | None = None
    """The SDS's operational area under this contract; None: all GB."""
    meter_types: frozenset[str] | None = None
    """Meter types covered; None: any."""
    requires_dcc_enrolment: bool = True
    """Smart data is retrieved through the DCC: the meter must be enrolled (B029 'A')."""
    requires_fallback_frequency: bool = False
    """A traditional fall-back read frequency must be given (DS003)."""
    min_lead_days: int = 0
    """Days between the request and the appointment's effective-from, at least (SP011)."""
    mdr_change_notice_days: int = 0
    """Days of notice a change of MDR needs, at least (DS004)."""
    mdr_change_max_notice_days: int | None = None
    """Days ahead a change of MDR may be planned, at most (DS006); None: no limit."""

    def __post_init__(self) -> None:
        if not 1 <= len(self.reference) <= 50:
            raise ContractInvalid("a contract reference is 1 to 50 characters (B071)")
        if not self.supported_mdrs:
            raise ContractInvalid(f"contract {self.reference} supports no MDR")
        if self.default_mdr is not None and self.default_mdr not in self.supported_mdrs:
            raise ContractInvalid(
                f"contract {self.reference}: default MDR {self.default_mdr} is not among its MDRs"
            )
        if self.blank_mdr is BlankMdrPolicy.DEFAULT and self.default_mdr is None:
            raise ContractInvalid(
                f"contract {self.reference} applies a default MDR to blank nominations but has none"
            )
        if self.min_lead_days < 0 or self.mdr_change_notice_days < 0:
            raise ContractInvalid("lead times and notice periods cannot be negative")
        if (
            self.mdr_change_max_notice_days is not None
            and self.mdr_change_max_notice_days < self.mdr_change_notice_days
        ):
            raise ContractInvalid("the maximum MDR-change notice is below the minimum")
