"""The ISD table and registry stored in SQLite and PostgreSQL: all-or-nothing imports."""

from __future__ import annotations

from importlib.resources import files

import pytest

from openmhhs.identity.isd import IsdOverlap
from openmhhs.identity.m16_format import read_json
from openmhhs.identity.participants_format import read_participants
from openmhhs.identity.registry import DccUserRole, SecStatus
from openmhhs.ids import CompanyNumber, DipId, DipRole
from openmhhs.store.database import Database
from openmhhs.store.identity_repo import (
    ImportMode,
    import_isd,
    load_isd,
    load_registry,
    save_organisations,
)
from tests.isd_samples import at, entry, sample_json


def test_import_and_load_round_trip(db: Database) -> None:
    rows = read_json(sample_json())
    with db.begin() as conn:
        import_isd(conn, rows, mode=ImportMode.REPLACE)
    with db.begin() as conn:
        stored = load_isd(conn)
    assert set(stored) == set(rows)
    assert all(e.valid.start.tzinfo is not None for e in stored)


def test_filters_select_the_rows_a_lookup_needs(db: Database) -> None:
    with db.begin() as conn:
        import_isd(conn, read_json(sample_json()), mode=ImportMode.REPLACE)
        mdrs = load_isd(conn, dip_role=DipRole.MDR)
        one = load_isd(conn, dip_id=DipId("1111111111"), dip_role=DipRole.SDS)
    assert len(mdrs) == 4
    assert [e.mpid for e in one] == ["SUPA"]


def test_merge_replaces_only_the_companies_in_the_file(db: Database) -> None:
    with db.begin() as conn:
        import_isd(conn, read_json(sample_json()), mode=ImportMode.REPLACE)
        import_isd(
            conn,
            [entry("4444444444", "MDR", "MDRD", company="04444444")],
            mode=ImportMode.MERGE,
        )
        import_isd(
            conn,
            [entry("3333333333", "MDR", "MDRC", start="2025-06-01", company="03333333")],
            mode=ImportMode.MERGE,
        )
        table = load_isd(conn)
    assert len(table) == 7  # 7 - 2 (company 03333333) + 1 + 1
    assert {e.mpid for e in table.for_role(DipRole.MDR)} == {"SUPA", "SDSB", "MDRD", "MDRC"}


def test_merge_that_would_overlap_kept_rows_changes_nothing(db: Database) -> None:
    with db.begin() as conn:
        import_isd(conn, read_json(sample_json()), mode=ImportMode.REPLACE)
    clash = [entry("5555555555", "MDR", "SDSB", company="05555555")]  # SDSB is Beacon's MDR id
    with pytest.raises(IsdOverlap), db.begin() as conn:
        import_isd(conn, clash, mode=ImportMode.MERGE)
    with db.begin() as conn:
        assert set(load_isd(conn)) == set(read_json(sample_json()))


def test_registry_joins_organisations_to_isd(db: Database) -> None:
    text = files("openmhhs.data").joinpath("participants_sample.yaml").read_text()
    with db.begin() as conn:
        import_isd(conn, read_json(sample_json()), mode=ImportMode.REPLACE)
        save_organisations(conn, read_participants(text))
        registry = load_registry(conn)
    aurora = registry.organisation(CompanyNumber("01111111"))
    assert aurora is not None and aurora.sec is SecStatus.ACCEDED
    assert aurora.holds(DccUserRole.IMPORT_SUPPLIER)
    assert not aurora.holds(DccUserRole.METER_DATA_RETRIEVER)
    assert {r.dip_role for r in registry.registrations(CompanyNumber("01111111"))} == {
        "SUP",
        "SDS",
        "MDR",
    }
    assert registry.roles_of(DipId("1111111111"), on=at("2025-07-01").date()) == {
        "SUP",
        "SDS",
        "MDR",
    }
    assert registry.is_valid_mdr(DipId("3333333333"), on=at("2025-07-01").date())
