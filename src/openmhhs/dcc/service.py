"""The DCC as a participant: records the Registration Service's [DCC-MDROutcome] notices,
from which it knows, per MPAN and day, which MDR id may retrieve data."""

from __future__ import annotations

from datetime import date, datetime
from typing import Protocol

from openmhhs.days import day_of, parse_dip_datetime
from openmhhs.dip import schema as s
from openmhhs.dip.participant import Context, Delivered
from openmhhs.dip.schema import DipMessageStruct
from openmhhs.ids import DipId

__all__ = ["Dcc", "DccStore"]


class DccStore(Protocol):
    def dcc_notice(
        self,
        *,
        core: str,
        mdr: str,
        mdr_mpid: str,
        valid_from: date,
        supplier: str,
        at: datetime,
        transaction_id: str,
    ) -> None: ...


class Dcc:
    roles = frozenset({"DCC"})

    def __init__(self, *, dip_id: DipId, store: DccStore) -> None:
        self.dip_id = dip_id
        self.store = store

    def receive(self, delivered: Delivered, ctx: Context) -> list[DipMessageStruct]:
        message = delivered.message
        if isinstance(message, s.IF035DCCMDROutcome) and message.custom_block.b066.response_code == "A":
            b066 = message.custom_block.b066
            self.store.dcc_notice(
                core=message.common_block.m0.mpan_core,
                mdr=b066.assigned_mdr_dip_id,
                mdr_mpid=b066.assigned_mdr_mpid,
                valid_from=day_of(parse_dip_datetime(b066.assigned_mdr_effective_from_date)),
                supplier=message.custom_block.b012.service_provider_appointment_requesting_supplier_dip_id,
                at=ctx.now,
                transaction_id=delivered.transaction_id,
            )
        return []

    def daily(self, ctx: Context) -> list[DipMessageStruct]:
        return []
