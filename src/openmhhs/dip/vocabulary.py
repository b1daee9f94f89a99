"""DIP vocabulary shared by every role: enumerations of data items the messages carry."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["ConnectionType", "MarketSegment", "Scenario"]


class MarketSegment(StrEnum):
    """B026 marketSegmentIndicator."""

    SMART = "S"
    ADVANCED = "A"
    UNMETERED = "U"


class ConnectionType(StrEnum):
    """B023 connectionTypeIndicator."""

    WHOLE_CURRENT = "W"
    LV_CT = "L"
    HV_CT = "H"
    EHV = "E"
    UNMETERED = "U"


class Scenario(StrEnum):
    """B071/B070 appointmentScenario."""

    COS = "COS"
    """Change of supplier: the incoming supplier appoints from its supply start date."""
    CSP = "CSP"
    """Change of service provider by the current supplier."""
    USP = "USP"
    """Update the existing service provider (e.g. a Supplier-led change of MDR)."""
    SEG = "SEG"
    """Segment change."""
    MCA = "MCA"
    """Migration to MHHS by the current supplier."""
    MCS = "MCS"
    """Migration to MHHS by a new supplier."""
    ALG = "ALG"
    """Not handled by openmhhs (REG1033)."""
