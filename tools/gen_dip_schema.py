"""Generate ``src/openmhhs/dip/schema.py``: msgspec structs for the DIP interfaces openmhhs
implements, derived from Elexon's OpenAPI YAML (run through ``tools/gen_dip.py``).

Each message variant (e.g. ``IF-034-SDS-MDRUpdate``) becomes a frozen struct with exactly
the schema's fields, required-ness, nullability, lengths, patterns and enumerations;
``additionalProperties: false`` becomes ``forbid_unknown_fields``. Blocks defined once in
``RealCommonBlocks`` (``S1``, ``B071``…) become one struct each, reused. Patterns are
rewritten from ECMA to Python semantics (``\\d`` is ASCII only, ``$`` is end of string).
Date-time strings (25 characters) are also checked to be real date-times.
"""

from __future__ import annotations

import functools
import keyword
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

PREFIX = "https://raw.githubusercontent.com/elexon-data/dip-api-documentation/main/"
INTERFACES_FILE = "Interfaces-EventCodes-unresolved.yaml"
BLOCKS_FILE = "RealCommonBlocks-unresolved.yaml"

# Supplier registration (IF-001), the interfaces of the appointment and MDR flows, and
# settlement data (IF-021).
INTERFACES = (
    "IF-001",
    "IF-021",
    "IF-031",
    "IF-032",
    "IF-033",
    "IF-034",
    "IF-035",
    "IF-036",
    "IF-037",
    "IF-061",
    "IF-062",
    "IF-063",
    "IF-064",
    "IF-065",
)

ACRONYMS = sorted(
    [
        "DIP",
        "ID",
        "MDR",
        "MPID",
        "MPAN",
        "SDS",
        "GSP",
        "CSS",
        "DCC",
        "DUOS",
        "SMSO",
        "SSC",
        "IHD",
        "ESME",
        "GUID",
        "MQID",
        "SSD",
        "UTC",
        "MTD",
        "LDSO",
        "SP",
        "CDC",
        "MS",
        "DS",
        "URL",
        "MAP",
        "TOU",
        "IF",
        "MS",
        "UMSO",
        "ECS",
        "EES",
        "LLFC",
        "SMETS",
        "CH",
        "MPRN",
    ],
    key=len,
    reverse=True,
)

DATETIME_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}[+-][0-9]{2}:[0-9]{2}\Z"

# Readable names for the constrained strings that recur throughout the schema.
ALIASES = {
    "Annotated[str, Meta(min_length=25, max_length=25)]": (
        "DateTime25",
        "ISO 8601 date-time with offset, 25 characters (DT-003); the form and the date itself "
        "are checked by the struct's __post_init__",
    ),
    "Annotated[str, Meta(min_length=10, max_length=10)]": (
        "DipIdText",
        "DIP participant ID (DT-006)",
    ),
    "Annotated[str, Meta(min_length=4, max_length=4, pattern='^[A-Z]{4}\\\\Z')]": (
        "MpidText",
        "DTN MPID, four capitals (DT-027)",
    ),
    "Annotated[str, Meta(min_length=13, max_length=13, pattern='^[0-9]{13}?\\\\Z')]": (
        "MpanText",
        "MPAN core, 13 digits (the schema does not check the check digit)",
    ),
    "Annotated[str, Meta(pattern='^-?[0-9]{1,9}\\\\.[0-9]{3}\\\\Z')]": (
        "Decimal93",
        "kWh with three decimals (DT-016)",
    ),
}


def snake(name: str) -> str:
    """``supplierNominatedMDRDIPID`` -> ``supplier_nominated_mdr_dip_id``; ``B905List`` ->
    ``b905_list``."""
    block = re.fullmatch(r"([A-Z][0-9]+)(List)?", name)
    if block:
        return block.group(1).lower() + ("_list" if block.group(2) else "")
    words: list[str] = []
    for token in re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+", name):
        if token.isupper() and len(token) > 1:
            rest = token
            while rest:
                for acronym in ACRONYMS:
                    if rest.startswith(acronym):
                        words.append(acronym.lower())
                        rest = rest[len(acronym) :]
                        break
                else:
                    words.append(rest.lower())
                    rest = ""
        else:
            words.append(token.lower())
    result = "_".join(words)
    if keyword.iskeyword(result) or result in {"type", "id"}:
        result += "_"
    return result


def camel(name: str) -> str:
    parts = re.split(r"[^A-Za-z0-9]+", name)
    return "".join(p[:1].upper() + p[1:] for p in parts if p)


def python_pattern(pattern: str) -> str:
    pattern = pattern.replace(r"\d", "[0-9]")
    if pattern.endswith("$") and not pattern.endswith(r"\$"):
        pattern = pattern[:-1] + r"\Z"
    return pattern


class Spec:
    def __init__(self, root: Path) -> None:
        self.root = root

    @functools.cache  # noqa: B019 - one Spec per generator run
    def load(self, name: str) -> Any:
        return yaml.safe_load((self.root / name).read_text(encoding="utf-8"))

    def target(self, ref: str, current: str) -> tuple[str, str, Any]:
        file, _, pointer = ref.partition("#")
        file = file.replace(PREFIX, "") or current
        node = self.load(file)
        for part in pointer.strip("/").split("/"):
            node = node[part]
        return file, pointer.rsplit("/", 1)[-1], node

    def leaf(self, node: Any, current: str) -> Any:
        """Follow $refs to a scalar schema, merging sibling keys (e.g. ``nullable``)."""
        while isinstance(node, dict) and "$ref" in node:
            extra = {k: v for k, v in node.items() if k != "$ref"}
            current, _, target = self.target(node["$ref"], current)
            node = {**target, **extra}
        return node, current


@dataclass
class FieldDef:
    json_name: str
    py_name: str
    annotation: str
    required: bool
    is_datetime: bool = False


@dataclass
class StructDef:
    name: str
    fields: list[FieldDef]
    closed: bool
    doc: str = ""

    @property
    def datetime_fields(self) -> list[FieldDef]:
        return [f for f in self.fields if f.is_datetime]


@dataclass
class Generator:
    spec: Spec
    structs: dict[str, StructDef] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    signatures: dict[str, str] = field(default_factory=dict)

    # -- scalar types -------------------------------------------------------------------
    def scalar(self, schema: dict[str, Any]) -> tuple[str, bool]:
        kind = schema.get("type")
        nullable = bool(schema.get("nullable"))
        is_datetime = False
        if "enum" in schema:
            values = [v for v in schema["enum"] if v is not None]
            if kind not in ("string", None):
                raise ValueError(f"non-string enum {schema}")
            annotation = "Literal[" + ", ".join(repr(str(v)) for v in values) + "]"
            if None in schema["enum"]:
                nullable = True
        elif kind == "string":
            meta: list[str] = []
            lo, hi = schema.get("minLength"), schema.get("maxLength")
            pattern = schema.get("pattern")
            if lo == 25 and hi == 25 and pattern is None:
                # Checked in __post_init__ (same rule as DATETIME_PATTERN, a tenth of the cost).
                is_datetime = True
            if lo:
                meta.append(f"min_length={lo}")
            if hi is not None:
                meta.append(f"max_length={hi}")
            if pattern:
                meta.append(f"pattern={python_pattern(pattern)!r}")
            if schema.get("format") not in (None, "byte", "date-time", "date"):
                raise ValueError(f"unhandled string format {schema['format']}")
            annotation = f"Annotated[str, Meta({', '.join(meta)})]" if meta else "str"
        elif kind == "integer":
            meta = []
            if "minimum" in schema:
                meta.append(f"ge={schema['minimum']}")
            if "maximum" in schema:
                meta.append(f"le={schema['maximum']}")
            annotation = f"Annotated[int, Meta({', '.join(meta)})]" if meta else "int"
        elif kind == "boolean":
            annotation = "bool"
        elif kind == "number":
            annotation = "float"
        else:
            raise ValueError(f"unhandled scalar {schema}")
        if nullable:
            annotation += " | None"
        return annotation, is_datetime

    # -- objects ------------------------------------------------------------------------
    def object_struct(self, name: str, schema: dict[str, Any], current: str, doc: str = "") -> str:
        if name in self.structs:
            return name
        required = set(schema.get("required", []))
        fields: list[FieldDef] = []
        for json_name, prop in (schema.get("properties") or {}).items():
            annotation, is_dt = self.annotation(name, json_name, prop, current)
            is_required = json_name in required
            fields.append(FieldDef(json_name, snake(json_name), annotation, is_required, is_datetime=is_dt))
        seen: set[str] = set()
        for f in fields:
            if f.py_name in seen:
                raise ValueError(f"{name}: two fields map to {f.py_name}")
            seen.add(f.py_name)
        unknown_required = required - {f.json_name for f in fields}
        if unknown_required:
            raise ValueError(f"{name}: required but undefined {unknown_required}")
        closed = schema.get("additionalProperties", True) is False
        struct = StructDef(name, fields, closed, doc or schema.get("description", ""))
        self.structs[name] = struct
        self.order.append(name)
        return name

    def annotation(self, parent: str, json_name: str, prop: Any, current: str) -> tuple[str, bool]:
        if "$ref" in prop:
            file, ref_name, target = self.spec.target(prop["$ref"], current)
            if file == BLOCKS_FILE and (target.get("type") == "object" or "properties" in target):
                return self.object_struct(ref_name.replace("-", "_"), target, file), False
            prop, current = self.spec.leaf(prop, current)
        if prop.get("type") == "object" or "properties" in prop:
            nested = self.object_struct(parent + camel(json_name), prop, current)
            return nested + (" | None" if prop.get("nullable") else ""), False
        if prop.get("type") == "array":
            items = prop["items"]
            item_annotation, _ = self.annotation(parent, json_name + "Item", items, current)
            meta = []
            if "minItems" in prop:
                meta.append(f"min_length={prop['minItems']}")
            if "maxItems" in prop:
                meta.append(f"max_length={prop['maxItems']}")
            annotation = f"list[{item_annotation}]"
            if meta:
                annotation = f"Annotated[{annotation}, Meta({', '.join(meta)})]"
            return annotation + (" | None" if prop.get("nullable") else ""), False
        return self.scalar(prop)

    # -- messages -----------------------------------------------------------------------
    def variants(self, interface: str) -> list[tuple[str, dict[str, Any]]]:
        schemas = self.spec.load(INTERFACES_FILE)["components"]["schemas"]
        payload = schemas[f"{interface}-Payload"]
        if "oneOf" in payload:
            out = []
            for option in payload["oneOf"]:
                name = option["$ref"].rsplit("/", 1)[-1]
                out.append((name, schemas[name]))
            return out
        return [(f"{interface}-Payload", payload)]

    def message(self, schema_name: str, schema: dict[str, Any]) -> tuple[str, str, list[str]]:
        common = schema["properties"]["CommonBlock"]
        s0 = common["properties"]["S0"]
        interface = s0["properties"]["interfaceID"]["enum"]
        events = s0["properties"]["eventCode"]["enum"]
        versions = s0["properties"]["schemaVersion"]["enum"]
        if len(interface) != 1 or versions != ["011"]:
            raise ValueError(f"{schema_name}: unexpected S0 {s0}")
        # One S0 struct serves every variant (one more where the YAML leaves S0 open, as for
        # IF-001); the variant's class checks the values.
        s0_open = s0.get("additionalProperties", True) is not False
        s0_name = "S0Open" if s0_open else "S0"
        generic_s0 = {
            **s0,
            "properties": {k: {"type": "string"} for k in s0["properties"]},
        }
        self.object_struct(
            s0_name, generic_s0, INTERFACES_FILE, "Sender header block (interface, version, event)"
        )
        common_props = {k: v for k, v in common["properties"].items() if k != "S0"}
        required = tuple(sorted(set(common.get("required", [])) - {"S0"}))
        standard = {"S1": True, "A0": False, "D0": False, "M0": True}
        suffix = "S0Open" if s0_open else ""
        for key in common_props:
            is_required = key in required
            if standard.get(key) != is_required:
                suffix += key + ("Required" if is_required else "")
        if common.get("additionalProperties", True) is not False:
            suffix += "Open"
        common_name = f"CommonBlock{suffix}"
        if common_name not in self.structs:
            self.object_struct(common_name, {"properties": {}}, INTERFACES_FILE)
            struct = self.structs[common_name]
            struct.fields.append(FieldDef("S0", "s0", s0_name, True))
            req = set(common.get("required", []))
            for json_name, prop in common_props.items():
                annotation, _ = self.annotation(common_name, json_name, prop, INTERFACES_FILE)
                struct.fields.append(FieldDef(json_name, snake(json_name), annotation, json_name in req))
            struct.closed = common.get("additionalProperties", True) is False
            struct.doc = "Common block: S0, S1 sender, M0 MPAN, A0 addressing, D0 DIP, R0 response"
        custom = schema["properties"]["CustomBlock"]
        base = camel(schema_name.replace("-Payload", ""))
        custom_name = self.object_struct(base + "CustomBlock", custom, INTERFACES_FILE)
        message_name = base
        self.structs[message_name] = StructDef(
            message_name,
            [
                FieldDef("CommonBlock", "common_block", common_name, True),
                FieldDef(
                    "CustomBlock",
                    "custom_block",
                    custom_name,
                    "CustomBlock" in schema.get("required", []),
                ),
            ],
            schema.get("additionalProperties", True) is False,
            f"{schema_name}: {', '.join(events)}",
        )
        self.order.append(message_name)
        return message_name, interface[0], events


def render(gen: Generator, messages: list[tuple[str, str, list[str], str]], commit: str) -> str:
    out = [
        '"""DIP message structs for the appointment, MDR and settlement-data interfaces.',
        "",
        "Generated by ``tools/gen_dip.py`` from Elexon's DIP OpenAPI YAML (dip-api-documentation,",
        f"commit {commit[:7]}, spec release 2.1.0); do not edit by hand. Field names are the",
        "schema's in snake case; ``msgspec`` maps them to the JSON names.",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "from datetime import datetime",
        "from typing import Annotated, ClassVar, Literal",
        "",
        "import msgspec",
        "from msgspec import UNSET, Meta, UnsetType",
        "",
        "",
        "def _bad_datetime(name: str, value: object) -> None:",
        '    raise ValueError(f"`{name}` is not a real date-time in the form YYYY-MM-DDThh:mm:ss+hh:mm: {value!r}")',
        "",
        "",
        "def is_dip_datetime(value: str) -> bool:",
        '    """``YYYY-MM-DDThh:mm:ss+hh:mm`` (ASCII, 25 characters) naming a real date-time."""',
        "    if not (",
        "        len(value) == 25",
        "        and value.isascii()",
        '        and value[4] == value[7] == "-"',
        '        and value[10] == "T"',
        '        and value[13] == value[16] == value[22] == ":"',
        '        and value[19] in "+-"',
        "    ):",
        "        return False",
        "    try:",
        "        datetime.fromisoformat(value)",
        "    except ValueError:",
        "        return False",
        "    return True",
        "",
        "",
        "class DipStruct(msgspec.Struct, frozen=True, kw_only=True, gc=False):",
        '    """Base of every generated DIP struct: immutable, keyword-only."""',
        "",
        "",
        "class DipMessageStruct(DipStruct, frozen=True, kw_only=True, gc=False, forbid_unknown_fields=True):",
        '    """Base of every DIP message variant: ``CommonBlock`` and ``CustomBlock``."""',
        "",
        "    INTERFACE_ID: ClassVar[str]",
        "    EVENT_CODES: ClassVar[tuple[str, ...]]",
        "    SCHEMA_NAME: ClassVar[str]",
        "",
        "    def __post_init__(self) -> None:",
        "        s0 = self.common_block.s0  # type: ignore[attr-defined]",
        "        if s0.interface_id != self.INTERFACE_ID:",
        '            raise ValueError(f"`interfaceID` must be {self.INTERFACE_ID!r}, got {s0.interface_id!r}")',
        '        if s0.schema_version != "011":',
        """            raise ValueError(f"`schemaVersion` must be '011', got {s0.schema_version!r}")""",
        "        if s0.event_code not in self.EVENT_CODES:",
        '            raise ValueError(f"`eventCode` must be one of {self.EVENT_CODES}, got {s0.event_code!r}")',
        "",
    ]
    used = {a for s in gen.structs.values() for f in s.fields for a in ALIASES if a in f.annotation}
    for annotation, (alias, doc) in ALIASES.items():
        if annotation in used:
            out.append(f"{alias} = {annotation}")
            out.append(f'"""{doc}"""')
            out.append("")
    message_names = {m[0] for m in messages}
    for name in gen.order:
        struct = gen.structs[name]
        base = "DipMessageStruct" if name in message_names else "DipStruct"
        options = "frozen=True, kw_only=True, gc=False"
        if struct.closed:
            options += ", forbid_unknown_fields=True"
        out.append("")
        out.append(f"class {name}({base}, {options}):")
        doc = (struct.doc or name).strip().replace('"""', "'").splitlines()[0]
        out.append(f'    """{doc}"""')
        out.append("")
        if name in message_names:
            message = next(m for m in messages if m[0] == name)
            out.append(f"    INTERFACE_ID: ClassVar[str] = {message[1]!r}")
            out.append(f"    EVENT_CODES: ClassVar[tuple[str, ...]] = {tuple(message[2])!r}")
            out.append(f"    SCHEMA_NAME: ClassVar[str] = {message[3]!r}")
            out.append("")
        for f in struct.fields:
            for annotation, (alias, _) in ALIASES.items():
                f.annotation = f.annotation.replace(annotation, alias)
            if f.required:
                out.append(f"    {f.py_name}: {f.annotation} = msgspec.field(name={f.json_name!r})")
            else:
                out.append(
                    f"    {f.py_name}: {f.annotation} | UnsetType = msgspec.field("
                    f"default=UNSET, name={f.json_name!r})"
                )
        if struct.datetime_fields:
            # Inline checks: this runs for every decoded block, so no loop and no getattr.
            out.append("")
            out.append("    def __post_init__(self) -> None:")
            for f in struct.datetime_fields:
                value = f"self.{f.py_name}"
                if f.required and "None" not in f.annotation:
                    condition = f"not is_dip_datetime({value})"
                else:
                    condition = f"{value}.__class__ is str and not is_dip_datetime({value})"
                out.append(f"        if {condition}:")
                out.append(f"            _bad_datetime({f.json_name!r}, {value})")
        out.append("")
    out.append("")
    out.append("MESSAGE_TYPES: tuple[type[DipMessageStruct], ...] = (")
    for name, *_ in messages:
        out.append(f"    {name},")
    out.append(")")
    out.append("")
    return "\n".join(out)


def write_schema(spec_root: Path, target: Path, commit: str) -> None:
    gen = Generator(Spec(spec_root))
    messages: list[tuple[str, str, list[str], str]] = []
    for interface in INTERFACES:
        for schema_name, schema in gen.variants(interface):
            name, interface_id, events = gen.message(schema_name, schema)
            messages.append((name, interface_id, events, schema_name))
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render(gen, messages, commit), encoding="utf-8")
    print(f"wrote {target} ({len(messages)} message variants, {len(gen.structs)} structs)")
