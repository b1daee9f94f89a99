"""MPAN registration data as CSV (what CSS and the distributor tell the Registration Service).

Columns (header required; only the first five are mandatory)::

    mpan,distributor,gsp_group,supplier,supplier_from,segment,connection_type,energisation,
    domestic,energy_direction,dcc_service_flag,meter_type,postcode,duos_tariff_id

Reading is all-or-nothing: every bad row is reported by line, and nothing is returned
unless the whole file is good.
"""

from __future__ import annotations

import csv
import io
from datetime import date

from openmhhs.codes import CodedError, ResponseCode
from openmhhs.dip.vocabulary import ConnectionType, MarketSegment
from openmhhs.ids import DipId, GspGroup, MpanCore
from openmhhs.periods import Period
from openmhhs.registration.model import MpanRecord, SupplierPeriod

__all__ = ["MPAN_COLUMNS", "MpanFileRejected", "read_mpans"]

MPAN_COLUMNS = (
    "mpan",
    "distributor",
    "gsp_group",
    "supplier",
    "supplier_from",
    "segment",
    "connection_type",
    "energisation",
    "domestic",
    "energy_direction",
    "dcc_service_flag",
    "meter_type",
    "postcode",
    "duos_tariff_id",
)
_REQUIRED = MPAN_COLUMNS[:5]


class MpanFileRejected(CodedError):
    code = ResponseCode.OMH0403
    rule = "registration.mpan_file.valid"


def _choice(value: str, allowed: tuple[str, ...], name: str) -> str:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    return value


def record_from(values: dict[str, str]) -> MpanRecord:
    """One MPAN from text fields (CLI options or a CSV row); raises on the first problem."""

    def get(key: str, default: str) -> str:
        return (values.get(key) or "").strip() or default

    domestic_text = get("domestic", "true").lower()
    if domestic_text not in ("true", "false", "yes", "no", "1", "0"):
        raise ValueError(f"domestic must be true or false, got {domestic_text!r}")
    core = MpanCore(get("mpan", ""))
    gsp = GspGroup(get("gsp_group", ""))
    expected = core.area_gsp_group
    if expected is not None and expected != gsp:
        raise ValueError(f"MPAN {core} belongs to distributor {core.distributor_id} in {expected}, not {gsp}")
    start = date.fromisoformat(get("supplier_from", ""))
    return MpanRecord(
        mpan=core,
        distributor=DipId(get("distributor", "")),
        gsp_group=gsp,
        segment=MarketSegment(get("segment", "S")),
        connection_type=ConnectionType(get("connection_type", "W")),
        energisation=_choice(get("energisation", "E"), ("E", "D", "U"), "energisation"),
        domestic=domestic_text in ("true", "yes", "1"),
        energy_direction=_choice(get("energy_direction", "I"), ("I", "E"), "energy_direction"),
        dcc_service_flag=_choice(get("dcc_service_flag", "A"), ("A", "I", "N"), "dcc_service_flag"),
        meter_type=get("meter_type", "S2AD"),
        postcode=get("postcode", "") or None,
        duos_tariff_id=get("duos_tariff_id", "A01"),
        suppliers=(SupplierPeriod(DipId(get("supplier", "")), Period(start)),),
    )


def read_mpans(text: str, *, source: str = "MPAN file") -> list[MpanRecord]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [c.strip() for c in (reader.fieldnames or [])]
    missing = [c for c in _REQUIRED if c not in header]
    unknown = [c for c in header if c not in MPAN_COLUMNS]
    if missing or unknown:
        raise MpanFileRejected(
            f"{source}: header must have {', '.join(_REQUIRED)} (and optionally the other columns of "
            f"{', '.join(MPAN_COLUMNS)}); missing {missing or 'none'}, unknown {unknown or 'none'}"
        )
    records: list[MpanRecord] = []
    problems: list[str] = []
    seen: set[str] = set()
    for values in reader:
        line = reader.line_num
        try:
            record = record_from({k.strip(): v for k, v in values.items() if k})
        except (CodedError, ValueError) as exc:
            problems.append(f"line {line}: {getattr(exc, 'detail', exc)}")
            continue
        if record.mpan in seen:
            problems.append(f"line {line}: MPAN {record.mpan} appears twice")
            continue
        seen.add(record.mpan)
        records.append(record)
    if problems:
        shown = "; ".join(problems[:20]) + (f"; and {len(problems) - 20} more" if len(problems) > 20 else "")
        raise MpanFileRejected(f"{source} rejected, nothing loaded: {shown}")
    return records
