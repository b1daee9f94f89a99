"""Building DIP messages as a participant does.

A ``MessageFactory`` belongs to one sender (DIP ID and role). It writes sender unique
references in the official pattern ``S-IF-031-<DIP ID>-<ROLE>-<yyyymmdd>-<unique>``,
timestamps in the DIP's 25-character form, and the addressing block; it leaves ``D0`` to
the DIP (``fill_d0``). A response carries its request's correlation id, so that a whole
exchange (IF-031 -> IF-032 -> IF-033 -> … -> IF-036) shares one ``senderCorrelationID``.
"""

from __future__ import annotations

import functools
import itertools
import os
import random
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol, TypeVar, cast

import msgspec

from openmhhs.days import format_utc_datetime
from openmhhs.dip.schema import (
    A0,
    D0,
    M0,
    R0,
    S1,
    DipMessageStruct,
)
from openmhhs.ids import DipId, DipRole, GspGroup, MpanCore

__all__ = [
    "MessageFactory",
    "Sender",
    "Site",
    "SiteLike",
    "correlation_of",
    "fill_d0",
    "interface_number",
    "new_transaction_id",
    "transaction_suffix",
]

M = TypeVar("M", bound=DipMessageStruct)

ENVIRONMENTS = ("PRD", "SITB", "SIT", "UIT", "DEV")


@dataclass(frozen=True, slots=True)
class Sender:
    """Who sends: the DIP ID and role in S1, and the environment tag."""

    dip_id: DipId
    role: DipRole
    environment: str = "DEV"
    connection_provider: DipId | None = None

    def __post_init__(self) -> None:
        if self.environment not in ENVIRONMENTS:
            raise ValueError(f"environment must be one of {ENVIRONMENTS}, got {self.environment!r}")


@dataclass(frozen=True, slots=True)
class Site:
    """The M0 block: which MPAN a message is about."""

    mpan: MpanCore
    distributor: DipId
    gsp_group: GspGroup

    def m0(self) -> M0:
        return M0(
            mpan_core=str(self.mpan),
            distributor_dip_id=str(self.distributor),
            gsp_group_id=cast(Any, self.gsp_group),  # a validated GspGroup is one of the literals
        )


class SiteLike(Protocol):
    """Anything that can write the M0 block."""

    def m0(self) -> M0: ...


def interface_number(interface_id: str) -> str:
    """``IF-031`` -> ``031``."""
    return interface_id.split("-", 1)[1]


_TRANSACTION_BITS = random.Random()  # unique, not secret: seeded from os.urandom
"""64 random bits per transaction id (as ``secrets.token_hex(8)``, at a tenth of the cost:
one system call per id was a twentieth of the batch lane); reseeded in a forked child, so
that two processes never share a sequence."""
os.register_at_fork(after_in_child=_TRANSACTION_BITS.seed)


@functools.lru_cache(maxsize=64)
def _compact_day(day: date) -> str:
    """``YYYYMMDD``, as references and transaction ids name their day."""
    return f"{day:%Y%m%d}"


def transaction_suffix() -> str:
    """A transaction id's 16 random hexadecimal digits."""
    return f"{_TRANSACTION_BITS.getrandbits(64):016x}"


def new_transaction_id(interface_id: str, sender: str, role: str, at: datetime) -> str:
    """The transaction id the DIP gives a message it accepts (D0), unique per message."""
    return f"T-{interface_id}-{sender}-{role}-{_compact_day(at.date())}-{transaction_suffix()}"


def correlation_of(message: DipMessageStruct) -> str:
    """The correlation id a response to ``message`` carries: the request's own correlation
    id, or, for the first message of an exchange, its sender unique reference's tail."""
    s1: S1 = message.common_block.s1  # type: ignore[attr-defined]
    if s1.sender_correlation_id:
        return s1.sender_correlation_id
    return correlation_from_reference(s1.sender_unique_reference)


def correlation_from_reference(reference: str) -> str:
    """A correlation id (max 60 characters) derived from a sender unique reference."""
    return ("C" + reference[1:])[:60]


class MessageFactory:
    """Builds one participant's outgoing messages."""

    def __init__(self, sender: Sender, *, unique_prefix: str | None = None) -> None:
        self.sender = sender
        self._prefix = unique_prefix if unique_prefix is not None else secrets.token_hex(4)
        if not self._prefix.isalnum() and self._prefix:
            raise ValueError("unique prefix must be letters and digits")
        self._counter = itertools.count(1)
        self._heads: dict[tuple[str, date], str] = {}

    def sender_unique_reference(self, interface_id: str, now: datetime) -> str:
        return self.sender_unique_references(interface_id, now, 1)[0]

    def sender_unique_references(self, interface_id: str, now: datetime, count: int) -> list[str]:
        """The next ``count`` sender unique references (a batch of messages sent at ``now``)."""
        day = now.date()
        head = self._heads.get((interface_id, day))
        if head is None:
            sender = f"{self.sender.dip_id}-{self.sender.role}"
            head = self._heads[(interface_id, day)] = (
                f"S-{interface_id}-{sender}-{_compact_day(day)}-{self._prefix}"
            )
        return [f"{head}{next(self._counter):08d}" for _ in range(count)]

    def build(
        self,
        cls: type[M],
        custom_block: Any,
        *,
        site: SiteLike,
        recipients: Iterable[DipId],
        now: datetime,
        correlation_id: str | None = None,
        event_code: str | None = None,
        response: R0 | None = None,
        sub_text: str | None = None,
    ) -> M:
        """A message of type ``cls`` from this sender, addressed to ``recipients``."""
        event = event_code or cls.EVENT_CODES[0]
        reference = self.sender_unique_reference(cls.INTERFACE_ID, now)
        common_type = _common_block_type(cls)
        common: dict[str, Any] = {
            "s0": _s0_type(common_type)(
                interface_id=cls.INTERFACE_ID, schema_version="011", event_code=event
            ),
            "s1": S1(
                environment_tag=cast(Any, self.sender.environment),  # checked by Sender
                sub_text=sub_text,
                sender_unique_reference=reference,
                sender_timestamp=format_utc_datetime(now),
                sender_dip_id=str(self.sender.dip_id),
                sender_role_id=str(self.sender.role),
                sender_correlation_id=correlation_id or correlation_from_reference(reference),
                dip_connection_provider_id=(
                    None if self.sender.connection_provider is None else str(self.sender.connection_provider)
                ),
            ),
            "a0": A0(primary_recipients=[str(r) for r in recipients], secondary_recipients=[], always=[]),
            "m0": site.m0(),
        }
        if response is not None:
            common["r0"] = response
        return cls(common_block=common_type(**common), custom_block=custom_block)

    def reply(
        self,
        cls: type[M],
        custom_block: Any,
        *,
        to: DipMessageStruct,
        recipients: Iterable[DipId],
        now: datetime,
        event_code: str | None = None,
        response: R0 | None = None,
    ) -> M:
        """A message answering ``to``: same MPAN block, same correlation id."""
        m0: M0 = to.common_block.m0  # type: ignore[attr-defined]
        return self.build(
            cls,
            custom_block,
            site=EchoSite(m0),
            recipients=recipients,
            now=now,
            correlation_id=correlation_of(to),
            event_code=event_code,
            response=response,
        )


class EchoSite:
    """The M0 block of the message answered, as it was written (even for an invalid MPAN)."""

    def __init__(self, m0: M0) -> None:
        self._m0 = m0

    def m0(self) -> M0:
        return self._m0


_S0_TYPES: dict[type[Any], type[Any]] = {}
_COMMON_TYPES: dict[type[DipMessageStruct], type[Any]] = {}


def _common_block_type(cls: type[DipMessageStruct]) -> type[Any]:
    found = _COMMON_TYPES.get(cls)
    if found is None:
        (field,) = [f for f in msgspec.structs.fields(cls) if f.name == "common_block"]
        found = field.type
        _COMMON_TYPES[cls] = found
    return found


def _s0_type(common_type: type[Any]) -> type[Any]:
    """``S0``, or ``S0Open`` where the YAML leaves the sender header open (IF-001)."""
    found = _S0_TYPES.get(common_type)
    if found is None:
        (field,) = [f for f in msgspec.structs.fields(common_type) if f.name == "s0"]
        found = field.type
        _S0_TYPES[common_type] = found
    return found


def fill_d0(
    message: M,
    *,
    transaction_id: str,
    timestamp: datetime,
    publication_id: str,
    initial_correlation_id: str | None,
    replay: bool = False,
    secondary: Iterable[DipId] = (),
    always: Iterable[DipId] = (),
) -> M:
    """The message as the DIP publishes it: D0 filled, secondary/always recipients added."""
    common = message.common_block  # type: ignore[attr-defined]
    a0 = (
        common.a0
        if isinstance(common.a0, A0)
        else A0(primary_recipients=[], secondary_recipients=[], always=[])
    )
    a0 = msgspec.structs.replace(
        a0,
        secondary_recipients=[*a0.secondary_recipients, *(str(r) for r in secondary)],
        always=[*a0.always, *(str(r) for r in always)],
    )
    d0 = D0(
        transaction_id=transaction_id,
        transaction_timestamp=format_utc_datetime(timestamp),
        publication_id=publication_id,
        initial_correlation_id=initial_correlation_id,
        replay_indicator=replay,
        service_ticket_url=None,
    )
    common = msgspec.structs.replace(common, a0=a0, d0=d0)
    return msgspec.structs.replace(message, common_block=common)
