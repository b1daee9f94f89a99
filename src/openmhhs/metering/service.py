"""A Smart Metering Service as a participant: answers IF-033 [MSAppSPRequest].

The design note does not cover Metering Service contracts; this MS accepts appointments for
the market segments it serves and rejects others (SP005), which keeps every MPAN's MS
appointment flowing through the same RS process as its Data Service.
"""

from __future__ import annotations

from typing import Any, cast

from openmhhs.dip import schema as s
from openmhhs.dip.build import MessageFactory, Sender
from openmhhs.dip.participant import Context, Delivered
from openmhhs.dip.schema import DipMessageStruct
from openmhhs.ids import DipId, DipRole
from openmhhs.store.ports import UnitOfWork

__all__ = ["MeteringService"]


class MeteringService:
    roles = frozenset({"SMS"})

    def __init__(
        self,
        *,
        dip_id: DipId,
        segments: frozenset[str] = frozenset({"S"}),
        unique_prefix: str | None = None,
    ) -> None:
        self.dip_id = dip_id
        self.segments = segments
        self.factory = MessageFactory(Sender(dip_id, DipRole.SMS), unique_prefix=unique_prefix)

    def receive(self, delivered: Delivered, ctx: Context, uow: UnitOfWork) -> list[DipMessageStruct]:
        message = delivered.message
        if not isinstance(message, s.IF033MSAppSPRequest):
            return []
        custom = message.custom_block
        segment = custom.b026.market_segment_indicator
        accepted = segment in self.segments
        return [
            self.factory.reply(
                s.IF034MSAppSPResponse,
                s.IF034MSAppSPResponseCustomBlock(
                    b007=s.B007(
                        response_code=cast(Any, "A" if accepted else "R"),
                        proposed_appointment_response_code="SP000" if accepted else "SP005",
                    ),
                    b012=custom.b012,
                    b070=custom.b070,
                ),
                to=message,
                recipients=[DipId(message.common_block.s1.sender_dip_id)],
                now=ctx.now,
            )
        ]

    def daily(self, ctx: Context, uow: UnitOfWork) -> list[DipMessageStruct]:
        return []
