"""The narrow encodings of migration 0013, without a database: packed correlation ids and
compact instants read back exactly as written (store/compact.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.dialects import postgresql, sqlite

from openmhhs.dip.build import correlation_from_reference
from openmhhs.store.compact import (
    CompactUtcDateTime,
    PackedDipId,
    pack_correlation_id,
    pack_dip_id,
    unpack_correlation_id,
    unpack_dip_id,
)

SENDERS = st.text(alphabet="0123456789abcdef", min_size=10, max_size=10) | st.text(
    alphabet="0123456789ABCDEF", min_size=10, max_size=10
)
TAILS = st.text(alphabet="0123456789abcdefghijklmnopqrstuvwxyzABCDEF", max_size=24)


@given(
    st.integers(min_value=1, max_value=999),
    SENDERS,
    st.sampled_from(["SUP", "SDS", "REGS", "MDR", "LDSO", "UMSDS"]),
    st.dates(min_value=date(2000, 1, 1), max_value=date(2200, 1, 1)),
    TAILS,
)
def test_dip_correlation_ids_pack_small_and_read_back(
    interface: int, sender: str, role: str, day: date, tail: str
) -> None:
    reference = f"S-IF-{interface:03d}-{sender}-{role}-{day:%Y%m%d}-{tail}"
    correlation = correlation_from_reference(reference)
    packed = pack_correlation_id(correlation)
    assert unpack_correlation_id(packed) == correlation
    assert packed[0] != 0  # the DIP's form: packed, not kept as text
    assert len(packed) <= len(correlation) - 16  # the head: 30-odd characters in 13 bytes and the role


def test_a_suppliers_correlation_id_takes_half_its_text() -> None:
    correlation = "C-IF-031-1111111111-SUP-20250701-fd258dbc00000104"
    assert len(pack_correlation_id(correlation)) <= len(correlation) // 2


@given(st.text(max_size=80))
def test_any_correlation_id_reads_back(text: str) -> None:
    assert unpack_correlation_id(pack_correlation_id(text)) == text


@given(st.text(max_size=60), st.text(max_size=60))
def test_different_correlation_ids_never_pack_alike(one: str, other: str) -> None:
    """A packed column keeps its texts' equality and uniqueness (the RS's requests are unique by it)."""
    assert (pack_correlation_id(one) == pack_correlation_id(other)) == (one == other)


@given(
    st.datetimes(
        min_value=datetime(1971, 1, 1),
        max_value=datetime(9000, 1, 1),
        timezones=st.sampled_from([UTC, timezone(timedelta(hours=1)), timezone(timedelta(hours=-5))]),
    )
)
def test_compact_instants_read_back_on_both_backends(moment: datetime) -> None:
    column = CompactUtcDateTime()
    lite = sqlite.dialect()
    stored = column.process_bind_param(moment, lite)
    assert isinstance(stored, int)  # 8 bytes on SQLite, not a 26-character text
    assert column.process_result_value(stored, lite) == moment
    pg = postgresql.dialect()
    kept = column.process_bind_param(moment, pg)
    assert kept == moment and kept.utcoffset() == timedelta(0)
    assert column.process_result_value(kept, pg) == moment


def test_compact_instants_refuse_naive_ones() -> None:
    column = CompactUtcDateTime()
    for dialect in (sqlite.dialect(), postgresql.dialect()):
        with pytest.raises(ValueError, match="naive"):
            column.process_bind_param(datetime(2025, 7, 1), dialect)


@given(SENDERS)
def test_dip_ids_pack_in_five_bytes_or_seven(dip_id: str) -> None:
    packed = pack_dip_id(dip_id)
    assert unpack_dip_id(packed) == dip_id
    assert len(packed) == (5 if dip_id == dip_id.lower() else 7)


@given(st.text(max_size=20), st.text(max_size=20))
def test_any_dip_id_text_reads_back_and_none_pack_alike(one: str, other: str) -> None:
    assert unpack_dip_id(pack_dip_id(one)) == one
    assert (pack_dip_id(one) == pack_dip_id(other)) == (one == other)


def test_dip_ids_are_packed_on_sqlite_only() -> None:
    column = PackedDipId()
    assert column.process_bind_param("1111111111", sqlite.dialect()) == bytes.fromhex("1111111111")
    assert column.process_bind_param("1111111111", postgresql.dialect()) == "1111111111"
    assert column.process_result_value(bytes.fromhex("1111111111"), sqlite.dialect()) == "1111111111"
    assert column.process_result_value("1111111111", postgresql.dialect()) == "1111111111"
