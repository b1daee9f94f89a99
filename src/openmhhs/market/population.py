"""A realistic, deterministic population of smart MPANs for a described market.

MPANs are spread over the 14 area distributors roughly as GB's are; each gets a brand or
customer type of its Supplier by the plan's shares, and with it the SDS and MDR the
Supplier will propose. The same seed gives the same population.
"""

from __future__ import annotations

import random
from bisect import bisect
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import accumulate

from openmhhs.dip.vocabulary import ConnectionType
from openmhhs.ids import AREA_DISTRIBUTOR_GSP, MpanCore
from openmhhs.market.description import (
    Brand,
    CustomerType,
    MarketDescription,
    Route,
    SupplierPlan,
    distributor_dip_id,
)
from openmhhs.periods import Period
from openmhhs.registration.model import MpanRecord, SupplierPeriod

__all__ = ["Member", "population", "synthetic_members"]

# Approximate millions of electricity MPANs per area distributor (GSP Group).
AREA_WEIGHTS = {
    "10": 3.6,
    "11": 2.6,
    "12": 2.4,
    "13": 1.5,
    "14": 2.5,
    "15": 1.6,
    "16": 2.4,
    "17": 0.8,
    "18": 2.0,
    "19": 2.3,
    "20": 3.0,
    "21": 1.1,
    "22": 1.6,
    "23": 2.3,
}
POSTCODE_AREAS = {
    "10": "CB",
    "11": "NG",
    "12": "SW",
    "13": "CH",
    "14": "CV",
    "15": "NE",
    "16": "M",
    "17": "AB",
    "18": "EH",
    "19": "TN",
    "20": "SO",
    "21": "CF",
    "22": "EX",
    "23": "LS",
}


@dataclass(frozen=True, slots=True)
class Member:
    """One MPAN of the population and what its Supplier will propose for it."""

    record: MpanRecord
    plan: SupplierPlan
    group: str
    model: str
    route: Route


def _serials(rng: random.Random) -> Iterator[int]:
    seen: set[int] = set()
    while True:
        serial = rng.randrange(1, 10**10)
        if serial not in seen:
            seen.add(serial)
            yield serial


_UNIT_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"


def _postcode(rng: random.Random, area: str) -> str:
    inward = f"{rng.randint(1, 9)}{rng.choice(_UNIT_LETTERS)}{rng.choice(_UNIT_LETTERS)}"
    return f"{POSTCODE_AREAS[area]}{rng.randint(1, 20)} {inward}"


def population(market: MarketDescription, *, size: int, seed: int = 2025) -> list[Member]:
    """``size`` MPANs of the first Supplier plan, supplied since well before the start."""
    if not market.suppliers:
        return []
    plan = market.suppliers[0]
    rng = random.Random(seed)
    groups = plan.groups
    weights = [g.share for g in groups]
    areas = list(AREA_WEIGHTS)
    area_weights = [AREA_WEIGHTS[a] for a in areas]
    since = market.start - timedelta(days=365)
    serials = _serials(rng)
    members: list[Member] = []
    for _ in range(size):
        area = rng.choices(areas, area_weights)[0]
        group = rng.choices(groups, weights)[0]
        members.append(_member(market, plan, group, rng, area=area, serial=next(serials), since=since))
    return members


def _member(
    market: MarketDescription,
    plan: SupplierPlan,
    group: Brand | CustomerType,
    rng: random.Random,
    *,
    area: str,
    serial: int,
    since: date,
) -> Member:
    domestic = group.domestic if isinstance(group, CustomerType) else rng.random() < 0.95
    meter_type = group.meter_type if isinstance(group, CustomerType) else "S2AD"
    connection = ConnectionType.WHOLE_CURRENT
    if not domestic and rng.random() < 0.2:
        connection = ConnectionType.LV_CT
    record = MpanRecord(
        mpan=MpanCore.from_stem(f"{area}{serial:010d}"),
        distributor=distributor_dip_id(area),
        gsp_group=AREA_DISTRIBUTOR_GSP[area],
        connection_type=connection,
        domestic=domestic,
        meter_type=meter_type,
        postcode=_postcode(rng, area),
        suppliers=(SupplierPeriod(plan.supplier, Period(since)),),
    )
    return Member(record, plan, group.name, group.model or market.model, group.route)


# Index -> serial is a bijection of [0, 10**10): the multiplier is coprime to 10**10, so a
# synthetic population of any size (GB has about 32 million MPANs) never repeats an MPAN and
# needs no memory of those already made.
_SERIAL_STEP = 3_779_585_711
_SERIALS = 10**10


def synthetic_members(market: MarketDescription, *, seed: int, start: int, count: int) -> list[Member]:
    """Members ``start .. start+count-1`` of an unbounded synthetic population of the first
    Supplier plan: valid check digits, area distributors weighted as GB's, the plan's brand or
    customer type shares. Member ``i`` depends only on ``seed`` and ``i``."""
    if not market.suppliers:
        return []
    plan = market.suppliers[0]
    groups = plan.groups
    cumulative_groups = list(accumulate(g.share for g in groups))
    areas = list(AREA_WEIGHTS)
    cumulative_areas = list(accumulate(AREA_WEIGHTS[a] for a in areas))
    since = market.start - timedelta(days=365)
    offset = (seed * 7_919) % _SERIALS
    members: list[Member] = []
    for index in range(start, start + count):
        rng = random.Random(seed * 100_000_007 + index)
        area = areas[bisect(cumulative_areas, rng.random() * cumulative_areas[-1])]
        group = groups[min(bisect(cumulative_groups, rng.random() * cumulative_groups[-1]), len(groups) - 1)]
        serial = (index * _SERIAL_STEP + offset) % _SERIALS
        members.append(_member(market, plan, group, rng, area=area, serial=serial, since=since))
    return members


def start_of(market: MarketDescription) -> date:
    return market.start
