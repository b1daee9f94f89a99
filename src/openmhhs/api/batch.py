"""The shape of a request body the DIP accepts on ``/dip-channel/{id}`` and ``/validate/…``,
before any message in it is parsed.

* The spec's ``DIPMessageArray``: a JSON array of at least one ``{"payload": message}``. A bare
  message, a single object or an item without ``payload`` is refused for the whole request
  with MSG1001 (the DIP validates the batch's shape in one operation: "either all messages are
  rejected or accepted"), naming the first item at fault.
* The spec: "DIP will not be enforcing capitalisation validation on JSON field names". Field
  names are normalised to the schema's spelling, case-insensitively, before the strict parse
  (``commonblock`` → ``CommonBlock``); no two schema names differ only by case, and values are
  never touched (the data itself is case sensitive). A body already spelt right is passed on
  byte for byte.
* JSON nested deeper than the parser allows is a schema failure (MSG1001), not a crash.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import msgspec
import orjson

from openmhhs.dip import schema
from openmhhs.dip.parse import SchemaFailure

__all__ = ["canonical_names", "checked_batch"]

PAYLOAD = "payload"


@functools.cache
def canonical_names() -> dict[str, str]:
    """Every JSON field name of the DIP schema (and ``payload``), by its lower-case form."""
    names: dict[str, str] = {PAYLOAD: PAYLOAD}
    for value in vars(schema).values():
        if isinstance(value, type) and issubclass(value, msgspec.Struct):
            for name in value.__struct_encode_fields__:
                existing = names.setdefault(name.lower(), name)
                if existing != name:  # pragma: no cover - guarded by a unit test
                    raise AssertionError(f"schema names {existing} and {name} differ only by case")
    return names


def _normalise(value: Any, names: dict[str, str]) -> tuple[Any, bool]:
    """``value`` with each object's field names spelt as the schema spells them."""
    if isinstance(value, dict):
        changed = False
        result: dict[str, Any] = {}
        for key, item in value.items():
            canonical = names.get(str(key).lower()) or str(key)
            if canonical in result or (canonical in value and canonical != key):
                canonical = key  # two spellings of one field: both stay, for the parser to refuse
            inner, inner_changed = _normalise(item, names)
            changed = changed or inner_changed or canonical != key
            result[canonical] = inner
        return result, changed
    if isinstance(value, list):
        items = [_normalise(item, names) for item in value]
        return [item for item, _ in items], any(changed for _, changed in items)
    return value, False


_KEY = re.compile(rb'"([A-Za-z0-9_]+)"\s*:')


def _spelt_right(body: bytes, names: dict[str, str]) -> bool:
    """Whether every field name in ``body`` is spelt as the schema spells it (the common case,
    found without walking the document). Every schema name is a plain word: a word in quotes
    followed by a colon is a field name or, rarely, text inside a value, which only sends the
    body the slow way; a name that is no plain word is no schema name in any case."""
    canonical = _canonical_spellings(tuple(names.values()))
    return all(key.decode("ascii") in canonical for key in set(_KEY.findall(body)))


@functools.cache
def _canonical_spellings(names: tuple[str, ...]) -> frozenset[str]:
    return frozenset(names)


def checked_batch(body: bytes) -> bytes:
    """``body`` if it is a ``DIPMessageArray`` (its field names normalised to the schema's
    case where they were not); SchemaFailure (MSG1001) otherwise."""
    try:
        decoded = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise SchemaFailure(f"not valid JSON: {exc}", path="$") from None
    except RecursionError:
        raise SchemaFailure("JSON nested too deeply", path="$") from None
    if not isinstance(decoded, list):
        raise SchemaFailure(
            'the body must be a JSON array of {"payload": message} items, not a single '
            + ("object" if isinstance(decoded, dict) else type(decoded).__name__),
            path="$",
        )
    if not decoded:
        raise SchemaFailure("the array holds no message (minItems 1)", path="$")
    names = canonical_names()
    if _spelt_right(body, names) and all(isinstance(item, dict) and PAYLOAD in item for item in decoded):
        return body
    try:
        normalised, changed = _normalise(decoded, names)
    except RecursionError:
        raise SchemaFailure("JSON nested too deeply", path="$") from None
    for index, item in enumerate(normalised):
        if not isinstance(item, dict) or PAYLOAD not in item:
            raise SchemaFailure(
                'each item must be an object {"payload": message}; a bare message is not accepted',
                path=f"$[{index}].payload",
            )
    return orjson.dumps(normalised) if changed else body
