"""The DCC as a participant: keeps its own records from the Registration Service's messages
only — [DCC-MDROutcome] (which MDR, by DIP ID, serves an MPAN from a day) and IF-001
[InitialRegistration]/[ChangeOfSupplier] (which supplier, and the MPAN's energy direction, from
a day) — from which ``openmhhs.dcc.access`` decides every read."""

from __future__ import annotations

from openmhhs.days import day_of, parse_dip_datetime
from openmhhs.dip import schema as s
from openmhhs.dip.participant import Context, Delivered
from openmhhs.dip.schema import DipMessageStruct
from openmhhs.ids import DipId
from openmhhs.store.ports import UnitOfWork

__all__ = ["Dcc"]


class Dcc:
    roles = frozenset({"DCC"})

    def __init__(self, *, dip_id: DipId) -> None:
        self.dip_id = dip_id

    def receive(self, delivered: Delivered, ctx: Context, uow: UnitOfWork) -> list[DipMessageStruct]:
        message = delivered.message
        if isinstance(message, s.IF035DCCMDROutcome) and message.custom_block.b066.response_code == "A":
            b066 = message.custom_block.b066
            uow.dcc.record_mdr(
                core=message.common_block.m0.mpan_core,
                mdr=b066.assigned_mdr_dip_id,
                mdr_mpid=b066.assigned_mdr_mpid,
                valid_from=day_of(parse_dip_datetime(b066.assigned_mdr_effective_from_date)),
                supplier=message.custom_block.b012.service_provider_appointment_requesting_supplier_dip_id,
                at=ctx.now,
                transaction_id=delivered.transaction_id,
            )
        elif isinstance(message, (s.IF001InitialRegistration, s.IF001ChangeOfSupplier)):
            custom = message.custom_block
            uow.dcc.record_supply(
                core=message.common_block.m0.mpan_core,
                supplier=custom.b002.incoming_supplier_dip_id,
                energy_direction=str(custom.b023.energy_direction),
                valid_from=day_of(parse_dip_datetime(custom.b002.supplier_effective_from_date)),
                at=ctx.now,
                transaction_id=delivered.transaction_id,
            )
        return []

    def daily(self, ctx: Context, uow: UnitOfWork) -> list[DipMessageStruct]:
        return []
