"""The DCC's daily access list: which MDR (by its 4-character id) may read which smart meter."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

from openmhhs.store.database import Database
from openmhhs.store.market_repo import MarketStore

__all__ = ["write_access_list"]


def write_access_list(db: Database, day: date, path: Path) -> int:
    """Write the list for ``day`` as CSV (MPAN, MDR DIP ID, MDR id), streamed in MPAN order from the
    Registration Service's record (what it has told the DCC); returns how many MPANs it lists."""
    count = 0
    with db.read() as connection, path.open("w", newline="", encoding="ascii") as out:
        writer = csv.writer(out)
        writer.writerow(["mpan", "mdr_dip_id", "mdr_id"])
        for rows in MarketStore(connection).access_list(day):
            writer.writerows(rows)
            count += len(rows)
    return count
