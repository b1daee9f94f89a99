"""What every simulated participant is to the market: it receives DIP messages addressed to
its DIP ID and answers with DIP messages, as the real party would over the DIP."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from openmhhs.codes import ResponseCode
from openmhhs.dip.catalogue import EventSpec
from openmhhs.dip.schema import DipMessageStruct
from openmhhs.identity.isd import IsdTable
from openmhhs.identity.registry import Organisation
from openmhhs.ids import CompanyNumber, DipId

if TYPE_CHECKING:
    from openmhhs.store.ports import UnitOfWork

__all__ = ["Context", "Delivered", "Participant", "Refusing"]


@dataclass(frozen=True, slots=True)
class Context:
    """What a participant may know of the world while it handles a message."""

    today: date
    """The UK local day (the market's clock)."""
    now: datetime
    """The instant, for timestamps."""
    isd: IsdTable
    """The ISD table, for translating DIP IDs and MPIDs."""
    organisations: Mapping[CompanyNumber, Organisation] = field(default_factory=dict)
    """The participant registry's organisations (qualification per DIP role, DCC user roles);
    an organisation not listed is qualified in every role it is registered in."""


@dataclass(frozen=True, slots=True)
class Delivered:
    """A message as the DIP delivers it to one recipient."""

    message: DipMessageStruct
    spec: EventSpec
    transaction_id: str
    sender: str


class Participant(Protocol):
    dip_id: DipId
    roles: frozenset[str]

    def receive(self, delivered: Delivered, ctx: Context, uow: UnitOfWork) -> list[DipMessageStruct]:
        """Act on one message, touching only this role's repository of ``uow``; return the
        messages to send in response."""
        ...

    def daily(self, ctx: Context, uow: UnitOfWork) -> list[DipMessageStruct]:
        """Work due on ``ctx.today`` (lapses, activations…); idempotent."""
        ...


@runtime_checkable
class Refusing(Protocol):
    """A participant whose interface has a rejection message for what it could not handle
    (the RS answers an IF-031 with IF-032 R)."""

    def refusal(
        self, delivered: Delivered, ctx: Context, *, code: ResponseCode, detail: str
    ) -> list[DipMessageStruct]:
        """The messages telling the sender its message was refused with ``code``; must not
        touch storage (it runs after the handler's work was rolled back)."""
        ...
