"""The data blocks the Registration Service writes from what it holds: site data (B022-B029),
the requesting supplier (B012), appointment outcomes (B007, B019, B066, B092, B099)."""

from __future__ import annotations

from datetime import date
from typing import Any, cast

from openmhhs.days import day_start, format_dip_datetime
from openmhhs.dip import schema as s
from openmhhs.ids import DipId, Mpid
from openmhhs.registration.model import MpanRecord

__all__ = ["dip_day", "site_blocks"]

MAX_MESSAGE = 200


def dip_day(day: date) -> str:
    """A UK day as the DIP writes an effective date: local midnight with its offset."""
    return format_dip_datetime(day_start(day))


def code_message(code: str, wording: str, detail: str = "") -> str:
    """A response message: ``"REG1024 - Effective Date Cannot be Retrospective: …"``."""
    text = f"{code} - {wording}" + (f": {detail}" if detail else "")
    return text[:MAX_MESSAGE]


def b012(supplier: DipId, supplier_mpid: Mpid) -> s.B012:
    return s.B012(
        service_provider_appointment_requesting_supplier_dip_id=str(supplier),
        service_provider_appointment_requesting_supplier_mpid=str(supplier_mpid),
    )


def b007(response_code: str, code: str | None) -> s.B007:
    return s.B007(response_code=cast(Any, response_code), proposed_appointment_response_code=code)


def site_blocks(record: MpanRecord, *, since: date) -> dict[str, Any]:
    """B022-B026, B028 and B029 from the RS's record (effective dates from ``since``)."""
    when = dip_day(since)
    return {
        "b022": s.B022(
            metering_point_postcode=record.postcode,
            address_line_1=None,
            address_line_2=None,
            address_line_3=None,
            address_line_4=None,
            address_line_5=None,
            address_line_6=None,
            address_line_7=None,
            address_line_8=None,
            address_line_9=None,
        ),
        "b023": s.B023(
            connection_type_indicator=cast(Any, record.connection_type.value),
            connection_type_effective_from_date=when,
            energy_direction=cast(Any, record.energy_direction),
            metered_indicator=record.segment.value != "U",
        ),
        "b024": s.B024(duos_tariff_id=record.duos_tariff_id, duos_tariff_id_effective_from_date=when),
        "b025": s.B025(
            energisation_status=cast(Any, record.energisation),
            energisation_status_effective_from_date=when,
        ),
        "b026": s.B026(
            market_segment_indicator=cast(Any, record.segment.value),
            market_segment_indicator_effective_from_date=when,
        ),
        "b028": s.B028(
            domestic_premise_indicator=record.domestic,
            domestic_premise_indicator_effective_from_date=when,
        ),
        "b029": s.B029(dcc_service_flag=cast(Any, record.dcc_service_flag), dcc_effective_from_date=when),
    }


def b905_list(record: MpanRecord, *, installed: date) -> list[s.B905]:
    """The installed meter (B905/B074), which carries the meter type an SDS may check."""
    return [
        s.B905(
            existing_meter=s.B074(
                meter_id=f"M{str(record.mpan)[3:12]}",
                meter_type=cast(Any, record.meter_type),
                manufacturers_make_and_type=None,
                esme_guid=None,
                meter_location="A",
                number_of_displayed_register_digits=5,
                meter_installation_date=dip_day(installed),
            )
        )
    ]
