"""Storing and loading the ISD M16 table and the participant registry."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from openmhhs.bulk import gc_paused
from openmhhs.identity.isd import IsdEntry, IsdTable
from openmhhs.identity.registry import (
    DccUserRole,
    Organisation,
    Qualification,
    Registry,
    SecStatus,
)
from openmhhs.ids import CompanyNumber, DipId, DipRole, MarketRole, Mpid
from openmhhs.periods import Period
from openmhhs.store.bulk import insert_rows
from openmhhs.store.tables import (
    isd_entry,
    organisation,
    organisation_dcc_role,
    organisation_qualification,
)

__all__ = [
    "ImportMode",
    "import_isd",
    "load_isd",
    "load_organisations",
    "load_registry",
    "save_organisations",
]


class ImportMode(StrEnum):
    REPLACE = "replace"
    """The file is the whole M16 table (an ISD release): every stored row is replaced."""
    MERGE = "merge"
    """The file holds some companies: their rows are replaced, other companies kept."""


_COLUMNS = (
    "company_number",
    "company_name",
    "mpid",
    "market_role",
    "dip_id",
    "dip_role",
    "valid_from",
    "valid_to",
    "row_number",
)


def _row(entry: IsdEntry) -> tuple[object, ...]:
    return (
        str(entry.company_number),
        entry.company_name,
        str(entry.mpid),
        None if entry.market_role is None else str(entry.market_role),
        None if entry.dip_id is None else str(entry.dip_id),
        str(entry.dip_role),
        entry.valid.start,
        entry.valid.end,
        entry.row,
    )


def _entry(row: sa.Row[tuple[object, ...]]) -> IsdEntry:
    m = row._mapping
    return IsdEntry(
        company_number=CompanyNumber(m["company_number"]),
        company_name=m["company_name"],
        mpid=Mpid(m["mpid"]),
        market_role=MarketRole.parse_optional(m["market_role"]),
        dip_id=DipId.parse_optional(m["dip_id"]),
        dip_role=DipRole(m["dip_role"]),
        valid=Period(m["valid_from"], m["valid_to"]),
        row=m["row_number"],
    )


def load_isd(
    connection: Connection,
    *,
    dip_id: DipId | None = None,
    dip_role: DipRole | None = None,
    mpid: Mpid | None = None,
) -> IsdTable:
    """The stored table, or the part of it a look-up needs (filters are ANDed)."""
    query = sa.select(isd_entry).order_by(isd_entry.c.id)
    with gc_paused():
        return _load(connection, query, dip_id=dip_id, dip_role=dip_role, mpid=mpid)


def _load(
    connection: Connection,
    query: sa.Select[tuple[object, ...]],
    *,
    dip_id: DipId | None,
    dip_role: DipRole | None,
    mpid: Mpid | None,
) -> IsdTable:
    if dip_id is not None:
        query = query.where(isd_entry.c.dip_id == str(dip_id))
    if dip_role is not None:
        query = query.where(isd_entry.c.dip_role == str(dip_role))
    if mpid is not None:
        query = query.where(isd_entry.c.mpid == str(mpid))
    return IsdTable(_entry(row) for row in connection.execute(query))


def import_isd(
    connection: Connection, entries: IsdTable | Sequence[IsdEntry], *, mode: ImportMode
) -> IsdTable:
    """Store a file's rows. The resulting table is validated as a whole (overlaps across
    kept and new rows) before anything is written; on error nothing changes."""
    if mode is ImportMode.REPLACE:
        table = entries if isinstance(entries, IsdTable) else IsdTable(entries)
        connection.execute(sa.delete(isd_entry))
    else:
        companies = {str(e.company_number) for e in entries}
        kept = [e for e in load_isd(connection) if str(e.company_number) not in companies]
        table = IsdTable([*kept, *entries])
        if companies:
            connection.execute(sa.delete(isd_entry).where(isd_entry.c.company_number.in_(companies)))
    if len(entries):
        with gc_paused():
            insert_rows(connection, isd_entry, _COLUMNS, (_row(e) for e in entries))
    return table


def save_organisations(connection: Connection, organisations: Iterable[Organisation]) -> None:
    """Insert or replace each organisation with its DCC roles and qualifications."""
    for org in organisations:
        number = str(org.company_number)
        for table in (organisation_dcc_role, organisation_qualification, organisation):
            connection.execute(sa.delete(table).where(table.c.company_number == number))
        connection.execute(
            sa.insert(organisation),
            {"company_number": number, "name": org.name, "sec_status": org.sec.value},
        )
        if org.dcc_user_roles:
            connection.execute(
                sa.insert(organisation_dcc_role),
                [{"company_number": number, "dcc_role": r.value} for r in sorted(org.dcc_user_roles)],
            )
        if org.qualifications:
            connection.execute(
                sa.insert(organisation_qualification),
                [
                    {"company_number": number, "dip_role": role, "status": status.value}
                    for role, status in sorted(org.qualifications.items())
                ],
            )


def load_organisations(connection: Connection) -> list[Organisation]:
    roles: dict[str, set[DccUserRole]] = {}
    for row in connection.execute(sa.select(organisation_dcc_role)):
        roles.setdefault(row.company_number, set()).add(DccUserRole(row.dcc_role))
    quals: dict[str, dict[str, Qualification]] = {}
    for row in connection.execute(sa.select(organisation_qualification)):
        quals.setdefault(row.company_number, {})[row.dip_role] = Qualification(row.status)
    return [
        Organisation(
            company_number=CompanyNumber(row.company_number),
            name=row.name,
            sec=SecStatus(row.sec_status),
            dcc_user_roles=frozenset(roles.get(row.company_number, ())),
            qualifications=quals.get(row.company_number, {}),
        )
        for row in connection.execute(sa.select(organisation).order_by(organisation.c.company_number))
    ]


def load_registry(connection: Connection) -> Registry:
    return Registry(load_isd(connection), load_organisations(connection))
