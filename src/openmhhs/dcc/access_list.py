"""The DCC's daily access list: which MDR (by DIP ID and its 4-character id as of the day) may
read which smart meter, one row per MPAN, from the DCC's own records through the same rule as
every read (``openmhhs.dcc.access.authorised_mdr``)."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

from openmhhs.dcc.access import Authorised, MdrIds, authorised_mdr
from openmhhs.store.database import Database
from openmhhs.store.dcc_repo import DccRepository
from openmhhs.store.identity_repo import load_isd

__all__ = ["write_access_list"]


def write_access_list(db: Database, day: date, path: Path) -> int:
    """Write the list for ``day`` as CSV (MPAN, MDR DIP ID, MDR id), streamed in MPAN order;
    returns how many MPANs it lists. An MDR without an effective ISD MDR row that day is not
    listed (it is not authorised)."""
    count = 0
    with db.read() as connection, path.open("w", newline="", encoding="ascii") as out:
        mdr_ids = MdrIds(load_isd(connection))
        writer = csv.writer(out)
        writer.writerow(["mpan", "mdr_dip_id", "mdr_id"])
        for core, records in DccRepository(connection).iter_records():
            found = authorised_mdr(records=records, day=day, mdr_id=mdr_ids)
            if isinstance(found, Authorised):
                writer.writerow((core, found.mdr, found.mpid))
                count += 1
    return count
