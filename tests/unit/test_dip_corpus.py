"""A corpus of deliberately broken DIP messages, each refused with the expected code.

Every way to break a message is enumerated from its type (remove a required field, give a
field the wrong JSON type, add an unknown field to a closed object, an impossible date, a
value outside an enumeration, a string too long); hypothesis draws from all of them across
every event, and a sweep checks them all. The expected code comes from this table, which
restates the issue's specification independently of the parser's own mapping.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import msgspec.inspect as mi
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openmhhs.dip.catalogue import EVENTS, EventSpec
from openmhhs.dip.parse import MessageRejected, parse
from tests.dip_examples import example_message, is_datetime

EXPECTED_BY_PATH = (
    ("$.CommonBlock.S0.interfaceID", "MSG1002"),
    ("$.CommonBlock.S0.schemaVersion", "MSG1001"),
    ("$.CommonBlock.S0.eventCode", "MSG1001"),
    ("$.CommonBlock.S1.environmentTag", "MSG1001"),
    ("$.CommonBlock.S1.senderUniqueReference", "MSG1001"),
    ("$.CommonBlock.S1.senderTimestamp", "MSG1007"),
    ("$.CommonBlock.S1.senderDIPID", "MSG1009"),
    ("$.CommonBlock.S1.senderRoleID", "MSG1010"),
    ("$.CommonBlock.S1.DIPConnectionProviderID", "MSG1011"),
    ("$.CommonBlock.S1.senderCorrelationID", "MSG1012"),
    ("$.CommonBlock.A0.primaryRecipients", "MSG1031"),
    ("$.CommonBlock.A0.secondaryRecipients", "MSG1033"),
    ("$.CommonBlock.A0.always", "MSG1035"),
)


def expected_code(path: str) -> str:
    for prefix, code in EXPECTED_BY_PATH:
        if path == prefix or path.startswith((prefix + ".", prefix + "[")):
            return code
    return "MSG1001"


@dataclass(frozen=True)
class Breakage:
    spec: EventSpec
    keys: tuple[Any, ...]
    kind: str
    value: Any
    path: str

    def apply(self) -> bytes:
        message = example_message(self.spec, maximal=True)
        parent = message
        for key in self.keys[:-1]:
            parent = parent[key]
        if self.kind == "remove":
            del parent[self.keys[-1]]
        elif self.kind == "unknown-field":
            parent[self.keys[-1]]["zzUnexpected"] = 1
        else:
            parent[self.keys[-1]] = self.value
        return orjson.dumps(message)

    @property
    def expected(self) -> str:
        if self.kind == "unknown-field":
            return expected_code(self.path + ".zzUnexpected")
        return expected_code(self.path)


def _json_path(keys: tuple[Any, ...]) -> str:
    out = "$"
    for key in keys:
        out += f"[{key}]" if isinstance(key, int) else f".{key}"
    return out


def _wrong_type(t: mi.Type) -> Any:
    kinds = {type(o) for o in (t.types if isinstance(t, mi.UnionType) else (t,))}
    if mi.StrType in kinds or mi.LiteralType in kinds:
        return 12345
    if mi.BoolType in kinds:
        return "yes"
    if mi.IntType in kinds:
        return "30"
    if mi.ListType in kinds:
        return {"not": "a list"}
    return ["not", "an", "object"]


def _breakages(
    spec: EventSpec, t: mi.Type, value: Any, keys: tuple[Any, ...], required: bool
) -> list[Breakage]:
    out: list[Breakage] = []
    path = _json_path(keys)
    if keys:
        if required:
            out.append(Breakage(spec, keys, "remove", None, path))
        out.append(Breakage(spec, keys, "wrong-type", _wrong_type(t), path))
    inner = t
    if isinstance(t, mi.UnionType):
        inner = next(o for o in t.types if not isinstance(o, mi.NoneType))
    if isinstance(inner, mi.StructType):
        if inner.forbid_unknown_fields and keys:
            out.append(Breakage(spec, keys, "unknown-field", None, path))
        for field in inner.fields:
            if isinstance(value, dict) and field.encode_name in value:
                out += _breakages(
                    spec,
                    field.type,
                    value[field.encode_name],
                    (*keys, field.encode_name),
                    field.required,
                )
    elif isinstance(inner, mi.ListType) and isinstance(value, list):
        for index, item in enumerate(value[:1]):
            out += _breakages(spec, inner.item_type, item, (*keys, index), False)
    elif isinstance(inner, mi.LiteralType):
        out.append(Breakage(spec, keys, "bad-enum", "??", path))
    elif isinstance(inner, mi.StrType):
        if is_datetime(inner):
            out.append(Breakage(spec, keys, "impossible-date", "2025-02-30T00:00:00+00:00", path))
            out.append(Breakage(spec, keys, "date-format", "2025-06-01T00:00:00Z", path))
        if inner.max_length is not None:
            out.append(Breakage(spec, keys, "too-long", "9" * (inner.max_length + 1), path))
    return out


def corpus() -> list[Breakage]:
    out: list[Breakage] = []
    for spec in EVENTS.values():
        info = mi.type_info(spec.message_type)
        out += _breakages(spec, info, example_message(spec, maximal=True), (), True)
    # S0's values are checked by header, not by type: break them explicitly.
    for spec in EVENTS.values():
        for field, bad in (
            ("interfaceID", "IF-000"),
            ("schemaVersion", "012"),
            ("eventCode", "[Unknown]"),
        ):
            keys = ("CommonBlock", "S0", field)
            out.append(Breakage(spec, keys, "bad-header", bad, _json_path(keys)))
    return out


CORPUS = corpus()


def check(breakage: Breakage) -> None:
    with pytest.raises(MessageRejected) as raised:
        parse(breakage.apply(), now=None)
    error = raised.value
    assert error.code.value == breakage.expected, (
        breakage.kind,
        breakage.path,
        error.path,
        error.detail,
    )
    assert error.path is not None and error.path.startswith(breakage.path), (
        error.path,
        breakage.path,
    )


def test_the_corpus_is_large_and_varied() -> None:
    assert len(CORPUS) >= 200
    assert {b.kind for b in CORPUS} >= {
        "remove",
        "wrong-type",
        "unknown-field",
        "bad-enum",
        "impossible-date",
        "date-format",
        "too-long",
        "bad-header",
    }
    assert {b.expected for b in CORPUS} >= {
        "MSG1001",
        "MSG1002",
        "MSG1007",
        "MSG1009",
        "MSG1010",
        "MSG1011",
        "MSG1012",
        "MSG1031",
        "MSG1033",
        "MSG1035",
    }


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(CORPUS))
def test_drawn_breakages_are_refused_with_the_expected_code(breakage: Breakage) -> None:
    check(breakage)


def test_every_breakage_in_the_corpus() -> None:
    failures = []
    for breakage in CORPUS:
        try:
            check(breakage)
        except AssertionError as exc:
            failures.append(str(exc))
    assert not failures, f"{len(failures)} of {len(CORPUS)}: {failures[:5]}"


def test_copy_is_untouched() -> None:
    message = example_message(next(iter(EVENTS.values())), maximal=True)
    before = copy.deepcopy(message)
    CORPUS[0].apply()
    assert message == before
