"""The Meter Data Retriever as a participant: it retrieves an MPAN's data only on the SDS's
instruction (IF-061 [MDRStart], answered with IF-062; IF-063 [MDRStop] ends it), and only
through the DCC, which checks its 4-character id (``openmhhs.meterdata.gate``).

An IF-061 naming another MDR, or an MDR id that does not match this MDR in the ISD table,
is refused in IF-062 with RCP1064 (MDR provided not valid).
"""

from __future__ import annotations

from openmhhs.codes import ResponseCode
from openmhhs.days import day_of, parse_dip_datetime
from openmhhs.dip import schema as s
from openmhhs.dip.build import MessageFactory, Sender
from openmhhs.dip.participant import Context, Delivered
from openmhhs.dip.schema import DipMessageStruct
from openmhhs.identity.translation import AmbiguousIsdMatch, NoIsdMatch, mpid_for
from openmhhs.ids import DipId, DipRole
from openmhhs.meterdata.messages import mdr_start_response
from openmhhs.store.ports import MdrRepository, UnitOfWork

__all__ = ["MeterDataRetriever"]


class MeterDataRetriever:
    roles = frozenset({"MDR"})

    def __init__(self, *, dip_id: DipId, unique_prefix: str | None = None) -> None:
        self.dip_id = dip_id
        self.factory = MessageFactory(Sender(dip_id, DipRole.MDR), unique_prefix=unique_prefix)

    def receive(self, delivered: Delivered, ctx: Context, uow: UnitOfWork) -> list[DipMessageStruct]:
        message = delivered.message
        if isinstance(message, s.IF061):
            return [self._start(message, ctx, uow.mdr)]
        if isinstance(message, s.IF063):
            b083 = message.custom_block.b083
            if b083.assigned_mdr_dip_id == str(self.dip_id):
                uow.mdr.stop(
                    mdr=str(self.dip_id),
                    core=message.common_block.m0.mpan_core,
                    sds=message.common_block.s1.sender_dip_id,
                    last_day=day_of(parse_dip_datetime(b083.assigned_mdr_effective_to_date)),
                )
        return []

    def daily(self, ctx: Context, uow: UnitOfWork) -> list[DipMessageStruct]:
        return []

    def _start(self, message: s.IF061, ctx: Context, mdr: MdrRepository) -> s.IF062:
        b019 = message.custom_block.b019
        start = day_of(parse_dip_datetime(b019.assigned_mdr_effective_from_date))
        try:
            mine = str(mpid_for(ctx.isd, dip_id=self.dip_id, dip_role=DipRole.MDR, on=start).mpid)
        except (NoIsdMatch, AmbiguousIsdMatch):
            mine = None
        if b019.assigned_mdr_dip_id != str(self.dip_id) or b019.assigned_mdr_mpid != mine:
            return mdr_start_response(
                self.factory,
                to=message,
                accepted=False,
                message=f"{ResponseCode.RCP1064.value} {ResponseCode.RCP1064.wording}: "
                f"{b019.assigned_mdr_dip_id}/{b019.assigned_mdr_mpid} is not this MDR ({self.dip_id}/{mine})",
                now=ctx.now,
            )
        mdr.instruct(
            mdr=str(self.dip_id),
            core=message.common_block.m0.mpan_core,
            sds=message.common_block.s1.sender_dip_id,
            mdr_mpid=b019.assigned_mdr_mpid,
            valid_from=start,
            correlation_id=message.common_block.s1.sender_correlation_id,
        )
        return mdr_start_response(
            self.factory, to=message, accepted=True, message=f"retrieval from {start}", now=ctx.now
        )
