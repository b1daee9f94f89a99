"""The Smart Data Service's decision on a proposed appointment (IF-033 -> IF-034), and on
changing its MDR (IF-034 [SDS-MDRUpdate]), applying its Supplier contracts.

The design note's four cases: a nominated MDR the contract supports is accepted with that
MDR; a blank nomination gets the contractual default; a blank nomination is rejected when
the contract requires one (DS001); a nominated MDR the contract does not support is
rejected (DS001).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from openmhhs.codes import CodedError, ResponseCode
from openmhhs.dataservice.contracts import BlankMdrPolicy, Contract
from openmhhs.dip.vocabulary import Scenario
from openmhhs.ids import DipId

__all__ = [
    "Decision",
    "MdrChangeRefused",
    "ProposedAppointment",
    "choose_contract",
    "choose_mdr",
    "decide",
    "plan_mdr_change",
]


@dataclass(frozen=True, slots=True)
class ProposedAppointment:
    """What the SDS reads in an IF-033 [DSAppSPRequest]."""

    sds: DipId
    supplier: DipId
    contract_reference: str | None
    scenario: Scenario
    effective_from: date
    nominated_mdr: DipId | None
    nominated_mdr_from: date | None
    segment: str
    connection_type: str
    domestic: bool
    gsp_group: str
    postcode: str | None
    dcc_service_flag: str | None
    meter_types: tuple[str, ...]
    fallback_frequency: str | None


@dataclass(frozen=True, slots=True)
class Decision:
    accepted: bool
    code: ResponseCode
    reason: str
    contract: Contract | None = None
    mdr: DipId | None = None
    mdr_from: date | None = None

    @property
    def response_code(self) -> str:
        """B007 responseCode: A or R."""
        return "A" if self.accepted else "R"


def _reject(code: ResponseCode, reason: str, contract: Contract | None = None) -> Decision:
    return Decision(False, code, reason, contract)


def choose_contract(
    *,
    sds: DipId,
    supplier: DipId,
    reference: str | None,
    segment: str,
    connection_type: str,
    contracts: Sequence[Contract],
) -> Contract | Decision:
    """The contract a proposal falls under: the one it names (SP002 when it is not one of the
    supplier's), else the only one covering its segment and connection type, else the only
    one with the supplier; SP001 with none, SP002 when several could apply."""
    mine = [c for c in contracts if c.sds == sds and c.supplier == supplier]
    if not mine:
        return _reject(ResponseCode.SP001, f"no contract with supplier {supplier}")
    if reference is not None:
        named = [c for c in mine if c.reference == reference]
        if not named:
            return _reject(
                ResponseCode.SP002,
                f"contract {reference!r} is not one of {supplier}'s "
                f"({', '.join(sorted(c.reference for c in mine))})",
            )
        return named[0]
    covering = [c for c in mine if segment in c.segments and connection_type in c.connection_types]
    if len(covering) == 1:
        return covering[0]
    if len(mine) == 1:
        return mine[0]
    return _reject(
        ResponseCode.SP002,
        f"no contract reference given and {len(covering) or len(mine)} contracts could apply",
    )


def decide(*, proposal: ProposedAppointment, contracts: Sequence[Contract], today: date) -> Decision:
    """SP000 with the MDR, or the exact rejection."""
    chosen = choose_contract(
        sds=proposal.sds,
        supplier=proposal.supplier,
        reference=proposal.contract_reference,
        segment=proposal.segment,
        connection_type=proposal.connection_type,
        contracts=contracts,
    )
    if isinstance(chosen, Decision):
        return chosen
    contract = chosen
    if not contract.valid.contains(proposal.effective_from):
        return _reject(
            ResponseCode.SP099,
            f"contract {contract.reference} is not in force on {proposal.effective_from.isoformat()}",
            contract,
        )
    all_mine = [c for c in contracts if c.sds == proposal.sds]
    if not any(proposal.segment in c.segments for c in all_mine):
        return _reject(ResponseCode.SP005, f"segment {proposal.segment} is not supported", contract)
    if not any(proposal.connection_type in c.connection_types for c in all_mine):
        return _reject(
            ResponseCode.SP004,
            f"connection type {proposal.connection_type} is not supported",
            contract,
        )
    if proposal.segment not in contract.segments or proposal.connection_type not in contract.connection_types:
        return _reject(
            ResponseCode.SP003,
            f"contract {contract.reference} does not cover segment {proposal.segment} / connection "
            f"type {proposal.connection_type}",
            contract,
        )
    if contract.meter_types is not None and not set(proposal.meter_types) <= contract.meter_types:
        unsupported = sorted(set(proposal.meter_types) - contract.meter_types)
        return _reject(ResponseCode.SP006, f"meter type(s) {', '.join(unsupported)} not supported", contract)
    if contract.gsp_groups is not None and proposal.gsp_group not in contract.gsp_groups:
        return _reject(
            ResponseCode.SP007,
            f"GSP Group {proposal.gsp_group} is outside the operational area",
            contract,
        )
    if not proposal.postcode:
        return _reject(ResponseCode.SP008, "the metering point has no postcode (B022)", contract)
    if contract.requires_dcc_enrolment and proposal.dcc_service_flag != "A":
        return _reject(
            ResponseCode.SP009,
            f"the meter is not DCC enrolled and commissioned (B029 {proposal.dcc_service_flag or 'absent'})",
            contract,
        )
    if proposal.domestic not in contract.domestic_indicators:
        kind = "domestic" if proposal.domestic else "non-domestic"
        return _reject(
            ResponseCode.SP010, f"{kind} premises are not covered by {contract.reference}", contract
        )
    lead = (proposal.effective_from - today).days
    if proposal.scenario is not Scenario.USP and lead < contract.min_lead_days:
        return _reject(
            ResponseCode.SP011,
            f"{lead} days' notice; contract {contract.reference} needs {contract.min_lead_days}",
            contract,
        )
    if contract.requires_fallback_frequency and proposal.fallback_frequency in (None, "x"):
        return _reject(ResponseCode.DS003, "a traditional fall-back read frequency is required", contract)
    return choose_mdr(
        contract=contract,
        nominated_mdr=proposal.nominated_mdr,
        mdr_from=proposal.nominated_mdr_from or proposal.effective_from,
        scenario=proposal.scenario,
        today=today,
    )


def choose_mdr(
    *, contract: Contract, nominated_mdr: DipId | None, mdr_from: date, scenario: Scenario, today: date
) -> Decision:
    """The MDR the SDS accepts under ``contract``: the nominated one if the contract supports it
    (DS001 if not), the contractual default for a blank nomination (DS001 when the contract
    requires one); an update (USP) also needs the contract's notice (DS004-DS006)."""
    if nominated_mdr is None:
        if contract.blank_mdr is BlankMdrPolicy.REJECT:
            return _reject(
                ResponseCode.DS001,
                f"contract {contract.reference} requires the supplier to nominate the MDR",
                contract,
            )
        assert contract.default_mdr is not None
        return Decision(
            True,
            ResponseCode.SP000,
            "accepted with the contractual default MDR",
            contract,
            contract.default_mdr,
            mdr_from,
        )
    if nominated_mdr not in contract.supported_mdrs:
        return _reject(
            ResponseCode.DS001,
            f"MDR {nominated_mdr} is not supported under contract {contract.reference}",
            contract,
        )
    if scenario is Scenario.USP:
        try:
            check_mdr_change_notice(contract=contract, effective_from=mdr_from, today=today)
        except MdrChangeRefused as refused:
            return _reject(refused.code, refused.detail, contract)
    return Decision(
        True,
        ResponseCode.SP000,
        "accepted with the nominated MDR",
        contract,
        nominated_mdr,
        mdr_from,
    )


class MdrChangeRefused(CodedError):
    """A change of MDR the contract's notice rules do not allow (DS004, DS005, DS006)."""

    rule = "dataservice.mdr_change.notice"

    def __init__(self, code: ResponseCode, detail: str) -> None:
        super().__init__(detail)
        self.code = code


def check_mdr_change_notice(*, contract: Contract, effective_from: date, today: date) -> None:
    notice = (effective_from - today).days
    if notice < 0:
        raise MdrChangeRefused(
            ResponseCode.DS005,
            f"a change of MDR cannot be retrospective ({effective_from.isoformat()})",
        )
    if notice < contract.mdr_change_notice_days:
        raise MdrChangeRefused(
            ResponseCode.DS004,
            f"{notice} days' notice of a change of MDR; contract {contract.reference} needs "
            f"{contract.mdr_change_notice_days}",
        )
    if contract.mdr_change_max_notice_days is not None and notice > contract.mdr_change_max_notice_days:
        raise MdrChangeRefused(
            ResponseCode.DS006,
            f"a change of MDR {notice} days ahead; contract {contract.reference} allows at most "
            f"{contract.mdr_change_max_notice_days}",
        )


def plan_mdr_change(*, contract: Contract, new_mdr: DipId, effective_from: date, today: date) -> None:
    """May the SDS change the MDR (IF-034 [SDS-MDRUpdate]) under its contract? Raises
    ``MdrChangeRefused`` (DS001 for an MDR the contract does not support; DS004-DS006 for
    the notice). Whether the MDR would change at all on the effective day is the
    Registration Service's question (REG1098), not the contract's."""
    if new_mdr not in contract.supported_mdrs:
        raise MdrChangeRefused(
            ResponseCode.DS001,
            f"MDR {new_mdr} is not supported under contract {contract.reference}",
        )
    check_mdr_change_notice(contract=contract, effective_from=effective_from, today=today)
