"""The database itself refuses a second SDS==MDR combination for an MPAN on any day,
whatever code path writes (PostgreSQL exclusion constraint; SQLite triggers)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, IntegrityError

from openmhhs.store.database import Database
from openmhhs.store.tables import appointment, supplier_period

NOW = datetime(2025, 7, 1, tzinfo=UTC)


def row(
    start: date,
    end: date | None,
    *,
    service: str = "DS",
    mdr: str | None = "2222222222",
    retired: bool = False,
) -> dict[str, object]:
    return {
        "mpan": "2000000000015",
        "service": service,
        "provider": "2222222222",
        "provider_mpid": "SDSB",
        "mdr": mdr if service == "DS" else None,
        "mdr_mpid": "SDSB" if service == "DS" else None,
        "valid_from": start,
        "valid_to": end,
        "supplier": "1111111111",
        "recorded_at": NOW,
        "retired_at": NOW if retired else None,
    }


def insert(db: Database, *rows: dict[str, object]) -> None:
    with db.begin() as connection:
        connection.execute(sa.insert(appointment), list(rows))


def test_direct_insert_of_an_overlapping_arrangement_is_refused(db: Database) -> None:
    insert(db, row(date(2025, 7, 1), None))
    with pytest.raises((IntegrityError, DBAPIError)):
        insert(db, row(date(2025, 7, 10), None, mdr="3333333333"))
    with db.begin() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(appointment)).scalar_one() == 1


def test_touching_periods_and_other_services_are_allowed(db: Database) -> None:
    insert(db, row(date(2025, 7, 1), date(2025, 7, 10)))
    insert(db, row(date(2025, 7, 10), None, mdr="3333333333"))
    insert(db, row(date(2025, 7, 1), None, service="MS"))


def test_retired_rows_do_not_count(db: Database) -> None:
    insert(db, row(date(2025, 7, 1), None, retired=True))
    insert(db, row(date(2025, 7, 1), None, mdr="3333333333"))


def test_reinstating_a_retired_overlap_is_refused(db: Database) -> None:
    insert(db, row(date(2025, 7, 1), None, retired=True), row(date(2025, 7, 1), None, mdr="3333333333"))
    with pytest.raises((IntegrityError, DBAPIError)), db.begin() as connection:
        connection.execute(sa.update(appointment).values(retired_at=None))


def test_a_ds_row_without_an_mdr_is_refused(db: Database) -> None:
    with pytest.raises((IntegrityError, DBAPIError)):
        insert(db, row(date(2025, 7, 1), None, mdr=None))


def test_overlapping_supplier_periods_are_refused(db: Database) -> None:
    with db.begin() as connection:
        connection.execute(
            sa.insert(supplier_period),
            {
                "mpan": "2000000000015",
                "supplier": "1111111111",
                "valid_from": date(2025, 1, 1),
                "valid_to": None,
            },
        )
    with pytest.raises((IntegrityError, DBAPIError)), db.begin() as connection:
        connection.execute(
            sa.insert(supplier_period),
            {
                "mpan": "2000000000015",
                "supplier": "4444444444",
                "valid_from": date(2025, 6, 1),
                "valid_to": None,
            },
        )


@pytest.mark.postgres
def test_postgresql_partitions_appointments_by_mpan_and_keeps_the_invariant_in_each(pg_url: str) -> None:
    """Upgrading a database that already holds appointments keeps them, partitions them, and
    refuses an overlapping arrangement in whichever partition the MPAN hashes to."""
    from openmhhs.store.migrate import upgrade

    db = Database(pg_url)
    try:
        upgrade(db.engine, "0005")
        cores = [f"20000000{n:04d}1" for n in range(40)]
        with db.engine.begin() as connection:
            connection.execute(
                sa.insert(appointment), [row(date(2025, 7, 1), None) | {"mpan": c} for c in cores]
            )
        db.migrate()
        with db.begin() as connection:
            parts = connection.exec_driver_sql(
                "SELECT count(*) FROM pg_inherits WHERE inhparent = 'appointment'::regclass"
            ).scalar_one()
            assert parts == 16
            assert connection.execute(sa.select(sa.func.count()).select_from(appointment)).scalar_one() == 40
            used = connection.exec_driver_sql("SELECT count(DISTINCT tableoid) FROM appointment").scalar_one()
            assert used > 8  # spread over the partitions
        for core in cores:
            with pytest.raises((IntegrityError, DBAPIError)):
                insert(db, row(date(2025, 7, 10), None, mdr="3333333333") | {"mpan": core})
        insert(db, row(date(2025, 7, 1), None, mdr="3333333333") | {"mpan": "2000000000999"})
        with db.begin() as connection:
            # ids carry on after the old rows' (refused inserts use up sequence values)
            new_id = connection.execute(
                sa.select(appointment.c.id).where(appointment.c.mpan == "2000000000999")
            ).scalar_one()
            assert new_id > 40
    finally:
        db.dispose()
