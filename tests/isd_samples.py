"""Builders of ISD rows and files for tests."""

from __future__ import annotations

from datetime import datetime
from importlib.resources import files

from openmhhs.days import LONDON
from openmhhs.identity.isd import IsdEntry
from openmhhs.ids import CompanyNumber, DipId, DipRole, MarketRole, Mpid
from openmhhs.periods import Period


def at(text: str) -> datetime:
    """A UK local date or date-time, e.g. ``at("2025-06-01")``."""
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=LONDON) if moment.tzinfo is None else moment


def entry(
    dip_id: str | None,
    dip_role: str,
    mpid: str,
    market_role: str | None = None,
    start: str = "2025-04-01",
    end: str | None = None,
    company: str = "01111111",
    row: int = 0,
) -> IsdEntry:
    return IsdEntry(
        company_number=CompanyNumber(company),
        company_name=f"Company {company}",
        mpid=Mpid(mpid),
        market_role=MarketRole.parse_optional(market_role),
        dip_id=DipId.parse_optional(dip_id),
        dip_role=DipRole(dip_role),
        valid=Period(at(start), at(end) if end else None),
        row=row,
    )


def sample_json() -> bytes:
    return files("openmhhs.data").joinpath("isd_sample.json").read_bytes()
