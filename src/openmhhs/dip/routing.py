"""Checks that need the ISD registry: is the sender a registered participant in the role it
claims, allowed to send this event, and are the recipients registered participants in a role
that receives it? (MSG1009, MSG1010, MSG1031-MSG1036)

The registry is passed in as a ``Directory`` (what DIP roles a DIP ID holds on a date), so
these rules stay pure.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Protocol

from openmhhs.dip.catalogue import EventSpec
from openmhhs.dip.parse import (
    AlwaysRecipientInvalid,
    AlwaysRecipientRoleInvalid,
    MessageRejected,
    Perspective,
    PrimaryRecipientInvalid,
    PrimaryRecipientRoleInvalid,
    SecondaryRecipientInvalid,
    SecondaryRecipientRoleInvalid,
    SenderDipIdInvalid,
    SenderRoleInvalid,
)
from openmhhs.dip.schema import A0, S1, DipMessageStruct

__all__ = ["Directory", "check_routing"]


class Directory(Protocol):
    def roles_of(self, dip_id: str, *, on: date | datetime) -> set[str] | frozenset[str]:
        """The DIP roles the DIP ID holds at that moment (empty when unknown)."""
        ...


def check_routing(
    message: DipMessageStruct,
    spec: EventSpec,
    *,
    directory: Directory,
    at: datetime,
    submitted: bool,
    perspective: Perspective = Perspective.DIP,
) -> None:
    """Raise the first routing failure.

    ``submitted``: the message comes from a participant, so only the DIP may have set the
    secondary and always recipients (a participant's own must be empty).
    """
    common = message.common_block  # type: ignore[attr-defined]
    s1: S1 = common.s1
    roles = directory.roles_of(s1.sender_dip_id, on=at)
    if not roles:
        raise SenderDipIdInvalid(
            f"sender {s1.sender_dip_id} is not a registered DIP participant",
            path="$.CommonBlock.S1.senderDIPID",
            perspective=perspective,
        )
    if s1.sender_role_id not in roles:
        raise SenderRoleInvalid(
            f"sender {s1.sender_dip_id} does not hold role {s1.sender_role_id} "
            f"(holds {', '.join(sorted(roles))})",
            path="$.CommonBlock.S1.senderRoleID",
            perspective=perspective,
        )
    if s1.sender_role_id not in spec.senders:
        raise SenderRoleInvalid(
            f"role {s1.sender_role_id} does not send {spec.interface_id} {spec.event_code} "
            f"(sent by {', '.join(sorted(spec.senders))})",
            path="$.CommonBlock.S1.senderRoleID",
            perspective=perspective,
        )
    a0 = common.a0
    if not isinstance(a0, A0) or not a0.primary_recipients:
        raise PrimaryRecipientInvalid(
            "the message names no primary recipient",
            path="$.CommonBlock.A0.primaryRecipients",
            perspective=perspective,
        )
    _recipients(
        a0.primary_recipients,
        "primaryRecipients",
        spec,
        directory,
        at,
        perspective,
        PrimaryRecipientInvalid,
        PrimaryRecipientRoleInvalid,
    )
    if submitted:
        for name, values, error in (
            ("secondaryRecipients", a0.secondary_recipients, SecondaryRecipientInvalid),
            ("always", a0.always, AlwaysRecipientInvalid),
        ):
            if values:
                raise error(
                    f"{name} are set by the DIP; a sender must leave them empty",
                    path=f"$.CommonBlock.A0.{name}",
                    perspective=perspective,
                )
        return
    _recipients(
        a0.secondary_recipients,
        "secondaryRecipients",
        None,
        directory,
        at,
        perspective,
        SecondaryRecipientInvalid,
        SecondaryRecipientRoleInvalid,
    )
    _recipients(
        a0.always,
        "always",
        None,
        directory,
        at,
        perspective,
        AlwaysRecipientInvalid,
        AlwaysRecipientRoleInvalid,
    )


def _recipients(
    values: list[str | None],
    name: str,
    spec: EventSpec | None,
    directory: Directory,
    at: datetime,
    perspective: Perspective,
    unknown: type[MessageRejected],
    wrong_role: type[MessageRejected],
) -> None:
    for index, recipient in enumerate(values):
        path = f"$.CommonBlock.A0.{name}[{index}]"
        if recipient is None:
            raise unknown("a recipient must be a DIP ID, not null", path=path, perspective=perspective)
        roles = directory.roles_of(recipient, on=at)
        if not roles:
            raise unknown(
                f"recipient {recipient} is not a registered DIP participant",
                path=path,
                perspective=perspective,
            )
        if spec is not None and not roles & spec.recipients:
            raise wrong_role(
                f"recipient {recipient} ({', '.join(sorted(roles))}) does not receive "
                f"{spec.interface_id} {spec.event_code} "
                f"(received by {', '.join(sorted(spec.recipients))})",
                path=path,
                perspective=perspective,
            )
