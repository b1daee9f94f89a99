"""The Smart Data Service as a participant: answers IF-033 with its decision (IF-034),
keeps its portfolio (which MPANs, with which MDR, for which supplier, from when) from the
messages it receives — IF-035 [DSAppAccepted] for an appointment, [SDS-MDROutcome] for a change
of MDR, IF-001 for a change of supplier, IF-037 for a de-appointment; one kind per fact — and
tells each MDR exactly what changed for it (``dataservice.portfolio``), with the MPAN's energy
direction and energisation as the IF-033 and IF-001 it received told them (it never reads the
RS's records). It can change an MPAN's MDR itself (IF-034 [SDS-MDRUpdate]). It touches only
``uow.dataservice``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any, cast

import msgspec

from openmhhs.codes import ResponseCode
from openmhhs.dataservice import portfolio
from openmhhs.dataservice.contracts import Contract
from openmhhs.dataservice.decisions import (
    Decision,
    MdrChangeRefused,
    ProposedAppointment,
    decide,
    plan_mdr_change,
)
from openmhhs.dataservice.portfolio import Held
from openmhhs.days import day_of, day_start, format_dip_datetime, parse_dip_datetime
from openmhhs.dip import schema as s
from openmhhs.dip.build import EchoSite, MessageFactory, Sender, Site
from openmhhs.dip.participant import Context, Delivered
from openmhhs.dip.schema import DipMessageStruct
from openmhhs.dip.vocabulary import Scenario
from openmhhs.identity.translation import AmbiguousIsdMatch, NoIsdMatch, mpid_for
from openmhhs.ids import DipId, DipRole, Mpid
from openmhhs.meterdata.messages import mdr_start, mdr_stop
from openmhhs.store.ports import DataServiceRepository, MpanFacts, UnitOfWork

ONE_DAY = timedelta(days=1)

__all__ = ["SmartDataService"]


def _day(text: str | None) -> date | None:
    return None if text is None else day_of(parse_dip_datetime(text))


class SmartDataService:
    roles = frozenset({"SDS"})

    def __init__(self, *, dip_id: DipId, unique_prefix: str | None = None) -> None:
        self.dip_id = dip_id
        self.factory = MessageFactory(Sender(dip_id, DipRole.SDS), unique_prefix=unique_prefix)
        self._contracts: list[Contract] | None = None

    def contracts(self, repo: DataServiceRepository) -> list[Contract]:
        """This SDS's contracts, read once (they change between market runs only)."""
        if self._contracts is None:
            self._contracts = repo.contracts(sds=str(self.dip_id))
        return self._contracts

    def receive(self, delivered: Delivered, ctx: Context, uow: UnitOfWork) -> list[DipMessageStruct]:
        repo = uow.dataservice
        message = delivered.message
        if isinstance(message, s.IF033DSAppSPRequest):
            self._learn(repo, message.common_block.m0, message.custom_block.b023, message.custom_block.b025)
            return [self._answer(repo, message, ctx)]
        if isinstance(message, s.IF035DSAppAccepted):
            return self._on_accepted(repo, message, ctx)
        if isinstance(message, s.IF035SDSMDROutcome):
            return self._on_mdr_outcome(repo, message, ctx)
        if isinstance(message, (s.IF001InitialRegistration, s.IF001ChangeOfSupplier)):
            custom = message.custom_block
            self._learn(repo, message.common_block.m0, custom.b023, custom.b025)
            b002 = custom.b002
            start = _day(b002.supplier_effective_from_date)
            assert start is not None
            return self._update(
                repo,
                message.common_block.m0,
                lambda rows: portfolio.change_supplier(
                    rows, start=start, supplier=b002.incoming_supplier_dip_id
                ),
                ctx=ctx,
                correlation=message.common_block.s1.sender_correlation_id,
            )
        if isinstance(message, s.IF037DSDeApp):
            b009 = message.custom_block.b009
            if b009.de_appointed_data_service_dip_id == self.dip_id:
                valid_to = _day(b009.data_service_effective_to_date)
                assert valid_to is not None
                return self._update(
                    repo,
                    message.common_block.m0,
                    lambda rows: portfolio.end(rows, at=valid_to),
                    ctx=ctx,
                    correlation=message.common_block.s1.sender_correlation_id,
                    reason="Data Service de-appointed",
                )
        return []

    def daily(self, ctx: Context, uow: UnitOfWork) -> list[DipMessageStruct]:
        return []

    def _learn(self, repo: DataServiceRepository, m0: s.M0, b023: s.B023, b025: s.B025) -> None:
        """The MPAN's energy direction and energisation, as the RS's message tells them."""
        facts = MpanFacts(str(self.dip_id), m0.mpan_core, b023.energy_direction, b025.energisation_status)
        if repo.facts(sds=facts.sds, core=facts.mpan) != facts:
            repo.learn(facts)

    # -- IF-033 -> IF-034 ----------------------------------------------------------------------
    def proposal(self, message: s.IF033DSAppSPRequest) -> ProposedAppointment:
        custom = message.custom_block
        b071 = custom.b071
        b029 = custom.b029 if isinstance(custom.b029, s.B029) else None
        meters = custom.b905_list if isinstance(custom.b905_list, list) else []
        meter_types = tuple(
            m.existing_meter.meter_type for m in meters if isinstance(m.existing_meter, s.B074)
        )
        effective = _day(b071.proposed_data_service_dip_effective_from_date)
        assert effective is not None
        return ProposedAppointment(
            sds=self.dip_id,
            supplier=DipId(custom.b012.service_provider_appointment_requesting_supplier_dip_id),
            contract_reference=b071.contract_reference_data_service,
            scenario=Scenario(b071.appointment_scenario),
            effective_from=effective,
            nominated_mdr=DipId.parse_optional(b071.supplier_nominated_mdr_dip_id),
            nominated_mdr_from=_day(b071.supplier_nominated_mdr_effective_from_date),
            segment=custom.b026.market_segment_indicator,
            connection_type=custom.b023.connection_type_indicator,
            domestic=b071.supplier_proposed_domestic_indicator,
            gsp_group=message.common_block.m0.gsp_group_id,
            postcode=custom.b022.metering_point_postcode,
            dcc_service_flag=None if b029 is None else b029.dcc_service_flag,
            meter_types=meter_types,
            fallback_frequency=b071.traditional_fall_back_read_frequency,
        )

    def _answer(
        self, repo: DataServiceRepository, message: s.IF033DSAppSPRequest, ctx: Context
    ) -> DipMessageStruct:
        decision = decide(proposal=self.proposal(message), contracts=self.contracts(repo), today=ctx.today)
        custom = message.custom_block
        b018: Any = msgspec.UNSET
        if decision.accepted:
            mdr, mdr_from = decision.mdr, decision.mdr_from
            assert mdr is not None and mdr_from is not None
            mdr_mpid = _mdr_mpid(ctx, mdr, mdr_from)
            if mdr_mpid is None:
                decision = Decision(
                    False,
                    ResponseCode.SP099,
                    f"MDR {decision.mdr} is not registered in the ISD",
                    decision.contract,
                )
            else:
                b018 = s.B018(
                    sds_nominated_mdr_dip_id=str(mdr),
                    sds_nominated_mdr_mpid=str(mdr_mpid),
                    sds_nominated_mdr_requested_effective_from_date=format_dip_datetime(day_start(mdr_from)),
                )
        return self.factory.reply(
            s.IF034DSAppSPResponse,
            s.IF034DSAppSPResponseCustomBlock(
                b007=s.B007(
                    response_code=cast(Any, decision.response_code),
                    proposed_appointment_response_code=decision.code.value,
                ),
                b012=custom.b012,
                b071=custom.b071,
                b018=b018,
            ),
            to=message,
            recipients=[DipId(message.common_block.s1.sender_dip_id)],
            now=ctx.now,
        )

    # -- the portfolio, and the MDR's instructions ------------------------------------------------
    def _on_accepted(
        self, repo: DataServiceRepository, message: s.IF035DSAppAccepted, ctx: Context
    ) -> list[DipMessageStruct]:
        custom = message.custom_block
        b019 = custom.b019
        if custom.b071.proposed_data_service_dip_id != self.dip_id or not isinstance(b019, s.B019):
            return []
        start = _day(b019.assigned_mdr_effective_from_date)
        assert start is not None
        correlation = message.common_block.s1.sender_correlation_id
        if custom.b071.appointment_scenario == Scenario.USP:
            # a change of MDR by the Supplier: the SDS's own period (and its end) is unchanged
            return self._update(
                repo,
                message.common_block.m0,
                lambda rows: portfolio.change_mdr(
                    rows,
                    start=start,
                    mdr=b019.assigned_mdr_dip_id,
                    mdr_mpid=b019.assigned_mdr_mpid,
                    correlation_id=correlation,
                ),
                ctx=ctx,
                correlation=correlation,
                consent=custom.b071.supplier_proposed_consent_granularity,
            )
        return self._update(
            repo,
            message.common_block.m0,
            lambda rows: portfolio.appoint(
                rows,
                start=start,
                supplier=custom.b012.service_provider_appointment_requesting_supplier_dip_id,
                mdr=b019.assigned_mdr_dip_id,
                mdr_mpid=b019.assigned_mdr_mpid,
                contract_reference=custom.b071.contract_reference_data_service,
                correlation_id=correlation,
            ),
            ctx=ctx,
            correlation=correlation,
            consent=custom.b071.supplier_proposed_consent_granularity,
        )

    def _on_mdr_outcome(
        self, repo: DataServiceRepository, message: s.IF035SDSMDROutcome, ctx: Context
    ) -> list[DipMessageStruct]:
        custom = message.custom_block
        if custom.b099.response_code != "A":
            return []
        start = _day(custom.b092.assigned_mdr_effective_from_date)
        assert start is not None
        correlation = message.common_block.s1.sender_correlation_id
        return self._update(
            repo,
            message.common_block.m0,
            lambda rows: portfolio.change_mdr(
                rows,
                start=start,
                mdr=custom.b092.assigned_mdr_dip_id,
                mdr_mpid=custom.b092.assigned_mdr_mpid,
                correlation_id=correlation,
            ),
            ctx=ctx,
            correlation=correlation,
        )

    def _update(
        self,
        repo: DataServiceRepository,
        m0: s.M0,
        change: Callable[[list[Held]], list[Held]],
        *,
        ctx: Context,
        correlation: str | None,
        consent: str = "H",
        reason: str = "MDR changed",
    ) -> list[DipMessageStruct]:
        """Apply a change to this SDS's portfolio for the MPAN and tell each MDR what changed
        for it (``portfolio.instructions``): nothing when the message changes nothing."""
        core = m0.mpan_core
        before = repo.portfolio_rows(sds=str(self.dip_id), core=core)
        after = change(before)
        if after == before:
            return []
        repo.portfolio_replace(sds=str(self.dip_id), core=core, rows=after)
        site = EchoSite(m0)
        sent: list[DipMessageStruct] = []
        facts = repo.facts(sds=str(self.dip_id), core=core)
        for told in portfolio.instructions(before, after):
            if isinstance(told, portfolio.Stop):
                sent.append(
                    mdr_stop(
                        self.factory,
                        site=site,
                        mdr=DipId(told.mdr),
                        mdr_mpid=str(_mdr_mpid(ctx, DipId(told.mdr), told.last_day) or told.mdr_mpid),
                        last_day=told.last_day,
                        now=ctx.now,
                        reason=reason,
                    )
                )
                continue
            supplier = DipId(told.supplier)
            sent.append(
                mdr_start(
                    self.factory,
                    site=site,
                    mdr=DipId(told.mdr),
                    mdr_mpid=str(_mdr_mpid(ctx, DipId(told.mdr), told.from_day) or told.mdr_mpid),
                    mdr_from=told.from_day,
                    supplier=supplier,
                    supplier_mpid=str(_mpid(ctx, supplier, DipRole.SUP, told.from_day) or "ZZZZ"),
                    energy_direction="I" if facts is None else facts.energy_direction,
                    energisation="E" if facts is None else facts.energisation,
                    energisation_from=told.from_day,
                    consent=consent,
                    consent_from=told.from_day,
                    now=ctx.now,
                    correlation_id=correlation,
                )
            )
        return sent

    # -- SDS-led change of MDR ------------------------------------------------------------------
    def request_mdr_change(
        self, *, site: Site, new_mdr: DipId, effective_from: date, rs: DipId, ctx: Context, uow: UnitOfWork
    ) -> s.IF034SDSMDRUpdate:
        """IF-034 [SDS-MDRUpdate] for an MPAN this SDS serves on the effective day (today for
        a retrospective one), if its contract for that day allows it (DS001, DS004, DS005,
        DS006 otherwise). An MDR unchanged on that day is left to the RS (REG1098)."""
        day = max(effective_from, ctx.today)
        held = uow.dataservice.portfolio_on(sds=str(self.dip_id), core=str(site.mpan), day=day)
        if held is None:
            raise MdrChangeRefused(
                ResponseCode.SP099, f"{self.dip_id} does not serve {site.mpan} on {day.isoformat()}"
            )
        supplier, reference = held.supplier, held.contract_reference
        mine = [c for c in self.contracts(uow.dataservice) if c.supplier == supplier]
        contract = next((c for c in mine if c.reference == reference), mine[0] if mine else None)
        if contract is None:
            raise MdrChangeRefused(ResponseCode.SP001, f"no contract with supplier {supplier}")
        plan_mdr_change(contract=contract, new_mdr=new_mdr, effective_from=effective_from, today=ctx.today)
        mdr_mpid = _mdr_mpid(ctx, new_mdr, effective_from)
        supplier_mpid = _mpid(ctx, DipId(supplier), DipRole.SUP, ctx.today)
        if mdr_mpid is None or supplier_mpid is None:
            raise MdrChangeRefused(ResponseCode.SP099, "the MDR or supplier is not registered in the ISD")
        return self.factory.build(
            s.IF034SDSMDRUpdate,
            s.IF034SDSMDRUpdateCustomBlock(
                b012=s.B012(
                    service_provider_appointment_requesting_supplier_dip_id=supplier,
                    service_provider_appointment_requesting_supplier_mpid=str(supplier_mpid),
                ),
                b018=s.B018(
                    sds_nominated_mdr_dip_id=str(new_mdr),
                    sds_nominated_mdr_mpid=str(mdr_mpid),
                    sds_nominated_mdr_requested_effective_from_date=format_dip_datetime(
                        day_start(effective_from)
                    ),
                ),
            ),
            site=site,
            recipients=[rs],
            now=ctx.now,
        )


def _mpid(ctx: Context, dip_id: DipId, role: DipRole, day: date) -> Mpid | None:
    try:
        return mpid_for(ctx.isd, dip_id=dip_id, dip_role=role, on=day).mpid
    except (NoIsdMatch, AmbiguousIsdMatch):
        return None


def _mdr_mpid(ctx: Context, mdr: DipId, day: date) -> Mpid | None:
    return _mpid(ctx, mdr, DipRole.MDR, day)
