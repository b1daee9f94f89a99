"""The DCC's daily access list: which MDR (by DIP ID and its 4-character id as of the day) may
read which smart meter, one row per MPAN, from the DCC's own records through the same rule as
every read (``openmhhs.dcc.access.authorise``; the notice in force per MPAN is found by the
database, see ``store.dcc_repo``)."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

from openmhhs.dcc.access import Authorised, MdrIds, authorise
from openmhhs.store.database import Database
from openmhhs.store.dcc_repo import DccRepository
from openmhhs.store.identity_repo import load_isd

__all__ = ["write_access_list"]


def write_access_list(db: Database, day: date, path: Path) -> int:
    """Write the list for ``day`` as CSV (MPAN, MDR DIP ID, MDR id), streamed in MPAN order;
    returns how many MPANs it lists. An MDR without an effective ISD MDR row that day is not
    listed (it is not authorised)."""
    count = 0
    with path.open("w", newline="", encoding="ascii") as out, db.read() as connection:
        mdr_ids = MdrIds(load_isd(connection))
        writer = csv.writer(out)
        writer.writerow(["mpan", "mdr_dip_id", "mdr_id"])
        for rows in DccRepository(connection).mdrs_in_force(day):
            listed = []
            for core, mdr in rows:
                found = authorise(mdr=mdr, day=day, mdr_id=mdr_ids)
                if isinstance(found, Authorised):
                    listed.append((core, found.mdr, found.mpid))
            writer.writerows(listed)
            count += len(listed)
    return count
