"""Bulk registration takes PostgreSQL's COPY path above a threshold and INSERT below it; both
store exactly what they were given (NULLs, booleans, dates, awkward text) on both backends."""

from __future__ import annotations

from datetime import UTC, date, datetime

import sqlalchemy as sa

from openmhhs.dip.vocabulary import ConnectionType
from openmhhs.ids import DipId, GspGroup, MpanCore
from openmhhs.periods import Period
from openmhhs.registration.model import MpanRecord, SupplierPeriod
from openmhhs.store.bulk import COPY_THRESHOLD, insert_rows
from openmhhs.store.database import Database
from openmhhs.store.market_repo import MarketStore
from openmhhs.store.types import UtcDateTime


def _records(n: int, area: str) -> list[MpanRecord]:
    return [
        MpanRecord(
            mpan=MpanCore.from_stem(f"{area}{i:010d}"),
            distributor=DipId(f"90000000{area}"),
            gsp_group=GspGroup("_B"),
            connection_type=ConnectionType.LV_CT if i % 3 == 0 else ConnectionType.WHOLE_CURRENT,
            domestic=i % 2 == 0,
            postcode=None if i % 5 == 0 else f"C{i % 9}\\\t'\"",
            suppliers=(
                SupplierPeriod(DipId("1111111111"), Period(date(2024, 1, 1), date(2025, 1, 1))),
                SupplierPeriod(DipId("4444444444"), Period(date(2025, 1, 1))),
            ),
        )
        for i in range(1, n + 1)
    ]


def test_copy_and_insert_paths_store_the_same(db: Database) -> None:
    many = _records(COPY_THRESHOLD + 100, "14")  # COPY on PostgreSQL
    few = _records(10, "15")  # INSERT everywhere
    with db.begin() as connection:
        store = MarketStore(connection)
        store.add_mpans(many)
        store.add_mpans(few)
    with db.read() as connection:
        store = MarketStore(connection)
        assert store.count_mpans() == len(many) + len(few)
        for record in many[:50] + few:
            assert store.get_mpan(str(record.mpan)) == record


def test_bulk_rows_are_stored_as_sqlalchemy_stores_them(db: Database) -> None:
    """The bulk path converts each value with the dialect's own type (SQLite's DATETIME writes
    microseconds): a row written in bulk and the same row through SQLAlchemy are the same bytes
    in the database, so that text comparisons and orderings on SQLite never mix two forms."""
    at = datetime(2025, 7, 1, 11, 0, tzinfo=UTC)  # no microseconds: the form differs if converted apart
    scratch = sa.Table(
        "bulk_form",
        sa.MetaData(),
        sa.Column("key", sa.String(10), primary_key=True),
        sa.Column("at", UtcDateTime, nullable=False),
        sa.Column("day", sa.Date, nullable=False),
    )
    with db.begin() as connection:
        scratch.create(connection)
        insert_rows(connection, scratch, ("key", "at", "day"), [("bulk", at, at.date())])
        connection.execute(sa.insert(scratch), {"key": "core", "at": at, "day": at.date()})
    with db.read() as connection:
        stored = connection.exec_driver_sql("SELECT key, at, day FROM bulk_form ORDER BY key").all()
    assert stored[0][1:] == stored[1][1:]
