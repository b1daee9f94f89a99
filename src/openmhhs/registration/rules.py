"""Registration Service validation rules (BP003 appointment, BP003B change of existing
service, and SDS-led MDR changes), one named error per official REG code.

Each check is pure: it reads the MPAN record, its current appointment rows, the ISD table
and "today", and raises the rule's error or returns. ``docs/registration.md`` explains
each rule where the public design leaves room for interpretation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from openmhhs.codes import CodedError, ResponseCode
from openmhhs.identity.isd import IsdTable
from openmhhs.identity.translation import AmbiguousIsdMatch, NoIsdMatch, mpid_for
from openmhhs.ids import DipId, DipRole, Mpid
from openmhhs.periods import Period
from openmhhs.registration.model import (
    Appointment,
    MarketSegment,
    MpanRecord,
    Scenario,
    Service,
)
from openmhhs.registration.timeline import as_of

__all__ = [
    "MdrChangeRequest",
    "RsSettings",
    "ServiceRequest",
    "registered_mdr",
    "registered_provider",
    "validate_mdr_update",
    "validate_provider_response",
    "validate_service_request",
]


# --- the rules' errors ------------------------------------------------------------------


class RegistrationRuleBroken(CodedError):
    """Base of the Registration Service's rule failures."""

    rule = "registration.rule"


class MpanUnknown(RegistrationRuleBroken):
    code = ResponseCode.REG0000
    rule = "registration.mpan.known"


class OutsideRequesterResponsibility(RegistrationRuleBroken):
    code = ResponseCode.REG1019
    rule = "registration.effective_from.within_requester_ownership"


class RequesterNotSupplier(RegistrationRuleBroken):
    code = ResponseCode.REG1021
    rule = "registration.requester.is_current_or_incoming_supplier"


class RetrospectiveEffectiveDate(RegistrationRuleBroken):
    code = ResponseCode.REG1024
    rule = "registration.effective_from.not_retrospective"


class UspNotWithCurrentProvider(RegistrationRuleBroken):
    code = ResponseCode.REG1025
    rule = "registration.scenario.usp_with_current_provider"


class CspProposesCurrentProvider(RegistrationRuleBroken):
    code = ResponseCode.REG1026
    rule = "registration.scenario.csp_not_current_provider"


class ProviderIncompatibleWithSegment(RegistrationRuleBroken):
    code = ResponseCode.REG1031
    rule = "registration.provider.compatible_with_segment"


class EffectiveFromNotContiguous(RegistrationRuleBroken):
    code = ResponseCode.REG1032
    rule = "registration.effective_from.contiguous"


class ScenarioInvalid(RegistrationRuleBroken):
    code = ResponseCode.REG1033
    rule = "registration.scenario.valid"


class ProspectiveAppointmentInPast(RegistrationRuleBroken):
    code = ResponseCode.REG1034
    rule = "registration.effective_from.prospective_not_past"


class MdrEffectiveFromOutsideOwnership(RegistrationRuleBroken):
    code = ResponseCode.REG1036
    rule = "registration.mdr.effective_from_within_ownership"


class MdrUpdateNotByCurrentDataService(RegistrationRuleBroken):
    code = ResponseCode.REG1080
    rule = "registration.mdr_update.by_current_data_service"


class MdrNotValid(RegistrationRuleBroken):
    code = ResponseCode.REG1081
    rule = "registration.mdr.valid_in_isd"


class MdrUpdateTooFarAhead(RegistrationRuleBroken):
    code = ResponseCode.REG1082
    rule = "registration.mdr.at_most_five_days_ahead"


class MdrEffectiveFromMisaligned(RegistrationRuleBroken):
    code = ResponseCode.REG1083
    rule = "registration.mdr.effective_from_aligned"


class SupplierReferencedNotCurrent(RegistrationRuleBroken):
    code = ResponseCode.REG1084
    rule = "registration.supplier.referenced_is_current"


class SubsequentAppointmentReceived(RegistrationRuleBroken):
    code = ResponseCode.REG1089
    rule = "registration.request.superseded"


class ProposedMeteringServiceMpidMismatch(RegistrationRuleBroken):
    code = ResponseCode.REG1090
    rule = "registration.provider.mpid_matches_dip_id"


class ProposedDataServiceMpidMismatch(RegistrationRuleBroken):
    code = ResponseCode.REG1091
    rule = "registration.provider.mpid_matches_dip_id"


class SupplierNominatedMdrMpidMismatch(RegistrationRuleBroken):
    code = ResponseCode.REG1092
    rule = "registration.supplier_nominated_mdr.mpid_matches_dip_id"


class SdsNominatedMdrMpidMismatch(RegistrationRuleBroken):
    code = ResponseCode.REG1093
    rule = "registration.sds_nominated_mdr.mpid_matches_dip_id"


class InvalidResponseCode(RegistrationRuleBroken):
    code = ResponseCode.REG1094
    rule = "registration.provider_response.code_valid"


class ProposedMdrAlreadyAppointed(RegistrationRuleBroken):
    code = ResponseCode.REG1098
    rule = "registration.mdr.differs_from_current"


class EffectiveFromTooFarAhead(RegistrationRuleBroken):
    code = ResponseCode.REG1099
    rule = "registration.effective_from.at_most_28_days_ahead"


# --- inputs -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RsSettings:
    """Limits the Registration Service applies (see docs/registration.md)."""

    max_days_ahead: int = 28
    """REG1099: an SP effective-from at most this many days after today."""
    mdr_max_days_ahead: int = 5
    """REG1082: an MDR change at most this many days after today."""
    lapse_after_days: int = 5
    """A request the provider has not answered after this many days lapses (IF-035 Lapsed)."""


@dataclass(frozen=True, slots=True)
class ServiceRequest:
    """An IF-031 [DSApp]/[MSApp] reduced to what the rules need."""

    service: Service
    supplier: DipId
    provider: DipId
    provider_mpid: str
    effective_from: date
    effective_from_at_midnight: bool
    scenario: Scenario
    nominated_mdr: DipId | None = None
    nominated_mdr_mpid: str | None = None
    nominated_mdr_from: date | None = None


@dataclass(frozen=True, slots=True)
class MdrChangeRequest:
    """An IF-034 [SDS-MDRUpdate] reduced to what the rules need."""

    sds: DipId
    supplier: DipId
    mdr: DipId
    mdr_mpid: str
    effective_from: date


_DATA_SERVICE_ROLE = {
    MarketSegment.SMART: DipRole("SDS"),
    MarketSegment.ADVANCED: DipRole("ADS"),
    MarketSegment.UNMETERED: DipRole("UMSDS"),
}
_METERING_SERVICE_ROLE = {
    MarketSegment.SMART: DipRole("SMS"),
    MarketSegment.ADVANCED: DipRole("AMS"),
    MarketSegment.UNMETERED: DipRole("UMSO"),
}
_PROSPECTIVE = (Scenario.COS, Scenario.MCS)
_CURRENT_SUPPLIER_ONLY = (Scenario.CSP, Scenario.USP, Scenario.SEG, Scenario.MCA)


def provider_role(service: Service, segment: MarketSegment) -> DipRole:
    return (_DATA_SERVICE_ROLE if service is Service.DS else _METERING_SERVICE_ROLE)[segment]


def _registered_mpid(isd: IsdTable, dip_id: DipId, role: DipRole, day: date) -> Mpid | None:
    try:
        return mpid_for(isd, dip_id=dip_id, dip_role=role, on=day).mpid
    except (NoIsdMatch, AmbiguousIsdMatch):
        return None


def _ownership(record: MpanRecord, supplier: DipId, day: date) -> Period[date] | None:
    for period in record.periods_of(supplier):
        if period.contains(day):
            return period
    return None


def registered_provider(isd: IsdTable, *, provider: DipId, role: DipRole, day: date, why: str = "") -> Mpid:
    """A proposed provider must be registered in the ISD on ``day`` in the DIP role its
    service needs (REG1031): its MPID there. ``why`` ends the error's sentence."""
    registered = _registered_mpid(isd, provider, role, day)
    if registered is None:
        raise ProviderIncompatibleWithSegment(
            f"{provider} is not registered as {role} on {day.isoformat()}{why}"
        )
    return registered


def registered_mdr(isd: IsdTable, *, mdr: DipId, day: date) -> Mpid:
    """An MDR must be effective in the ISD on ``day`` (REG1081): its MPID there."""
    registered = _registered_mpid(isd, mdr, DipRole.MDR, day)
    if registered is None:
        raise MdrNotValid(f"{mdr} is not a valid MDR in the ISD on {day.isoformat()}")
    return registered


def check_mdr(
    isd: IsdTable,
    *,
    mdr: DipId,
    mpid: str,
    day: date,
    mismatch: type[RegistrationRuleBroken],
) -> Mpid:
    """The MDR must be effective in the ISD on ``day`` (REG1081) under ``mpid``."""
    registered = registered_mdr(isd, mdr=mdr, day=day)
    if registered != mpid:
        raise mismatch(f"MDR MPID {mpid} does not match DIP ID {mdr}, registered as {registered}")
    return registered


def validate_service_request(
    *,
    request: ServiceRequest,
    record: MpanRecord | None,
    mpan: str,
    rows: list[Appointment],
    isd: IsdTable,
    today: date,
    settings: RsSettings,
) -> None:
    """BP003/BP003B: every rule an IF-031 must pass before the RS asks the provider."""
    if record is None:
        raise MpanUnknown(f"MPAN {mpan} is not registered with the Registration Service")
    if request.scenario is Scenario.ALG:
        raise ScenarioInvalid("appointment scenario ALG is not one the Registration Service accepts")
    day = request.effective_from
    role = provider_role(request.service, record.segment)
    registered = registered_provider(
        isd,
        provider=request.provider,
        role=role,
        day=day,
        why=f", the {request.service} role for market segment {record.segment.value}",
    )
    if registered != request.provider_mpid:
        mismatch = (
            ProposedDataServiceMpidMismatch
            if request.service is Service.DS
            else ProposedMeteringServiceMpidMismatch
        )
        raise mismatch(
            f"proposed {request.service} MPID {request.provider_mpid} does not match DIP ID "
            f"{request.provider}, registered as {registered}"
        )
    supplier = request.supplier
    owned = [p for p in record.periods_of(supplier) if p.end is None or p.end > today]
    if not owned:
        raise RequesterNotSupplier(f"{supplier} is neither the current nor an incoming supplier of {mpan}")
    current_supplier = record.supplier_on(today)
    if request.scenario in _CURRENT_SUPPLIER_ONLY and current_supplier != supplier:
        raise SupplierReferencedNotCurrent(
            f"scenario {request.scenario.value} is for the current supplier of {mpan} "
            f"({current_supplier or 'none'} today), not {supplier}"
        )
    if day < today:
        error = (
            ProspectiveAppointmentInPast if request.scenario in _PROSPECTIVE else RetrospectiveEffectiveDate
        )
        raise error(f"effective-from {day.isoformat()} is before today ({today.isoformat()})")
    if day > today + timedelta(days=settings.max_days_ahead):
        raise EffectiveFromTooFarAhead(
            f"effective-from {day.isoformat()} is more than {settings.max_days_ahead} days after "
            f"today ({today.isoformat()})"
        )
    if not request.effective_from_at_midnight:
        raise EffectiveFromNotContiguous("an effective-from must be the start of a UK day (local midnight)")
    period = _ownership(record, supplier, day)
    if period is None:
        raise OutsideRequesterResponsibility(
            f"{day.isoformat()} is outside {supplier}'s period of responsibility for {mpan} "
            f"({', '.join(str(p) for p in record.periods_of(supplier))})"
        )
    if request.scenario in _PROSPECTIVE:
        if period.start < today:
            raise ScenarioInvalid(
                f"scenario {request.scenario.value} needs a change of supplier: {supplier} has "
                f"supplied {mpan} since {period.start.isoformat()}"
            )
        if period.start != day:
            raise EffectiveFromNotContiguous(
                f"a change-of-supplier appointment starts on the supply start date "
                f"{period.start.isoformat()}, not {day.isoformat()}"
            )
    current = as_of(rows, request.service, day)
    if request.scenario is Scenario.USP:
        if current is None or current.provider != request.provider:
            raise UspNotWithCurrentProvider(
                f"USP updates the current {request.service}; {request.provider} is not it on "
                f"{day.isoformat()} ({current.provider if current else 'none appointed'})"
            )
        if request.service is Service.DS and request.nominated_mdr is None:
            raise ScenarioInvalid("USP for a Data Service needs a supplier-nominated MDR")
        if request.nominated_mdr is not None and request.nominated_mdr == current.mdr:
            raise ProposedMdrAlreadyAppointed(f"{request.nominated_mdr} is already the MDR of {mpan}")
    if request.scenario is Scenario.CSP and current is not None and current.provider == request.provider:
        raise CspProposesCurrentProvider(
            f"CSP changes the provider: {request.provider} is already the {request.service} of {mpan}"
        )
    if request.nominated_mdr is not None:
        _check_nominated_mdr(request, record, isd, today, settings, current)


def _check_nominated_mdr(
    request: ServiceRequest,
    record: MpanRecord,
    isd: IsdTable,
    today: date,
    settings: RsSettings,
    current: Appointment | None,
) -> None:
    assert request.nominated_mdr is not None
    mdr_day = request.nominated_mdr_from or request.effective_from
    check_mdr(
        isd,
        mdr=request.nominated_mdr,
        mpid=request.nominated_mdr_mpid or "",
        day=mdr_day,
        mismatch=SupplierNominatedMdrMpidMismatch,
    )
    if _ownership(record, request.supplier, mdr_day) is None:
        raise MdrEffectiveFromOutsideOwnership(
            f"MDR effective-from {mdr_day.isoformat()} is outside {request.supplier}'s ownership"
        )
    if request.scenario is Scenario.USP:
        if mdr_day < today:
            raise RetrospectiveEffectiveDate(f"MDR effective-from {mdr_day.isoformat()} is in the past")
        if mdr_day > today + timedelta(days=settings.mdr_max_days_ahead):
            raise MdrUpdateTooFarAhead(
                f"MDR effective-from {mdr_day.isoformat()} is more than {settings.mdr_max_days_ahead} "
                f"days after today ({today.isoformat()})"
            )
        if current is not None and mdr_day < current.period.start:
            raise MdrEffectiveFromMisaligned(
                f"MDR effective-from {mdr_day.isoformat()} is before the current arrangement "
                f"began ({current.period.start.isoformat()})"
            )
    elif mdr_day != request.effective_from:
        raise MdrEffectiveFromMisaligned(
            f"a new Data Service needs its MDR from its first day: MDR effective-from "
            f"{mdr_day.isoformat()} differs from the appointment's {request.effective_from.isoformat()}"
        )


ACCEPT = "A"
REJECT = "R"
ACCEPTED_CODE = "SP000"
REJECTION_CODES = frozenset(
    {f"SP{n:03d}" for n in range(1, 12)} | {"SP099", "DS001", "DS003", "DS004", "DS005", "DS006"}
)


def validate_provider_response(
    *,
    response_code: str,
    appointment_code: str | None,
    sds_mdr: DipId | None,
    sds_mdr_mpid: str | None,
    sds_mdr_from: date | None,
    expected_mdr_from: date,
    service: Service,
    isd: IsdTable,
) -> None:
    """An IF-034 answer to IF-033: a known, consistent code (REG1094) and, on acceptance of
    a Data Service, a valid SDS-nominated MDR (REG1081, REG1093) aligned with the
    appointment (REG1083)."""
    code = (appointment_code or "").split(" ", 1)[0]
    if response_code == ACCEPT:
        if code != ACCEPTED_CODE:
            raise InvalidResponseCode(f"acceptance must carry {ACCEPTED_CODE}, got {appointment_code!r}")
        if service is Service.DS:
            if sds_mdr is None or sds_mdr_from is None:
                raise InvalidResponseCode("an SDS accepting an appointment must nominate its MDR (B018)")
            check_mdr(
                isd,
                mdr=sds_mdr,
                mpid=sds_mdr_mpid or "",
                day=sds_mdr_from,
                mismatch=SdsNominatedMdrMpidMismatch,
            )
            if sds_mdr_from != expected_mdr_from:
                raise MdrEffectiveFromMisaligned(
                    f"SDS-nominated MDR from {sds_mdr_from.isoformat()} does not align with "
                    f"{expected_mdr_from.isoformat()}"
                )
        return
    if response_code == REJECT:
        if code not in REJECTION_CODES:
            raise InvalidResponseCode(
                f"{appointment_code!r} is not a rejection code (SP001-SP011, SP099, DS0xx)"
            )
        return
    raise InvalidResponseCode(f"response code {response_code!r} is neither A (accept) nor R (reject)")


def validate_mdr_update(
    *,
    request: MdrChangeRequest,
    record: MpanRecord | None,
    mpan: str,
    rows: list[Appointment],
    isd: IsdTable,
    today: date,
    settings: RsSettings,
) -> Appointment:
    """IF-034 [SDS-MDRUpdate]: an SDS-led change of MDR. Returns the row it changes."""
    if record is None:
        raise MpanUnknown(f"MPAN {mpan} is not registered with the Registration Service")
    current_supplier = record.supplier_on(today)
    if current_supplier != request.supplier:
        raise SupplierReferencedNotCurrent(
            f"B012 names {request.supplier}; the current supplier of {mpan} is {current_supplier or 'none'}"
        )
    day = request.effective_from
    today_row = as_of(rows, Service.DS, today)
    if today_row is None or today_row.provider != request.sds:
        holder = today_row.provider if today_row else "none"
        raise MdrUpdateNotByCurrentDataService(
            f"{request.sds} is not the Data Service of {mpan} (today: {holder})"
        )
    check_mdr(isd, mdr=request.mdr, mpid=request.mdr_mpid, day=day, mismatch=SdsNominatedMdrMpidMismatch)
    if day < today:
        raise RetrospectiveEffectiveDate(f"MDR effective-from {day.isoformat()} is in the past")
    if day > today + timedelta(days=settings.mdr_max_days_ahead):
        raise MdrUpdateTooFarAhead(
            f"MDR effective-from {day.isoformat()} is more than {settings.mdr_max_days_ahead} days "
            f"after today ({today.isoformat()})"
        )
    on_day = as_of(rows, Service.DS, day)
    if on_day is None or on_day is not today_row:
        boundary = today_row.period.end.isoformat() if today_row.period.end else "?"
        raise MdrEffectiveFromMisaligned(
            f"a change is already scheduled for {mpan} on {boundary} (supply start or existing MDR "
            f"effective-from); an MDR update must take effect before it, not on "
            f"{day.isoformat()}"
        )
    if on_day.mdr == request.mdr:
        raise ProposedMdrAlreadyAppointed(f"{request.mdr} is already the MDR of {mpan} on {day.isoformat()}")
    return on_day
