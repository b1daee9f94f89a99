"""Every message openmhhs can build validates against Elexon's official DIP schemas, and
every message the official schemas refuse, openmhhs's parser refuses too."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import msgspec
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openmhhs.dip.build import MessageFactory, Sender, Site, fill_d0
from openmhhs.dip.catalogue import EVENTS, EventSpec
from openmhhs.dip.parse import MessageRejected, encode, parse
from openmhhs.dip.schema import R0
from openmhhs.ids import DipId, DipRole, GspGroup, MpanCore
from tests.dip_examples import all_examples, decode, example_message, valid_messages
from tests.official_spec import OfficialSpec

EXAMPLES = all_examples()
SPECS = list(EVENTS.values())
NOW = datetime(2025, 6, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize(("label", "spec", "maximal"), EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_examples_are_officially_valid_and_accepted(
    official: OfficialSpec, label: str, spec: EventSpec, maximal: bool
) -> None:
    message = example_message(spec, maximal=maximal)
    assert official.errors(spec.message_type.SCHEMA_NAME, message) == []
    parsed = parse(orjson.dumps(message), now=NOW)
    assert orjson.loads(encode(parsed.message)) == message


@pytest.mark.parametrize("spec", SPECS, ids=[f"{s.interface_id}{s.event_code}" for s in SPECS])
def test_factory_built_messages_are_officially_valid(official: OfficialSpec, spec: EventSpec) -> None:
    sender_role = sorted(spec.senders)[0]
    factory = MessageFactory(Sender(DipId("1111111111"), DipRole(sender_role)), unique_prefix="t")
    custom = decode(spec, example_message(spec, maximal=True)).custom_block  # type: ignore[attr-defined]
    site = Site(MpanCore("2000056535971"), DipId("2000000000"), GspGroup("_H"))
    common_type = next(f.type for f in msgspec.structs.fields(spec.message_type) if f.name == "common_block")
    has_r0 = any(f.name == "r0" for f in msgspec.structs.fields(common_type))
    built = factory.build(
        spec.message_type,
        custom,
        site=site,
        recipients=[DipId("9999999999")],
        now=NOW,
        event_code=spec.event_code,
        response=R0(response_code="A", response_messages=["MSG0000 - Success"]) if has_r0 else None,
    )
    as_sent = orjson.loads(encode(built))
    assert official.errors(spec.message_type.SCHEMA_NAME, as_sent) == []
    published = fill_d0(
        built,
        transaction_id="T-IF-031-1111111111-SUP-20250601-1",
        timestamp=NOW,
        publication_id="PUB-031",
        initial_correlation_id=built.common_block.s1.sender_correlation_id,  # type: ignore[attr-defined]
        secondary=[DipId("2222222222")],
    )
    assert official.errors(spec.message_type.SCHEMA_NAME, orjson.loads(encode(published))) == []


@settings(
    max_examples=150,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_arbitrary_valid_messages_agree(official: OfficialSpec, data: st.DataObject) -> None:
    spec = data.draw(st.sampled_from(SPECS))
    message = data.draw(valid_messages(spec))
    assert official.errors(spec.message_type.SCHEMA_NAME, message) == []
    parse(orjson.dumps(message), now=None)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            out += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            out += _paths(item, (*prefix, index))
    return out


def _set(doc: Any, path: tuple[Any, ...], mutate: Any) -> None:
    parent = doc
    for part in path[:-1]:
        parent = parent[part]
    mutate(parent, path[-1])


MUTATIONS = {
    "delete": lambda parent, key: parent.pop(key),
    "null": lambda parent, key: parent.__setitem__(key, None),
    "number": lambda parent, key: parent.__setitem__(key, 12345),
    "text": lambda parent, key: parent.__setitem__(key, "not-a-valid-value-" * 3),
    "empty": lambda parent, key: parent.__setitem__(key, ""),
    "object": lambda parent, key: parent.__setitem__(key, {"unexpected": True}),
    "list": lambda parent, key: parent.__setitem__(key, []),
    "bool": lambda parent, key: parent.__setitem__(key, False),
}


@settings(
    max_examples=400,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_whatever_the_official_schema_refuses_we_refuse(official: OfficialSpec, data: st.DataObject) -> None:
    spec = data.draw(st.sampled_from(SPECS))
    message = data.draw(valid_messages(spec))
    path = data.draw(st.sampled_from(_paths(message)))
    kind = data.draw(st.sampled_from(sorted(MUTATIONS)))
    mutated = copy.deepcopy(message)
    _set(mutated, path, MUTATIONS[kind])
    if kind == "delete" or not official.is_valid(spec.message_type.SCHEMA_NAME, mutated):
        if official.is_valid(spec.message_type.SCHEMA_NAME, mutated):
            return  # deleting an optional field is fine for both
        with pytest.raises(MessageRejected):
            parse(orjson.dumps(mutated), now=None)


def test_unknown_field_anywhere_closed_is_refused_by_both(official: OfficialSpec) -> None:
    for spec in SPECS:
        message = example_message(spec, maximal=True)
        message["CustomBlock"]["unexpectedBlock"] = {}
        assert not official.is_valid(spec.message_type.SCHEMA_NAME, message)
        with pytest.raises(MessageRejected):
            parse(orjson.dumps(message), now=None)


def test_msgspec_structs_round_trip_examples() -> None:
    for _, spec, maximal in EXAMPLES:
        message = example_message(spec, maximal=maximal)
        struct = decode(spec, message)
        assert msgspec.to_builtins(struct) == message
