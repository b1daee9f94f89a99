"""Narrow column types for the message log (``message`` and ``delivery``, docs/scaling.md
"message log").

Each type keeps SQLAlchemy expressions written against the wide columns working unchanged
(``message.c.interface_id == "IF-031"``, ``delivery.c.state == "pending"``,
``message.c.received_at >= after``): the value bound is encoded, the value read decoded.
The encodings are pure functions, exact both ways, except :class:`TextKey`, a one-way 64-bit
(48 on SQLite) key of a long text that only an index needs (the text itself is in the message body).
"""

from __future__ import annotations

import re
import struct
from datetime import UTC, datetime, timedelta
from hashlib import blake2b
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

__all__ = [
    "DELIVERY_STATES",
    "EVENT_CODES",
    "ORIGINS",
    "Catalogue",
    "CompactUtcDateTime",
    "EpochMicros",
    "InterfaceNumber",
    "MpanNumber",
    "PackedCorrelationId",
    "PackedDipId",
    "PackedTransactionId",
    "TextKey",
    "column_key",
    "event_number",
    "from_micros",
    "interface_number",
    "pack_correlation_id",
    "pack_dip_id",
    "pack_transaction_id",
    "short_text_key",
    "storable_mpan",
    "text_key",
    "to_micros",
    "unpack_correlation_id",
    "unpack_dip_id",
    "unpack_transaction_id",
]

EVENT_CODES: tuple[str, ...] = (
    "[ActivePower]",
    "[ChangeOfSupplier]",
    "[DCC-MDROutcome]",
    "[DSAppAccepted]",
    "[DSAppActive]",
    "[DSAppInitialResp]",
    "[DSAppLapsed]",
    "[DSAppRejected]",
    "[DSAppSPRequest]",
    "[DSAppSPResponse]",
    "[DSApp]",
    "[DSDeAppUpdate]",
    "[DSDeApp]",
    "[IMS-SendMTD]",
    "[InitialRegistration]",
    "[MDRConsumption]",
    "[MDRInstantaneous]",
    "[MDRStartResponse]",
    "[MDRStart]",
    "[MDRStop]",
    "[MDRTOU]",
    "[MSAppAccepted]",
    "[MSAppActive]",
    "[MSAppInitialResp]",
    "[MSAppLapsed]",
    "[MSAppRejected]",
    "[MSAppSPRequest]",
    "[MSAppSPResponse]",
    "[MSApp]",
    "[MSDeAppUpdate]",
    "[MSDeApp]",
    "[ReactivePower]",
    "[ReadingRemote]",
    "[SDS-MDROutcome]",
    "[SDS-MDRUpdate]",
)
"""Every DIP event code, numbered by position from 1. Stored numbers are forever: append a
new code at the end, never reorder (tests/unit/test_message_log_codec.py checks the schema's
codes are all here)."""

DELIVERY_STATES: tuple[str, ...] = ("pending", "mailbox", "done", "failed", "refused")
"""A delivery's states, numbered from 1 (append only)."""

ORIGINS: tuple[str, ...] = ("participant", "submitted", "dip", "data")
"""Where a logged message came from, numbered from 1 (append only)."""


def text_key(text: str) -> int:
    """A signed 64-bit key of ``text`` (BLAKE2b): equal texts, equal keys; two different texts
    share a key with probability 2**-64, so a lookup by key is checked against the text."""
    data = text.encode("utf-8", "surrogatepass")  # any str, even one no JSON could carry
    return int.from_bytes(blake2b(data, digest_size=8).digest(), "big", signed=True)


SHORT_KEY_SHIFT = 16


def short_text_key(text: str) -> int:
    """The top 48 bits of :func:`text_key`, signed: what SQLite keeps (a 6-byte integer in its
    records, not 8; migration 0013). Two texts share one with probability 2**-48, which the
    lookups' check against the text already allows for."""
    return text_key(text) >> SHORT_KEY_SHIFT


def column_key(text: str, dialect_name: str) -> int:
    """The key a :class:`TextKey` column keeps for ``text`` on that backend (PostgreSQL's
    bigint takes 8 bytes whatever the value: the full key)."""
    return short_text_key(text) if dialect_name == "sqlite" else text_key(text)


_INTERFACE = re.compile(r"IF-(\d{3})\Z")


def interface_number(interface_id: str) -> int:
    """``IF-031`` -> 31."""
    found = _INTERFACE.match(interface_id)
    if found is None:
        raise ValueError(f"not a DIP interface id: {interface_id!r}")
    return int(found.group(1))


def event_number(event_code: str) -> int:
    """An event code's number in :data:`EVENT_CODES`."""
    try:
        return EVENT_CODES.index(event_code) + 1
    except ValueError:
        raise ValueError(f"not a DIP event code: {event_code!r}") from None


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_micros(moment: datetime) -> int:
    """An aware instant as whole microseconds since 1970-01-01 UTC."""
    if moment.tzinfo is None:
        raise ValueError("refusing to store a naive date-time")
    return (moment - _EPOCH) // timedelta(microseconds=1)


def from_micros(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


# The DIP's transaction id (dip.build.new_transaction_id): T-IF-031-<sender>-<role>-<yyyymmdd>-<16 hex>.
_TRANSACTION = re.compile(r"T-IF-(\d{3})-([0-9a-f]{10}|[0-9A-F]{10})-([A-Z]{1,5})-(\d{8})-([0-9a-f]{16})\Z")
_PACKED = struct.Struct(">BH5sBI8s")  # tag, interface, sender, upper-case flag, day, token


def pack_transaction_id(transaction_id: str) -> bytes:
    """A transaction id in 21 bytes and its role's letters when it has the DIP's form,
    otherwise a zero byte and its UTF-8 text."""
    found = _TRANSACTION.match(transaction_id)
    if found is None:
        return b"\x00" + transaction_id.encode()
    interface, sender, role, day, token = found.groups()
    upper = sender != sender.lower()
    head = _PACKED.pack(1, int(interface), bytes.fromhex(sender), upper, int(day), bytes.fromhex(token))
    return head + role.encode()


def unpack_transaction_id(packed: bytes) -> str:
    if packed[0] == 0:
        return packed[1:].decode()
    _, interface, sender, upper, day, token = _PACKED.unpack_from(packed)
    dip_id = sender.hex().upper() if upper else sender.hex()
    role = packed[_PACKED.size :].decode()
    return f"T-IF-{interface:03d}-{dip_id}-{role}-{day:08d}-{token.hex()}"


# A correlation id as dip.build makes it: C-IF-031-<sender>-<role>-<yyyymmdd>-<tail>, the tail
# the sender's unique prefix and counter (often lower-case hex).
_CORRELATION = re.compile(
    r"C-IF-(\d{3})-([0-9a-f]{10}|[0-9A-F]{10})-([A-Z]{1,5})-(\d{8})-([0-9A-Za-z]{0,40})\Z"
)
_CORRELATION_HEAD = struct.Struct(">BH5sIB")  # tag, interface, sender, day, role length
_UPPER_SENDER, _HEX_TAIL = 1, 2  # flags in the tag, beside 4 (the DIP's form)
_LOWER_HEX = re.compile(r"(?:[0-9a-f]{2})+\Z")


def pack_correlation_id(correlation_id: str) -> bytes:
    """A correlation id in ~25 bytes when it has dip.build's form (the tail as bytes when it is
    lower-case hex), otherwise a zero byte and its UTF-8 text. Exact both ways, and equal texts
    pack equal, so a packed column still compares and stays unique as its texts do."""
    found = _CORRELATION.match(correlation_id)
    if found is None:
        return b"\x00" + correlation_id.encode("utf-8", "surrogatepass")
    interface, sender, role, day, tail = found.groups()
    tag = 4 | (_UPPER_SENDER if sender != sender.lower() else 0)
    hex_tail = _LOWER_HEX.match(tail) is not None
    if hex_tail:
        tag |= _HEX_TAIL
    head = _CORRELATION_HEAD.pack(tag, int(interface), bytes.fromhex(sender), int(day), len(role))
    return head + role.encode() + (bytes.fromhex(tail) if hex_tail else tail.encode())


def unpack_correlation_id(packed: bytes) -> str:
    if packed[0] == 0:
        return packed[1:].decode("utf-8", "surrogatepass")
    tag, interface, sender, day, role_length = _CORRELATION_HEAD.unpack_from(packed)
    dip_id = sender.hex().upper() if tag & _UPPER_SENDER else sender.hex()
    role = packed[_CORRELATION_HEAD.size : _CORRELATION_HEAD.size + role_length].decode()
    rest = packed[_CORRELATION_HEAD.size + role_length :]
    tail = rest.hex() if tag & _HEX_TAIL else rest.decode()
    return f"C-IF-{interface:03d}-{dip_id}-{role}-{day:08d}-{tail}"


_LOWER_DIP_ID = re.compile(r"[0-9a-f]{10}\Z")
_UPPER_DIP_ID = re.compile(r"[0-9A-F]{10}\Z")
_PACKED_DIP_ID, _TAGGED_MINIMUM = 5, 7


def pack_dip_id(dip_id: str) -> bytes:
    """A DIP id (10 hex digits) in 5 bytes when lower-case, in 7 when upper-case; any other
    text as a tag, its length and its UTF-8 bytes (at least 7 bytes, so that only the
    lower-case form is ever 5 long). Exact both ways; equal texts pack equal."""
    if _LOWER_DIP_ID.match(dip_id):
        return bytes.fromhex(dip_id)
    if _UPPER_DIP_ID.match(dip_id):
        return b"\x01" + bytes.fromhex(dip_id) + b"\x01"
    data = dip_id.encode("utf-8", "surrogatepass")
    packed = b"\x02" + len(data).to_bytes(4, "big") + data
    return packed.ljust(_TAGGED_MINIMUM, b"\x00")


def unpack_dip_id(packed: bytes) -> str:
    if len(packed) == _PACKED_DIP_ID:
        return packed.hex()
    if packed[0] == 1:
        return packed[1:6].hex().upper()
    length = int.from_bytes(packed[1:5], "big")
    return packed[5 : 5 + length].decode("utf-8", "surrogatepass")


class InterfaceNumber(sa.types.TypeDecorator[str]):
    """``IF-031`` stored as the number 31."""

    impl = sa.SmallInteger
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> int | None:
        return None if value is None else interface_number(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else f"IF-{int(value):03d}"


class Catalogue(sa.types.TypeDecorator[str]):
    """A text from a fixed, append-only list, stored as its position from 1."""

    impl = sa.SmallInteger
    cache_ok = True

    def __init__(self, values: tuple[str, ...]) -> None:
        super().__init__()
        self.values = values

    def process_bind_param(self, value: str | None, dialect: Dialect) -> int | None:
        if value is None:
            return None
        try:
            return self.values.index(value) + 1
        except ValueError:
            raise ValueError(f"{value!r} is not one of {self.values}") from None

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else self.values[int(value) - 1]


def storable_mpan(text: str) -> bool:
    """Whether ``text`` is 13 digits, as every MPAN core in the log is (anything else matches none)."""
    return len(text) == 13 and text.isascii() and text.isdigit()


class MpanNumber(sa.types.TypeDecorator[str]):
    """A 13-digit MPAN core stored as a number."""

    impl = sa.BigInteger
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> int | None:
        if value is None:
            return None
        if not storable_mpan(value):
            raise ValueError(f"not an MPAN core: {value!r}")
        return int(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else f"{int(value):013d}"


class TextKey(sa.types.TypeDecorator[str]):
    """A long text (sender unique reference, correlation id) kept only as its key
    (:func:`column_key`: 64 bits, 48 on SQLite): comparing the column with a text compares keys;
    reading it gives the key."""

    impl = sa.BigInteger
    cache_ok = True

    def process_bind_param(self, value: str | int | None, dialect: Dialect) -> int | None:
        if value is None or isinstance(value, int):
            return value
        return column_key(value, dialect.name)


class PackedTransactionId(sa.types.TypeDecorator[str]):
    """A DIP transaction id, packed (:func:`pack_transaction_id`)."""

    impl = sa.LargeBinary
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> bytes | None:
        return None if value is None else pack_transaction_id(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else unpack_transaction_id(bytes(value))


class PackedDipId(sa.types.TypeDecorator[str]):
    """A message's sender or a delivery's recipient: packed on SQLite (:func:`pack_dip_id`,
    5 bytes instead of 10), text on PostgreSQL (where the bytes saved would not pay for
    rewriting the log's every row); compares, and reads back, as its text."""

    impl = sa.String(10)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.LargeBinary())
        return dialect.type_descriptor(sa.String(10))

    def process_bind_param(self, value: str | None, dialect: Dialect) -> Any:
        if value is None or dialect.name != "sqlite":
            return value
        return pack_dip_id(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        if value is None or isinstance(value, str):
            return value
        return unpack_dip_id(bytes(value))


class PackedCorrelationId(sa.types.TypeDecorator[str]):
    """A correlation id, packed (:func:`pack_correlation_id`): compares, and reads back, as its text."""

    impl = sa.LargeBinary
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> bytes | None:
        return None if value is None else pack_correlation_id(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else unpack_correlation_id(bytes(value))


class EpochMicros(sa.types.TypeDecorator[datetime]):
    """An aware instant as microseconds since 1970 UTC (8 bytes; the wide type takes 26 on SQLite)."""

    impl = sa.BigInteger
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> int | None:
        return None if value is None else to_micros(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        return None if value is None else from_micros(int(value))


class CompactUtcDateTime(EpochMicros):
    """An aware instant: microseconds since 1970 UTC on SQLite (8 bytes instead of a 26-byte
    text), ``timestamptz`` on PostgreSQL (already 8 bytes; as ``UtcDateTime`` stores it)."""

    impl = sa.BigInteger
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.BigInteger())
        return dialect.type_descriptor(sa.DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if dialect.name == "sqlite":
            return super().process_bind_param(value, dialect)
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("refusing to store a naive date-time")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, datetime):
            return value.astimezone(UTC)
        return from_micros(int(value))
