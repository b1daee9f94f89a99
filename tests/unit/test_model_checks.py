"""``openmhhs model check`` asks the run's own rules: the SDS's choice of contract (SP001,
SP002) and of MDR (DS001) in ``dataservice.decisions``, the Registration Service's provider
and MDR checks (REG1031, REG1081) in ``registration.rules``. Each check is shown twice: on a
broken description, with the rule's own code; and with the rule function replaced, where the
check must follow the replacement (a check restating the rule would not)."""

from __future__ import annotations

from importlib.resources import files

import pytest

from openmhhs.codes import ResponseCode
from openmhhs.dataservice import decisions
from openmhhs.dataservice.decisions import Decision
from openmhhs.ids import DipId
from openmhhs.market.description import DescriptionInvalid, Problem, check, parse_description
from openmhhs.registration import rules


def _problems(*replace: tuple[str, str]) -> list[Problem]:
    """What ``model check`` says of 1A's description with ``replace`` made (parsing checks)."""
    text = files("openmhhs.data.scenarios").joinpath("1a-fully-separated.yaml").read_text()
    for old, new in replace:
        assert old in text
        text = text.replace(old, new)
    try:
        return check(parse_description(text))
    except DescriptionInvalid as invalid:
        return invalid.problems


AURORA = "propose: {sds: SDSB, mdr: MDRC, contract: C-AURORA-BEACON}"


def _codes(problems: list[Problem]) -> list[str | None]:
    return [p.code for p in problems]


def test_a_clean_description_checks_clean() -> None:
    assert _problems() == []


# --- SP001: no contract with the SDS --------------------------------------------------------------
NO_CONTRACT = ("supplier: SUPA\n    mdrs", "supplier: DAWN\n    mdrs")


def test_sp001_no_contract_with_the_proposed_sds() -> None:
    found = _problems(NO_CONTRACT, (AURORA, "propose: {sds: SDSB, mdr: MDRC}"))
    assert _codes(found) == ["SP001"]
    assert found[0].message == "supplier SUPA (Aurora) proposes SDS SDSB, with which it has no contract"


def test_sp001_follows_the_sds_contract_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    real = decisions.choose_contract
    # as if the rule let Aurora use Dawn's contract: the check then finds nothing to refuse
    dawns = {"supplier": DipId("4444444444"), "reference": "C-DAWN-BEACON"}
    monkeypatch.setattr(decisions, "choose_contract", lambda **kw: real(**(kw | dawns)))
    assert _problems(NO_CONTRACT, (AURORA, "propose: {sds: SDSB, mdr: MDRC}")) == []


# --- SP002: a contract the supplier does not hold, or several and none named ---------------------
def test_sp002_names_a_contract_it_does_not_hold() -> None:
    found = _problems((AURORA, "propose: {sds: SDSB, mdr: MDRC, contract: NOPE}"))
    assert [str(p) for p in found] == [
        "supplier SUPA (Aurora) names contract NOPE, not one it holds with SDS SDSB (SP002)"
    ]


def test_sp002_follows_the_sds_contract_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    refused = Decision(False, ResponseCode.SP099, "changed")
    monkeypatch.setattr(decisions, "choose_contract", lambda **_: refused)
    assert _codes(_problems()) == ["SP099", "SP099"]  # both suppliers' routes, as the rule says


# --- DS001: a blank nomination the contract forbids; an MDR it does not support ------------------
def test_ds001_an_unsupported_mdr() -> None:
    found = _problems((AURORA, "propose: {sds: SDSB, mdr: SUPA, contract: C-AURORA-BEACON}"))
    assert "supplier SUPA proposes MDR SUPA, which the contract with SDS SDSB does not support (DS001)" in [
        str(p) for p in found
    ]


def test_ds001_a_forbidden_blank_nomination() -> None:
    found = _problems(
        ("default_mdr: MDRC", "blank_mdr: reject"),
        (AURORA, "propose: {sds: SDSB, contract: C-AURORA-BEACON}"),
    )
    assert [str(p) for p in found] == [
        "supplier SUPA (Aurora) leaves the MDR blank, but the contract C-AURORA-BEACON with SDS SDSB "
        "requires a nomination (DS001)"
    ]


def test_ds001_follows_the_sds_mdr_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    real = decisions.choose_mdr
    monkeypatch.setattr(decisions, "choose_mdr", lambda **kw: real(**{**kw, "nominated_mdr": None}))
    found = _problems((AURORA, "propose: {sds: SDSB, mdr: SUPA, contract: C-AURORA-BEACON}"))
    assert "DS001" not in _codes(found)  # the rule now takes the default: the check agrees


# --- REG1031: the proposed SDS does not hold the SDS role ----------------------------------------
def test_reg1031_a_proposed_sds_without_the_role() -> None:
    found = _problems((AURORA, "propose: {sds: MDRC, mdr: MDRC, contract: C-AURORA-BEACON}"))
    assert [str(p) for p in found] == [
        "supplier SUPA (Aurora) proposes MDRC as SDS, which does not hold the SDS role (REG1031)"
    ]


def test_reg1031_follows_the_registration_service(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: object, **__: object) -> None:
        raise rules.ProviderIncompatibleWithSegment("changed")

    monkeypatch.setattr(rules, "registered_provider", refuse)
    assert _codes(_problems()) == ["REG1031", "REG1031"]


# --- REG1081: an MDR not registered ---------------------------------------------------------------
def test_reg1081_a_contract_lists_an_mdr_that_is_not_one() -> None:
    found = _problems(("mdrs: [MDRC, SDSB]", "mdrs: [MDRC, SUPA]"))
    assert [str(p) for p in found] == [
        "contract C-AURORA-BEACON lists SUPA, which is not a registered MDR (REG1081)"
    ]


def test_reg1081_follows_the_registration_service(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: object, **__: object) -> None:
        raise rules.MdrNotValid("changed")

    monkeypatch.setattr(rules, "registered_mdr", refuse)
    found = _problems()
    assert set(_codes(found)) == {"REG1081"}
    assert "MDRC (Aurora) is not registered as an MDR in the ISD (REG1081)" in [str(p) for p in found]
