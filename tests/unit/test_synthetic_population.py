"""The synthetic GB population used by ``openmhhs migrate``: valid, unique, deterministic by
index, constant memory, spread over the area distributors as GB's MPANs are."""

from __future__ import annotations

from collections import Counter
from importlib.resources import files

from hypothesis import given, settings
from hypothesis import strategies as st

from openmhhs.ids import AREA_DISTRIBUTOR_GSP, MpanCore
from openmhhs.market.description import distributor_dip_id, parse_description
from openmhhs.market.population import AREA_WEIGHTS, synthetic_members

MARKET = parse_description(
    files("openmhhs.data.scenarios").joinpath("4a-hybrid-brand.yaml").read_text(encoding="utf-8")
)


def test_members_are_valid_and_consistent() -> None:
    members = synthetic_members(MARKET, seed=1, start=0, count=2_000)
    for member in members:
        core = str(member.record.mpan)
        assert MpanCore(core) == member.record.mpan  # the check digit holds
        area = core[:2]
        assert member.record.distributor == distributor_dip_id(area)
        assert member.record.gsp_group == AREA_DISTRIBUTOR_GSP[area]
        assert member.group in {g.name for g in MARKET.suppliers[0].groups}
    assert len({m.record.mpan for m in members}) == len(members)


def test_member_i_depends_only_on_the_seed_and_i() -> None:
    whole = synthetic_members(MARKET, seed=9, start=0, count=50)
    assert synthetic_members(MARKET, seed=9, start=20, count=10) == whole[20:30]
    assert synthetic_members(MARKET, seed=10, start=20, count=10) != whole[20:30]


@settings(max_examples=200)
@given(
    st.integers(min_value=0, max_value=40_000_000),
    st.integers(min_value=0, max_value=40_000_000),
    st.integers(min_value=0, max_value=10_000),
)
def test_no_two_indices_share_an_mpan(i: int, j: int, seed: int) -> None:
    a = synthetic_members(MARKET, seed=seed, start=i, count=1)[0].record.mpan
    b = synthetic_members(MARKET, seed=seed, start=j, count=1)[0].record.mpan
    assert (a == b) == (i == j)


def test_areas_follow_gb_weights_and_brands_their_shares() -> None:
    members = synthetic_members(MARKET, seed=3, start=0, count=20_000)
    areas = Counter(str(m.record.mpan)[:2] for m in members)
    total = sum(AREA_WEIGHTS.values())
    for area, weight in AREA_WEIGHTS.items():
        assert abs(areas[area] / len(members) - weight / total) < 0.02, area
    groups = Counter(m.group for m in members)
    shares = {g.name: g.share for g in MARKET.suppliers[0].groups}
    for name, share in shares.items():
        assert abs(groups[name] / len(members) - share / sum(shares.values())) < 0.02, name
