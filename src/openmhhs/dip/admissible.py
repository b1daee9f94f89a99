"""What the DIP schema lets through but the market cannot hold, refused before any handler
sees it (issue 12, finding 1).

The official schema fixes only the length of a DIP ID (any ten characters, even non-ASCII
ones) and the form of a date-time (25 characters), so a schema-valid message may carry a
DIP ID no participant can have, or an instant such as ``9999-12-31T23:59:59-23:59`` that
lies past the last date a calendar can hold once read in UTC. A recipient refuses such a
value with RCP1022 (value restricted field), naming the field; the DIP's own answer for it
is MSG1001.

Which fields are DIP IDs and date-times is read once per message type from the generated
structs (``DipIdText``, ``DateTime25``), so a new interface is covered without a list here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from functools import cache
from typing import Any, Literal

import msgspec
import msgspec.inspect as mi

from openmhhs.codes import ResponseCode
from openmhhs.dip.catalogue import EventSpec
from openmhhs.dip.parse import CorrelationIdInvalid, MessageRejected, Perspective
from openmhhs.dip.schema import DipMessageStruct
from openmhhs.ids import DipId, InvalidDipId

__all__ = [
    "EARLIEST",
    "LATEST",
    "OPENS_EXCHANGE",
    "ValueNotAdmissible",
    "check_admissible",
    "check_new_exchange",
]

EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
"""No MPAN, appointment or reading of the GB market is dated before this."""
LATEST = datetime(3000, 1, 1, tzinfo=UTC)
"""Nor on or after this: leaves every day computation (UK days, periods, +1 day) in range."""

_Kind = Literal["dip_id", "datetime"]


class ValueNotAdmissible(MessageRejected):
    rule = "dip.message.value_admissible"
    dip_code = ResponseCode.MSG1001
    recipient_code = ResponseCode.RCP1022


def check_admissible(message: DipMessageStruct, *, perspective: Perspective = Perspective.RECIPIENT) -> None:
    """Raise ``ValueNotAdmissible`` for the first DIP ID or date-time the market cannot hold."""
    for path, kind, value in _values(message, _shape(type(message)), "$"):
        problem = _dip_id_problem(value) if kind == "dip_id" else _datetime_problem(value)
        if problem is not None:
            name = path.rsplit(".", 1)[-1]
            raise ValueNotAdmissible(f"{name} {problem}", path=path, perspective=perspective)


OPENS_EXCHANGE = frozenset({("IF-031", "[DSApp]"), ("IF-031", "[MSApp]")})
"""Events that open an exchange: the RS keys the request by its correlation ID."""


def check_new_exchange(
    message: DipMessageStruct,
    spec: EventSpec,
    *,
    seen: Callable[..., bool],
    perspective: Perspective = Perspective.DIP,
) -> None:
    """An exchange's first message must carry a sender correlation ID not already in the
    message log (MSG1012): answers to the earlier exchange would be mistaken for its own.
    ``seen(correlation, other_than=reference)`` asks the log, leaving out the message itself
    (sent again, it is a duplicate: MSG1006)."""
    if spec.key not in OPENS_EXCHANGE:
        return
    correlation = message.common_block.s1.sender_correlation_id  # type: ignore[attr-defined]
    if not correlation:
        raise CorrelationIdInvalid(
            f"a {spec.interface_id} {spec.event_code} opens an exchange and must carry a sender "
            "correlation ID, by which the answers are matched to it",
            path="$.CommonBlock.S1.senderCorrelationID",
            perspective=perspective,
        )
    reference = message.common_block.s1.sender_unique_reference  # type: ignore[attr-defined]
    if seen(correlation, other_than=reference):
        raise CorrelationIdInvalid(
            f"sender correlation ID {correlation} already names an earlier exchange; "
            f"a new {spec.interface_id} {spec.event_code} opens a new one",
            path="$.CommonBlock.S1.senderCorrelationID",
            perspective=perspective,
        )


def _dip_id_problem(value: str) -> str | None:
    try:
        DipId(value)
    except InvalidDipId:
        return f"is not a DIP ID (10 hexadecimal characters): {value!r}"
    return None


def _datetime_problem(value: str) -> str | None:
    try:
        instant = datetime.fromisoformat(value).astimezone(UTC)
    except (ValueError, OverflowError):
        return f"is not an instant the market can hold: {value!r}"
    if not EARLIEST <= instant < LATEST:
        return (
            f"{value!r} is outside the dates the market holds ({EARLIEST.year} to {LATEST.year - 1}, in UTC)"
        )
    return None


# --- where the DIP IDs and date-times of each message type are --------------------------------

_Shape = tuple[tuple[str, str, "_Kind | _Nested"], ...]


class _Nested:
    """A field holding a struct (or a list of them, or of identifiers)."""

    __slots__ = ("many", "shape")

    def __init__(self, shape: _Shape | _Kind, *, many: bool) -> None:
        self.shape = shape
        self.many = many


def _kind_of(t: mi.Type) -> _Kind | _Nested | None:
    if isinstance(t, mi.UnionType):
        found = [k for k in (_kind_of(x) for x in t.types) if k is not None]
        return found[0] if found else None
    if isinstance(t, mi.StrType) and t.pattern is None and t.min_length == t.max_length:
        return {10: "dip_id", 25: "datetime"}.get(t.min_length or 0)  # type: ignore[return-value]
    if isinstance(t, mi.StructType):
        shape = _shape(t.cls)
        return _Nested(shape, many=False) if shape else None
    if isinstance(t, mi.ListType):
        item = _kind_of(t.item_type)
        if isinstance(item, _Nested):
            return _Nested(item.shape, many=True) if not item.many else None
        return _Nested(item, many=True) if item is not None else None
    return None


@cache
def _shape(cls: type[Any]) -> _Shape:
    info = mi.type_info(cls)
    assert isinstance(info, mi.StructType)
    found = []
    for field in info.fields:
        kind = _kind_of(field.type)
        if kind is not None:
            found.append((field.name, field.encode_name, kind))
    return tuple(found)


def _values(obj: Any, shape: _Shape, path: str) -> Iterator[tuple[str, _Kind, str]]:
    for attribute, name, kind in shape:
        value = getattr(obj, attribute, None)
        if value is None or value is msgspec.UNSET:
            continue
        where = f"{path}.{name}"
        if isinstance(kind, _Nested):
            items = list(enumerate(value)) if kind.many else [(None, value)]
            for index, item in items:
                at = where if index is None else f"{where}[{index}]"
                if item is None:
                    continue
                if isinstance(kind.shape, tuple):
                    yield from _values(item, kind.shape, at)
                else:
                    yield at, kind.shape, item
        else:
            yield where, kind, value
