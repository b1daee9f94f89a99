"""Issue 11's rules as pure functions: one identity per organisation, a role held on the
dates given, qualification, the implementation model an arrangement is, the SDS's change of
MDR, and database URLs refused before anything is opened or made."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from openmhhs.codes import ResponseCode
from openmhhs.dataservice.contracts import Contract
from openmhhs.dataservice.decisions import MdrChangeRefused, plan_mdr_change
from openmhhs.identity.isd import IsdIdentityShared, IsdTable, find_shared_identities
from openmhhs.identity.registry import NotQualified, Organisation, Qualification, require_qualified
from openmhhs.identity.translation import NotAValidMdr, RoleNotHeld, holds_role, require_role
from openmhhs.ids import CompanyNumber, DipId, DipRole
from openmhhs.market.description import arrangement
from openmhhs.periods import Period
from openmhhs.store.database import Database, DatabaseUrlInvalid
from tests.isd_samples import entry

SUP, SDS, MDR = DipId("1111111111"), DipId("2222222222"), DipId("3333333333")

# --- one DIP ID and one MPID belong to one organisation ------------------------------------------


def test_one_organisation_may_hold_several_roles_under_one_dip_id_and_mpid() -> None:
    rows = [entry("1111111111", "SUP", "SUPA", "X"), entry("1111111111", "SDS", "SUPA", "N")]
    assert find_shared_identities(rows) == []
    assert len(IsdTable(rows)) == 2


def test_a_dip_id_held_by_two_organisations_is_refused_whatever_the_dates() -> None:
    rows = [
        entry("1111111111", "SUP", "SUPA", "X", end="2025-05-01", row=1),
        entry("1111111111", "MDR", "MDRC", start="2026-01-01", company="03333333", row=2),
    ]
    (problem,) = find_shared_identities(rows)
    assert (problem.row, problem.where, problem.code) == (2, "DIP ID 1111111111", ResponseCode.OMH0303)
    with pytest.raises(IsdIdentityShared) as raised:
        IsdTable(rows)
    assert raised.value.code is ResponseCode.OMH0303


def test_an_mpid_held_by_two_organisations_is_refused() -> None:
    rows = [
        entry("1111111111", "SUP", "SUPA", "X", row=1),
        entry("3333333333", "MDR", "SUPA", company="03333333", row=2),
    ]
    assert [p.where for p in find_shared_identities(rows)] == ["MPID SUPA"]


# --- a role held in the ISD on the dates given -----------------------------------------------------

ISD = IsdTable(
    [
        entry("1111111111", "SUP", "SUPA", "X", start="2025-04-01"),
        entry("3333333333", "MDR", "MDRC", start="2025-04-01", end="2025-06-01", company="03333333"),
    ]
)


@pytest.mark.parametrize(
    ("start", "end", "held"),
    [
        (date(2025, 1, 1), date(2025, 4, 1), False),  # half-open: ends as the registration starts
        (date(2025, 1, 1), date(2025, 4, 2), True),
        (date(2025, 5, 31), None, True),
        (date(2025, 6, 1), None, False),  # the registration ended at the start of that day
    ],
)
def test_a_role_is_held_when_a_registration_overlaps_the_days(
    start: date, end: date | None, held: bool
) -> None:
    assert holds_role(ISD, dip_id=MDR, role=DipRole.MDR, during=Period(start, end)) is held


def test_no_such_mdr_is_reg1081_and_any_other_role_omh0304() -> None:
    with pytest.raises(NotAValidMdr) as mdr:
        require_role(ISD, dip_id=SUP, role=DipRole.MDR, during=Period(date(2025, 7, 1)), what="the MDR")
    assert mdr.value.code is ResponseCode.REG1081
    with pytest.raises(RoleNotHeld) as sds:
        require_role(ISD, dip_id=MDR, role=DipRole.SDS, during=Period(date(2025, 7, 1)), what="the SDS")
    assert (
        sds.value.code is ResponseCode.OMH0304 and "the SDS 3333333333 holds no SDS role" in sds.value.detail
    )
    require_role(ISD, dip_id=SUP, role=DipRole.SUP, during=Period(date(2025, 7, 1)), what="the supplier")


# --- qualification ------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [Qualification.IN_PROGRESS, Qualification.NOT_QUALIFIED])
def test_a_provider_not_qualified_in_its_role_is_reg1031(status: Qualification) -> None:
    organisation = Organisation(CompanyNumber("02222222"), "Beacon", qualifications={"SDS": status})
    with pytest.raises(NotQualified) as raised:
        require_qualified(organisation, role=DipRole.SDS, who="SDS SDSB")
    assert raised.value.code is ResponseCode.REG1031
    require_qualified(organisation, role=DipRole.MDR, who="MDR SDSB")  # not listed: qualified
    require_qualified(None, role=DipRole.SDS, who="an organisation the registry does not name")


# --- the implementation model an arrangement is ----------------------------------------------------


@pytest.mark.parametrize(
    ("sds", "mdr", "shares", "model"),
    [
        (SDS, MDR, False, "1A"),
        (SDS, SDS, False, "1A"),
        (SDS, MDR, True, "1B"),
        (SUP, SUP, False, "2A"),
        (SDS, SUP, False, "3A"),
        (SUP, MDR, False, None),  # the Supplier as SDS with another MDR: no model of the design note
    ],
)
def test_arrangement_names_the_design_notes_model(
    sds: DipId, mdr: DipId, shares: bool, model: str | None
) -> None:
    assert arrangement(supplier=SUP, sds=sds, mdr=mdr, shares_data=shares) == model


# --- the SDS's own check of a change of MDR ----------------------------------------------------------

CONTRACT = Contract(
    sds=SDS, supplier=SUP, reference="C-1", supported_mdrs=frozenset({SDS, MDR}), default_mdr=SDS
)


def test_the_contract_does_not_judge_whether_the_mdr_changes() -> None:
    # an unchanged MDR is the Registration Service's REG1098, not the SDS's DS001
    plan_mdr_change(contract=CONTRACT, new_mdr=SDS, effective_from=date(2025, 7, 3), today=date(2025, 7, 1))


def test_an_mdr_the_contract_does_not_support_is_ds001() -> None:
    with pytest.raises(MdrChangeRefused) as raised:
        plan_mdr_change(
            contract=CONTRACT, new_mdr=SUP, effective_from=date(2025, 7, 3), today=date(2025, 7, 1)
        )
    assert raised.value.code is ResponseCode.DS001


# --- database URLs -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["t.db", "mysql://user:pw@127.0.0.1/x", "oracle://127.0.0.1/x"])
def test_a_url_that_names_no_database_openmhhs_runs_on_is_omh0404(url: str) -> None:
    with pytest.raises(DatabaseUrlInvalid) as raised:
        Database(url)
    assert raised.value.code is ResponseCode.OMH0404
    assert "pw" not in raised.value.detail


def test_an_sqlite_file_in_a_missing_folder_is_refused_and_the_folder_not_made(tmp_path: Path) -> None:
    folder = tmp_path / "absent" / "deeper"
    with pytest.raises(DatabaseUrlInvalid):
        Database(f"sqlite:///{folder / 'x.db'}")
    assert not (tmp_path / "absent").exists()
