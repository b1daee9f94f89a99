"""Each DIP parsing rule triggers its official code, from the DIP's and a recipient's side."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import msgspec
import orjson
import pytest

from openmhhs.codes import ResponseCode
from openmhhs.dip.catalogue import EVENTS, event_spec
from openmhhs.dip.parse import (
    MessageRejected,
    Parsed,
    Perspective,
    Rejection,
    check_produced,
    encode,
    parse,
    parse_batch,
)
from tests.dip_examples import example_message

NOW = datetime(2025, 6, 1, 12, tzinfo=UTC)
DSAPP = event_spec("IF-031", "[DSApp]")


def dsapp(mutate: Callable[[dict[str, Any]], object] | None = None) -> bytes:
    message = example_message(DSAPP, maximal=True)
    if mutate is not None:
        mutate(message)
    return orjson.dumps(message)


def s1(m: dict[str, Any]) -> dict[str, Any]:
    return m["CommonBlock"]["S1"]


def rejected(raw: bytes, perspective: Perspective = Perspective.DIP) -> MessageRejected:
    with pytest.raises(MessageRejected) as raised:
        parse(raw, now=NOW, perspective=perspective)
    return raised.value


def test_valid_message_parses_and_round_trips_byte_for_byte() -> None:
    raw = dsapp()
    parsed = parse(raw, now=NOW)
    assert parsed.spec is DSAPP
    assert encode(parsed.message) == raw


def test_payload_wrapper_accepted() -> None:
    raw = b'{"payload": ' + dsapp() + b"}"
    assert parse(raw, now=NOW).raw == dsapp()


@pytest.mark.parametrize(
    ("mutate", "dip", "recipient", "path"),
    [
        (
            lambda m: m["CommonBlock"]["S0"].update(interfaceID="IF-999"),
            "MSG1002",
            "RCP1002",
            "$.CommonBlock.S0.interfaceID",
        ),
        (
            lambda m: m["CommonBlock"]["S0"].pop("interfaceID"),
            "MSG1002",
            "RCP1002",
            "$.CommonBlock.S0.interfaceID",
        ),
        (
            lambda m: m["CommonBlock"]["S0"].update(eventCode="[DSAppActive]"),
            "MSG1001",
            "RCP1003",
            "$.CommonBlock.S0.eventCode",
        ),
        (
            lambda m: m["CommonBlock"]["S0"].update(schemaVersion="010"),
            "MSG1001",
            "RCP1005",
            "$.CommonBlock.S0.schemaVersion",
        ),
        (
            lambda m: s1(m).update(environmentTag="LIVE"),
            "MSG1001",
            "RCP1004",
            "$.CommonBlock.S1.environmentTag",
        ),
        (
            lambda m: s1(m).update(senderUniqueReference="REF-1"),
            "MSG1001",
            "RCP1006",
            "$.CommonBlock.S1.senderUniqueReference",
        ),
        (
            lambda m: s1(m).pop("senderUniqueReference"),
            "MSG1001",
            "RCP1006",
            "$.CommonBlock.S1.senderUniqueReference",
        ),
        (
            lambda m: s1(m).update(senderTimestamp="2025-06-01T10:00:00Z"),
            "MSG1007",
            "RCP1007",
            "$.CommonBlock.S1.senderTimestamp",
        ),
        (
            lambda m: s1(m).update(senderTimestamp="2025-13-01T10:00:00+00:00"),
            "MSG1007",
            "RCP1007",
            "$.CommonBlock.S1.senderTimestamp",
        ),
        (
            lambda m: s1(m).update(senderTimestamp="2025-06-02T10:00:00+00:00"),
            "MSG1007",
            "RCP1008",
            "$.CommonBlock.S1.senderTimestamp",
        ),
        (
            lambda m: s1(m).update(senderDIPID="12345"),
            "MSG1009",
            "RCP1009",
            "$.CommonBlock.S1.senderDIPID",
        ),
        (
            lambda m: s1(m).update(senderRoleID="SUPPLY"),
            "MSG1010",
            "RCP1010",
            "$.CommonBlock.S1.senderRoleID",
        ),
        (
            lambda m: s1(m).update(DIPConnectionProviderID="1"),
            "MSG1011",
            "RCP1009",
            "$.CommonBlock.S1.DIPConnectionProviderID",
        ),
        (
            lambda m: s1(m).update(senderCorrelationID=""),
            "MSG1012",
            "RCP1046",
            "$.CommonBlock.S1.senderCorrelationID",
        ),
        (
            lambda m: m["CommonBlock"]["A0"].update(primaryRecipients=["123"]),
            "MSG1031",
            "RCP1041",
            "$.CommonBlock.A0.primaryRecipients[0]",
        ),
        (
            lambda m: m["CommonBlock"]["A0"].update(secondaryRecipients=[1]),
            "MSG1033",
            "RCP1041",
            "$.CommonBlock.A0.secondaryRecipients[0]",
        ),
        (
            lambda m: m["CommonBlock"]["A0"].update(always="x"),
            "MSG1035",
            "RCP1041",
            "$.CommonBlock.A0.always",
        ),
        (
            lambda m: m["CustomBlock"]["B071"].update(extra=1),
            "MSG1001",
            "RCP1001",
            "$.CustomBlock.B071.extra",
        ),
        (lambda m: m["CustomBlock"].pop("B071"), "MSG1001", "RCP1001", "$.CustomBlock.B071"),
        (
            lambda m: m["CustomBlock"]["B071"].update(appointmentScenario="XYZ"),
            "MSG1001",
            "RCP1001",
            "$.CustomBlock.B071.appointmentScenario",
        ),
        (
            lambda m: m["CustomBlock"]["B071"].update(
                proposedDataServiceDIPEffectiveFromDate="2025-02-30T00:00:00+00:00"
            ),
            "MSG1001",
            "RCP1001",
            "$.CustomBlock.B071.proposedDataServiceDIPEffectiveFromDate",
        ),
        (
            lambda m: m["CommonBlock"]["M0"].update(MPANCore="200005653597١"),
            "MSG1001",
            "RCP1001",
            "$.CommonBlock.M0.MPANCore",
        ),
        (lambda m: m.pop("CommonBlock"), "MSG1001", "RCP1001", "$.CommonBlock"),
        (lambda m: m.update(Extra=1), "MSG1001", "RCP1001", "$.Extra"),
    ],
)
def test_rule_codes(mutate: Callable[[dict[str, Any]], object], dip: str, recipient: str, path: str) -> None:
    raw = dsapp(mutate)
    as_dip = rejected(raw)
    assert (as_dip.code.value, as_dip.path) == (dip, path), as_dip.detail
    assert rejected(raw, Perspective.RECIPIENT).code.value == recipient


def test_reference_must_name_this_interface() -> None:
    raw = dsapp(lambda m: s1(m).update(senderUniqueReference="S-IF-033-1111111111-SUP-20250601-a1"))
    error = rejected(raw)
    assert error.code is ResponseCode.MSG1001 and "IF-031" in error.detail
    assert rejected(raw, Perspective.RECIPIENT).code is ResponseCode.RCP1006


def test_reference_must_name_the_sender() -> None:
    error = rejected(
        dsapp(lambda m: s1(m).update(senderUniqueReference="S-IF-031-2222222222-SUP-20250601-a1"))
    )
    assert error.code is ResponseCode.MSG1001


def test_reference_date_must_be_real() -> None:
    error = rejected(
        dsapp(lambda m: s1(m).update(senderUniqueReference="S-IF-031-1111111111-SUP-20251332-a1"))
    )
    assert error.code is ResponseCode.MSG1001


def test_short_form_reference_without_if_prefix_is_official() -> None:
    parse(
        dsapp(lambda m: s1(m).update(senderUniqueReference="S-031-1111111111-SUP-20250601-a1")),
        now=NOW,
    )


def test_trailing_newline_in_a_pattern_field_is_refused() -> None:
    # Python's "$" would match before a final newline; the ECMA pattern of the schema does not.
    error = rejected(
        dsapp(lambda m: s1(m).update(senderUniqueReference="S-IF-031-1111111111-SUP-20250601-a1\n"))
    )
    assert error.code is ResponseCode.MSG1001


def test_not_json_is_a_schema_failure() -> None:
    assert rejected(b"{not json").code is ResponseCode.MSG1001
    assert rejected(b"[]").code is ResponseCode.MSG1001


def test_timestamp_check_skipped_without_a_clock() -> None:
    parse(dsapp(lambda m: s1(m).update(senderTimestamp="2099-06-02T10:00:00+00:00")), now=None)


def test_batch_keeps_order_and_isolates_failures() -> None:
    good = orjson.loads(dsapp())
    bad = copy.deepcopy(good)
    bad["CommonBlock"]["S0"]["eventCode"] = "[Nope]"
    results = parse_batch(orjson.dumps([good, {"payload": bad}, good]), now=NOW)
    assert [type(r) for r in results] == [Parsed, Rejection, Parsed]
    rejection = results[1]
    assert isinstance(rejection, Rejection) and rejection.code is ResponseCode.MSG1001
    assert rejection.sender_unique_reference == good["CommonBlock"]["S1"]["senderUniqueReference"]


def test_every_event_has_a_validation_endpoint_path() -> None:
    assert event_spec("IF-034", "[SDS-MDRUpdate]").validate_path == "/validate/IF-034/SDS-MDRUpdate"
    assert len(EVENTS) == 36  # IF-001 [InitialRegistration] and [ChangeOfSupplier] added


# --- nesting depth (issue 12, finding 4) --------------------------------------------------


@pytest.mark.parametrize("depth", [1_000, 100_000])
def test_deep_json_is_refused_with_msg1001_not_a_recursion_error(depth: int) -> None:
    deep = b"[" * depth + b"]" * depth
    with pytest.raises(MessageRejected) as refused:
        parse_batch(deep, now=NOW)
    assert refused.value.code is ResponseCode.MSG1001
    assert "nested more than 64" in refused.value.detail


def test_deep_payload_inside_a_message_is_refused_per_perspective() -> None:
    inner = b'{"CommonBlock":' + b"[" * 5_000 + b"]" * 5_000 + b"}"
    for perspective, code in ((Perspective.DIP, "MSG1001"), (Perspective.RECIPIENT, "RCP1001")):
        with pytest.raises(MessageRejected) as refused:
            parse(b'{"payload":' + inner + b"}", now=NOW, perspective=perspective)
        assert refused.value.code.value == code


def test_unbalanced_deep_brackets_are_refused_too() -> None:
    with pytest.raises(MessageRejected) as refused:
        parse_batch(b"[" * 10_000, now=NOW)
    assert refused.value.code is ResponseCode.MSG1001


def test_nesting_up_to_the_limit_and_brackets_in_strings_are_fine() -> None:
    message = orjson.loads(dsapp())
    message["CommonBlock"]["S1"]["subText"] = "[[[[{{{{" * 40  # brackets inside a string
    (result,) = parse_batch(orjson.dumps([message]), now=NOW)
    assert isinstance(result, Parsed)
    shallow = b"[" + b'{"a":' * 62 + b"1" + b"}" * 62 + b"]"
    (rejected,) = parse_batch(shallow, now=NOW)
    assert isinstance(rejected, Rejection) and rejected.error.rule == "dip.message.schema"


def test_a_nul_character_in_any_string_is_refused_msg1001() -> None:
    message = orjson.loads(dsapp())
    message["CommonBlock"]["S1"]["senderCorrelationID"] = "C-\x00"
    with pytest.raises(MessageRejected) as refused:
        parse(orjson.dumps(message), now=NOW)
    assert refused.value.code is ResponseCode.MSG1001 and "U+0000" in refused.value.detail
    message["CommonBlock"]["S1"]["senderCorrelationID"] = "C-\\u0000"  # a backslash, then "u0000"
    assert isinstance(parse(orjson.dumps(message), now=NOW), Parsed)


def test_nesting_hidden_behind_brackets_in_strings_is_still_refused() -> None:
    hidden = b'{"CommonBlock":' + b'["]",' * 50_000 + b"1" + b"]" * 50_000 + b"}"
    with pytest.raises(MessageRejected) as refused:
        parse(hidden, now=NOW)
    assert refused.value.code is ResponseCode.MSG1001


@pytest.mark.parametrize("key", sorted(EVENTS), ids=lambda key: f"{key[0]}{key[1]}")
def test_a_produced_message_is_checked_as_parse_checks_it(key: tuple[str, str]) -> None:
    spec = EVENTS[key]
    for maximal in (False, True):
        built = parse(orjson.dumps(example_message(spec, maximal=maximal)), now=None).message
        raw = encode(built)
        produced, received = check_produced(built, raw), parse(raw, now=None)
        assert (produced.message, produced.spec, produced.raw) == (received.message, received.spec, raw)


def _with_mpan(message: Any, core: str) -> Any:
    common = message.common_block
    m0 = msgspec.structs.replace(common.m0, mpan_core=core)
    return msgspec.structs.replace(message, common_block=msgspec.structs.replace(common, m0=m0))


@pytest.mark.parametrize("core", ["12345", "200005653597١", "2000056535971\n"])
def test_a_produced_message_the_schema_refuses_is_refused_as_parse_refuses_it(core: str) -> None:
    """Structs are not checked against the schema's lengths and patterns when they are built:
    what a participant built wrongly is refused before it is sent, with parse's code and path."""
    built = _with_mpan(parse(dsapp(), now=None).message, core)
    raw = encode(built)
    with pytest.raises(MessageRejected) as produced:
        check_produced(built, raw)
    assert (produced.value.code, produced.value.path) == (rejected(raw).code, rejected(raw).path)
    assert produced.value.path == "$.CommonBlock.M0.MPANCore"
