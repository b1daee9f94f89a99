"""Development-time generator: turns Elexon's DIP OpenAPI YAML into openmhhs source.

Run from the repository root with the official spec checked out beside it::

    python tools/gen_dip.py ../shared/dip-spec

It writes ``src/openmhhs/codes.py`` (every official response code with its official
wording) and ``src/openmhhs/dip/schema.py`` (msgspec structs for the interfaces openmhhs
implements). The YAML itself is never copied into the project; only code derived from it.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

PREFIX = "https://raw.githubusercontent.com/elexon-data/dip-api-documentation/main/"
ROOT = Path(__file__).resolve().parent.parent

# Codes openmhhs needs that the official list lacks. Each is documented in docs/codes.md.
LOCAL_CODES: dict[str, str] = {
    "DS006": "Change of MDR - Effective From Date beyond the SDS's contractual notice window "
    "(openmhhs definition; the design note lists DS006 but the DIP YAML does not)",
    "OMH0101": "DIP ID must be 10 hexadecimal characters",
    "OMH0102": "DIP Role must be 3 to 5 upper-case letters",
    "OMH0103": "MPID must be 4 upper-case letters",
    "OMH0104": "DTN Market Role code must be 1 or 2 upper-case letters or digits",
    "OMH0105": "GSP Group ID must be one of _A to _P (excluding _I and _O)",
    "OMH0106": "Company Registration Number must be 8 to 10 upper-case letters or digits",
    "OMH0107": "Date/time invalid (ISO 8601 with offset expected)",
    "OMH0201": "ISD file unreadable or not in the M16 shape",
    "OMH0202": "ISD row invalid",
    "OMH0203": "ISD rows overlap for the same key",
    "OMH0301": "No ISD entry matches the look-up on that date",
    "OMH0302": "Several ISD entries match the look-up on that date",
    "OMH0303": "One DIP ID or MPID is held by two organisations",
    "OMH0304": "The DIP ID holds no such role in the ISD on those dates",
    "OMH0401": "Market description invalid",
    "OMH0402": "Record not found",
    "OMH0403": "Input file invalid",
    "OMH0404": "Database URL invalid or unsupported",
    "OMH0405": "Database unreachable",
    "OMH0406": "File or folder cannot be read or written",
    "OMH0501": "Only one SDS==MDR combination (one appointment per service) may hold for an MPAN on any day",
    "OMH0502": "The market lacks a participant it needs (Registration Service, DCC, provider)",
    "OMH0503": "No appointment request awaits this response",
    "OMH0530": "A logged message body names a compression dictionary this version does not ship",
    "OMH0701": "Not a DCC user in the DCC user role used",
    "OMH0702": "No MDR is authorised for the MPAN on that day",
    "OMH0703": "Another MDR is authorised for the MPAN on that day",
    "OMH0704": "Not the MPAN's supplier on that day",
    "OMH0705": "The MDR has no instruction from the MPAN's SDS for that day",
    "OMH0706": "The MDR's ISD registration is not effective on that day",
    "OMH0707": "The id presented is not the MDR's 4-character id on that day",
    "OMH0708": "The DCC user role used does not match the MPAN's energy direction",
    "OMH0709": "No DCC user role the MDR holds can read the MPAN's energy direction",
    "OMH0800": "A file to be written already exists or is a link",
    "OMH0801": "The database cannot be written (read-only, full or unreachable)",
    "OMH0820": "X-API-Key missing",
    "OMH0821": "X-API-Key not recognised",
    "OMH0822": "The client certificate, the API key and the signature name different participants",
    "OMH0823": "Not entitled to act for or read another participant's data",
    "OMH0824": "Request body too large",
    "OMH0825": "No message matches the replay or requeue request",
    "OMH0826": "Request body not received in time",
    "OMH0900": "The demo's --fresh deletes only a database the demo itself made under its --out folder",
    "OMH0901": "The hub could not be reached or did not answer with a StandardResponse",
}


def load(spec: Path, name: str) -> Any:
    return yaml.safe_load((spec / name).read_text(encoding="utf-8"))


def official_codes(spec: Path) -> dict[str, str]:
    text = (spec / "ResponseCodes-unresolved.yaml").read_text(encoding="utf-8")
    codes: dict[str, str] = {}
    for match in re.finditer(r"^\s*-\s+([A-Z]{2,3}\d{3,4})\s+#\s*(.*)$", text, re.MULTILINE):
        code, wording = match.group(1), match.group(2).strip()
        # The YAML repeats SP008's wording and lists SP010 twice: keep the first, tidy SP008.
        wording = re.sub(rf"\s*{code}\s*-\s*.*$", "", wording)
        codes.setdefault(code, wording)
    return codes


def spec_commit(spec: Path) -> str:
    source = spec / "SOURCE.md"
    if source.exists():
        match = re.search(r"commit\s+([0-9a-f]{7,40})", source.read_text(encoding="utf-8"))
        if match:
            return match.group(1)
    return "unknown"


def write_codes(spec: Path) -> None:
    codes = official_codes(spec)
    lines = [
        '"""Every response code openmhhs uses, each once, with its official wording.',
        "",
        "Generated by ``tools/gen_dip.py`` from the DIP ResponseCodes YAML (Elexon",
        f"dip-api-documentation, commit {spec_commit(spec)[:7]}); do not edit by hand.",
        "Codes prefixed OMH are openmhhs's own, for failures the official list does not name",
        "(documented in docs/codes.md).",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "from enum import StrEnum",
        "from typing import ClassVar",
        "",
        "",
        "class ResponseCode(StrEnum):",
        '    """An MHHS response code: MSG/RCP (DIP), REG (Registration Service), SP/DS (service',
        '    provider), ECS (central settlement), OMH (openmhhs)."""',
        "",
    ]
    for code in [*codes, *(c for c in LOCAL_CODES if c not in codes)]:
        lines.append(f'    {code} = "{code}"')
    lines += [
        "",
        "    @property",
        "    def wording(self) -> str:",
        '        """The official wording of the code."""',
        "        return _WORDING[self.value]",
        "",
        "    @property",
        "    def family(self) -> str:",
        '        """The code\'s family prefix, e.g. ``REG`` or ``SP``."""',
        '        return self.value.rstrip("0123456789")',
        "",
        "    @property",
        "    def official(self) -> bool:",
        '        """False for openmhhs\'s own codes (not in the DIP ResponseCodes YAML)."""',
        "        return self.value not in _LOCAL",
        "",
        "",
        "_WORDING: dict[str, str] = {",
    ]
    for code, wording in codes.items():
        lines.append(f"    {code!r}: {wording!r},")
    for code, wording in LOCAL_CODES.items():
        if code not in codes:
            lines.append(f"    {code!r}: {wording!r},")
    lines += ["}", ""]
    local = sorted(c for c in LOCAL_CODES if c not in codes)
    lines.append(f"_LOCAL: frozenset[str] = frozenset({local!r})")
    lines += [
        "",
        "",
        "class CodedError(Exception):",
        '    """Base of every business-rule failure: names the rule and carries its code.',
        "",
        "    Subclasses live beside the rule that raises them and set ``code`` and ``rule``; an",
        "    instance may carry another code where one rule has one code per perspective (the",
        "    DIP answers MSG codes, a recipient RCP codes).",
        '    """',
        "",
        "    code: ResponseCode",
        "    rule: ClassVar[str]",
        "",
        "    def __init__(self, detail: str, *, path: str | None = None) -> None:",
        "        super().__init__(detail)",
        "        self.detail = detail",
        "        self.path = path",
        "",
        "    def __str__(self) -> str:",
        '        where = f" at {self.path}" if self.path else ""',
        '        return f"{self.code.value} {self.rule}: {self.detail}{where}"',
        "",
    ]
    target = ROOT / "src" / "openmhhs" / "codes.py"
    target.write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {target.relative_to(ROOT)} ({len(codes)} official codes)")


def main(argv: list[str]) -> int:
    spec = Path(argv[1] if len(argv) > 1 else ROOT.parent / "shared" / "dip-spec").resolve()
    if not (spec / "ResponseCodes-unresolved.yaml").exists():
        print(f"no DIP spec at {spec}", file=sys.stderr)
        return 2
    write_codes(spec)
    if "--codes-only" not in argv:
        from gen_dip_schema import write_schema  # noqa: PLC0415 - sibling tool module

        write_schema(spec, ROOT / "src" / "openmhhs" / "dip" / "schema.py", spec_commit(spec))
    ruff = Path(sys.executable).parent / "ruff"
    subprocess.run([str(ruff), "format", "src/openmhhs/codes.py", "src/openmhhs/dip/"], cwd=ROOT, check=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
