"""Identifier value objects: validation, codes and round-trips."""

from __future__ import annotations

import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openmhhs.codes import ResponseCode
from openmhhs.ids import (
    AREA_DISTRIBUTOR_GSP,
    CompanyNumber,
    DipId,
    DipRole,
    GspGroup,
    InvalidCompanyNumber,
    InvalidDipId,
    InvalidDipRole,
    InvalidGspGroup,
    InvalidMarketRole,
    InvalidMpanCore,
    InvalidMpid,
    MarketRole,
    MpanCore,
    Mpid,
    mpan_check_digit,
)
from tests import strategies as ids


def test_reg0000_mpan_with_wrong_check_digit() -> None:
    with pytest.raises(InvalidMpanCore) as raised:
        MpanCore("2000056535972")
    assert raised.value.code is ResponseCode.REG0000


def test_check_digit_follows_the_published_weights() -> None:
    # 2000056535971: weights 3,5,7,13,17,19,23,29,31,37,41,43 -> 562, 562 % 11 % 10 == 1
    stem = "200005653597"
    weights = (3, 5, 7, 13, 17, 19, 23, 29, 31, 37, 41, 43)
    assert sum(int(c) * w for c, w in zip(stem, weights, strict=True)) % 11 % 10 == 1
    assert mpan_check_digit(stem) == 1
    assert MpanCore("2000056535971") == "2000056535971"


@pytest.mark.parametrize(
    "bad", ["", "123", "20000565359710", "200005653597a", " 200005653597", "２０００056535971"]
)
def test_reg0000_mpan_not_thirteen_ascii_digits(bad: str) -> None:
    with pytest.raises(InvalidMpanCore):
        MpanCore(bad)


def _remainder(core: str) -> int:
    weights = (3, 5, 7, 13, 17, 19, 23, 29, 31, 37, 41, 43)
    return sum(int(c) * w for c, w in zip(core[:12], weights, strict=True)) % 11


@given(ids.mpan_cores, st.integers(min_value=0, max_value=12), st.integers(1, 9))
def test_any_single_digit_change_is_rejected(core: str, position: int, delta: int) -> None:
    """Every single-digit change is caught, except the one blind spot of the official
    algorithm: remainders 10 and 0 both give check digit 0 ("mod 11, mod 10"), so a change
    moving the weighted remainder between 0 and 10 keeps the MPAN valid."""
    changed_digit = str((int(core[position]) + delta) % 10)
    changed = core[:position] + changed_digit + core[position + 1 :]
    MpanCore(core)  # the original is valid
    if {_remainder(core), _remainder(changed)} == {0, 10} and position < 12:
        assert MpanCore(changed) == changed  # the documented blind spot
        return
    with pytest.raises(InvalidMpanCore):
        MpanCore(changed)


def test_the_algorithms_blind_spot_is_real() -> None:
    # Remainder 0 and remainder 10 share check digit 0: both cores are valid.
    assert _remainder("5176333736770") == 0
    assert _remainder("1176333736770") == 10
    assert MpanCore("5176333736770") and MpanCore("1176333736770")


@given(ids.mpan_stems)
def test_from_stem_completes_a_valid_core(stem: str) -> None:
    core = MpanCore.from_stem(stem)
    assert core[:12] == stem
    assert MpanCore(str(core)) == core


def test_area_distributor_gsp_groups() -> None:
    assert MpanCore.from_stem("100000000001").area_gsp_group == "_A"
    assert MpanCore.from_stem("170000000001").area_gsp_group == "_P"
    assert MpanCore.from_stem("230000000001").area_gsp_group == "_M"
    assert MpanCore.from_stem("240000000001").area_gsp_group is None
    assert len(set(AREA_DISTRIBUTOR_GSP.values())) == 14


@given(ids.dip_ids)
def test_dip_id_round_trip(value: str) -> None:
    assert str(DipId(value)) == value


@pytest.mark.parametrize("bad", ["111111111", "11111111111", "111111111G", "", "1111 11111"])
def test_dip_id_must_be_ten_hex_characters(bad: str) -> None:
    with pytest.raises(InvalidDipId) as raised:
        DipId(bad)
    assert raised.value.code is ResponseCode.OMH0101


@given(ids.dip_roles)
def test_dip_role_round_trip(value: str) -> None:
    assert str(DipRole(value)) == value


@pytest.mark.parametrize("bad", ["SU", "SUPPLY", "sup", "SU1", ""])
def test_dip_role_must_be_three_to_five_capitals(bad: str) -> None:
    with pytest.raises(InvalidDipRole):
        DipRole(bad)


def test_known_dip_roles_have_names() -> None:
    assert DipRole("MDR").known and DipRole("MDR").role_name == "Meter Data Retriever"
    assert not DipRole("ZZZ").known and DipRole("ZZZ").role_name == "ZZZ"


@given(ids.mpids)
def test_mpid_round_trip(value: str) -> None:
    assert str(Mpid(value)) == value


@pytest.mark.parametrize("bad", ["SUP1", "MDR3", "ABC", "ABCDE", "abcd", "A0XO"])
def test_mpid_is_four_letters(bad: str) -> None:
    with pytest.raises(InvalidMpid) as raised:
        Mpid(bad)
    assert raised.value.code is ResponseCode.OMH0103


@given(ids.market_roles)
def test_market_role_one_or_two_characters(value: str) -> None:
    assert str(MarketRole(value)) == value


@pytest.mark.parametrize("bad", ["", "XYZ", "x"])
def test_market_role_rejects_bad_codes(bad: str) -> None:
    with pytest.raises(InvalidMarketRole):
        MarketRole(bad)


def test_fourteen_gsp_groups_without_i_and_o() -> None:
    assert GspGroup("_A") == "_A"
    for bad in ("_I", "_O", "_Q", "A", "_a"):
        with pytest.raises(InvalidGspGroup):
            GspGroup(bad)


@given(ids.company_numbers)
def test_company_number_round_trip(value: str) -> None:
    assert str(CompanyNumber(value)) == value


@pytest.mark.parametrize("bad", ["1234567", "12345678901", "sc876123", "SC 87612"])
def test_company_number_format(bad: str) -> None:
    with pytest.raises(InvalidCompanyNumber):
        CompanyNumber(bad)


def test_identifiers_are_hashable_immutable_and_picklable() -> None:
    mpan = MpanCore("2000056535971")
    assert {mpan: 1}[MpanCore("2000056535971")] == 1
    assert pickle.loads(pickle.dumps(mpan)) == mpan
    assert type(pickle.loads(pickle.dumps(mpan))) is MpanCore
    with pytest.raises(AttributeError):
        mpan.extra = 1  # type: ignore[attr-defined]
    assert repr(Mpid("MDRC")) == "Mpid('MDRC')"
