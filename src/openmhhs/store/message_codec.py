"""Message bodies as the message log stores them: zstd with a dictionary trained on the
project's own DIP messages (tools/train_zstd_dict.py), shipped in ``openmhhs/data``.

A stored body is one byte naming the dictionary, then a zstd frame without magic number or
checksum (the database pages have their own); dictionary 0 means the body follows as it came
(kept when compressing would not make it smaller). The newest shipped dictionary compresses
new bodies; every shipped one stays readable, so a new dictionary never breaks old rows.
:class:`CompressedBody` does this in the column type, so every reader of ``message.body``
gets the bytes as received, byte for byte.
"""

from __future__ import annotations

import re
import threading
from functools import cache
from importlib.resources import files
from typing import Any

import msgspec
import sqlalchemy as sa
import zstandard
from sqlalchemy.engine import Dialect

from openmhhs.codes import CodedError, ResponseCode

__all__ = [
    "LEVEL",
    "CompressedBody",
    "Envelope",
    "UnknownDictionary",
    "compress",
    "decompress",
    "dictionary_ids",
    "envelope",
]

LEVEL = 3
"""zstd level, by measurement (docs/scaling.md "message log"): with the dictionary, level 3 takes
~5 us a message for ~100 bytes; 6-9 save ~20 bytes at 4x the time, 19 ~25 bytes at 200x."""

_NAME = re.compile(r"message_zstd_(\d+)\.dict\Z")
_RAW = 0


class UnknownDictionary(CodedError):
    code = ResponseCode.OMH0530
    rule = "store.message_log.dictionary_known"


@cache
def _shipped() -> dict[int, bytes]:
    found: dict[int, bytes] = {}
    for entry in files("openmhhs.data").iterdir():
        matched = _NAME.match(entry.name)
        if matched is not None:
            found[int(matched.group(1))] = entry.read_bytes()
    return found


def dictionary_ids() -> list[int]:
    """The ids of the shipped dictionaries, oldest first."""
    return sorted(_shipped())


@cache
def _dictionary(dictionary_id: int) -> zstandard.ZstdCompressionDict:
    data = _shipped().get(dictionary_id)
    if data is None:
        raise UnknownDictionary(
            f"a logged message body was compressed with dictionary {dictionary_id}, which this "
            f"version of openmhhs does not ship (it has {dictionary_ids()})"
        )
    dictionary = zstandard.ZstdCompressionDict(data)
    dictionary.precompute_compress(level=LEVEL)
    return dictionary


_local = threading.local()  # zstd (de)compressors are not safe to share between threads


def _compressor(dictionary_id: int) -> zstandard.ZstdCompressor:
    key = f"c{dictionary_id}"
    made: zstandard.ZstdCompressor | None = getattr(_local, key, None)
    if made is None:
        params = zstandard.ZstdCompressionParameters.from_level(
            LEVEL,
            format=zstandard.FORMAT_ZSTD1_MAGICLESS,
            write_checksum=False,
            write_dict_id=False,
            write_content_size=True,
        )
        made = zstandard.ZstdCompressor(dict_data=_dictionary(dictionary_id), compression_params=params)
        setattr(_local, key, made)
    return made


def _decompressor(dictionary_id: int) -> zstandard.ZstdDecompressor:
    key = f"d{dictionary_id}"
    made: zstandard.ZstdDecompressor | None = getattr(_local, key, None)
    if made is None:
        made = zstandard.ZstdDecompressor(
            dict_data=_dictionary(dictionary_id), format=zstandard.FORMAT_ZSTD1_MAGICLESS
        )
        setattr(_local, key, made)
    return made


def compress(body: bytes, *, dictionary_id: int | None = None) -> bytes:
    """``body`` as stored: its dictionary's id, then the frame (the newest dictionary unless
    one is named; raw when that is no smaller)."""
    shipped = dictionary_ids()
    if dictionary_id is None and not shipped:  # tools/train_zstd_dict.py, before the first dictionary
        return bytes((_RAW,)) + body
    chosen = shipped[-1] if dictionary_id is None else dictionary_id
    frame = _compressor(chosen).compress(body)
    if len(frame) >= len(body):
        return bytes((_RAW,)) + body
    return bytes((chosen,)) + frame


def decompress(stored: bytes) -> bytes:
    """The body as it was received."""
    dictionary_id = stored[0]
    if dictionary_id == _RAW:
        return stored[1:]
    return _decompressor(dictionary_id).decompress(stored[1:])


class CompressedBody(sa.types.TypeDecorator[bytes]):
    """A message body: bound as received, stored compressed, read back as received."""

    impl = sa.LargeBinary
    cache_ok = True

    def process_bind_param(self, value: bytes | None, dialect: Dialect) -> bytes | None:
        return None if value is None else compress(bytes(value))

    def process_result_value(self, value: Any, dialect: Dialect) -> bytes | None:
        return None if value is None else decompress(bytes(value))


# -- what a body says about itself -------------------------------------------------------------------
class _S1(msgspec.Struct):
    sender_unique_reference: str = msgspec.field(name="senderUniqueReference")
    sender_role_id: str = msgspec.field(name="senderRoleID")
    sender_correlation_id: str | None = msgspec.field(default=None, name="senderCorrelationID")


class _Common(msgspec.Struct):
    S1: _S1


class _Body(msgspec.Struct):
    CommonBlock: _Common


class Envelope(msgspec.Struct, frozen=True):
    """The fields of a logged body that the log's index rows keep only as keys."""

    reference: str
    sender_role: str
    correlation_id: str | None


_ENVELOPE = msgspec.json.Decoder(_Body)


def envelope(body: bytes) -> Envelope:
    """The sender unique reference, sender role and correlation id a DIP message body carries."""
    s1 = _ENVELOPE.decode(body).CommonBlock.S1
    return Envelope(s1.sender_unique_reference, s1.sender_role_id, s1.sender_correlation_id)
