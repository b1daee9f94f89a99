"""The HTTP contract's rules, without a database or a server: the DIPMessageArray shape and
field-name case (api.batch), who a caller is (api.identity), URL words in any case
(api.guard), and the replay/requeue request (api.replay)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from openmhhs.api.batch import canonical_names, checked_batch
from openmhhs.api.guard import _canonical_path
from openmhhs.api.identity import (
    OPERATOR,
    ApiKeyMissing,
    ApiKeyUnknown,
    IdentitiesDisagree,
    identify,
)
from openmhhs.api.replay import message_request
from openmhhs.codes import ResponseCode
from openmhhs.dip.parse import SchemaFailure, parse_batch

MESSAGE = {"CommonBlock": {"S0": {"interfaceID": "IF-031"}}, "CustomBlock": {"B071": {"x": "Case Kept"}}}


def test_a_body_spelt_as_the_schema_is_passed_on_byte_for_byte() -> None:
    body = b'[ {"payload": {"CommonBlock": {"S0": {}}}} ]'
    assert checked_batch(body) is body


def test_field_names_in_any_case_become_the_schemas_values_untouched() -> None:
    lowered = orjson.dumps(
        [
            {
                "PAYLOAD": {
                    "commonblock": {"s0": {"INTERFACEID": "IF-031"}},
                    "customblock": {"b071": {"x": "Case Kept"}},
                }
            }
        ]
    )
    assert orjson.loads(checked_batch(lowered)) == [{"payload": MESSAGE}]


def test_two_spellings_of_one_field_both_stay_for_the_parser_to_refuse() -> None:
    body = orjson.dumps([{"payload": {"CommonBlock": {}, "commonblock": {}}}])
    assert set(orjson.loads(checked_batch(body))[0]["payload"]) == {"CommonBlock", "commonblock"}


def test_no_two_schema_names_differ_only_by_case() -> None:
    names = canonical_names()
    assert len(names) == len({v.lower() for v in names.values()}) and names["commonblock"] == "CommonBlock"


@pytest.mark.parametrize(
    ("body", "path"),
    [
        (orjson.dumps(MESSAGE), "$"),
        (orjson.dumps({"payload": MESSAGE}), "$"),
        (b"[]", "$"),
        (orjson.dumps([MESSAGE]), "$[0].payload"),
        (orjson.dumps([{"payload": MESSAGE}, 7]), "$[1].payload"),
        (b"[{not json", "$"),
        (b"[" * 3000 + b"]" * 3000, "$"),
    ],
    ids=["bare", "single-object", "empty", "no-payload", "not-an-object", "not-json", "too-deep"],
)
def test_anything_but_an_array_of_payload_items_is_msg1001(body: bytes, path: str) -> None:
    with pytest.raises(SchemaFailure) as refused:
        checked_batch(body)
    assert refused.value.code is ResponseCode.MSG1001 and refused.value.path == path


def test_the_parser_itself_still_reads_bare_messages_for_the_command_line() -> None:
    # the CLI's validate and submit read files of bare messages; only the hub's HTTP contract refuses them
    assert len(parse_batch(orjson.dumps([MESSAGE]), now=None)) == 1


KEYS = {"key-aurora": "1111111111", "key-beacon": "2222222222"}


@pytest.mark.parametrize(
    ("api_key", "peer", "expected"),
    [
        (None, None, ApiKeyMissing),
        ("", "1111111111", ApiKeyMissing),
        ("nope", None, ApiKeyUnknown),
        ("key-beacon", "1111111111", IdentitiesDisagree),
        ("operator-key", "1111111111", IdentitiesDisagree),
    ],
)
def test_a_caller_is_refused_with_the_code_of_what_is_wrong(
    api_key: str | None, peer: str | None, expected: type[Exception]
) -> None:
    with pytest.raises(expected):
        identify(api_key=api_key, keys=KEYS, operator_key="operator-key", peer=peer)


def test_a_caller_is_its_api_keys_participant_bound_to_its_certificate() -> None:
    caller = identify(api_key="key-aurora", keys=KEYS, operator_key="operator-key", peer="1111111111")
    assert caller.dip_id == "1111111111" and caller.may_act_for("1111111111")
    assert not caller.may_act_for("2222222222") and not caller.operator
    plain = identify(api_key="key-beacon", keys=KEYS, operator_key=None, peer=None)  # loopback, no TLS
    assert plain.dip_id == "2222222222"
    operator = identify(api_key="operator-key", keys=KEYS, operator_key="operator-key", peer="hub")
    assert operator.dip_id == OPERATOR and operator.operator and not operator.may_act_for("1111111111")
    with pytest.raises(ApiKeyUnknown):  # no operator key configured: none matches
        identify(api_key="operator-key", keys=KEYS, operator_key=None, peer=None)


@pytest.mark.parametrize(
    ("path", "canonical"),
    [
        ("/Validate/if-031/dsapp", "/validate/if-031/dsapp"),
        ("/DIP-CHANNEL/IF-031/PubConfig/1111111111", "/dip-channel/IF-031/pubconfig/1111111111"),
        ("/StatusMessage/Config/1111111111", "/statusmessage/config/1111111111"),
        ("/api/Timeline/1234", "/api/Timeline/1234"),  # not a DIP path: left alone
    ],
)
def test_the_dip_path_words_are_matched_in_any_case(path: str, canonical: str) -> None:
    assert _canonical_path(path) == canonical


def _request(**fields: Any) -> bytes:
    base = {"datetimeFrom": None, "datetimeTo": None, "eventCode": None, "MPAN": None, "version": None}
    return orjson.dumps(base | fields)


def test_a_message_request_in_any_case_with_a_bare_event_code() -> None:
    request = message_request(
        orjson.dumps(
            {
                "DATETIMEFROM": "2025-07-01T00:00:00+01:00",
                "datetimeto": None,
                "eventcode": "DSApp",
                "mpan": "1234567890123",
                "Version": "011",
            }
        )
    )
    assert request.event_code == "[DSApp]" and request.mpan == "1234567890123"
    assert request.after is not None and request.after.isoformat() == "2025-07-01T00:00:00+01:00"


@pytest.mark.parametrize(
    "body",
    [
        b"[]",
        b"{}",
        _request(version="010"),
        _request(MPAN="12345"),
        _request(datetimeFrom="2025-07-01"),
        _request(datetimeFrom="2025-02-30T00:00:00+00:00"),
        _request(transactionIDs=[]),
        _request(unknown=1),
    ],
    ids=["array", "empty", "version", "mpan", "date-only", "no-such-day", "no-ids", "unknown-field"],
)
def test_a_bad_message_request_is_msg1001(body: bytes) -> None:
    with pytest.raises(SchemaFailure):
        message_request(body)
