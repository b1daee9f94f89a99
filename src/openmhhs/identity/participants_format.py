"""Reading the participants file: per organisation, what the ISD table does not say
(SEC accession, DCC user roles, qualification per DIP role).

.. code-block:: yaml

    organisations:
      - company_number: "02222222"
        name: Beacon Smart Data Services Ltd
        sec: acceded                              # acceded | pending | not_acceded
        dcc_user_roles: [meter_data_retriever]    # import_supplier, export_supplier
        qualification: {SDS: qualified, MDR: in_progress}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from openmhhs.codes import CodedError
from openmhhs.identity.registry import (
    DccUserRole,
    Organisation,
    ParticipantsInvalid,
    Qualification,
    SecStatus,
)
from openmhhs.ids import CompanyNumber, DipRole

__all__ = ["organisations_from_mapping", "read_participants"]

_KEYS = frozenset({"company_number", "name", "note", "sec", "dcc_user_roles", "qualification"})


def _choice(kind: type[Any], value: object, where: str, problems: list[str]) -> Any:
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        problems.append(f"{where}: {value!r} is not one of {allowed}")
        return None


def organisations_from_mapping(items: object, *, source: str) -> list[Organisation]:
    """Organisations from already-parsed YAML/TOML data (a list of mappings)."""
    if not isinstance(items, list):
        raise ParticipantsInvalid(f"{source}: 'organisations' must be a list")
    problems: list[str] = []
    organisations: list[Organisation] = []
    for index, item in enumerate(items, start=1):
        where = f"{source}: organisation {index}"
        if not isinstance(item, Mapping):
            problems.append(f"{where} must be a mapping")
            continue
        unknown = sorted(set(item) - _KEYS)
        if unknown:
            problems.append(f"{where} has unknown key(s) {', '.join(unknown)}")
        try:
            number = CompanyNumber(str(item.get("company_number", "")))
        except CodedError as exc:
            problems.append(f"{where}: {exc.detail}")
            continue
        where = f"{source}: organisation {number}"
        name = item.get("name")
        if not isinstance(name, str) or not name.strip():
            problems.append(f"{where}: name is required")
            continue
        sec = _choice(SecStatus, item.get("sec", "not_acceded"), f"{where} sec", problems)
        roles_raw = item.get("dcc_user_roles", [])
        if not isinstance(roles_raw, list):
            problems.append(f"{where}: dcc_user_roles must be a list")
            roles_raw = []
        roles = {_choice(DccUserRole, r, f"{where} dcc_user_roles", problems) for r in roles_raw}
        quals_raw = item.get("qualification", {})
        qualifications: dict[str, Qualification] = {}
        if not isinstance(quals_raw, Mapping):
            problems.append(f"{where}: qualification must be a mapping of DIP role to status")
        else:
            for role, status in quals_raw.items():
                try:
                    DipRole(str(role))
                except CodedError as exc:
                    problems.append(f"{where} qualification: {exc.detail}")
                    continue
                parsed = _choice(Qualification, status, f"{where} qualification {role}", problems)
                if parsed is not None:
                    qualifications[str(role)] = parsed
        if sec is None or None in roles:
            continue
        organisations.append(
            Organisation(
                company_number=number,
                name=name.strip(),
                sec=sec,
                dcc_user_roles=frozenset(roles),
                qualifications=qualifications,
            )
        )
    seen: set[str] = set()
    for org in organisations:
        if org.company_number in seen:
            problems.append(f"{source}: organisation {org.company_number} appears twice")
        seen.add(org.company_number)
    if problems:
        raise ParticipantsInvalid("; ".join(problems))
    return organisations


def read_participants(text: str, *, source: str = "participants file") -> list[Organisation]:
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ParticipantsInvalid(f"{source} is not valid YAML: {exc}") from None
    if not isinstance(document, Mapping) or "organisations" not in document:
        raise ParticipantsInvalid(f"{source} must be a mapping with an 'organisations' list")
    return organisations_from_mapping(document["organisations"], source=source)
