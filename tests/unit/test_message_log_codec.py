"""The compact message log's encodings, without a database: every body and every narrow
column reads back exactly as it was written (store/message_codec.py, store/compact.py)."""

from __future__ import annotations

import inspect
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openmhhs.codes import ResponseCode
from openmhhs.dip import schema
from openmhhs.dip.build import new_transaction_id
from openmhhs.dip.catalogue import EVENTS
from openmhhs.store import message_codec
from openmhhs.store.compact import (
    EVENT_CODES,
    event_number,
    from_micros,
    interface_number,
    pack_transaction_id,
    text_key,
    to_micros,
    unpack_transaction_id,
)
from openmhhs.store.message_codec import UnknownDictionary, compress, decompress, dictionary_ids, envelope
from tests.dip_examples import example_message, valid_messages

SPECS = list(EVENTS.values())


@st.composite
def real_bodies(draw: st.DrawFn) -> bytes:
    """A schema-valid DIP message of any event, serialised compactly or indented."""
    spec = draw(st.sampled_from(SPECS))
    message = draw(valid_messages(spec))
    indent = draw(st.booleans())
    return orjson.dumps(message, option=orjson.OPT_INDENT_2 if indent else 0)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(real_bodies())
def test_every_message_body_reads_back_byte_for_byte(body: bytes) -> None:
    stored = compress(body)
    assert decompress(stored) == body
    assert stored[0] in (0, *dictionary_ids())


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=5000))
def test_any_bytes_read_back_byte_for_byte(body: bytes) -> None:
    assert decompress(compress(body)) == body


def test_a_body_names_its_dictionary_and_the_dictionary_shrinks_real_messages() -> None:
    newest = dictionary_ids()[-1]
    for spec in SPECS:
        body = orjson.dumps(example_message(spec, maximal=False))
        stored = compress(body)
        assert stored[0] == newest  # the dictionary's id, beside the frame
        assert len(stored) < len(body)
        assert decompress(compress(body, dictionary_id=dictionary_ids()[0])) == body


def test_a_body_from_an_unknown_dictionary_is_a_coded_error() -> None:
    stored = compress(orjson.dumps(example_message(SPECS[0], maximal=False)))
    unknown = max(dictionary_ids()) + 1
    with pytest.raises(UnknownDictionary) as raised:
        decompress(bytes((unknown,)) + stored[1:])
    assert raised.value.code is ResponseCode.OMH0530


def test_the_envelope_is_what_the_body_says() -> None:
    for spec in SPECS:
        message = example_message(spec, maximal=True)
        said = envelope(orjson.dumps(message))
        s1 = message["CommonBlock"]["S1"]
        assert said.reference == s1["senderUniqueReference"]
        assert said.sender_role == s1["senderRoleID"]
        assert said.correlation_id == s1.get("senderCorrelationID")


def test_every_event_code_of_the_schema_is_catalogued() -> None:
    codes = {
        code
        for _, cls in inspect.getmembers(schema, inspect.isclass)
        if isinstance(getattr(cls, "EVENT_CODES", None), tuple)
        for code in cls.EVENT_CODES
    }
    assert codes <= set(EVENT_CODES)
    assert len(set(EVENT_CODES)) == len(EVENT_CODES)
    for code in EVENT_CODES:
        assert EVENT_CODES[event_number(code) - 1] == code


def test_interface_numbers() -> None:
    assert interface_number("IF-031") == 31
    with pytest.raises(ValueError):
        interface_number("IF-31")


@given(
    st.sampled_from(SPECS),
    st.text(alphabet="0123456789abcdef", min_size=10, max_size=10)
    | st.text(alphabet="0123456789ABCDEF", min_size=10, max_size=10),
    st.sampled_from(["SUP", "SDS", "REGS", "MDR", "LDSO", "UMSDS"]),
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)),
)
def test_dip_transaction_ids_pack_small_and_read_back(
    spec: object, sender: str, role: str, at: datetime
) -> None:
    transaction = new_transaction_id(spec.interface_id, sender, role, at)  # type: ignore[attr-defined]
    packed = pack_transaction_id(transaction)
    assert unpack_transaction_id(packed) == transaction
    assert len(packed) < len(transaction) * 0.6


@given(st.text(max_size=80))
def test_any_transaction_id_reads_back(transaction: str) -> None:
    assert unpack_transaction_id(pack_transaction_id(transaction)) == transaction


@given(
    st.datetimes(
        min_value=datetime(1971, 1, 1),
        max_value=datetime(9000, 1, 1),
        timezones=st.sampled_from([UTC, timezone(timedelta(hours=1)), timezone(timedelta(hours=-5))]),
    )
)
def test_instants_read_back_to_the_microsecond(moment: datetime) -> None:
    back = from_micros(to_micros(moment))
    assert back == moment and back.tzinfo is not None
    assert back.utcoffset() == timedelta(0)


def test_text_keys_are_signed_64_bit_and_stable() -> None:
    key = text_key("S-IF-031-1111111111-SUP-20250701-x031")
    assert -(2**63) <= key < 2**63
    assert key == text_key("S-IF-031-1111111111-SUP-20250701-x031")
    assert key != text_key("S-IF-031-1111111111-SUP-20250701-x032")


def test_the_dictionary_trainer_is_deterministic() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
    try:
        import train_zstd_dict
    finally:
        sys.path.pop(0)
    bodies = [orjson.dumps(example_message(spec, maximal=m)) for spec in SPECS for m in (False, True)] * 4
    first = train_zstd_dict.train(bodies, size=4096, dictionary_id=7)
    assert first == train_zstd_dict.train(bodies, size=4096, dictionary_id=7)
    stored = message_codec.zstandard.ZstdCompressionDict(first)
    assert stored.dict_id() == 7
