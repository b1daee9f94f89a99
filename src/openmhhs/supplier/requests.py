"""What a Supplier sends: IF-031 appointment requests for a Data or Metering Service."""

from __future__ import annotations

from datetime import date
from typing import Any, cast

from openmhhs.days import day_start, format_dip_datetime
from openmhhs.dip import schema as s
from openmhhs.dip.build import MessageFactory, SiteLike
from openmhhs.dip.vocabulary import Scenario
from openmhhs.ids import DipId, Mpid

__all__ = ["request_data_service", "request_metering_service"]


def request_data_service(
    factory: MessageFactory,
    *,
    site: SiteLike,
    rs: DipId,
    sds: DipId,
    sds_mpid: Mpid,
    effective_from: date,
    scenario: Scenario,
    contract_reference: str | None,
    now: Any,
    mdr: DipId | None = None,
    mdr_mpid: Mpid | None = None,
    mdr_from: date | None = None,
    domestic: bool = True,
    consent: str = "H",
    fallback_frequency: str | None = None,
) -> s.IF031DSApp:
    """IF-031 [DSApp]: propose ``sds`` from ``effective_from``, optionally nominating an MDR."""
    nominated_from = mdr_from or (effective_from if mdr is not None else None)
    return factory.build(
        s.IF031DSApp,
        s.IF031DSAppCustomBlock(
            b071=s.B071(
                proposed_data_service_dip_id=str(sds),
                proposed_data_service_mpid=str(sds_mpid),
                proposed_data_service_dip_effective_from_date=format_dip_datetime(day_start(effective_from)),
                contract_reference_data_service=contract_reference,
                appointment_scenario=cast(Any, scenario.value),
                supplier_nominated_mdr_dip_id=None if mdr is None else str(mdr),
                supplier_nominated_mdr_mpid=None if mdr_mpid is None else str(mdr_mpid),
                supplier_nominated_mdr_effective_from_date=(
                    None if nominated_from is None else format_dip_datetime(day_start(nominated_from))
                ),
                supplier_proposed_consent_granularity=cast(Any, consent),
                supplier_proposed_domestic_indicator=domestic,
                traditional_fall_back_read_frequency=cast(Any, fallback_frequency),
            )
        ),
        site=site,
        recipients=[rs],
        now=now,
    )


def request_metering_service(
    factory: MessageFactory,
    *,
    site: SiteLike,
    rs: DipId,
    ms: DipId,
    ms_mpid: Mpid,
    effective_from: date,
    scenario: Scenario,
    contract_reference: str | None,
    now: Any,
) -> s.IF031MSApp:
    """IF-031 [MSApp]: propose the Metering Service ``ms`` from ``effective_from``."""
    return factory.build(
        s.IF031MSApp,
        s.IF031MSAppCustomBlock(
            b070=s.B070(
                proposed_metering_service_dip_id=str(ms),
                proposed_metering_service_mpid=str(ms_mpid),
                proposed_metering_service_dip_effective_from_date=format_dip_datetime(
                    day_start(effective_from)
                ),
                contract_reference_metering_service=contract_reference,
                appointment_scenario=cast(Any, scenario.value),
            )
        ),
        site=site,
        recipients=[rs],
        now=now,
    )
