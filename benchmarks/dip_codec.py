"""Benchmark: parse + validate + re-serialise DIP messages (IF-033 [DSAppSPRequest], every
optional block present), msgspec (what openmhhs uses) beside pydantic v2 models generated
from the same types, measured in one run.

    python benchmarks/dip_codec.py [--seconds 3] [--out bench-results/dip_codec.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec.inspect as mi
import orjson
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, create_model

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.dip_examples import example_message

from openmhhs.dip.catalogue import event_spec
from openmhhs.dip.parse import encode, parse

_models: dict[type, type[BaseModel]] = {}


def pydantic_type(t: mi.Type) -> Any:
    if isinstance(t, mi.StructType):
        return pydantic_model(t)
    if isinstance(t, mi.UnionType):
        options = tuple(pydantic_type(o) for o in t.types)
        union: Any = options[0]
        for option in options[1:]:
            union = union | option
        return union
    if isinstance(t, mi.NoneType):
        return type(None)
    if isinstance(t, mi.ListType):
        return Annotated[
            list[pydantic_type(t.item_type)],
            Field(min_length=t.min_length, max_length=t.max_length),
        ]
    if isinstance(t, mi.LiteralType):
        return Literal[t.values]  # type: ignore[valid-type]
    if isinstance(t, mi.StrType):
        pattern = None if t.pattern is None else t.pattern.replace("\\Z", "$")  # Rust regex: $ is end
        return Annotated[
            str,
            StringConstraints(min_length=t.min_length, max_length=t.max_length, pattern=pattern),
        ]
    if isinstance(t, mi.IntType):
        return Annotated[int, Field(ge=t.ge, le=t.le)]
    if isinstance(t, mi.BoolType):
        return bool
    raise TypeError(t)


def pydantic_model(t: mi.StructType) -> type[BaseModel]:
    if t.cls in _models:
        return _models[t.cls]
    fields: dict[str, Any] = {}
    for f in t.fields:
        annotation = pydantic_type(f.type)
        fields[f.name] = (
            (annotation, Field(alias=f.encode_name))
            if f.required
            else (annotation | None, Field(default=None, alias=f.encode_name))
        )
    config = ConfigDict(extra="forbid" if t.forbid_unknown_fields else "allow", frozen=True)
    model = create_model(t.cls.__name__, __config__=config, **fields)
    _models[t.cls] = model
    return model


def rate(step: Any, seconds: float) -> float:
    count, started = 0, time.perf_counter()
    while True:
        for _ in range(500):
            step()
        count += 500
        elapsed = time.perf_counter() - started
        if elapsed >= seconds:
            return count / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--out", type=Path, default=Path("bench-results/dip_codec.json"))
    args = parser.parse_args()

    spec = event_spec("IF-033", "[DSAppSPRequest]")
    model = pydantic_model(mi.type_info(spec.message_type))  # type: ignore[arg-type]
    result: dict[str, object] = {"message": "IF-033 [DSAppSPRequest]"}
    for label, maximal in (("required_blocks", False), ("every_block", True)):
        raw = orjson.dumps(example_message(spec, maximal=maximal))
        assert encode(parse(raw, now=None).message) == raw
        dumped = model.model_validate_json(raw).model_dump_json(by_alias=True, exclude_unset=True)
        assert orjson.loads(dumped) == orjson.loads(raw)
        ours = rate(lambda raw=raw: encode(parse(raw, now=None).message), args.seconds)
        theirs = rate(
            lambda raw=raw: model.model_validate_json(raw).model_dump_json(by_alias=True, exclude_unset=True),
            args.seconds,
        )
        floor = rate(lambda raw=raw: orjson.dumps(orjson.loads(raw)), args.seconds)
        result[label] = {
            "bytes": len(raw),
            "openmhhs_msgspec_per_s": round(ours),
            "pydantic_v2_per_s": round(theirs),
            "orjson_untyped_floor_per_s": round(floor),
            "msgspec_over_pydantic": round(ours / theirs, 2),
        }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
