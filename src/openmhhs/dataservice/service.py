"""The Smart Data Service as a participant: answers IF-033 with its decision (IF-034),
keeps its portfolio (which MPANs, with which MDR, from when) from the RS's outcomes, and can
change an MPAN's MDR itself (IF-034 [SDS-MDRUpdate])."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, Protocol, cast

import msgspec

from openmhhs.codes import ResponseCode
from openmhhs.dataservice.contracts import Contract
from openmhhs.dataservice.decisions import (
    Decision,
    MdrChangeRefused,
    ProposedAppointment,
    decide,
    plan_mdr_change,
)
from openmhhs.days import day_of, day_start, format_dip_datetime, parse_dip_datetime
from openmhhs.dip import schema as s
from openmhhs.dip.build import EchoSite, MessageFactory, Sender, Site
from openmhhs.dip.participant import Context, Delivered
from openmhhs.dip.schema import DipMessageStruct
from openmhhs.dip.vocabulary import Scenario
from openmhhs.identity.translation import AmbiguousIsdMatch, NoIsdMatch, mpid_for
from openmhhs.ids import DipId, DipRole, Mpid
from openmhhs.meterdata.messages import mdr_start, mdr_stop
from openmhhs.registration.model import MpanRecord

ONE_DAY = timedelta(days=1)

__all__ = ["DataServiceStore", "SmartDataService"]


class DataServiceStore(Protocol):
    def contracts(self, *, sds: str | None = None, supplier: str | None = None) -> list[Contract]: ...
    def portfolio_add(
        self,
        *,
        sds: str,
        core: str,
        supplier: str,
        mdr: str,
        mdr_mpid: str,
        valid_from: date,
        correlation_id: str | None,
        contract_reference: str | None = None,
    ) -> None: ...
    def portfolio_end(self, *, sds: str, core: str, valid_to: date) -> None: ...
    def portfolio_on(self, *, sds: str, core: str, day: date) -> tuple[str, str, str, str | None] | None: ...
    def get_mpan(self, core: str) -> MpanRecord | None: ...


def _day(text: str | None) -> date | None:
    return None if text is None else day_of(parse_dip_datetime(text))


class SmartDataService:
    roles = frozenset({"SDS"})

    def __init__(self, *, dip_id: DipId, store: DataServiceStore, unique_prefix: str | None = None) -> None:
        self.dip_id = dip_id
        self.store = store
        self.factory = MessageFactory(Sender(dip_id, DipRole.SDS), unique_prefix=unique_prefix)
        self._contracts: list[Contract] | None = None

    @property
    def contracts(self) -> list[Contract]:
        if self._contracts is None:
            self._contracts = self.store.contracts(sds=str(self.dip_id))
        return self._contracts

    def receive(self, delivered: Delivered, ctx: Context) -> list[DipMessageStruct]:
        message = delivered.message
        if isinstance(message, s.IF033DSAppSPRequest):
            return [self._answer(message, ctx)]
        if isinstance(message, s.IF035DSAppAccepted):
            return self._remember_accepted(message, ctx)
        if isinstance(message, s.IF035SDSMDROutcome):
            return self._remember_mdr(message, ctx)
        if isinstance(message, s.IF037DSDeApp):
            b009 = message.custom_block.b009
            if b009.de_appointed_data_service_dip_id == self.dip_id:
                core = message.common_block.m0.mpan_core
                valid_to = day_of(parse_dip_datetime(b009.data_service_effective_to_date))
                held = self.store.portfolio_on(sds=str(self.dip_id), core=core, day=valid_to - ONE_DAY)
                self.store.portfolio_end(sds=str(self.dip_id), core=core, valid_to=valid_to)
                if held is not None:  # the outgoing SDS stops its MDR after its last day
                    return [
                        mdr_stop(
                            self.factory,
                            site=EchoSite(message.common_block.m0),
                            mdr=DipId(held[1]),
                            mdr_mpid=held[2],
                            last_day=valid_to - ONE_DAY,
                            now=ctx.now,
                            reason="Data Service de-appointed",
                        )
                    ]
        return []

    def daily(self, ctx: Context) -> list[DipMessageStruct]:
        return []

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

    def _answer(self, message: s.IF033DSAppSPRequest, ctx: Context) -> DipMessageStruct:
        decision = decide(proposal=self.proposal(message), contracts=self.contracts, today=ctx.today)
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
    def _remember_accepted(self, message: s.IF035DSAppAccepted, ctx: Context) -> list[DipMessageStruct]:
        custom = message.custom_block
        if custom.b071.proposed_data_service_dip_id != self.dip_id or not isinstance(custom.b019, s.B019):
            return []
        mdr_from = _day(custom.b019.assigned_mdr_effective_from_date)
        assert mdr_from is not None
        core = message.common_block.m0.mpan_core
        previous = self.store.portfolio_on(sds=str(self.dip_id), core=core, day=mdr_from - ONE_DAY)
        self.store.portfolio_add(
            sds=str(self.dip_id),
            core=message.common_block.m0.mpan_core,
            supplier=custom.b012.service_provider_appointment_requesting_supplier_dip_id,
            mdr=custom.b019.assigned_mdr_dip_id,
            mdr_mpid=custom.b019.assigned_mdr_mpid,
            valid_from=mdr_from,
            correlation_id=message.common_block.s1.sender_correlation_id,
            contract_reference=custom.b071.contract_reference_data_service,
        )
        return self._instruct(
            message.common_block.m0,
            previous=previous,
            mdr=DipId(custom.b019.assigned_mdr_dip_id),
            mdr_mpid=custom.b019.assigned_mdr_mpid,
            mdr_from=mdr_from,
            supplier=custom.b012,
            consent=custom.b071.supplier_proposed_consent_granularity,
            ctx=ctx,
            correlation=message.common_block.s1.sender_correlation_id,
        )

    def _remember_mdr(self, message: s.IF035SDSMDROutcome, ctx: Context) -> list[DipMessageStruct]:
        custom = message.custom_block
        if custom.b099.response_code != "A":
            return []
        day = _day(custom.b092.assigned_mdr_effective_from_date)
        assert day is not None
        core = message.common_block.m0.mpan_core
        previous = self.store.portfolio_on(sds=str(self.dip_id), core=core, day=day - ONE_DAY)
        if previous is None:  # an MDR outcome for an MPAN this SDS does not serve
            return []
        self.store.portfolio_add(
            sds=str(self.dip_id),
            core=message.common_block.m0.mpan_core,
            supplier=custom.b012.service_provider_appointment_requesting_supplier_dip_id,
            mdr=custom.b092.assigned_mdr_dip_id,
            mdr_mpid=custom.b092.assigned_mdr_mpid,
            valid_from=day,
            correlation_id=message.common_block.s1.sender_correlation_id,
        )
        return self._instruct(
            message.common_block.m0,
            previous=previous,
            mdr=DipId(custom.b092.assigned_mdr_dip_id),
            mdr_mpid=custom.b092.assigned_mdr_mpid,
            mdr_from=day,
            supplier=custom.b012,
            consent="H",
            ctx=ctx,
            correlation=message.common_block.s1.sender_correlation_id,
        )

    def _instruct(
        self,
        m0: s.M0,
        *,
        previous: tuple[str, str, str, str | None] | None,
        mdr: DipId,
        mdr_mpid: str,
        mdr_from: date,
        supplier: s.B012,
        consent: str,
        ctx: Context,
        correlation: str | None,
    ) -> list[DipMessageStruct]:
        """IF-061 to the MDR from ``mdr_from``; IF-063 to the MDR it replaces, if another.
        The consent granularity is the supplier's proposal where known (IF-035 [DSAppAccepted]
        carries it), half-hourly otherwise."""
        site = EchoSite(m0)
        sent: list[DipMessageStruct] = []
        if previous is not None and previous[1] != str(mdr):
            sent.append(
                mdr_stop(
                    self.factory,
                    site=site,
                    mdr=DipId(previous[1]),
                    mdr_mpid=previous[2],
                    last_day=mdr_from - ONE_DAY,
                    now=ctx.now,
                    reason="MDR changed",
                )
            )
        record = self.store.get_mpan(m0.mpan_core)
        sent.append(
            mdr_start(
                self.factory,
                site=site,
                mdr=mdr,
                mdr_mpid=mdr_mpid,
                mdr_from=mdr_from,
                supplier=DipId(supplier.service_provider_appointment_requesting_supplier_dip_id),
                supplier_mpid=supplier.service_provider_appointment_requesting_supplier_mpid,
                energy_direction="I" if record is None else record.energy_direction,
                energisation="E" if record is None else record.energisation,
                energisation_from=mdr_from,
                consent=consent,
                consent_from=mdr_from,
                now=ctx.now,
                correlation_id=correlation,
            )
        )
        return sent

    # -- SDS-led change of MDR ------------------------------------------------------------------
    def request_mdr_change(
        self, *, site: Site, new_mdr: DipId, effective_from: date, rs: DipId, ctx: Context
    ) -> s.IF034SDSMDRUpdate:
        """IF-034 [SDS-MDRUpdate] for an MPAN this SDS serves on the effective day (today for
        a retrospective one), if its contract for that day allows it (DS001, DS004, DS005,
        DS006 otherwise). An MDR unchanged on that day is left to the RS (REG1098)."""
        day = max(effective_from, ctx.today)
        held = self.store.portfolio_on(sds=str(self.dip_id), core=str(site.mpan), day=day)
        if held is None:
            raise MdrChangeRefused(
                ResponseCode.SP099, f"{self.dip_id} does not serve {site.mpan} on {day.isoformat()}"
            )
        supplier, _, _, reference = held
        mine = [c for c in self.contracts if c.supplier == supplier]
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
