"""Example DIP messages for every event openmhhs handles, derived from the message types
themselves: a minimal one (required fields only), a maximal one (every field), and a
hypothesis strategy of arbitrary valid ones. Values honour every length, pattern and
enumeration; JSON dictionaries use the schema's field names."""

from __future__ import annotations

import string
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import msgspec.inspect as mi
from hypothesis import strategies as st

from openmhhs.dip.catalogue import EVENTS, EventSpec
from openmhhs.dip.schema import DipMessageStruct

DATETIME = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}[+-][0-9]{2}:[0-9]{2}\\Z"
SAMPLES_BY_PATTERN = {
    DATETIME: "2025-06-01T00:00:00+01:00",
    "^[A-Z]{4}\\Z": "ABCD",
    "^[0-9]{13}?\\Z": "2000056535971",
    "^-?[0-9]{1,9}\\.[0-9]{3}\\Z": "12.345",
    "^[0-9]{1,2}\\Z": "1",
    "^[0-9]{4,4}\\Z": "0393",
    "^S-((IF|REP)-)?[0-9]{3,4}-[0-9a-fA-F]{10}-[A-Z]{3,5}-[0-9]{8}-[a-zA-Z0-9]+\\Z": "",
}


def is_datetime(t: mi.StrType) -> bool:
    """DT-003 date-times: 25 characters, form checked by the struct rather than a pattern."""
    return t.min_length == t.max_length == 25 and t.pattern is None


def _string(t: mi.StrType, name: str) -> str:
    if is_datetime(t):
        return "2025-06-01T00:00:00+01:00"
    if t.pattern is not None:
        return SAMPLES_BY_PATTERN[t.pattern]
    size = t.min_length or max(1, min(t.max_length or 8, 8))
    if name.lower().endswith(("dipid", "recipients", "always")) or (t.min_length == t.max_length == 10):
        return "1234567890"[:size].ljust(size, "0")
    return ("x" * size)[: t.max_length or size]


def example_value(t: mi.Type, *, maximal: bool, name: str = "") -> Any:
    if isinstance(t, mi.StructType):
        out: dict[str, Any] = {}
        for field in t.fields:
            if field.required or maximal:
                out[field.encode_name] = example_value(field.type, maximal=maximal, name=field.encode_name)
        return out
    if isinstance(t, mi.UnionType):
        options = [o for o in t.types if not isinstance(o, mi.NoneType)]
        if not maximal and len(options) < len(t.types) and any(isinstance(o, mi.NoneType) for o in t.types):
            return None
        return example_value(options[0], maximal=maximal, name=name)
    if isinstance(t, mi.ListType):
        count = max(t.min_length or 0, 1 if maximal else 0)
        if name in ("primaryRecipients",):
            count = max(count, 1)
        return [example_value(t.item_type, maximal=maximal, name=name) for _ in range(count)]
    if isinstance(t, mi.LiteralType):
        return t.values[0]
    if isinstance(t, mi.StrType):
        return _string(t, name)
    if isinstance(t, mi.IntType):
        return t.ge if t.ge is not None else 0
    if isinstance(t, mi.BoolType):
        return True
    if isinstance(t, mi.FloatType):
        return 1.0
    raise TypeError(f"no example for {t}")


def example_message(spec: EventSpec, *, maximal: bool) -> dict[str, Any]:
    """A schema-valid message of this event as a JSON dictionary."""
    info = mi.type_info(spec.message_type)
    assert isinstance(info, mi.StructType)
    message = example_value(info, maximal=maximal)
    common = message["CommonBlock"]
    common["S0"] = {
        "interfaceID": spec.interface_id,
        "schemaVersion": "011",
        "eventCode": spec.event_code,
    }
    s1 = common["S1"]
    s1["senderDIPID"] = "1111111111"
    s1["senderRoleID"] = sorted(spec.senders)[0]
    number = spec.interface_id.split("-")[1]
    s1["senderUniqueReference"] = f"S-{spec.interface_id}-1111111111-{s1['senderRoleID']}-20250601-x{number}"
    s1["senderTimestamp"] = "2025-06-01T10:00:00+00:00"
    return message


def all_examples() -> list[tuple[str, EventSpec, bool]]:
    return [
        (f"{spec.interface_id}{spec.event_code}-{'max' if m else 'min'}", spec, m)
        for spec in EVENTS.values()
        for m in (False, True)
    ]


def decode(spec: EventSpec, message: dict[str, Any]) -> DipMessageStruct:
    return msgspec.convert(message, spec.message_type)


# --- hypothesis: arbitrary valid values -----------------------------------------------------

_ascii = string.ascii_letters + string.digits + " -_/."


def _dt_strings() -> st.SearchStrategy[str]:
    offsets = st.sampled_from([timedelta(0), timedelta(hours=1), timedelta(hours=-5, minutes=-30)])
    return st.builds(
        lambda moment, offset: (
            moment.replace(tzinfo=UTC)
            .astimezone(__import__("datetime").timezone(offset))
            .isoformat(timespec="seconds")
        ),
        st.datetimes(min_value=datetime(2000, 1, 2), max_value=datetime(2099, 12, 30)),
        offsets,
    )


def strategy_for(t: mi.Type, name: str = "") -> st.SearchStrategy[Any]:
    if isinstance(t, mi.StructType):
        required = {f.encode_name: strategy_for(f.type, f.encode_name) for f in t.fields if f.required}
        optional = {f.encode_name: strategy_for(f.type, f.encode_name) for f in t.fields if not f.required}
        return st.fixed_dictionaries(required, optional=optional)
    if isinstance(t, mi.UnionType):
        options = [strategy_for(o, name) for o in t.types]
        return st.one_of(options)
    if isinstance(t, mi.NoneType):
        return st.none()
    if isinstance(t, mi.ListType):
        low = t.min_length or 0
        return st.lists(
            strategy_for(t.item_type, name),
            min_size=low,
            max_size=max(low, min(t.max_length or 3, 3)),
        )
    if isinstance(t, mi.LiteralType):
        return st.sampled_from(t.values)
    if isinstance(t, mi.StrType):
        if is_datetime(t):
            return _dt_strings()
        if t.pattern is not None:
            return st.from_regex(t.pattern.replace("\\Z", "$"), fullmatch=True).filter(
                lambda s: (t.max_length is None or len(s) <= t.max_length) and "\n" not in s
            )
        low, high = t.min_length or 0, t.max_length if t.max_length is not None else 20
        return st.text(alphabet=_ascii, min_size=low, max_size=min(high, low + 20))
    if isinstance(t, mi.IntType):
        return st.integers(
            min_value=t.ge if t.ge is not None else -1000,
            max_value=t.le if t.le is not None else 1000,
        )
    if isinstance(t, mi.BoolType):
        return st.booleans()
    raise TypeError(f"no strategy for {t}")


def valid_messages(spec: EventSpec) -> st.SearchStrategy[dict[str, Any]]:
    """Arbitrary schema-valid messages of one event (header and sender made consistent)."""
    info = mi.type_info(spec.message_type)

    def fix(message: dict[str, Any]) -> dict[str, Any]:
        base = example_message(spec, maximal=False)
        message["CommonBlock"]["S0"] = base["CommonBlock"]["S0"]
        for key in ("senderDIPID", "senderRoleID", "senderUniqueReference", "senderTimestamp"):
            message["CommonBlock"]["S1"][key] = base["CommonBlock"]["S1"][key]
        return message

    return strategy_for(info).map(fix)
