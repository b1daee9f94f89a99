"""A Supplier as a participant: it sends IF-031 (built by ``requests``) and receives
IF-032, IF-035 and IF-036, which the market's message log keeps for it."""

from __future__ import annotations

from openmhhs.dip.participant import Context, Delivered
from openmhhs.dip.schema import DipMessageStruct
from openmhhs.ids import DipId
from openmhhs.store.ports import UnitOfWork

__all__ = ["Supplier"]


class Supplier:
    roles = frozenset({"SUP"})

    def __init__(self, *, dip_id: DipId) -> None:
        self.dip_id = dip_id

    def receive(self, delivered: Delivered, ctx: Context, uow: UnitOfWork) -> list[DipMessageStruct]:
        return []

    def daily(self, ctx: Context, uow: UnitOfWork) -> list[DipMessageStruct]:
        return []
