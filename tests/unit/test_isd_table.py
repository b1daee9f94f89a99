"""The ISD M16 table: overlaps refused per key; translation absent vs ambiguous."""

from __future__ import annotations

import pytest

from openmhhs.codes import ResponseCode
from openmhhs.identity.isd import IsdOverlap, IsdTable
from openmhhs.identity.m16_format import read_json
from openmhhs.identity.translation import (
    ANY_MARKET_ROLE,
    AmbiguousIsdMatch,
    NoIsdMatch,
    NotAValidMdr,
    dip_for,
    is_valid_mdr,
    mdr_mpid,
    mpid_for,
    valid_mdrs,
)
from openmhhs.ids import DipId, DipRole, MarketRole, Mpid
from tests.isd_samples import at, entry, sample_json


@pytest.fixture
def sample() -> IsdTable:
    return IsdTable(read_json(sample_json()))


def test_design_note_translation_supplier_acting_as_sds_and_mdr(sample: IsdTable) -> None:
    supplier = DipId("1111111111")
    sup = mpid_for(sample, dip_id=supplier, dip_role=DipRole.SUP, on=at("2025-07-01").date())
    assert (sup.mpid, sup.market_role) == ("SUPA", "X")
    mdr = mpid_for(sample, dip_id=supplier, dip_role=DipRole.MDR, on=at("2025-07-01").date())
    assert (mdr.mpid, mdr.market_role) == ("SUPA", None)


def test_reverse_translation_by_mpid_and_market_role(sample: IsdTable) -> None:
    found = dip_for(sample, mpid=Mpid("SUPA"), market_role=MarketRole("X"), on=at("2025-07-01"))
    assert (found.dip_id, found.dip_role) == ("1111111111", "SUP")


def test_mdr_reverse_translation_has_no_market_role(sample: IsdTable) -> None:
    found = dip_for(sample, mpid=Mpid("SUPA"), market_role=None, dip_role=DipRole.MDR, on=at("2025-07-01"))
    assert found.dip_role == "MDR"


def test_several_matches_are_ambiguous_never_a_first_match(sample: IsdTable) -> None:
    with pytest.raises(AmbiguousIsdMatch) as raised:
        dip_for(sample, mpid=Mpid("SUPA"), market_role=ANY_MARKET_ROLE, on=at("2025-07-01"))
    assert raised.value.code is ResponseCode.OMH0302


def test_absence_is_its_own_error(sample: IsdTable) -> None:
    with pytest.raises(NoIsdMatch) as raised:
        mpid_for(sample, dip_id=DipId("2222222222"), dip_role=DipRole.SUP, on=at("2025-07-01"))
    assert raised.value.code is ResponseCode.OMH0301


def test_lookup_as_of_date_follows_mpid_change(sample: IsdTable) -> None:
    mdr = DipId("3333333333")
    assert mdr_mpid(sample, dip_id=mdr, on=at("2025-05-31").date()) == "MDRZ"
    assert mdr_mpid(sample, dip_id=mdr, on=at("2025-06-01").date()) == "MDRC"


def test_reg1081_not_a_valid_mdr_before_registration(sample: IsdTable) -> None:
    with pytest.raises(NotAValidMdr) as raised:
        mdr_mpid(sample, dip_id=DipId("2222222222"), on=at("2025-03-31").date())
    assert raised.value.code is ResponseCode.REG1081
    assert is_valid_mdr(sample, dip_id=DipId("2222222222"), on=at("2025-04-01").date())
    assert not is_valid_mdr(sample, dip_id=DipId("2222222222"), on=at("2025-03-31").date())


def test_valid_mdrs_is_the_definitive_list(sample: IsdTable) -> None:
    before = valid_mdrs(sample, on=at("2025-01-01").date())
    assert [e.mpid for e in before] == ["MDRZ"]
    after = valid_mdrs(sample, on=at("2025-07-01").date())
    assert [e.mpid for e in after] == ["MDRC", "SDSB", "SUPA"]


def test_a_day_is_judged_at_its_start() -> None:
    table = IsdTable([entry("4444444444", "MDR", "MDRD", start="2025-06-01T12:00:00")])
    assert not is_valid_mdr(table, dip_id=DipId("4444444444"), on=at("2025-06-01").date())
    assert is_valid_mdr(table, dip_id=DipId("4444444444"), on=at("2025-06-02").date())
    assert is_valid_mdr(table, dip_id=DipId("4444444444"), on=at("2025-06-01T13:00"))


def test_overlap_for_same_dip_registration_refused() -> None:
    with pytest.raises(IsdOverlap) as raised:
        IsdTable(
            [
                entry("1111111111", "SUP", "SUPA", "X", "2025-01-01", None, row=1),
                entry("1111111111", "SUP", "SUPB", "X", "2025-06-01", None, row=2),
            ]
        )
    assert raised.value.code is ResponseCode.OMH0203
    assert "row 2" in str(raised.value) and "row 1" in str(raised.value)


def test_overlap_for_same_mpid_and_market_role_refused() -> None:
    with pytest.raises(IsdOverlap):
        IsdTable(
            [
                entry("1111111111", "SUP", "SUPA", "X", row=1),
                entry("2222222222", "SUP", "SUPA", "X", row=2),
            ]
        )


def test_two_mdrs_cannot_share_one_mdr_id_at_once() -> None:
    with pytest.raises(IsdOverlap):
        IsdTable([entry("1111111111", "MDR", "MDRA", row=1), entry("2222222222", "MDR", "MDRA", row=2)])


def test_consecutive_periods_are_not_overlaps() -> None:
    table = IsdTable(
        [
            entry("1111111111", "SUP", "SUPA", "X", "2025-01-01", "2025-06-01"),
            entry("1111111111", "SUP", "SUPB", "X", "2025-06-01"),
        ]
    )
    assert len(table) == 2


def test_overlap_found_behind_a_long_earlier_period() -> None:
    # A long first period hides a later overlap from a naive neighbour-only check.
    with pytest.raises(IsdOverlap):
        IsdTable(
            [
                entry("1111111111", "SUP", "SUPA", "X", "2025-01-01", "2026-01-01", row=1),
                entry("1111111111", "SUP", "SUPB", "X", "2025-02-01", "2025-03-01", row=2),
                entry("1111111111", "SUP", "SUPC", "X", "2025-05-01", "2025-06-01", row=3),
            ]
        )
