"""Reading and writing the ISD M16 table as the DIP's JSON shape and as CSV.

JSON follows ``DIPISDPublication`` (``marketParticipantDetail``): an array of
``{companyRegNumber, companyName, companyDetails: [{MPID, marketRole, DIPID, DIPRole,
datetimeFrom, datetimeTo}]}``, each item optionally wrapped as ``{"payload": …}``.
CSV has one row per detail with the columns in ``CSV_COLUMNS``.

Reading is all-or-nothing: every bad row is reported with its row number and nothing is
returned unless the whole file is good, overlaps included. Leniencies, each because an
official example needs it: a numeric ``companyRegNumber`` is read as its digits
(zero-padded to 8), and a date-time without offset is UK local time.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any, TypeVar

import orjson

from openmhhs.bulk import gc_paused
from openmhhs.codes import CodedError
from openmhhs.days import format_dip_datetime, parse_lenient_datetime
from openmhhs.identity.isd import (
    IsdEntry,
    IsdFileRejected,
    IsdTable,
    IsdUnreadable,
    RowProblem,
    find_overlaps,
    find_shared_identities,
)
from openmhhs.ids import CompanyNumber, DipId, DipRole, MarketRole, Mpid
from openmhhs.periods import Period

__all__ = ["CSV_COLUMNS", "dump_csv", "dump_json", "read_csv", "read_json"]

CSV_COLUMNS = (
    "companyRegNumber",
    "companyName",
    "MPID",
    "marketRole",
    "DIPID",
    "DIPRole",
    "datetimeFrom",
    "datetimeTo",
)
_DETAIL_KEYS = frozenset(CSV_COLUMNS[2:])
_COMPANY_KEYS = frozenset({"companyRegNumber", "companyName", "companyDetails"})

V = TypeVar("V")


class _RowReader:
    """Collects every problem of one row instead of stopping at the first."""

    def __init__(self, row: int, where: str, problems: list[RowProblem]) -> None:
        self.row = row
        self.where = where
        self.problems = problems
        self.ok = True

    def field(self, name: str, raw: object, parse: Callable[[Any], V]) -> V | None:
        try:
            return parse(raw)
        except CodedError as exc:
            self._fail(f"{name}: {exc.detail}", exc)
        except (TypeError, ValueError) as exc:
            self._fail(f"{name}: {exc}", None)
        return None

    def required(self, name: str, raw: object, parse: Callable[[Any], V]) -> V | None:
        if raw is None or raw == "":
            self._fail(f"{name} is required", None)
            return None
        return self.field(name, raw, parse)

    def optional(self, name: str, raw: object, parse: Callable[[Any], V]) -> V | None:
        if raw is None or raw == "":
            return None
        return self.field(name, raw, parse)

    def _fail(self, message: str, exc: CodedError | None) -> None:
        self.ok = False
        problem = RowProblem(row=self.row, where=self.where, message=message)
        if exc is not None:
            problem = RowProblem(row=self.row, where=self.where, message=message, code=exc.code)
        self.problems.append(problem)


def _company_number(raw: object) -> CompanyNumber:
    if isinstance(raw, bool):
        raise TypeError("must be a string")
    if isinstance(raw, int):
        return CompanyNumber(f"{raw:08d}")
    if not isinstance(raw, str):
        raise TypeError("must be a string")
    return CompanyNumber(raw)


def _text(max_length: int) -> Callable[[Any], str]:
    def parse(raw: object) -> str:
        if not isinstance(raw, str):
            raise TypeError("must be a string")
        if len(raw) > max_length:
            raise ValueError(f"longer than {max_length} characters")
        return raw

    return parse


def _string(kind: Callable[[str], V]) -> Callable[[Any], V]:
    def parse(raw: object) -> V:
        if not isinstance(raw, str):
            raise TypeError(f"must be a string, got {type(raw).__name__}")
        return kind(raw)

    return parse


def _moment(raw: object) -> datetime:
    if not isinstance(raw, str):
        raise TypeError("must be an ISO 8601 date-time string")
    return parse_lenient_datetime(raw)


def _entry(
    reader: _RowReader,
    *,
    company_number: CompanyNumber | None,
    company_name: str | None,
    detail: Mapping[str, Any],
) -> IsdEntry | None:
    mpid = reader.required("MPID", detail.get("MPID"), _string(Mpid))
    market_role = reader.optional("marketRole", detail.get("marketRole"), _string(MarketRole))
    dip_id = reader.optional("DIPID", detail.get("DIPID"), _string(DipId))
    dip_role = reader.required("DIPRole", detail.get("DIPRole"), _string(DipRole))
    start = reader.required("datetimeFrom", detail.get("datetimeFrom"), _moment)
    end = reader.optional("datetimeTo", detail.get("datetimeTo"), _moment)
    if start is not None and end is not None and end < start:
        reader.ok = False
        reader.problems.append(
            RowProblem(
                reader.row,
                reader.where,
                f"datetimeTo {end.isoformat()} is before datetimeFrom {start.isoformat()}",
            )
        )
    if not reader.ok or company_number is None or mpid is None or dip_role is None:
        return None
    assert start is not None
    return IsdEntry(
        company_number=company_number,
        company_name=company_name,
        mpid=mpid,
        market_role=market_role,
        dip_id=dip_id,
        dip_role=dip_role,
        valid=Period(start, end),
        row=reader.row,
    )


def _fast_entry(
    company_number: CompanyNumber, company_name: str | None, detail: Mapping[str, Any], row: int
) -> IsdEntry:
    """The good-row path: builds the entry or raises; the careful path then explains."""
    if not detail.keys() <= _DETAIL_KEYS:
        raise ValueError("unknown field")
    market, dip_id, end = detail.get("marketRole"), detail.get("DIPID"), detail.get("datetimeTo")
    start = _moment(detail["datetimeFrom"])
    until = None if end is None or end == "" else _moment(end)
    return IsdEntry(
        company_number=company_number,
        company_name=company_name,
        mpid=Mpid(detail["MPID"]),
        market_role=None if market is None or market == "" else MarketRole(market),
        dip_id=None if dip_id is None or dip_id == "" else DipId(dip_id),
        dip_role=DipRole(detail["DIPRole"]),
        valid=Period(start, until),
        row=row,
    )


def _detail_entry(
    company_number: CompanyNumber | None,
    company_name: str | None,
    detail: Mapping[str, Any],
    row: int,
    where: str,
    problems: list[RowProblem],
) -> IsdEntry | None:
    if company_number is not None:
        try:
            return _fast_entry(company_number, company_name, detail, row)
        except (CodedError, TypeError, ValueError, KeyError):
            pass  # the careful path below names every problem of the row
    reader = _RowReader(row, where, problems)
    extra = sorted(set(detail) - _DETAIL_KEYS)
    if extra:
        reader.ok = False
        problems.append(RowProblem(row, where, f"unknown field(s) {', '.join(extra)}"))
    return _entry(reader, company_number=company_number, company_name=company_name, detail=detail)


def _finish(entries: list[IsdEntry], problems: list[RowProblem], source: str) -> IsdTable:
    if not problems:
        problems.extend(find_overlaps(entries))
        problems.extend(find_shared_identities(entries))
        problems.sort(key=lambda p: p.row)
    if problems:
        raise IsdFileRejected(problems, source=source)
    return IsdTable(entries, checked=True)


def read_json(data: bytes, *, source: str = "ISD JSON") -> IsdTable:
    """Parse the M16 JSON shape; rows are numbered 1.. across all companies' details."""
    with gc_paused():
        return _read_json(data, source)


def _read_json(data: bytes, source: str) -> IsdTable:
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise IsdUnreadable(f"{source} is not JSON: {exc}") from None
    if not isinstance(document, list):
        raise IsdUnreadable(f"{source} must be a JSON array of companies, got {type(document).__name__}")
    entries: list[IsdEntry] = []
    problems: list[RowProblem] = []
    row = 0
    for index, item in enumerate(document, start=1):
        company = item.get("payload") if isinstance(item, dict) and set(item) == {"payload"} else item
        where = f"company {index}"
        if not isinstance(company, dict):
            problems.append(RowProblem(row + 1, where, "must be an object"))
            continue
        unknown = sorted(set(company) - _COMPANY_KEYS)
        header = _RowReader(row + 1, where, problems)
        if unknown:
            header.ok = False
            problems.append(RowProblem(row + 1, where, f"unknown field(s) {', '.join(unknown)}"))
        number = header.required("companyRegNumber", company.get("companyRegNumber"), _company_number)
        if number is not None:
            where = f"company {index} {number}"
        name = header.optional("companyName", company.get("companyName"), _text(50))
        details = company.get("companyDetails")
        if not isinstance(details, list):
            problems.append(RowProblem(row + 1, where, "companyDetails must be an array"))
            continue
        for position, detail in enumerate(details, start=1):
            row += 1
            detail_where = f"{where}, detail {position}"
            if not isinstance(detail, dict):
                problems.append(RowProblem(row, detail_where, "must be an object"))
                continue
            entry = _detail_entry(number if header.ok else None, name, detail, row, detail_where, problems)
            if entry is not None:
                entries.append(entry)
    return _finish(entries, problems, source)


def read_csv(text: str, *, source: str = "ISD CSV") -> IsdTable:
    """Parse the M16 CSV (header line required); rows are numbered by file line."""
    with gc_paused():
        return _read_csv(text, source)


def _read_csv(text: str, source: str) -> IsdTable:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise IsdUnreadable(f"{source} is empty") from None
    header = [column.strip().lstrip("\ufeff") for column in header]
    missing = [column for column in CSV_COLUMNS if column not in header]
    if missing:
        raise IsdUnreadable(
            f"{source} header lacks column(s) {', '.join(missing)}; expected {','.join(CSV_COLUMNS)}"
        )
    unknown = [column for column in header if column not in CSV_COLUMNS]
    if unknown:
        raise IsdUnreadable(f"{source} header has unknown column(s) {', '.join(unknown)}")
    entries: list[IsdEntry] = []
    problems: list[RowProblem] = []
    for cells in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in cells):
            continue
        where = f"line {line}"
        if len(cells) != len(header):
            problems.append(RowProblem(line, where, f"has {len(cells)} cells, the header has {len(header)}"))
            continue
        values = dict(zip(header, (cell.strip() for cell in cells), strict=True))
        number_text = values.pop("companyRegNumber")
        name = values.pop("companyName") or None
        number: CompanyNumber | None
        try:
            number = CompanyNumber(number_text)
        except CodedError:
            row_reader = _RowReader(line, where, problems)
            number = row_reader.required("companyRegNumber", number_text, _company_number)
        entry = _detail_entry(number, name, values, line, where, problems)
        if entry is not None:
            entries.append(entry)
    return _finish(entries, problems, source)


def _sorted(entries: Iterable[IsdEntry]) -> list[IsdEntry]:
    return sorted(
        entries,
        key=lambda e: (e.company_number, e.dip_id or "", e.dip_role, e.mpid, e.valid.start),
    )


def entry_json(entry: IsdEntry) -> dict[str, Any]:
    """One M16 detail object, date-times in the DIP's 25-character UK local form."""
    return {
        "MPID": entry.mpid,
        "marketRole": entry.market_role,
        "DIPID": entry.dip_id,
        "DIPRole": entry.dip_role,
        "datetimeFrom": format_dip_datetime(entry.valid.start),
        "datetimeTo": format_dip_datetime(entry.valid.end) if entry.valid.end else None,
    }


def dump_json(entries: Iterable[IsdEntry]) -> bytes:
    companies: dict[str, dict[str, Any]] = {}
    for entry in _sorted(entries):
        company = companies.setdefault(
            entry.company_number,
            {
                "companyRegNumber": entry.company_number,
                "companyName": entry.company_name,
                "companyDetails": [],
            },
        )
        if company["companyName"] is None and entry.company_name is not None:
            company["companyName"] = entry.company_name
        company["companyDetails"].append(entry_json(entry))
    return orjson.dumps(list(companies.values()), option=orjson.OPT_INDENT_2)


def dump_csv(entries: Iterable[IsdEntry]) -> str:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for entry in _sorted(entries):
        detail = entry_json(entry)
        writer.writerow(
            [
                entry.company_number,
                entry.company_name or "",
                detail["MPID"],
                detail["marketRole"] or "",
                detail["DIPID"] or "",
                detail["DIPRole"],
                detail["datetimeFrom"],
                detail["datetimeTo"] or "",
            ]
        )
    return out.getvalue()
