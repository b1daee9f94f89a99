"""Synthetic ISD tables for benchmarks and scale tests: deterministic, valid, non-overlapping."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from openmhhs.days import LONDON
from openmhhs.identity.isd import IsdEntry
from openmhhs.ids import CompanyNumber, DipId, DipRole, MarketRole, Mpid
from openmhhs.periods import Period

_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_ROLES = (("SUP", "X"), ("SDS", "N"), ("MDR", None))


def mpid_number(n: int) -> Mpid:
    """The n-th four-letter MPID (0 -> AAAA); 456,976 exist."""
    letters = []
    for _ in range(4):
        n, digit = divmod(n, 26)
        letters.append(_LETTERS[digit])
    return Mpid("".join(reversed(letters)))


def synthetic_isd(rows: int) -> Iterator[IsdEntry]:
    """``rows`` M16 rows: companies holding SUP, SDS and MDR under one DIP ID and MPID,
    every third company with an ended row and a successor (as real ISD releases keep)."""
    start = datetime(2025, 4, 1, tzinfo=LONDON)
    change = datetime(2025, 10, 1, tzinfo=LONDON)
    made = 0
    company = 0
    while made < rows:
        number = CompanyNumber(f"{company + 10_000_000:08d}")
        dip_id = DipId(f"{company + 1_000_000_000:010d}")
        mpid = mpid_number(company)
        for role, market in _ROLES:
            if made >= rows:
                break
            ended = company % 3 == 0 and role == "MDR" and made + 1 < rows
            yield IsdEntry(
                company_number=number,
                company_name=f"Synthetic Energy {company} Ltd",
                mpid=mpid,
                market_role=MarketRole.parse_optional(market),
                dip_id=dip_id,
                dip_role=DipRole(role),
                valid=Period(start, change if ended else None),
                row=made + 1,
            )
            made += 1
            if ended:
                yield IsdEntry(
                    company_number=number,
                    company_name=f"Synthetic Energy {company} Ltd",
                    mpid=mpid,
                    market_role=None,
                    dip_id=dip_id,
                    dip_role=DipRole(role),
                    valid=Period(change, None),
                    row=made + 1,
                )
                made += 1
        company += 1
