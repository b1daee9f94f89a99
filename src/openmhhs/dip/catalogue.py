"""Which DIP events openmhhs speaks, their message types, and who may send and receive them.

The routing roles follow the MHHS design for the appointment (BP003/BP003B), MDR
(IF-061..065) and settlement-data (IF-021) flows; the DIP uses them to refuse a sender in
the wrong role (MSG1010) and a primary recipient in the wrong role (MSG1032).
"""

from __future__ import annotations

from dataclasses import dataclass

from openmhhs.dip import schema
from openmhhs.dip.schema import DipMessageStruct

__all__ = ["EVENTS", "INTERFACES", "EventSpec", "event_spec", "message_type"]

_DATA_SERVICES = frozenset({"SDS", "ADS", "UMSDS"})
_METERING_SERVICES = frozenset({"SMS", "AMS", "UMSO"})


@dataclass(frozen=True, slots=True)
class EventSpec:
    interface_id: str
    event_code: str
    message_type: type[DipMessageStruct]
    senders: frozenset[str]
    recipients: frozenset[str]
    title: str

    @property
    def key(self) -> tuple[str, str]:
        return self.interface_id, self.event_code

    @property
    def validate_path(self) -> str:
        """The DIP's validation endpoint, e.g. ``/validate/IF-034/SDS-MDRUpdate``."""
        return f"/validate/{self.interface_id}/{self.event_code.strip('[]')}"


def _spec(
    cls: type[DipMessageStruct],
    senders: frozenset[str] | set[str],
    recipients: frozenset[str] | set[str],
    title: str,
    *,
    event: str | None = None,
) -> EventSpec:
    code = event or cls.EVENT_CODES[0]
    if code not in cls.EVENT_CODES:
        raise ValueError(f"{cls.__name__} does not carry {code}")
    return EventSpec(cls.INTERFACE_ID, code, cls, frozenset(senders), frozenset(recipients), title)


REGS = frozenset({"REGS"})
SUP = frozenset({"SUP"})

_SPECS: tuple[EventSpec, ...] = (
    # IF-001 is CSS's in the design; openmhhs's Registration Service stands in for CSS as the
    # DCC's and the Data Services' source of supplier registrations (docs/registration.md).
    _spec(
        schema.IF001InitialRegistration,
        REGS,
        {"DCC", "SUP", "LDSO"} | _DATA_SERVICES | _METERING_SERVICES,
        "Supplier registration of an MPAN (initial)",
    ),
    _spec(
        schema.IF001ChangeOfSupplier,
        REGS,
        {"DCC", "SUP", "LDSO"} | _DATA_SERVICES | _METERING_SERVICES,
        "Supplier registration of an MPAN (change of supplier)",
    ),
    _spec(
        schema.IF021,
        _DATA_SERVICES,
        {"MDS", "SUP", "LDSO"},
        "UTC settlement period consumption (active)",
        event="[ActivePower]",
    ),
    _spec(
        schema.IF021,
        _DATA_SERVICES,
        {"MDS", "SUP", "LDSO"},
        "UTC settlement period consumption (reactive)",
        event="[ReactivePower]",
    ),
    _spec(schema.IF031MSApp, SUP, REGS, "Supplier requests a Metering Service appointment"),
    _spec(schema.IF031DSApp, SUP, REGS, "Supplier requests a Data Service appointment"),
    _spec(schema.IF032MSAppInitialResp, REGS, SUP, "RS initial response to an MS appointment request"),
    _spec(schema.IF032DSAppInitialResp, REGS, SUP, "RS initial response to a DS appointment request"),
    _spec(
        schema.IF033MSAppSPRequest,
        REGS,
        _METERING_SERVICES,
        "RS asks the proposed Metering Service",
    ),
    _spec(schema.IF033DSAppSPRequest, REGS, _DATA_SERVICES, "RS asks the proposed Data Service"),
    _spec(schema.IF034MSAppSPResponse, _METERING_SERVICES, REGS, "Metering Service accepts or rejects"),
    _spec(
        schema.IF034DSAppSPResponse,
        _DATA_SERVICES,
        REGS,
        "Data Service accepts (with MDR) or rejects",
    ),
    _spec(schema.IF034SDSMDRUpdate, {"SDS"}, REGS, "SDS changes the MDR"),
    _spec(schema.IF035MSAppAccepted, REGS, SUP | _METERING_SERVICES, "MS appointment accepted"),
    _spec(schema.IF035MSAppRejected, REGS, SUP | _METERING_SERVICES, "MS appointment rejected"),
    _spec(schema.IF035MSAppLapsed, REGS, SUP | _METERING_SERVICES, "MS appointment lapsed"),
    _spec(schema.IF035DSAppAccepted, REGS, SUP | _DATA_SERVICES, "DS appointment accepted"),
    _spec(schema.IF035DSAppRejected, REGS, SUP | _DATA_SERVICES, "DS appointment rejected"),
    _spec(schema.IF035DSAppLapsed, REGS, SUP | _DATA_SERVICES, "DS appointment lapsed"),
    _spec(
        schema.IF035IMSSendMTD,
        REGS,
        _METERING_SERVICES,
        "Incoming MS: send meter technical details",
    ),
    _spec(schema.IF035SDSMDROutcome, REGS, {"SDS", "SUP"}, "Outcome of an MDR nomination or change"),
    _spec(schema.IF035DCCMDROutcome, REGS, {"SDS", "SUP", "DCC"}, "DCC outcome of MDR access set-up"),
    _spec(
        schema.IF036MSAppActive,
        REGS,
        SUP | _METERING_SERVICES | {"LDSO"},
        "MS appointment now effective",
    ),
    _spec(
        schema.IF036DSAppActive,
        REGS,
        SUP | _DATA_SERVICES | _METERING_SERVICES | {"LDSO"},
        "DS appointment now effective",
    ),
    _spec(schema.IF037MSDeApp, REGS, _METERING_SERVICES, "MS de-appointed"),
    _spec(schema.IF037DSDeApp, REGS, _DATA_SERVICES, "DS de-appointed"),
    _spec(schema.IF037MSDeAppUpdate, REGS, _METERING_SERVICES, "MS de-appointment updated"),
    _spec(schema.IF037DSDeAppUpdate, REGS, _DATA_SERVICES, "DS de-appointment updated"),
    _spec(schema.IF061, {"SDS"}, {"MDR"}, "SDS asks its MDR to start retrieval"),
    _spec(schema.IF062, {"MDR"}, {"SDS"}, "MDR answers a start request"),
    _spec(schema.IF063, {"SDS"}, {"MDR"}, "SDS tells its MDR to stop retrieval"),
    _spec(schema.IF064, {"MDR"}, {"SDS"}, "MDR provides half-hourly consumption"),
    _spec(schema.IF065ReadingRemote, {"MDR"}, {"SDS"}, "MDR provides remote register readings"),
    _spec(schema.IF065MDRInstantaneous, {"MDR"}, {"SDS"}, "MDR provides instantaneous readings"),
    _spec(schema.IF065MDRTOU, {"MDR"}, {"SDS"}, "MDR provides time-of-use register readings"),
    _spec(schema.IF065MDRConsumption, {"MDR"}, {"SDS"}, "MDR provides a consumption reading"),
)

EVENTS: dict[tuple[str, str], EventSpec] = {spec.key: spec for spec in _SPECS}
"""(interface ID, event code) -> what openmhhs knows of the event."""

INTERFACES: dict[str, frozenset[str]] = {}
for _spec_item in _SPECS:
    INTERFACES[_spec_item.interface_id] = INTERFACES.get(_spec_item.interface_id, frozenset()) | {
        _spec_item.event_code
    }

if set(schema.MESSAGE_TYPES) != {spec.message_type for spec in _SPECS}:
    raise RuntimeError("dip.catalogue does not cover every generated message type")


def event_spec(interface_id: str, event_code: str) -> EventSpec:
    return EVENTS[(interface_id, event_code)]


def message_type(interface_id: str, event_code: str) -> type[DipMessageStruct]:
    return EVENTS[(interface_id, event_code)].message_type
