"""The participant registry: organisations, their BSCCo registrations per DIP role (from the
ISD M16 table, with a qualification status), their DCC user roles and SEC accession.

A Supplier that also acts as SDS or MDR keeps its DIP ID and gains roles: its
registrations are several M16 rows under one DIP ID. Whether an organisation may read
meters as an MDR is a separate question from whether it is a valid MDR: the DCC needs the
'Meter Data Retriever' user role (after SEC accession), or a Supplier acting as its own
MDR may use its Import/Export Supplier user roles instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from openmhhs.codes import CodedError, ResponseCode
from openmhhs.identity.isd import IsdEntry, IsdTable
from openmhhs.identity.translation import is_valid_mdr, moment_of
from openmhhs.ids import CompanyNumber, DipId, DipRole

__all__ = [
    "DccUserRole",
    "NotQualified",
    "Organisation",
    "ParticipantsInvalid",
    "Qualification",
    "Registration",
    "Registry",
    "SecStatus",
    "require_qualified",
]


class DccUserRole(StrEnum):
    """DCC user roles relevant to retrieving smart meter data (SEC Section H)."""

    IMPORT_SUPPLIER = "import_supplier"
    EXPORT_SUPPLIER = "export_supplier"
    METER_DATA_RETRIEVER = "meter_data_retriever"


class SecStatus(StrEnum):
    """Accession to the Smart Energy Code, a precondition of being a DCC user."""

    ACCEDED = "acceded"
    PENDING = "pending"
    NOT_ACCEDED = "not_acceded"


class Qualification(StrEnum):
    """BSCCo qualification of a role; its criteria are outside the design, so only a status."""

    QUALIFIED = "qualified"
    IN_PROGRESS = "in_progress"
    NOT_QUALIFIED = "not_qualified"


class ParticipantsInvalid(CodedError):
    code = ResponseCode.OMH0401
    rule = "identity.participants.valid"


@dataclass(frozen=True, slots=True)
class Organisation:
    company_number: CompanyNumber
    name: str
    sec: SecStatus = SecStatus.NOT_ACCEDED
    dcc_user_roles: frozenset[DccUserRole] = frozenset()
    qualifications: Mapping[str, Qualification] = field(default_factory=dict)
    """Qualification per DIP role code; a role not listed is qualified (the usual case)."""

    def qualification(self, role: DipRole) -> Qualification:
        return self.qualifications.get(str(role), Qualification.QUALIFIED)

    @property
    def is_dcc_user(self) -> bool:
        return self.sec is SecStatus.ACCEDED and bool(self.dcc_user_roles)

    def holds(self, role: DccUserRole) -> bool:
        return self.sec is SecStatus.ACCEDED and role in self.dcc_user_roles


class NotQualified(CodedError):
    """A service provider whose qualification for the role is not complete cannot be
    appointed: the RS finds it incompatible with the MPAN's market segment (REG1031)."""

    code = ResponseCode.REG1031
    rule = "identity.role.qualified"


def require_qualified(organisation: Organisation | None, *, role: DipRole, who: str) -> None:
    """``organisation`` must be qualified in ``role`` (an organisation the participants file
    does not name, or a role it does not list, is qualified)."""
    status = Qualification.QUALIFIED if organisation is None else organisation.qualification(role)
    if status is not Qualification.QUALIFIED:
        raise NotQualified(f"{who} is not qualified as {role} (qualification {status.value})")


@dataclass(frozen=True, slots=True)
class Registration:
    """A BSCCo registration of one organisation in one DIP role: an M16 row and its status."""

    entry: IsdEntry
    qualification: Qualification

    @property
    def dip_id(self) -> DipId | None:
        return self.entry.dip_id

    @property
    def dip_role(self) -> DipRole:
        return self.entry.dip_role


class Registry:
    """Organisations joined to the ISD table. Immutable; build a new one to change it."""

    __slots__ = ("_orgs", "table")

    def __init__(self, table: IsdTable, organisations: Iterable[Organisation] = ()) -> None:
        self.table = table
        self._orgs = {org.company_number: org for org in organisations}
        for entry in table:
            if entry.company_number not in self._orgs:
                self._orgs[entry.company_number] = Organisation(
                    company_number=entry.company_number,
                    name=entry.company_name or entry.company_number,
                )

    @property
    def organisations(self) -> list[Organisation]:
        return sorted(self._orgs.values(), key=lambda o: o.company_number)

    def organisation(self, company_number: CompanyNumber) -> Organisation | None:
        return self._orgs.get(company_number)

    def organisation_of(self, dip_id: DipId) -> Organisation | None:
        for entry in self.table.for_dip_id(dip_id):
            return self._orgs.get(entry.company_number)
        return None

    def registrations(self, company_number: CompanyNumber) -> list[Registration]:
        org = self._orgs.get(company_number)
        if org is None:
            return []
        rows = [e for e in self.table if e.company_number == company_number]
        rows.sort(key=lambda e: (e.dip_role, e.valid.start))
        return [Registration(entry=e, qualification=org.qualification(e.dip_role)) for e in rows]

    def roles_of(self, dip_id: DipId, *, on: date | datetime) -> set[DipRole]:
        """The DIP roles registered under one DIP ID on that day."""
        at = moment_of(on)
        return {e.dip_role for e in self.table.for_dip_id(dip_id) if e.effective_at(at)}

    def is_valid_mdr(self, dip_id: DipId, *, on: date | datetime) -> bool:
        """Valid when registered and effective in M16 as an MDR then (the definitive list)."""
        return is_valid_mdr(self.table, dip_id=dip_id, on=on)
