"""Reading and writing M16 files: the DIP JSON shape and CSV, all-or-nothing."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from openmhhs.codes import ResponseCode
from openmhhs.identity.isd import IsdFileRejected, IsdUnreadable
from openmhhs.identity.m16_format import dump_csv, dump_json, read_csv, read_json
from tests import strategies as ids
from tests.isd_samples import at, entry, sample_json


def test_sample_file_reads_seven_rows() -> None:
    rows = read_json(sample_json())
    assert len(rows) == 7
    assert [r.row for r in rows] == list(range(1, 8))


def test_payload_wrapped_items_accepted() -> None:
    wrapped = [{"payload": company} for company in orjson.loads(sample_json())]
    assert read_json(orjson.dumps(wrapped)).entries == read_json(sample_json()).entries


def test_official_example_quirks_numeric_company_and_naive_times() -> None:
    data = [
        {
            "companyRegNumber": 98765432,
            "companyName": "Big Energy Company Ltd",
            "companyDetails": [
                {
                    "MPID": "XOYO",
                    "marketRole": "X",
                    "DIPID": "2334567890",
                    "DIPRole": "SUP",
                    "datetimeFrom": "2024-04-04T12:00:00",
                    "datetimeTo": None,
                }
            ],
        }
    ]
    (row,) = read_json(orjson.dumps(data))
    assert row.company_number == "98765432"
    assert row.valid.start == at("2024-04-04T12:00:00")


def test_bad_rows_reported_with_numbers_and_nothing_returned() -> None:
    data = orjson.loads(sample_json())
    data[0]["companyDetails"][1]["MPID"] = "SUP1"  # digits are not allowed
    data[2]["companyDetails"][0]["DIPID"] = "333"
    with pytest.raises(IsdFileRejected) as raised:
        read_json(orjson.dumps(data))
    rows = [p.row for p in raised.value.problems]
    assert rows == [2, 6]
    assert raised.value.problems[0].code is ResponseCode.OMH0103
    assert "company 1 01111111, detail 2" in str(raised.value)


def test_official_example_with_digit_in_mpid_is_rejected() -> None:
    data = [
        {
            "companyRegNumber": "SC876123",
            "companyName": "Little Energy Company Ltd",
            "companyDetails": [
                {
                    "MPID": "A0XO",
                    "marketRole": "X",
                    "DIPID": "2334567898",
                    "DIPRole": "SUP",
                    "datetimeFrom": "2024-04-04T12:00:00",
                    "datetimeTo": None,
                }
            ],
        }
    ]
    with pytest.raises(IsdFileRejected, match="MPID"):
        read_json(orjson.dumps(data))


def test_overlap_in_file_rejects_file() -> None:
    data = orjson.loads(sample_json())
    data[2]["companyDetails"][0]["datetimeTo"] = "2025-07-01T00:00:00+01:00"
    with pytest.raises(IsdFileRejected) as raised:
        read_json(orjson.dumps(data))
    assert raised.value.problems[0].code is ResponseCode.OMH0203


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d[0]["companyDetails"][0].pop("DIPRole"),
        lambda d: d[0]["companyDetails"][0].update(datetimeFrom="yesterday"),
        lambda d: d[0]["companyDetails"][0].update(datetimeTo="2020-01-01T00:00:00+00:00"),
        lambda d: d[0]["companyDetails"][0].update(extra="x"),
        lambda d: d[0].update(companyRegNumber="12"),
        lambda d: d[0].update(companyDetails="none"),
        lambda d: d[0]["companyDetails"][0].update(MPID=None),
    ],
    ids=[
        "missing-role",
        "bad-date",
        "to-before-from",
        "unknown-field",
        "company",
        "details",
        "null-mpid",
    ],
)
def test_each_kind_of_bad_row_rejected(mutate: object) -> None:
    data = orjson.loads(sample_json())
    mutate(data)  # type: ignore[operator]
    with pytest.raises(IsdFileRejected):
        read_json(orjson.dumps(data))


@pytest.mark.parametrize("text", [b"not json", b'{"a": 1}', b""])
def test_unreadable_file(text: bytes) -> None:
    with pytest.raises(IsdUnreadable) as raised:
        read_json(text)
    assert raised.value.code is ResponseCode.OMH0201


def test_csv_round_trip_of_sample() -> None:
    rows = read_json(sample_json())
    assert set(read_csv(dump_csv(rows))) == set(rows)


def test_json_round_trip_of_sample() -> None:
    rows = read_json(sample_json())
    assert set(read_json(dump_json(rows))) == set(rows)


def test_csv_errors_name_the_line() -> None:
    text = dump_csv(read_json(sample_json())).replace("SDSB,N", "SDS2,N")
    with pytest.raises(IsdFileRejected) as raised:
        read_csv(text)
    assert raised.value.problems[0].row == 6  # exported sorted: company, DIP ID, DIP role
    assert "line 6" in str(raised.value)


def test_csv_header_must_have_the_columns() -> None:
    with pytest.raises(IsdUnreadable):
        read_csv("MPID,DIPID\nSUPA,1111111111\n")


def test_csv_keeps_leading_zeros_and_reads_null_as_empty() -> None:
    rows = read_csv(
        "companyRegNumber,companyName,MPID,marketRole,DIPID,DIPRole,datetimeFrom,datetimeTo\n"
        "00012345,Tiny Ltd,MDRT,,4444444444,MDR,2025-04-01T00:00:00+01:00,\n"
    )
    (row,) = rows
    assert row.company_number == "00012345"
    assert row.market_role is None and row.valid.end is None


@given(
    st.lists(
        st.tuples(ids.dip_ids, ids.mpids, st.sampled_from(["SUP", "SDS", "MDR"]), st.integers(0, 5)),
        max_size=8,
        unique_by=lambda t: (t[0], t[2]),
    )
)
def test_export_then_import_round_trips(rows: list[tuple[str, str, str, int]]) -> None:
    entries = []
    used: set[tuple[str, str]] = set()
    for i, (dip_id, mpid, role, years) in enumerate(rows, start=1):
        if (mpid, role) in used:
            continue
        used.add((mpid, role))
        market = {"SUP": "X", "SDS": None, "MDR": None}[role]
        if market is not None and (mpid, market) in used:
            continue
        if market is not None:
            used.add((mpid, market))
        entries.append(entry(dip_id, role, mpid, market, f"202{years}-04-01", row=i))
    assert set(read_json(dump_json(entries))) == set(entries)
    assert set(read_csv(dump_csv(entries))) == set(entries)
