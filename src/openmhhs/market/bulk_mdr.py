"""Planning a bulk change of MDR by an SDS (IF-034 [SDS-MDRUpdate] for many MPANs at once).

The design note asks for bulk changes of MDR to be planned in advance. The planner takes every
MPAN the SDS serves with MDR ``A`` on the effective day (today, if that is earlier) and, for
each, checks what would be checked on the day: the SDS's own contract and notice rules (DS001,
DS004, DS005, DS006) while building the IF-034, then the Registration Service's rules for it
(REG1080..REG1084, REG1093, REG1098; REG1082 for more than the allowed days ahead) over the
MPAN's current timeline. The result is the batch that would be sent and, for the rest, the
official code and reason each would be refused with. Applying sends the batch through the
market like any other messages.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa

from openmhhs.dataservice.decisions import MdrChangeRefused
from openmhhs.dataservice.service import SmartDataService
from openmhhs.dip import schema as s
from openmhhs.dip.build import Site
from openmhhs.ids import DipId
from openmhhs.market.bus import Market, MarketIncomplete
from openmhhs.registration import rules
from openmhhs.store.market_repo import MarketStore
from openmhhs.store.tables import sds_portfolio

__all__ = ["BulkMdrPlan", "PlannedChange", "affected_mpans", "plan_bulk_mdr_change"]


@dataclass(frozen=True, slots=True)
class PlannedChange:
    mpan: str
    message: s.IF034SDSMDRUpdate | None
    """The IF-034 that would be sent; ``None`` when it would be refused."""
    code: str | None = None
    reason: str | None = None


@dataclass
class BulkMdrPlan:
    sds: str
    from_mdr: str
    to_mdr: str
    effective: date
    today: date
    changes: list[PlannedChange] = field(default_factory=list)

    @property
    def messages(self) -> list[s.IF034SDSMDRUpdate]:
        return [c.message for c in self.changes if c.message is not None]

    @property
    def refused(self) -> list[PlannedChange]:
        return [c for c in self.changes if c.message is None]

    def refusals_by_code(self) -> Counter[str]:
        return Counter(c.code or "?" for c in self.refused)


def affected_mpans(store: MarketStore, *, sds: str, mdr: str, day: date) -> list[str]:
    """MPANs the SDS serves with ``mdr`` on ``day``, in MPAN order."""
    rows = store.connection.execute(
        sa.select(sds_portfolio.c.mpan)
        .where(
            sds_portfolio.c.sds == sds,
            sds_portfolio.c.mdr == mdr,
            sds_portfolio.c.valid_from <= day,
            sa.or_(sds_portfolio.c.valid_to.is_(None), sds_portfolio.c.valid_to > day),
        )
        .order_by(sds_portfolio.c.mpan)
    )
    return list(dict.fromkeys(r[0] for r in rows))


def plan_bulk_mdr_change(
    market: Market,
    sds: SmartDataService,
    *,
    from_mdr: DipId,
    to_mdr: DipId,
    effective: date,
) -> BulkMdrPlan:
    """What an IF-034 [SDS-MDRUpdate] from ``sds`` would meet for each affected MPAN today."""
    if market.rs is None:
        raise MarketIncomplete("the market has no Registration Service to send IF-034 to")
    market.bring_to_today()
    ctx = market.context()
    plan = BulkMdrPlan(
        sds=str(sds.dip_id), from_mdr=str(from_mdr), to_mdr=str(to_mdr), effective=effective, today=ctx.today
    )
    settings = market.rs.settings
    with market.unit_of_work() as uow:
        store = MarketStore(uow.connection)
        # a retrospective date is planned over today's portfolio, and refused (DS005)
        day = max(effective, ctx.today)
        for core in affected_mpans(store, sds=str(sds.dip_id), mdr=str(from_mdr), day=day):
            record = store.get_mpan(core)
            if record is None:
                plan.changes.append(PlannedChange(core, None, "REG0000", f"MPAN {core} is not registered"))
                continue
            try:
                message = sds.request_mdr_change(
                    site=Site(record.mpan, record.distributor, record.gsp_group),
                    new_mdr=to_mdr,
                    effective_from=effective,
                    rs=market.rs.dip_id,
                    ctx=ctx,
                    uow=uow,
                )
                b012, b018 = message.custom_block.b012, message.custom_block.b018
                rules.validate_mdr_update(
                    request=rules.MdrChangeRequest(
                        sds=sds.dip_id,
                        supplier=DipId(b012.service_provider_appointment_requesting_supplier_dip_id),
                        mdr=to_mdr,
                        mdr_mpid=b018.sds_nominated_mdr_mpid,
                        effective_from=effective,
                    ),
                    record=record,
                    mpan=core,
                    rows=store.timeline(core),
                    isd=ctx.isd,
                    today=ctx.today,
                    settings=settings,
                )
            except (MdrChangeRefused, rules.RegistrationRuleBroken) as exc:
                plan.changes.append(PlannedChange(core, None, exc.code.value, exc.detail))
                continue
            plan.changes.append(PlannedChange(core, message))
    return plan
