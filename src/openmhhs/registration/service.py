"""The Registration Service as a participant: BP003 appointment and BP003B change of an
existing service, and SDS-led changes of MDR.

IF-031 from a Supplier is validated (``registration.rules``) and answered with IF-032; if it
passed, the proposed provider is asked (IF-033). Its IF-034 is checked and the outcome
published (IF-035 accepted/rejected/lapsed) to the Supplier and provider; an accepted Data
Service appointment also reports the MDR to the SDS ([SDS-MDROutcome]) and to the DCC,
which controls MDR access to meters by the MDR's 4-character id ([DCC-MDROutcome]). When an
appointment takes effect the RS sends IF-036 [DSAppActive]/[MSAppActive]; the outgoing
provider of a replaced service gets IF-037 when the replacement is accepted.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any, cast

import msgspec

from openmhhs.codes import ResponseCode
from openmhhs.days import LONDON, day_of, parse_dip_datetime
from openmhhs.dip import schema as s
from openmhhs.dip.build import MessageFactory, Sender, Site, SiteLike
from openmhhs.dip.participant import Context, Delivered
from openmhhs.dip.schema import DipMessageStruct
from openmhhs.identity.registry import NotQualified, require_qualified
from openmhhs.identity.translation import AmbiguousIsdMatch, NoIsdMatch, mpid_for
from openmhhs.ids import DipId, DipRole, InvalidMpanCore, MpanCore, Mpid
from openmhhs.periods import Period
from openmhhs.registration import rules
from openmhhs.registration.blocks import b007, b012, b905_list, code_message, dip_day, site_blocks
from openmhhs.registration.model import (
    Appointment,
    AppointmentRequest,
    MpanRecord,
    RequestState,
    Scenario,
    Service,
    SupplierPeriod,
)
from openmhhs.registration.timeline import TimelineChange, as_of, change_mdr, replace_from
from openmhhs.store.ports import RegistrationRepository, UnitOfWork

__all__ = ["NoRequestAwaits", "RegistrationService"]


class NoRequestAwaits(Exception):
    """An IF-034 that answers no open request (OMH0503); nothing changes."""

    code = ResponseCode.OMH0503


_DS_REASON = {Scenario.COS: "CSUPP", Scenario.MCS: "CSUPP", Scenario.SEG: "CSEGM"}


class RegistrationService:
    """The RS participant. ``dcc`` is the DIP ID the DCC receives MDR outcomes on."""

    roles = frozenset({"REGS"})

    def __init__(
        self,
        *,
        dip_id: DipId,
        dcc: DipId | None,
        settings: rules.RsSettings | None = None,
        unique_prefix: str | None = None,
    ) -> None:
        self.dip_id = dip_id
        self.dcc = dcc
        self.settings = settings or rules.RsSettings()
        self.factory = MessageFactory(Sender(dip_id, DipRole.REGS), unique_prefix=unique_prefix)
        self._records: dict[str, MpanRecord | None] = {}

    def _record(self, repo: RegistrationRepository, core: str) -> MpanRecord | None:
        """MPAN registration data, read once per market run (it changes between runs only)."""
        if core not in self._records:
            self._records[core] = repo.get_mpan(core)
        return self._records[core]

    # -- dispatch --------------------------------------------------------------------------
    def receive(self, delivered: Delivered, ctx: Context, uow: UnitOfWork) -> list[DipMessageStruct]:
        repo = uow.registration
        message = delivered.message
        if isinstance(message, (s.IF031DSApp, s.IF031MSApp)):
            return self._on_request(repo, message, ctx)
        if isinstance(message, (s.IF034DSAppSPResponse, s.IF034MSAppSPResponse)):
            return self._on_response(repo, message, ctx)
        if isinstance(message, s.IF034SDSMDRUpdate):
            return self._on_mdr_update(repo, message, ctx)
        return []

    # -- IF-031 ----------------------------------------------------------------------------
    def _on_request(
        self, repo: RegistrationRepository, message: s.IF031DSApp | s.IF031MSApp, ctx: Context
    ) -> list[DipMessageStruct]:
        common = message.common_block
        supplier = DipId(common.s1.sender_dip_id)
        block, initial, custom_initial = _initial_response_of(message)
        request = self._service_request(block, supplier)
        try:
            core = MpanCore(common.m0.mpan_core)
        except InvalidMpanCore as exc:
            return [self._initial(initial, custom_initial, message, supplier, ctx, exc.code, exc.detail)]
        record = self._record(repo, core)
        rows = repo.timeline(core)
        try:
            rules.validate_service_request(
                request=request,
                record=record,
                mpan=core,
                rows=rows,
                isd=ctx.isd,
                today=ctx.today,
                settings=self.settings,
            )
            assert record is not None
            role = rules.provider_role(request.service, record.segment)
            registered = ctx.isd.for_dip(request.provider, role)
            require_qualified(
                ctx.organisations.get(registered[0].company_number) if registered else None,
                role=role,
                who=f"the proposed {request.service} provider {request.provider}",
            )
        except (rules.RegistrationRuleBroken, NotQualified) as exc:
            return [self._initial(initial, custom_initial, message, supplier, ctx, exc.code, exc.detail)]
        assert record is not None
        out: list[DipMessageStruct] = [
            self.factory.reply(
                initial,
                custom_initial,
                to=message,
                recipients=[supplier],
                now=ctx.now,
                response=s.R0(
                    response_code="A", response_messages=["Passed Registration Service validation"]
                ),
            )
        ]
        out += self._supersede(repo, core, request.service, ctx)
        correlation = common.s1.sender_correlation_id or ""
        supplier_mpid = self._mpid(ctx, supplier, DipRole.SUP, request.effective_from) or Mpid("ZZZZ")
        repo.add_request(
            AppointmentRequest(
                correlation_id=correlation,
                mpan=core,
                service=request.service,
                supplier=supplier,
                supplier_mpid=supplier_mpid,
                provider=request.provider,
                provider_mpid=Mpid(request.provider_mpid),
                effective_from=request.effective_from,
                scenario=request.scenario,
                received_on=ctx.today,
                raw_block=msgspec.json.encode(block),
                nominated_mdr=request.nominated_mdr,
            )
        )
        out.append(self._ask_provider(message, block, record, supplier, supplier_mpid, rows, ctx))
        return out

    def _service_request(self, block: s.B071 | s.B070, supplier: DipId) -> rules.ServiceRequest:
        if isinstance(block, s.B071):
            starts = parse_dip_datetime(block.proposed_data_service_dip_effective_from_date)
            mdr_from = block.supplier_nominated_mdr_effective_from_date
            return rules.ServiceRequest(
                service=Service.DS,
                supplier=supplier,
                provider=DipId(block.proposed_data_service_dip_id),
                provider_mpid=block.proposed_data_service_mpid,
                effective_from=day_of(starts),
                effective_from_at_midnight=_at_midnight(starts),
                scenario=Scenario(block.appointment_scenario),
                nominated_mdr=DipId.parse_optional(block.supplier_nominated_mdr_dip_id),
                nominated_mdr_mpid=block.supplier_nominated_mdr_mpid,
                nominated_mdr_from=None if mdr_from is None else day_of(parse_dip_datetime(mdr_from)),
            )
        starts = parse_dip_datetime(block.proposed_metering_service_dip_effective_from_date)
        return rules.ServiceRequest(
            service=Service.MS,
            supplier=supplier,
            provider=DipId(block.proposed_metering_service_dip_id),
            provider_mpid=block.proposed_metering_service_mpid,
            effective_from=day_of(starts),
            effective_from_at_midnight=_at_midnight(starts),
            scenario=Scenario(block.appointment_scenario),
        )

    def _initial(
        self,
        cls: Any,
        custom: Any,
        message: DipMessageStruct,
        supplier: DipId,
        ctx: Context,
        code: ResponseCode,
        detail: str,
    ) -> DipMessageStruct:
        return cast(
            DipMessageStruct,
            self.factory.reply(
                cls,
                custom,
                to=message,
                recipients=[supplier],
                now=ctx.now,
                response=s.R0(
                    response_code="R",
                    response_messages=[code_message(code.value, code.wording, detail)],
                ),
            ),
        )

    def refusal(
        self, delivered: Delivered, ctx: Context, *, code: ResponseCode, detail: str
    ) -> list[DipMessageStruct]:
        """IF-032 R to the supplier whose IF-031 was refused before or failed during handling."""
        message = delivered.message
        if not isinstance(message, (s.IF031DSApp, s.IF031MSApp)):
            return []
        _block, initial, custom_initial = _initial_response_of(message)
        supplier = DipId(message.common_block.s1.sender_dip_id)
        return [self._initial(initial, custom_initial, message, supplier, ctx, code, detail)]

    def _supersede(
        self, repo: RegistrationRepository, core: MpanCore, service: Service, ctx: Context
    ) -> list[DipMessageStruct]:
        """An earlier request still awaiting its provider is replaced (REG1089)."""
        out: list[DipMessageStruct] = []
        for old in repo.open_requests(core, service):
            repo.settle_request(old.correlation_id, RequestState.SUPERSEDED, ResponseCode.REG1089.value)
            out.append(self._outcome(repo, old, "R", ResponseCode.REG1089.value, ctx, accepted=False))
        return out

    def _ask_provider(
        self,
        message: s.IF031DSApp | s.IF031MSApp,
        block: s.B071 | s.B070,
        record: MpanRecord,
        supplier: DipId,
        supplier_mpid: Mpid,
        rows: list[Appointment],
        ctx: Context,
    ) -> DipMessageStruct:
        since = min((p.period.start for p in record.suppliers), default=ctx.today)
        site = site_blocks(record, since=since)
        site.pop("b028")
        incumbent_ms = as_of(rows, Service.MS, ctx.today)
        b072 = (
            s.B072(
                incumbent_metering_service_dip_id=str(incumbent_ms.provider),
                incumbent_metering_service_mpid=str(incumbent_ms.provider_mpid),
            )
            if incumbent_ms is not None
            else msgspec.UNSET
        )
        common: dict[str, Any] = {
            "b012": b012(supplier, supplier_mpid),
            "b072": b072,
            "b905_list": b905_list(record, installed=since),
            **site,
        }
        if isinstance(block, s.B071):
            return self.factory.reply(
                s.IF033DSAppSPRequest,
                s.IF033DSAppSPRequestCustomBlock(b071=block, **common),
                to=message,
                recipients=[DipId(block.proposed_data_service_dip_id)],
                now=ctx.now,
            )
        return self.factory.reply(
            s.IF033MSAppSPRequest,
            s.IF033MSAppSPRequestCustomBlock(b070=block, **common),
            to=message,
            recipients=[DipId(block.proposed_metering_service_dip_id)],
            now=ctx.now,
        )

    # -- IF-034 answers to IF-033 ------------------------------------------------------------
    def _on_response(
        self,
        repo: RegistrationRepository,
        message: s.IF034DSAppSPResponse | s.IF034MSAppSPResponse,
        ctx: Context,
    ) -> list[DipMessageStruct]:
        common = message.common_block
        correlation = common.s1.sender_correlation_id or ""
        request = repo.request(correlation)
        if (
            request is None
            or request.state is not RequestState.AWAITING_PROVIDER
            or str(request.provider) != common.s1.sender_dip_id
            or str(request.mpan) != common.m0.mpan_core
        ):
            raise NoRequestAwaits(f"no appointment request {correlation} awaits {common.s1.sender_dip_id}")
        custom = message.custom_block
        found = getattr(custom, "b018", msgspec.UNSET)
        b018: s.B018 | None = found if isinstance(found, s.B018) else None
        mdr_from = (
            day_of(parse_dip_datetime(b018.sds_nominated_mdr_requested_effective_from_date))
            if b018 is not None
            else None
        )
        expected = request.effective_from
        if request.scenario is Scenario.USP:
            block = msgspec.json.decode(request.raw_block, type=s.B071)
            nominated_from = block.supplier_nominated_mdr_effective_from_date
            expected = day_of(parse_dip_datetime(nominated_from)) if nominated_from else expected
        try:
            rules.validate_provider_response(
                response_code=custom.b007.response_code,
                appointment_code=custom.b007.proposed_appointment_response_code,
                sds_mdr=DipId(b018.sds_nominated_mdr_dip_id) if b018 is not None else None,
                sds_mdr_mpid=b018.sds_nominated_mdr_mpid if b018 is not None else None,
                sds_mdr_from=mdr_from,
                expected_mdr_from=expected,
                service=request.service,
                isd=ctx.isd,
            )
        except rules.RegistrationRuleBroken as exc:
            repo.settle_request(correlation, RequestState.REJECTED, exc.code.value)
            return [self._outcome(repo, request, "R", exc.code.value, ctx, accepted=False, detail=exc.detail)]
        code = (custom.b007.proposed_appointment_response_code or "").split(" ", 1)[0]
        if custom.b007.response_code == "R":
            repo.settle_request(correlation, RequestState.REJECTED, code)
            return [self._outcome(repo, request, "R", code, ctx, accepted=False)]
        return self._accept(repo, request, b018, mdr_from, ctx)

    def _accept(
        self,
        repo: RegistrationRepository,
        request: AppointmentRequest,
        b018: s.B018 | None,
        mdr_from: date | None,
        ctx: Context,
    ) -> list[DipMessageStruct]:
        rows = repo.timeline(request.mpan)
        new = Appointment(
            mpan=request.mpan,
            service=request.service,
            provider=request.provider,
            provider_mpid=request.provider_mpid,
            period=Period(request.effective_from),
            supplier=request.supplier,
            mdr=DipId(b018.sds_nominated_mdr_dip_id) if b018 else None,
            mdr_mpid=Mpid(b018.sds_nominated_mdr_mpid) if b018 else None,
            contract_reference=_contract_reference(request),
            scenario=request.scenario,
            correlation_id=request.correlation_id,
        )
        if request.scenario is Scenario.USP and request.service is Service.DS:
            assert new.mdr is not None and new.mdr_mpid is not None and mdr_from is not None
            change = change_mdr(
                rows,
                provider=new.provider,
                mdr=new.mdr,
                mdr_mpid=new.mdr_mpid,
                from_day=mdr_from,
                correlation_id=request.correlation_id,
            )
        elif request.scenario is Scenario.USP:
            change = TimelineChange()
        else:
            change = replace_from(rows, new)
        repo.apply(change, at=ctx.now, by=request.correlation_id)
        repo.settle_request(request.correlation_id, RequestState.ACCEPTED, ResponseCode.SP000.value)
        out: list[DipMessageStruct] = [
            self._outcome(
                repo,
                request,
                "A",
                ResponseCode.SP000.value,
                ctx,
                accepted=True,
                mdr=new,
                mdr_from=mdr_from,
            )
        ]
        out += self._deappointments(repo, request, change, ctx)
        if request.service is Service.DS and new.mdr is not None and new.mdr_mpid is not None:
            assert mdr_from is not None
            out += self._mdr_outcomes(
                repo,
                request.mpan,
                request.supplier,
                request.supplier_mpid,
                new.provider,
                new.mdr,
                new.mdr_mpid,
                mdr_from,
                request.correlation_id,
                ctx,
            )
            if request.scenario is Scenario.USP:  # an appointment replaces every later row; a split does not
                out += self._republish(
                    repo, request.mpan, after=mdr_from, ctx=ctx, correlation=request.correlation_id
                )
            out += self._registrations_for_provider(
                repo, request.mpan, new.provider, since=request.effective_from, ctx=ctx
            )
        return out

    def _outcome(
        self,
        repo: RegistrationRepository,
        request: AppointmentRequest,
        response: str,
        code: str | None,
        ctx: Context,
        *,
        accepted: bool,
        detail: str = "",
        mdr: Appointment | None = None,
        mdr_from: date | None = None,
        lapsed: bool = False,
    ) -> DipMessageStruct:
        """IF-035 to the Supplier and the provider."""
        del detail  # B007 carries the code only (200 characters would not hold the detail)
        supplier_block = b012(request.supplier, request.supplier_mpid)
        outcome = b007(response, code)
        recipients = _unique([request.supplier, request.provider])
        site = self._site(repo, request.mpan)
        if request.service is Service.DS:
            b071 = msgspec.json.decode(request.raw_block, type=s.B071)
            if accepted and mdr is not None and mdr.mdr is not None and mdr.mdr_mpid is not None:
                b019 = s.B019(
                    assigned_mdr_dip_id=str(mdr.mdr),
                    assigned_mdr_mpid=str(mdr.mdr_mpid),
                    assigned_mdr_effective_from_date=dip_day(mdr_from or request.effective_from),
                )
                return self.factory.build(
                    s.IF035DSAppAccepted,
                    s.IF035DSAppAcceptedCustomBlock(b007=outcome, b012=supplier_block, b071=b071, b019=b019),
                    site=site,
                    recipients=recipients,
                    now=ctx.now,
                    correlation_id=request.correlation_id,
                )
            cls = s.IF035DSAppLapsed if lapsed else s.IF035DSAppRejected
            custom_cls = s.IF035DSAppLapsedCustomBlock if lapsed else s.IF035DSAppRejectedCustomBlock
            return self.factory.build(
                cls,
                custom_cls(b007=outcome, b012=supplier_block, b071=b071),
                site=site,
                recipients=recipients,
                now=ctx.now,
                correlation_id=request.correlation_id,
            )
        b070 = msgspec.json.decode(request.raw_block, type=s.B070)
        if accepted:
            ms_cls: Any = s.IF035MSAppAccepted
            ms_custom: Any = s.IF035MSAppAcceptedCustomBlock
        elif lapsed:
            ms_cls, ms_custom = s.IF035MSAppLapsed, s.IF035MSAppLapsedCustomBlock
        else:
            ms_cls, ms_custom = s.IF035MSAppRejected, s.IF035MSAppRejectedCustomBlock
        return cast(
            DipMessageStruct,
            self.factory.build(
                ms_cls,
                ms_custom(b007=outcome, b012=supplier_block, b070=b070),
                site=site,
                recipients=recipients,
                now=ctx.now,
                correlation_id=request.correlation_id,
            ),
        )

    def _deappointments(
        self, repo: RegistrationRepository, request: AppointmentRequest, change: TimelineChange, ctx: Context
    ) -> list[DipMessageStruct]:
        """IF-037 to each provider the accepted appointment replaces (a running appointment
        ends on the new one's first day; a prospective one never starts)."""
        out: list[DipMessageStruct] = []
        notified: set[str] = set()
        for retired in change.retire:
            if retired.provider == request.provider or retired.service is not request.service:
                continue
            if retired.provider in notified:
                continue
            notified.add(retired.provider)
            row = replace(
                retired,
                period=Period(retired.period.start, max(retired.period.start, request.effective_from)),
            )
            reason = _DS_REASON.get(request.scenario, "CSERV")
            site = self._site(repo, request.mpan)
            if request.service is Service.DS:
                custom: Any = s.IF037DSDeAppCustomBlock(
                    b009=s.B009(
                        de_appointed_data_service_dip_id=str(row.provider),
                        de_appointed_data_service_mpid=str(row.provider_mpid),
                        data_service_effective_from_date=dip_day(row.period.start),
                        data_service_effective_to_date=dip_day(row.period.end or request.effective_from),
                        de_appointment_reason_code=cast(Any, reason),
                    ),
                    b011=s.B011(
                        incoming_data_service_dip_id=str(request.provider),
                        incoming_data_service_mpid=str(request.provider_mpid),
                        incoming_data_service_effective_from_date=dip_day(request.effective_from),
                    ),
                    b002=self._incoming_supplier(request),
                )
                cls: Any = s.IF037DSDeApp
            else:
                custom = s.IF037MSDeAppCustomBlock(
                    b008=s.B008(
                        de_appointed_metering_service_dip_id=str(row.provider),
                        de_appointed_metering_service_mpid=str(row.provider_mpid),
                        metering_service_effective_from_date=dip_day(row.period.start),
                        metering_service_effective_to_date=dip_day(row.period.end or request.effective_from),
                        de_appointment_reason_code=cast(Any, reason),
                    ),
                    b010=s.B010(
                        incoming_metering_service_dip_id=str(request.provider),
                        incoming_metering_service_mpid=str(request.provider_mpid),
                        incoming_metering_service_effective_from_date=dip_day(request.effective_from),
                    ),
                    b002=self._incoming_supplier(request),
                )
                cls = s.IF037MSDeApp
            out.append(
                self.factory.build(
                    cls,
                    custom,
                    site=site,
                    recipients=[row.provider],
                    now=ctx.now,
                    correlation_id=request.correlation_id,
                )
            )
        return out

    def _incoming_supplier(self, request: AppointmentRequest) -> Any:
        if request.scenario not in (Scenario.COS, Scenario.MCS):
            return msgspec.UNSET
        return s.B002(
            incoming_supplier_dip_id=str(request.supplier),
            incoming_supplier_mpid=str(request.supplier_mpid),
            supplier_effective_from_date=dip_day(request.effective_from),
        )

    def _mdr_outcomes(
        self,
        repo: RegistrationRepository,
        core: MpanCore,
        supplier: DipId,
        supplier_mpid: Mpid,
        sds: DipId,
        mdr: DipId,
        mdr_mpid: Mpid,
        mdr_from: date,
        correlation: str,
        ctx: Context,
        *,
        accepted: bool = True,
        messages: list[str] | None = None,
        tell_supplier: bool = True,
    ) -> list[DipMessageStruct]:
        """[SDS-MDROutcome] to the SDS and Supplier; on success, [DCC-MDROutcome] telling the
        DCC (and the SDS) which 4-character MDR id may read the meter from which day."""
        site = self._site(repo, core)
        supplier_block = b012(supplier, supplier_mpid)
        outcome = self.factory.build(
            s.IF035SDSMDROutcome,
            s.IF035SDSMDROutcomeCustomBlock(
                b012=supplier_block,
                b092=s.B092(
                    assigned_mdr_dip_id=str(mdr),
                    assigned_mdr_mpid=str(mdr_mpid),
                    assigned_mdr_effective_from_date=dip_day(mdr_from),
                ),
                b099=s.B099(
                    response_code="A" if accepted else "R",
                    response_messages=list(messages or ["MDR assigned"]),
                ),
            ),
            site=site,
            recipients=_unique([sds, supplier]) if tell_supplier else [sds],
            now=ctx.now,
            correlation_id=correlation,
        )
        if not accepted or self.dcc is None:
            return [outcome]
        dcc = self.factory.build(
            s.IF035DCCMDROutcome,
            s.IF035DCCMDROutcomeCustomBlock(
                b012=supplier_block,
                b066=s.B066(
                    assigned_mdr_dip_id=str(mdr),
                    assigned_mdr_mpid=str(mdr_mpid),
                    assigned_mdr_effective_from_date=dip_day(mdr_from),
                    response_code="A",
                    response_message=f"MDR {mdr_mpid} may retrieve data for {core} from {mdr_from}",
                ),
            ),
            site=site,
            recipients=[self.dcc],
            now=ctx.now,
            correlation_id=correlation,
        )
        return [outcome, dcc]

    def _republish(
        self, repo: RegistrationRepository, core: MpanCore, *, after: date, ctx: Context, correlation: str
    ) -> list[DipMessageStruct]:
        """The MDR notices of every Data Service row that starts after ``after`` and still
        stands: a notice "from D" replaces what its recipient knew from D onwards, so a change
        that splits a row before a later one must tell the later one again."""
        out: list[DipMessageStruct] = []
        for row in repo.timeline(core):
            if (
                row.service is not Service.DS
                or row.period.start <= after
                or row.period.is_empty
                or row.mdr is None
                or row.mdr_mpid is None
            ):
                continue
            supplier_mpid = self._mpid(ctx, row.supplier, DipRole.SUP, row.period.start) or Mpid("ZZZZ")
            out += self._mdr_outcomes(
                repo,
                core,
                row.supplier,
                supplier_mpid,
                row.provider,
                row.mdr,
                row.mdr_mpid,
                row.period.start,
                correlation,
                ctx,
                tell_supplier=False,
            )
        return out

    # -- IF-001: supplier registrations, for the DCC and the Data Services ------------------------
    def registration_changed(
        self, core: str, *, since: date | None, ctx: Context, uow: UnitOfWork
    ) -> list[DipMessageStruct]:
        """IF-001 for each of the MPAN's supplier periods starting on or after ``since`` (all when
        None), to the DCC and every Data Service whose row overlaps the period. The RS stands in
        for CSS here: it is the DCC's and the Data Services' source of supplier registrations."""
        repo = uow.registration
        self._records.pop(core, None)  # registration data changed outside the market
        record = self._record(repo, core)
        if record is None:
            return []
        rows = [r for r in repo.timeline(core) if r.service is Service.DS and not r.period.is_empty]
        out: list[DipMessageStruct] = []
        periods = sorted(record.suppliers, key=lambda p: p.period.start)
        for index, held in enumerate(periods):
            if since is not None and held.period.start < since:
                continue
            providers = [r.provider for r in rows if r.period.overlaps(held.period)]
            recipients = _unique([*([self.dcc] if self.dcc else []), *providers])
            out += self._registration(repo, record, periods, index, recipients, ctx)
        return out

    def _registrations_for_provider(
        self, repo: RegistrationRepository, core: MpanCore, provider: DipId, *, since: date, ctx: Context
    ) -> list[DipMessageStruct]:
        """A newly appointed Data Service learns of each change of supplier after its start."""
        record = self._record(repo, core)
        if record is None:
            return []
        periods = sorted(record.suppliers, key=lambda p: p.period.start)
        out: list[DipMessageStruct] = []
        for index, held in enumerate(periods):
            if held.period.start > since:
                out += self._registration(repo, record, periods, index, [provider], ctx)
        return out

    def _registration(
        self,
        repo: RegistrationRepository,
        record: MpanRecord,
        periods: list[SupplierPeriod],
        index: int,
        recipients: list[DipId],
        ctx: Context,
    ) -> list[DipMessageStruct]:
        if not recipients:
            return []
        held = periods[index]
        start = held.period.start
        site = site_blocks(record, since=start)
        site.pop("b028")
        blocks: dict[str, Any] = {
            "b013": s.B013(css_registration_id=f"{record.mpan}-{start:%Y%m%d}"),
            "b002": s.B002(
                incoming_supplier_dip_id=str(held.supplier),
                incoming_supplier_mpid=str(self._mpid(ctx, held.supplier, DipRole.SUP, start) or "ZZZZ"),
                supplier_effective_from_date=dip_day(start),
            ),
            "b004": s.B004(
                domestic_premise_indicator=record.domestic,
                domestic_premise_indicator_effective_from_date=dip_day(start),
            ),
            **site,
        }
        if index == 0:
            return [
                self.factory.build(
                    s.IF001InitialRegistration,
                    s.IF001InitialRegistrationCustomBlock(**blocks),
                    site=self._site(repo, record.mpan),
                    recipients=recipients,
                    now=ctx.now,
                )
            ]
        outgoing = periods[index - 1]
        blocks["b003"] = s.B003(
            outgoing_supplier_dip_id=str(outgoing.supplier),
            outgoing_supplier_mpid=str(
                self._mpid(ctx, outgoing.supplier, DipRole.SUP, start - timedelta(days=1)) or "ZZZZ"
            ),
            supplier_effective_to_date=dip_day(start),
        )
        return [
            self.factory.build(
                s.IF001ChangeOfSupplier,
                s.IF001ChangeOfSupplierCustomBlock(**blocks),
                site=self._site(repo, record.mpan),
                recipients=recipients,
                now=ctx.now,
            )
        ]

    # -- IF-034 [SDS-MDRUpdate] ---------------------------------------------------------------
    def _on_mdr_update(
        self, repo: RegistrationRepository, message: s.IF034SDSMDRUpdate, ctx: Context
    ) -> list[DipMessageStruct]:
        common = message.common_block
        custom = message.custom_block
        sds = DipId(common.s1.sender_dip_id)
        supplier = DipId(custom.b012.service_provider_appointment_requesting_supplier_dip_id)
        supplier_mpid = Mpid(custom.b012.service_provider_appointment_requesting_supplier_mpid)
        mdr = DipId(custom.b018.sds_nominated_mdr_dip_id)
        mdr_mpid = custom.b018.sds_nominated_mdr_mpid
        day = day_of(parse_dip_datetime(custom.b018.sds_nominated_mdr_requested_effective_from_date))
        correlation = common.s1.sender_correlation_id or ""
        try:
            core = MpanCore(common.m0.mpan_core)
        except InvalidMpanCore as exc:
            return self._mdr_refused(
                repo,
                common.m0,
                supplier,
                supplier_mpid,
                sds,
                mdr,
                mdr_mpid,
                day,
                correlation,
                ctx,
                exc.code,
                exc.detail,
            )
        rows = repo.timeline(core)
        try:
            rules.validate_mdr_update(
                request=rules.MdrChangeRequest(
                    sds=sds, supplier=supplier, mdr=mdr, mdr_mpid=mdr_mpid, effective_from=day
                ),
                record=self._record(repo, core),
                mpan=core,
                rows=rows,
                isd=ctx.isd,
                today=ctx.today,
                settings=self.settings,
            )
        except rules.RegistrationRuleBroken as exc:
            return self._mdr_refused(
                repo,
                common.m0,
                supplier,
                supplier_mpid,
                sds,
                mdr,
                mdr_mpid,
                day,
                correlation,
                ctx,
                exc.code,
                exc.detail,
            )
        change = change_mdr(
            rows,
            provider=sds,
            mdr=mdr,
            mdr_mpid=Mpid(mdr_mpid),
            from_day=day,
            correlation_id=correlation,
        )
        repo.apply(change, at=ctx.now, by=correlation)
        return [
            *self._mdr_outcomes(
                repo, core, supplier, supplier_mpid, sds, mdr, Mpid(mdr_mpid), day, correlation, ctx
            ),
            *self._republish(repo, core, after=day, ctx=ctx, correlation=correlation),
        ]

    def _mdr_refused(
        self,
        repo: RegistrationRepository,
        m0: s.M0,
        supplier: DipId,
        supplier_mpid: Mpid,
        sds: DipId,
        mdr: DipId,
        mdr_mpid: str,
        day: date,
        correlation: str,
        ctx: Context,
        code: ResponseCode,
        detail: str,
    ) -> list[DipMessageStruct]:
        known = _valid_core(m0.mpan_core) and self._record(repo, m0.mpan_core) is not None
        site: SiteLike = self._site(repo, m0.mpan_core) if known else _EchoSite(m0)
        return [
            self.factory.build(
                s.IF035SDSMDROutcome,
                s.IF035SDSMDROutcomeCustomBlock(
                    b012=b012(supplier, supplier_mpid),
                    b092=s.B092(
                        assigned_mdr_dip_id=str(mdr),
                        assigned_mdr_mpid=mdr_mpid,
                        assigned_mdr_effective_from_date=dip_day(day),
                    ),
                    b099=s.B099(
                        response_code="R",
                        response_messages=[code_message(code.value, code.wording, detail)],
                    ),
                ),
                site=site,
                recipients=_unique([sds, supplier]),
                now=ctx.now,
                correlation_id=correlation,
            )
        ]

    # -- daily work ------------------------------------------------------------------------
    def daily(self, ctx: Context, uow: UnitOfWork) -> list[DipMessageStruct]:
        repo = uow.registration
        out: list[DipMessageStruct] = []
        cutoff = ctx.today - timedelta(days=self.settings.lapse_after_days)
        for request in repo.requests_to_lapse(cutoff):
            repo.settle_request(request.correlation_id, RequestState.LAPSED, None)
            out.append(self._outcome(repo, request, "L", None, ctx, accepted=False, lapsed=True))
        for request in repo.requests_to_activate(ctx.today):
            repo.mark_activated(request.correlation_id)
            out.append(self._active(repo, request, ctx))
        return out

    def _active(
        self, repo: RegistrationRepository, request: AppointmentRequest, ctx: Context
    ) -> DipMessageStruct:
        record = self._record(repo, request.mpan)
        assert record is not None
        rows = repo.timeline(request.mpan)
        site = self._site(repo, request.mpan)
        blocks = site_blocks(record, since=request.effective_from)
        blocks.pop("b029")
        ds = as_of(rows, Service.DS, request.effective_from)
        ms = as_of(rows, Service.MS, request.effective_from)
        b005 = s.B005(
            current_metering_service_dip_id=str(ms.provider) if ms else None,
            current_metering_service_mpid=str(ms.provider_mpid) if ms else None,
            current_data_service_dip_id=str(ds.provider) if ds else None,
            current_data_service_mpid=str(ds.provider_mpid) if ds else None,
        )
        supplier_block = b012(request.supplier, request.supplier_mpid)
        recipients = _unique([request.supplier, request.provider])
        if request.service is Service.DS:
            b071 = msgspec.json.decode(request.raw_block, type=s.B071)
            mdr_row = ds if ds is not None and ds.provider == request.provider else None
            b019: Any = msgspec.UNSET
            if mdr_row is not None and mdr_row.mdr is not None and mdr_row.mdr_mpid is not None:
                b019 = s.B019(
                    assigned_mdr_dip_id=str(mdr_row.mdr),
                    assigned_mdr_mpid=str(mdr_row.mdr_mpid),
                    assigned_mdr_effective_from_date=dip_day(mdr_row.period.start),
                )
            if ms is not None:
                recipients = _unique([*recipients, ms.provider])
            return self.factory.build(
                s.IF036DSAppActive,
                s.IF036DSAppActiveCustomBlock(
                    b012=supplier_block,
                    b015=s.B015(
                        incoming_data_service_mpid=str(request.provider_mpid),
                        incoming_data_service_dip_id=str(request.provider),
                        incoming_data_service_effective_from_date=dip_day(request.effective_from),
                        contract_reference_data_service=b071.contract_reference_data_service,
                        appointment_scenario=b071.appointment_scenario,
                        traditional_fall_back_read_frequency=b071.traditional_fall_back_read_frequency,
                    ),
                    b019=b019,
                    b005=b005,
                    **blocks,
                ),
                site=site,
                recipients=recipients,
                now=ctx.now,
                correlation_id=request.correlation_id,
            )
        b070 = msgspec.json.decode(request.raw_block, type=s.B070)
        if ds is not None:
            recipients = _unique([*recipients, ds.provider])
        return self.factory.build(
            s.IF036MSAppActive,
            s.IF036MSAppActiveCustomBlock(
                b012=supplier_block,
                b014=s.B014(
                    incoming_metering_service_dip_id=str(request.provider),
                    incoming_metering_service_effective_from_date=dip_day(request.effective_from),
                    incoming_metering_service_mpid=str(request.provider_mpid),
                    contract_reference_metering_service=b070.contract_reference_metering_service,
                    appointment_scenario=b070.appointment_scenario,
                ),
                b005=b005,
                **blocks,
            ),
            site=site,
            recipients=recipients,
            now=ctx.now,
            correlation_id=request.correlation_id,
        )

    # -- helpers ---------------------------------------------------------------------------
    def _site(self, repo: RegistrationRepository, core: str) -> Site:
        record = self._record(repo, core)
        if record is None:
            raise ValueError(f"MPAN {core} is not registered")
        return Site(record.mpan, record.distributor, record.gsp_group)

    @staticmethod
    def _mpid(ctx: Context, dip_id: DipId, role: DipRole, day: date) -> Mpid | None:
        try:
            return mpid_for(ctx.isd, dip_id=dip_id, dip_role=role, on=day).mpid
        except (NoIsdMatch, AmbiguousIsdMatch):
            return None


def _initial_response_of(message: s.IF031DSApp | s.IF031MSApp) -> tuple[s.B071 | s.B070, Any, Any]:
    """The request's service block, and the IF-032 type and custom block answering it."""
    if isinstance(message, s.IF031DSApp):
        return (
            message.custom_block.b071,
            s.IF032DSAppInitialResp,
            s.IF032DSAppInitialRespCustomBlock(b071=message.custom_block.b071),
        )
    return (
        message.custom_block.b070,
        s.IF032MSAppInitialResp,
        s.IF032MSAppInitialRespCustomBlock(b070=message.custom_block.b070),
    )


def _at_midnight(moment: datetime) -> bool:
    local = moment.astimezone(LONDON)
    return local.hour == 0 and local.minute == 0 and local.second == 0


def _unique(ids: list[DipId]) -> list[DipId]:
    seen: list[DipId] = []
    for dip_id in ids:
        if dip_id not in seen:
            seen.append(dip_id)
    return seen


def _valid_core(core: str) -> bool:
    try:
        MpanCore(core)
    except InvalidMpanCore:
        return False
    return True


class _EchoSite:
    """M0 for an MPAN the RS does not hold: echo what the sender wrote."""

    def __init__(self, m0: s.M0) -> None:
        self._m0 = m0

    def m0(self) -> s.M0:
        return self._m0


def _contract_reference(request: AppointmentRequest) -> str | None:
    if request.service is Service.DS:
        return msgspec.json.decode(request.raw_block, type=s.B071).contract_reference_data_service
    return msgspec.json.decode(request.raw_block, type=s.B070).contract_reference_metering_service
