"""Parsing DIP messages from bytes, strictly, with the official code for each failure.

A message is checked in the order the DIP checks it: its header (interface, schema
version, event code), then the whole message against the event's schema (unknown fields
refused), then what a schema cannot say (a sender timestamp in the future, a sender unique
reference that does not name the interface and sender). Every failure names the JSON path
at fault. Checks against the ISD registry (is the sender a registered participant in that
role? are the recipients?) need a directory and live in ``dip.routing``.

The same rule has a DIP code and a recipient code (MSG1009 / RCP1009): ``perspective``
chooses which to answer with. The DIP answers only MSG codes (the ResponseCodes YAML lists the
RCP family as the recipients'): what the official schema itself enforces (event code,
environment tag and schema version are enums, the sender unique reference a pattern) is
MSG1001 at the DIP, and a sender timestamp in the future is MSG1007.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any, ClassVar

import msgspec

from openmhhs.codes import CodedError, ResponseCode
from openmhhs.dip.catalogue import EVENTS, INTERFACES, EventSpec
from openmhhs.dip.schema import DipMessageStruct

__all__ = [
    "DEFAULT_CLOCK_SKEW",
    "MAX_DEPTH",
    "MessageRejected",
    "Parsed",
    "Perspective",
    "Rejection",
    "check_produced",
    "decode_batch",
    "encode",
    "parse",
    "parse_batch",
    "unwrap",
]

DEFAULT_CLOCK_SKEW = timedelta(minutes=5)
"""How far ahead of our clock a sender's timestamp may be before it is "in the future"."""

MAX_DEPTH = 64
"""The deepest JSON nesting accepted (a batch of wrapped DIP messages nests about 8 deep)."""


class Perspective(StrEnum):
    DIP = "dip"
    """Validating as the DIP does on ingress: MSG codes."""
    RECIPIENT = "recipient"
    """Validating as a receiving participant does: RCP codes."""


class MessageRejected(CodedError):
    """A message that cannot be accepted; the subclass names the rule."""

    rule = "dip.message.valid"
    dip_code: ClassVar[ResponseCode] = ResponseCode.MSG1001
    recipient_code: ClassVar[ResponseCode] = ResponseCode.RCP1001

    def __init__(self, detail: str, *, path: str | None, perspective: Perspective = Perspective.DIP) -> None:
        super().__init__(detail, path=path)
        self.code = self.dip_code if perspective is Perspective.DIP else self.recipient_code


class SchemaFailure(MessageRejected):
    rule = "dip.message.schema"


class NulCharacter(SchemaFailure):
    rule = "dip.message.no_nul"


class NestedTooDeep(SchemaFailure):
    """JSON nested deeper than any DIP message is refused before it is decoded, so that no
    input can exhaust the decoder's recursion (a RecursionError has no code)."""

    rule = "dip.message.depth"


class InterfaceInvalid(MessageRejected):
    rule = "dip.message.interface_known"
    dip_code = ResponseCode.MSG1002
    recipient_code = ResponseCode.RCP1002


class EventCodeInvalid(MessageRejected):
    rule = "dip.message.event_code_valid"
    dip_code = ResponseCode.MSG1001
    recipient_code = ResponseCode.RCP1003


class EnvironmentInvalid(MessageRejected):
    rule = "dip.message.environment_valid"
    dip_code = ResponseCode.MSG1001
    recipient_code = ResponseCode.RCP1004


class SchemaVersionInvalid(MessageRejected):
    rule = "dip.message.schema_version"
    dip_code = ResponseCode.MSG1001
    recipient_code = ResponseCode.RCP1005


class SenderReferenceInvalid(MessageRejected):
    rule = "dip.message.sender_unique_reference"
    dip_code = ResponseCode.MSG1001
    recipient_code = ResponseCode.RCP1006


class SenderTimestampInvalid(MessageRejected):
    rule = "dip.message.sender_timestamp_valid"
    dip_code = ResponseCode.MSG1007
    recipient_code = ResponseCode.RCP1007


class SenderTimestampInFuture(MessageRejected):
    rule = "dip.message.sender_timestamp_not_future"
    dip_code = ResponseCode.MSG1007
    recipient_code = ResponseCode.RCP1008


class SenderDipIdInvalid(MessageRejected):
    rule = "dip.message.sender_dip_id"
    dip_code = ResponseCode.MSG1009
    recipient_code = ResponseCode.RCP1009


class SenderRoleInvalid(MessageRejected):
    rule = "dip.message.sender_role"
    dip_code = ResponseCode.MSG1010
    recipient_code = ResponseCode.RCP1010


class ConnectionProviderInvalid(MessageRejected):
    rule = "dip.message.connection_provider"
    dip_code = ResponseCode.MSG1011
    recipient_code = ResponseCode.RCP1009


class CorrelationIdInvalid(MessageRejected):
    rule = "dip.message.correlation_id"
    dip_code = ResponseCode.MSG1012
    recipient_code = ResponseCode.RCP1046


class PrimaryRecipientInvalid(MessageRejected):
    rule = "dip.message.primary_recipient"
    dip_code = ResponseCode.MSG1031
    recipient_code = ResponseCode.RCP1041


class PrimaryRecipientRoleInvalid(MessageRejected):
    rule = "dip.message.primary_recipient_role"
    dip_code = ResponseCode.MSG1032
    recipient_code = ResponseCode.RCP1041


class SecondaryRecipientInvalid(MessageRejected):
    rule = "dip.message.secondary_recipient"
    dip_code = ResponseCode.MSG1033
    recipient_code = ResponseCode.RCP1041


class SecondaryRecipientRoleInvalid(MessageRejected):
    rule = "dip.message.secondary_recipient_role"
    dip_code = ResponseCode.MSG1034
    recipient_code = ResponseCode.RCP1041


class AlwaysRecipientInvalid(MessageRejected):
    rule = "dip.message.always_recipient"
    dip_code = ResponseCode.MSG1035
    recipient_code = ResponseCode.RCP1041


class AlwaysRecipientRoleInvalid(MessageRejected):
    rule = "dip.message.always_recipient_role"
    dip_code = ResponseCode.MSG1036
    recipient_code = ResponseCode.RCP1041


class DuplicateSenderReference(MessageRejected):
    rule = "dip.message.sender_unique_reference_unique"
    dip_code = ResponseCode.MSG1006
    recipient_code = ResponseCode.RCP1006


# --- header ------------------------------------------------------------------------------


class _S0Head(msgspec.Struct, gc=False):
    interfaceID: Any = None  # noqa: N815 - JSON name
    schemaVersion: Any = None  # noqa: N815
    eventCode: Any = None  # noqa: N815


class _CommonHead(msgspec.Struct, gc=False):
    S0: _S0Head | None = None


_NO_PAYLOAD = msgspec.Raw(b"")


class _Head(msgspec.Struct, gc=False):
    CommonBlock: _CommonHead | None = None
    payload: msgspec.Raw = _NO_PAYLOAD


_HEAD = msgspec.json.Decoder(_Head)
_DECODERS: dict[type[DipMessageStruct], msgspec.json.Decoder[Any]] = {
    spec.message_type: msgspec.json.Decoder(spec.message_type) for spec in EVENTS.values()
}


def _encode_identifier(value: object) -> object:
    """Identifiers (``DipId``, ``Mpid``…) are ``str`` subclasses: encode them as strings."""
    if isinstance(value, str):
        return str(value)
    raise NotImplementedError(f"cannot encode {type(value).__name__}")


_ENCODER = msgspec.json.Encoder(enc_hook=_encode_identifier)
_RAW_LIST = msgspec.json.Decoder(list[msgspec.Raw])

_ERROR = re.compile(r"\A(?P<message>.*?)(?: - at `(?P<path>[^`]*)`)?\Z", re.DOTALL)
_FIELD_IN_MESSAGE = re.compile(
    r"\AObject (?:missing required|contains unknown) field `(?P<name>[^`]+)`"
    r"|\A`(?P<dt>[^`]+)` is not"
)

_PATH_RULES: tuple[tuple[str, type[MessageRejected]], ...] = (
    ("$.CommonBlock.S0.interfaceID", InterfaceInvalid),
    ("$.CommonBlock.S0.schemaVersion", SchemaVersionInvalid),
    ("$.CommonBlock.S0.eventCode", EventCodeInvalid),
    ("$.CommonBlock.S1.environmentTag", EnvironmentInvalid),
    ("$.CommonBlock.S1.senderUniqueReference", SenderReferenceInvalid),
    ("$.CommonBlock.S1.senderTimestamp", SenderTimestampInvalid),
    ("$.CommonBlock.S1.senderDIPID", SenderDipIdInvalid),
    ("$.CommonBlock.S1.senderRoleID", SenderRoleInvalid),
    ("$.CommonBlock.S1.DIPConnectionProviderID", ConnectionProviderInvalid),
    ("$.CommonBlock.S1.senderCorrelationID", CorrelationIdInvalid),
    ("$.CommonBlock.A0.primaryRecipients", PrimaryRecipientInvalid),
    ("$.CommonBlock.A0.secondaryRecipients", SecondaryRecipientInvalid),
    ("$.CommonBlock.A0.always", AlwaysRecipientInvalid),
)


def _rule_for(path: str) -> type[MessageRejected]:
    for prefix, rule in _PATH_RULES:
        if path == prefix or path.startswith((prefix + ".", prefix + "[")):
            return rule
    return SchemaFailure


def _from_validation(exc: msgspec.MsgspecError, perspective: Perspective) -> MessageRejected:
    match = _ERROR.match(str(exc))
    assert match is not None
    message, path = match.group("message"), match.group("path") or "$"
    named = _FIELD_IN_MESSAGE.match(message)
    if named:
        path = f"{path}.{named.group('name') or named.group('dt')}"
    if isinstance(exc, msgspec.DecodeError) and not isinstance(exc, msgspec.ValidationError):
        return SchemaFailure(f"not valid JSON: {message}", path="$", perspective=perspective)
    return _rule_for(path)(message, path=path, perspective=perspective)


_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
"""A JSON-escaped NUL character, not preceded by an escaping backslash of its own."""


def check_no_nul(raw: bytes, *, perspective: Perspective = Perspective.DIP) -> None:
    """Refuse a message carrying U+0000 in any string (MSG1001/RCP1001): the schema allows
    it, but no database text column can hold it (PostgreSQL refuses it outright)."""
    if b"\\u0000" in raw and _NUL.search(raw):
        raise NulCharacter(
            "a string contains the NUL character (U+0000), which no participant can store",
            path="$",
            perspective=perspective,
        )


def _shallow(brackets: bytes) -> bool:
    for _ in range(MAX_DEPTH):
        if not brackets:
            return True
        reduced = brackets.replace(b"[]", b"").replace(b"{}", b"")
        if reduced == brackets:
            return False
        brackets = reduced
    return not brackets


def check_depth(data: bytes, *, perspective: Perspective = Perspective.DIP) -> None:
    """Refuse JSON nested deeper than ``MAX_DEPTH`` (MSG1001/RCP1001).

    Strings are blanked and every other byte but brackets dropped; each pass then removes
    the innermost empty pairs, so after ``MAX_DEPTH`` passes only deeper nesting remains.
    All of it runs in C: a deep or huge body costs a few scans, never a recursion.
    """
    if data.count(b"[") + data.count(b"{") <= MAX_DEPTH:
        return  # cannot nest deeper than it has brackets: the common case, in microseconds
    if _shallow(data.translate(None, _NOT_BRACKETS)):
        return  # balanced within the limit counting brackets in strings too (a message with
        # many periods); nesting hidden by brackets in strings is caught as RecursionError
    brackets = _JSON_STRING.sub(b"", data).translate(None, _NOT_BRACKETS)
    for _ in range(MAX_DEPTH):
        reduced = brackets.replace(b"[]", b"").replace(b"{}", b"")
        if reduced == brackets:
            break
        brackets = reduced
    if len(brackets) > MAX_DEPTH or (
        brackets and brackets.replace(b"[]", b"").replace(b"{}", b"") != brackets
    ):
        raise _too_deep(perspective)


def _too_deep(perspective: Perspective) -> NestedTooDeep:
    return NestedTooDeep(
        f"JSON nested more than {MAX_DEPTH} levels deep (or its brackets do not balance); "
        "no DIP message nests so deep",
        path="$",
        perspective=perspective,
    )


# --- results -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Parsed:
    """A message that passed every check this layer can make."""

    message: DipMessageStruct
    spec: EventSpec
    raw: bytes
    """The message as received (inner payload when wrapped)."""


@dataclass(frozen=True, slots=True)
class Rejection:
    """A message that failed, with what it could tell us about itself."""

    error: MessageRejected
    raw: bytes
    sender_unique_reference: str | None = None

    @property
    def code(self) -> ResponseCode:
        return self.error.code


def unwrap(raw: bytes) -> bytes:
    """The inner message of ``{"payload": …}``; other input unchanged."""
    try:
        head = _HEAD.decode(raw)
    except (msgspec.MsgspecError, RecursionError):
        return raw
    if len(head.payload) and head.CommonBlock is None:
        return bytes(head.payload)
    return raw


def _header(raw: bytes, perspective: Perspective) -> tuple[bytes, EventSpec]:
    try:
        head = _HEAD.decode(raw)
    except msgspec.MsgspecError as exc:
        raise _from_validation(exc, perspective) from None
    except RecursionError:
        raise _too_deep(perspective) from None
    if len(head.payload) and head.CommonBlock is None:
        raw = bytes(head.payload)
        try:
            head = _HEAD.decode(raw)
        except msgspec.MsgspecError as exc:
            raise _from_validation(exc, perspective) from None
        except RecursionError:
            raise _too_deep(perspective) from None
    if head.CommonBlock is None:
        raise SchemaFailure(
            "Object missing required field `CommonBlock`",
            path="$.CommonBlock",
            perspective=perspective,
        )
    s0 = head.CommonBlock.S0
    if s0 is None:
        raise SchemaFailure(
            "Object missing required field `S0`", path="$.CommonBlock.S0", perspective=perspective
        )
    interface = s0.interfaceID
    if not isinstance(interface, str) or interface not in INTERFACES:
        raise InterfaceInvalid(
            f"interface {interface!r} is not one openmhhs handles ({', '.join(sorted(INTERFACES))})",
            path="$.CommonBlock.S0.interfaceID",
            perspective=perspective,
        )
    if s0.schemaVersion != "011":
        raise SchemaVersionInvalid(
            f"schema version {s0.schemaVersion!r} is not supported (expected '011')",
            path="$.CommonBlock.S0.schemaVersion",
            perspective=perspective,
        )
    event = s0.eventCode
    if not isinstance(event, str) or event not in INTERFACES[interface]:
        raise EventCodeInvalid(
            f"event code {event!r} is not an event of {interface} "
            f"({', '.join(sorted(INTERFACES[interface]))})",
            path="$.CommonBlock.S0.eventCode",
            perspective=perspective,
        )
    return raw, EVENTS[(interface, event)]


_SUR = re.compile(
    r"\AS-(?:(?:IF|REP)-)?(?P<number>[0-9]{3,4})-(?P<dip>[0-9a-fA-F]{10})-(?P<role>[A-Z]{3,5})-"
    r"(?P<day>[0-9]{8})-[a-zA-Z0-9]+\Z"
)


def _semantic_checks(
    message: DipMessageStruct,
    spec: EventSpec,
    now: datetime | None,
    skew: timedelta,
    p: Perspective,
) -> None:
    s1 = message.common_block.s1  # type: ignore[attr-defined]
    sur = _SUR.match(s1.sender_unique_reference)
    where = "$.CommonBlock.S1.senderUniqueReference"
    if sur is None:  # the schema pattern passed, so this cannot happen; keep the guard
        raise SenderReferenceInvalid("malformed sender unique reference", path=where, perspective=p)
    number = spec.interface_id.split("-", 1)[1]
    if sur.group("number") != number:
        raise SenderReferenceInvalid(
            f"sender unique reference names interface {sur.group('number')}, the message is "
            f"{spec.interface_id}",
            path=where,
            perspective=p,
        )
    if sur.group("dip") != s1.sender_dip_id or sur.group("role") != s1.sender_role_id:
        raise SenderReferenceInvalid(
            f"sender unique reference names {sur.group('dip')}/{sur.group('role')}, the sender is "
            f"{s1.sender_dip_id}/{s1.sender_role_id}",
            path=where,
            perspective=p,
        )
    try:
        date(int(sur.group("day")[:4]), int(sur.group("day")[4:6]), int(sur.group("day")[6:]))
    except ValueError:
        raise SenderReferenceInvalid(
            f"sender unique reference date {sur.group('day')} is not a real date",
            path=where,
            perspective=p,
        ) from None
    if now is not None:
        sent = datetime.fromisoformat(s1.sender_timestamp)
        if sent > now + skew:
            raise SenderTimestampInFuture(
                f"sender timestamp {s1.sender_timestamp} is after now ({now.isoformat()}) "
                f"by more than {int(skew.total_seconds())} s",
                path="$.CommonBlock.S1.senderTimestamp",
                perspective=p,
            )


def parse(
    raw: bytes,
    *,
    now: datetime | None,
    perspective: Perspective = Perspective.DIP,
    skew: timedelta = DEFAULT_CLOCK_SKEW,
) -> Parsed:
    """Parse and validate one message (bare or ``{"payload": …}``); raise ``MessageRejected``.

    ``now`` is the validating party's clock, for the sender-timestamp check; ``None`` skips
    that check (e.g. re-reading a stored message).
    """
    check_depth(raw, perspective=perspective)
    raw, spec = _header(raw, perspective)
    check_no_nul(raw, perspective=perspective)
    try:
        message: DipMessageStruct = _DECODERS[spec.message_type].decode(raw)
    except msgspec.MsgspecError as exc:
        raise _from_validation(exc, perspective) from None
    except RecursionError:
        raise _too_deep(perspective) from None
    _semantic_checks(message, spec, now, skew, perspective)
    return Parsed(message=message, spec=spec, raw=raw)


def check_produced(message: DipMessageStruct, raw: bytes) -> Parsed:
    """``raw``, the encoding of ``message`` (a struct this system built), validated as ``parse``
    validates what it receives: decoded against the schema by its event's decoder, then the
    same semantic checks. It skips only what guards against bytes from outside, whose type is
    not yet known (the nesting-depth walk, the header read apart to find the interface and
    event); the encoder nests as the schema does. Raises ``MessageRejected`` as ``parse`` does."""
    # a struct holds one of its own events (its ``__post_init__``): the spec is known
    spec = EVENTS[(message.INTERFACE_ID, message.common_block.s0.event_code)]  # type: ignore[attr-defined]
    check_no_nul(raw)
    try:
        decoded: DipMessageStruct = _DECODERS[spec.message_type].decode(raw)
    except msgspec.MsgspecError as exc:
        raise _from_validation(exc, Perspective.DIP) from None
    _semantic_checks(decoded, spec, None, DEFAULT_CLOCK_SKEW, Perspective.DIP)
    return Parsed(message=decoded, spec=spec, raw=raw)


class _ReferenceOnly(msgspec.Struct, gc=False):
    class _CB(msgspec.Struct, gc=False):
        class _S1(msgspec.Struct, gc=False):
            senderUniqueReference: Any = None  # noqa: N815

        S1: _S1 | None = None

    CommonBlock: _CB | None = None


_REFERENCE = msgspec.json.Decoder(_ReferenceOnly)


def sender_reference_of(raw: bytes) -> str | None:
    """Best-effort sender unique reference of a message that may be invalid."""
    try:
        found = _REFERENCE.decode(unwrap(raw))
    except (msgspec.MsgspecError, RecursionError):
        return None
    if found.CommonBlock is None or found.CommonBlock.S1 is None:
        return None
    value = found.CommonBlock.S1.senderUniqueReference
    return value if isinstance(value, str) else None


def decode_batch(data: bytes) -> list[bytes]:
    """Split a JSON array of messages (or one message) into each message's raw bytes. Each
    message's depth is checked when it is parsed; an array too deep to split is refused."""
    stripped = data.lstrip()
    if stripped[:1] == b"[":
        try:
            return [bytes(item) for item in _RAW_LIST.decode(data)]
        except msgspec.MsgspecError as exc:
            raise SchemaFailure(f"not a JSON array of messages: {exc}", path="$") from None
        except RecursionError:
            raise _too_deep(Perspective.DIP) from None
    return [data]


def parse_batch(
    data: bytes,
    *,
    now: datetime | None,
    perspective: Perspective = Perspective.DIP,
    skew: timedelta = DEFAULT_CLOCK_SKEW,
) -> list[Parsed | Rejection]:
    """Parse every message of a batch, in order; one bad message does not stop the others."""
    results: list[Parsed | Rejection] = []
    for raw in decode_batch(data):
        try:
            results.append(parse(raw, now=now, perspective=perspective, skew=skew))
        except MessageRejected as exc:
            results.append(
                Rejection(error=exc, raw=unwrap(raw), sender_unique_reference=sender_reference_of(raw))
            )
    return results


def encode(message: DipMessageStruct | Sequence[DipMessageStruct]) -> bytes:
    """Serialise one message or a batch exactly as sent (compact JSON, schema field order)."""
    return _ENCODER.encode(message)
