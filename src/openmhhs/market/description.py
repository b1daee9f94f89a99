"""A market described in one YAML file: who the organisations are and which roles they hold,
the Supplier–SDS contracts, the Suppliers' brands and customer types, and the routing rules
that say which SDS and MDR a Supplier proposes for an MPAN.

``check`` explains every problem in business words, with the official code where one
applies (for instance "supplier SUPA proposes MDR MDRC, which the contract with SDS SDSB
does not support (DS001)"). A description that checks clean can be loaded into a database
(ISD table, organisations, contracts) and run (``market.driver``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import yaml

from openmhhs.codes import CodedError, ResponseCode
from openmhhs.dataservice import decisions
from openmhhs.dataservice.contracts import BlankMdrPolicy, Contract, ContractInvalid
from openmhhs.days import LONDON
from openmhhs.dcc.access import IMPORT, retrieval_role, supplier_role_for
from openmhhs.dip.vocabulary import ConnectionType, Scenario
from openmhhs.identity.isd import IsdEntry, IsdIdentityShared, IsdOverlap, IsdTable
from openmhhs.identity.registry import (
    DccUserRole,
    NotQualified,
    Organisation,
    Qualification,
    SecStatus,
    require_qualified,
)
from openmhhs.ids import CompanyNumber, DipId, DipRole, MarketRole, Mpid
from openmhhs.periods import Period
from openmhhs.registration import rules
from openmhhs.registration.model import MarketSegment, Service

__all__ = [
    "Brand",
    "CustomerType",
    "DescriptionInvalid",
    "MarketDescription",
    "Problem",
    "Route",
    "arrangement",
    "check",
    "parse_description",
]

MODELS = {
    "1A": "Fully separated, no supplier data sharing",
    "1B": "Fully separated, the Supplier shares its own consumption data with the SDS",
    "2A": "Fully integrated: the Supplier is SDS and MDR",
    "3A": "Mixed: a third-party SDS, the Supplier as MDR",
    "4A": "Hybrid: different models per brand or customer type",
}


class DescriptionInvalid(CodedError):
    code = ResponseCode.OMH0401
    rule = "market.description.valid"

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class Problem:
    message: str
    code: str | None = None

    def __str__(self) -> str:
        return f"{self.message} ({self.code})" if self.code else self.message


@dataclass(frozen=True, slots=True)
class Role:
    role: DipRole
    market_role: MarketRole | None
    since: date


@dataclass(frozen=True, slots=True)
class Party:
    """An organisation and the DIP roles it holds under one DIP ID and MPID."""

    company_number: CompanyNumber
    name: str
    dip_id: DipId
    mpid: Mpid
    roles: tuple[Role, ...]
    sec: SecStatus
    dcc_user_roles: frozenset[DccUserRole]
    qualification: Mapping[str, Qualification] = field(default_factory=dict)

    def holds(self, role: str) -> bool:
        return any(r.role == role for r in self.roles)


@dataclass(frozen=True, slots=True)
class Route:
    """What a Supplier proposes for the MPANs of a brand or customer type."""

    sds: DipId
    mdr: DipId | None
    """The MDR the Supplier nominates; None leaves it to the SDS (its contractual default)."""
    contract: str | None


@dataclass(frozen=True, slots=True)
class Brand:
    name: str
    share: float
    route: Route
    model: str | None = None
    """The implementation model this brand's MPANs follow (4A mixes several)."""


@dataclass(frozen=True, slots=True)
class CustomerType:
    name: str
    share: float
    route: Route
    domestic: bool = True
    meter_type: str = "S2AD"
    model: str | None = None


@dataclass(frozen=True, slots=True)
class SupplierPlan:
    supplier: DipId
    brands: tuple[Brand, ...] = ()
    customer_types: tuple[CustomerType, ...] = ()
    shares_consumption_data: bool = False
    """Model 1B: the Supplier hands the SDS consumption data it already holds."""

    @property
    def routes(self) -> list[tuple[str, float, Route]]:
        return [(g.name, g.share, g.route) for g in self.groups]

    @property
    def groups(self) -> list[Brand | CustomerType]:
        return [*self.brands, *self.customer_types]


@dataclass(frozen=True, slots=True)
class MarketDescription:
    name: str
    model: str
    description: str
    start: date
    parties: tuple[Party, ...]
    contracts: tuple[Contract, ...]
    suppliers: tuple[SupplierPlan, ...]
    metering_service: DipId | None

    def party(self, dip_id: str) -> Party | None:
        return next((p for p in self.parties if p.dip_id == dip_id), None)

    def label(self, dip_id: str | None) -> str:
        party = self.party(dip_id) if dip_id else None
        return party.mpid if party else (dip_id or "-")

    def isd(self) -> list[IsdEntry]:
        rows = []
        for party in self.parties:
            for role in party.roles:
                rows.append(
                    IsdEntry(
                        company_number=party.company_number,
                        company_name=party.name,
                        mpid=party.mpid,
                        market_role=role.market_role,
                        dip_id=party.dip_id,
                        dip_role=role.role,
                        valid=Period(
                            datetime(role.since.year, role.since.month, role.since.day, tzinfo=LONDON)
                        ),
                    )
                )
        return rows

    def organisations(self) -> list[Organisation]:
        return [
            Organisation(
                company_number=p.company_number,
                name=p.name,
                sec=p.sec,
                dcc_user_roles=p.dcc_user_roles,
                qualifications=dict(p.qualification),
            )
            for p in self.parties
        ]

    def by_role(self, role: str) -> list[Party]:
        return [p for p in self.parties if p.holds(role)]


# --- the standard infrastructure ---------------------------------------------------------------

AREAS = "ABCDEFGHIJKLMN"
"""Area distributors 10..23 get MPIDs DNOA..DNON and DIP IDs 9000000010..9000000023."""


def distributor_dip_id(area: str) -> DipId:
    return DipId(f"90000000{area}")


def standard_infrastructure(start: date) -> list[Party]:
    """The Registration Service, the DCC, the Market-wide Data Service (which receives IF-021),
    the 14 area distributors and a Smart Metering Service."""

    def party(number: str, name: str, dip_id: str, mpid: str, role: str, market: str | None) -> Party:
        return Party(
            company_number=CompanyNumber(number),
            name=name,
            dip_id=DipId(dip_id),
            mpid=Mpid(mpid),
            roles=(Role(DipRole(role), MarketRole.parse_optional(market), start),),
            sec=SecStatus.ACCEDED,
            dcc_user_roles=frozenset(),
        )

    parties = [
        party("09000001", "MHHS Registration Service", "9000000001", "RSVC", "REGS", "Q"),
        party("09000002", "Smart DCC Ltd", "9000000002", "DCCL", "DCC", "J"),
        party("09000003", "Elexon Market-wide Data Service", "9000000003", "MDSE", "MDS", None),
        party("05555555", "Meterwise Smart Metering Ltd", "5555555555", "MTRW", "SMS", "M"),
    ]
    for offset, letter in enumerate(AREAS):
        area = str(10 + offset)
        parties.append(
            party(
                f"090000{area}",
                f"Area {area} Distribution plc",
                str(distributor_dip_id(area)),
                f"DNO{letter}",
                "LDSO",
                "R",
            )
        )
    return parties


# --- parsing ---------------------------------------------------------------------------------


class _Reader:
    """Collects problems while reading, so that every one is reported at once."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def fail(self, message: str, code: str | None = None) -> None:
        self.problems.append(Problem(message, code))

    def identifier(self, kind: Any, value: object, where: str) -> Any:
        try:
            return kind(str(value))
        except CodedError as exc:
            self.fail(f"{where}: {exc.detail}", exc.code.value)
        except (TypeError, ValueError) as exc:
            self.fail(f"{where}: {exc}")
        return None

    def choice(self, kind: Any, value: object, where: str) -> Any:
        try:
            return kind(value)
        except ValueError:
            self.fail(f"{where}: {value!r} is not one of {', '.join(m.value for m in kind)}")
            return None


def _as_date(value: object, where: str, reader: _Reader) -> date | None:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        reader.fail(f"{where}: {value!r} is not a date YYYY-MM-DD")
        return None


def parse_description(text: str, *, source: str = "market description") -> MarketDescription:
    """Read a description; raise ``DescriptionInvalid`` listing every problem."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise DescriptionInvalid([Problem(f"{source} is not valid YAML: {exc}")]) from None
    if not isinstance(document, Mapping):
        raise DescriptionInvalid([Problem(f"{source} must be a YAML mapping")])
    reader = _Reader()
    start = _as_date(document.get("start", "2025-07-01"), "start", reader) or date(2025, 7, 1)
    model = str(document.get("model", ""))
    if model not in MODELS:
        reader.fail(f"model {model!r} is not one of {', '.join(MODELS)}")
    parties = _parties(document.get("organisations"), reader, start)
    infrastructure = document.get("infrastructure")
    if infrastructure == "standard":
        parties += [p for p in standard_infrastructure(start) if p.dip_id not in {q.dip_id for q in parties}]
    elif infrastructure is not None:
        reader.fail(f"infrastructure: {infrastructure!r} is not 'standard' (or leave it out)")
    by_ref = {p.mpid: p for p in parties} | {str(p.dip_id): p for p in parties}

    def ref(value: object, where: str) -> DipId | None:
        party = by_ref.get(str(value))
        if party is None:
            reader.fail(f"{where}: {value!r} is not one of the organisations (give its DIP ID or MPID)")
            return None
        return party.dip_id

    contracts = _contracts(document.get("contracts", []), reader, ref)
    suppliers = _suppliers(document.get("suppliers", []), reader, ref)
    ms = document.get("metering_service") or ("MTRW" if infrastructure == "standard" else None)
    description = MarketDescription(
        name=str(document.get("name", source)),
        model=model,
        description=str(document.get("description", "")).strip(),
        start=start,
        parties=tuple(parties),
        contracts=tuple(contracts),
        suppliers=tuple(suppliers),
        metering_service=ref(ms, "metering_service") if ms else None,
    )
    if reader.problems:
        raise DescriptionInvalid(reader.problems)
    problems = check(description)
    if problems:
        raise DescriptionInvalid(problems)
    return description


def _parties(items: object, reader: _Reader, start: date) -> list[Party]:
    if not isinstance(items, list) or not items:
        reader.fail("organisations: a list of organisations is required")
        return []
    parties: list[Party] = []
    for index, item in enumerate(items, start=1):
        if not isinstance(item, Mapping):
            reader.fail(f"organisation {index} must be a mapping")
            continue
        where = f"organisation {item.get('name', index)}"
        number = reader.identifier(CompanyNumber, item.get("company_number", ""), f"{where} company_number")
        dip_id = reader.identifier(DipId, item.get("dip_id", ""), f"{where} dip_id")
        mpid = reader.identifier(Mpid, item.get("mpid", ""), f"{where} mpid")
        roles: list[Role] = []
        for raw in item.get("roles", []) or []:
            entry = raw if isinstance(raw, Mapping) else {"role": raw}
            role = reader.identifier(DipRole, entry.get("role", ""), f"{where} role")
            market = entry.get("market_role")
            market_role = reader.identifier(MarketRole, market, f"{where} market_role") if market else None
            since = _as_date(entry.get("from", start), f"{where} role {role} from", reader) or start
            if role is not None:
                roles.append(Role(role, market_role, since))
        if not roles:
            reader.fail(f"{where} holds no DIP role")
        sec = reader.choice(SecStatus, item.get("sec", "not_acceded"), f"{where} sec")
        dcc = {
            reader.choice(DccUserRole, r, f"{where} dcc_user_roles")
            for r in item.get("dcc_user_roles", []) or []
        }
        qualification = {
            str(k): q
            for k, v in (item.get("qualification") or {}).items()
            if (q := reader.choice(Qualification, v, f"{where} qualification {k}")) is not None
        }
        if None in (number, dip_id, mpid, sec) or None in dcc:
            continue
        parties.append(
            Party(
                company_number=number,
                name=str(item.get("name", number)),
                dip_id=dip_id,
                mpid=mpid,
                roles=tuple(roles),
                sec=sec,
                dcc_user_roles=frozenset(dcc),
                qualification=qualification,
            )
        )
    return parties


def _contracts(items: object, reader: _Reader, ref: Any) -> list[Contract]:
    contracts = []
    listed: list[Any] = items if isinstance(items, list) else []
    for index, item in enumerate(listed, start=1):
        if not isinstance(item, Mapping):
            reader.fail(f"contract {index} must be a mapping")
            continue
        where = f"contract {item.get('reference', index)}"
        sds, supplier = ref(item.get("sds"), f"{where} sds"), ref(item.get("supplier"), f"{where} supplier")
        mdrs = [ref(m, f"{where} mdrs") for m in item.get("mdrs", []) or []]
        default = ref(item["default_mdr"], f"{where} default_mdr") if item.get("default_mdr") else None
        blank = reader.choice(BlankMdrPolicy, item.get("blank_mdr", "default"), f"{where} blank_mdr")
        if None in (sds, supplier, blank) or None in mdrs:
            continue
        try:
            contracts.append(
                Contract(
                    sds=sds,
                    supplier=supplier,
                    reference=str(item.get("reference", "")),
                    supported_mdrs=frozenset(mdrs),
                    default_mdr=default,
                    blank_mdr=blank,
                    min_lead_days=int(item.get("min_lead_days", 0)),
                    mdr_change_notice_days=int(item.get("mdr_change_notice_days", 0)),
                    mdr_change_max_notice_days=(
                        int(item["mdr_change_max_notice_days"])
                        if item.get("mdr_change_max_notice_days") is not None
                        else None
                    ),
                )
            )
        except ContractInvalid as exc:
            reader.fail(f"{where}: {exc.detail}")
    return contracts


def _route(item: Mapping[str, Any], where: str, reader: _Reader, ref: Any) -> Route | None:
    raw = item.get("propose")
    if not isinstance(raw, Mapping):
        reader.fail(f"{where}: 'propose' (sds, mdr, contract) is required")
        return None
    sds = ref(raw.get("sds"), f"{where} sds")
    mdr = ref(raw["mdr"], f"{where} mdr") if raw.get("mdr") else None
    if sds is None or (raw.get("mdr") and mdr is None):
        return None
    return Route(sds=sds, mdr=mdr, contract=str(raw["contract"]) if raw.get("contract") else None)


def _model(raw: Mapping[str, Any], reader: _Reader, where: str) -> str | None:
    value = raw.get("model")
    if value is None:
        return None
    if str(value) not in MODELS:
        reader.fail(f"{where}: model {value!r} is not one of {', '.join(MODELS)}")
        return None
    return str(value)


def _suppliers(items: object, reader: _Reader, ref: Any) -> list[SupplierPlan]:
    plans = []
    listed: list[Any] = items if isinstance(items, list) else []
    for index, item in enumerate(listed, start=1):
        if not isinstance(item, Mapping):
            reader.fail(f"supplier {index} must be a mapping")
            continue
        supplier = ref(item.get("supplier"), f"supplier {index}")
        where = f"supplier {item.get('supplier', index)}"
        brands, types = [], []
        for raw in item.get("brands", []) or []:
            route = _route(raw, f"{where} brand {raw.get('name')}", reader, ref)
            if route is not None:
                brands.append(
                    Brand(
                        str(raw.get("name")),
                        float(raw.get("share", 1)),
                        route,
                        model=_model(raw, reader, where),
                    )
                )
        for raw in item.get("customer_types", []) or []:
            route = _route(raw, f"{where} customer type {raw.get('name')}", reader, ref)
            if route is not None:
                types.append(
                    CustomerType(
                        str(raw.get("name")),
                        float(raw.get("share", 1)),
                        route,
                        domestic=bool(raw.get("domestic", True)),
                        meter_type=str(raw.get("meter_type", "S2AD")),
                        model=_model(raw, reader, where),
                    )
                )
        if brands and types:
            reader.fail(f"{where}: route by brands or by customer types, not both")
        if supplier is not None:
            plans.append(
                SupplierPlan(
                    supplier=supplier,
                    brands=tuple(brands),
                    customer_types=tuple(types),
                    shares_consumption_data=bool(item.get("shares_consumption_data", False)),
                )
            )
    return plans


# --- checking --------------------------------------------------------------------------------


def check(market: MarketDescription) -> list[Problem]:
    """Every way the described arrangement would fail, in business words."""
    problems: list[Problem] = []
    try:
        isd = IsdTable(market.isd())
    except (IsdOverlap, IsdIdentityShared) as exc:
        problems += [Problem(f"the ISD rows clash: {p}", p.code.value) for p in exc.problems]
        isd = IsdTable(market.isd(), checked=True)  # reported; still asked, as the run would
    for role in ("REGS", "DCC"):
        if not market.by_role(role):
            problems.append(
                Problem(f"no organisation holds the {DipRole(role).role_name} role ({role})", "OMH0502")
            )
    if market.metering_service is not None and not (
        (ms := market.party(market.metering_service)) and ms.holds("SMS")
    ):
        problems.append(
            Problem(f"metering_service {market.label(market.metering_service)} does not hold the SMS role")
        )
    elif market.metering_service is not None:
        problems += _check_qualified(market, market.metering_service, "SMS")
    contracts = {(c.sds, c.supplier, c.reference): c for c in market.contracts}
    for contract in market.contracts:
        for who, role in ((contract.sds, "SDS"), (contract.supplier, "SUP")):
            party = market.party(who)
            if party is None or not party.holds(role):
                problems.append(
                    Problem(
                        f"contract {contract.reference}: {market.label(who)} does not hold the {role} role"
                    )
                )
        for mdr in contract.supported_mdrs:
            try:
                rules.registered_mdr(isd, mdr=mdr, day=market.start)
            except rules.MdrNotValid as exc:
                problems.append(
                    Problem(
                        f"contract {contract.reference} lists {market.label(mdr)}, which is not a "
                        f"registered MDR",
                        exc.code.value,
                    )
                )
    if not market.suppliers:
        problems.append(Problem("no supplier plan: say which SDS and MDR each supplier proposes"))
    for plan in market.suppliers:
        supplier = market.party(plan.supplier)
        name = market.label(plan.supplier)
        if supplier is None or not supplier.holds("SUP"):
            problems.append(Problem(f"{name} has a supplier plan but does not hold the Supplier role (SUP)"))
            continue
        if not plan.routes:
            problems.append(Problem(f"supplier {name} has no brands or customer types to route"))
        total = sum(share for _, share, _ in plan.routes)
        if plan.routes and abs(total - 1) > 1e-6:
            problems.append(
                Problem(f"supplier {name}: brand or customer-type shares add up to {total:g}, not 1")
            )
        for each in plan.groups:
            found = _check_route(market, isd, plan, supplier, each)
            problems += found or _check_label(market, plan, supplier, each, contracts)
    proposed = {r.sds for plan in market.suppliers for _, _, r in plan.routes}
    for sds in sorted(p.dip_id for p in market.by_role("SDS") if p.dip_id in proposed):
        problems += _check_qualified(market, sds, "SDS")
    return problems


def arrangement(*, supplier: DipId, sds: DipId, mdr: DipId | None, shares_data: bool) -> str | None:
    """The design note's implementation model that a Supplier's choice of SDS and MDR is:
    1A/1B fully separated (1B when the Supplier shares its consumption data), 2A fully
    integrated, 3A mixed; None for an arrangement the design note does not name."""
    if sds != supplier:
        if mdr == supplier:
            return "3A"
        return "1B" if shares_data else "1A"
    return "2A" if mdr == supplier else None


def _check_label(
    market: MarketDescription,
    plan: SupplierPlan,
    supplier: Party,
    group: Brand | CustomerType,
    contracts: dict[tuple[DipId, DipId, str], Contract],
) -> list[Problem]:
    """A brand's or customer type's model label (or the market's) must be its arrangement."""
    label = group.model or market.model
    if label == "4A":  # hybrid: each brand or customer type may follow its own model
        return []
    route = group.route
    mdr = route.mdr
    if mdr is None:
        mine = [c for (s, sup, ref), c in contracts.items() if s == route.sds and sup == plan.supplier]
        named = [c for c in mine if route.contract in (None, c.reference)]
        mdr = named[0].default_mdr if len(named) == 1 else None
    actual = arrangement(
        supplier=plan.supplier, sds=route.sds, mdr=mdr, shares_data=plan.shares_consumption_data
    )
    if actual == label:
        return []
    where = f"supplier {supplier.mpid} ({group.name}) is labelled {label}"
    if actual is None:
        return [
            Problem(
                f"{where}, but is its own SDS with MDR {market.label(mdr)}: an arrangement none of "
                f"the design note's models describes"
            )
        ]
    sharing = " (the Supplier shares its consumption data)" if actual == "1B" else ""
    return [
        Problem(
            f"{where}, but proposes SDS {market.label(route.sds)} with MDR {market.label(mdr)}, "
            f"which is {actual}{sharing}: {MODELS[actual]}"
        )
    ]


def _check_qualified(market: MarketDescription, provider: DipId, role: str) -> list[Problem]:
    """The same rule the Registration Service applies to a proposed provider (REG1031)."""
    party = market.party(provider)
    organisation = next(
        (o for o in market.organisations() if party and o.company_number == party.company_number), None
    )
    try:
        require_qualified(organisation, role=DipRole(role), who=f"{role} {market.label(provider)}")
    except NotQualified as exc:
        return [Problem(f"{exc.detail}, so the Registration Service refuses its appointment", exc.code.value)]
    return []


def _connection_types(group: Brand | CustomerType) -> tuple[str, ...]:
    """The connection types the population gives a group's MPANs (``market.population``):
    whole current, and LV CT for some non-domestic ones."""
    domestic_only = isinstance(group, CustomerType) and group.domestic
    whole, ct = ConnectionType.WHOLE_CURRENT.value, ConnectionType.LV_CT.value
    return (whole,) if domestic_only else (whole, ct)


def _check_route(
    market: MarketDescription, isd: IsdTable, plan: SupplierPlan, supplier: Party, group: Brand | CustomerType
) -> list[Problem]:
    """What the run would refuse of a group's route, asked of the run's own rules: the RS's
    provider check (REG1031), the SDS's choice of contract (SP001, SP002) and of MDR (DS001),
    the RS's MDR check (REG1081), for appointments effective on the market's start."""
    name, route = supplier.mpid, group.route
    sds_name = market.label(route.sds)
    role = rules.provider_role(Service.DS, MarketSegment.SMART)
    try:
        rules.registered_provider(isd, provider=route.sds, role=role, day=market.start)
    except rules.ProviderIncompatibleWithSegment as exc:
        return [
            Problem(
                f"supplier {name} ({group.name}) proposes {sds_name} as SDS, which does not hold the "
                f"SDS role",
                exc.code.value,
            )
        ]
    chosen: list[Contract] = []
    for connection_type in _connection_types(group):
        found = decisions.choose_contract(
            sds=route.sds,
            supplier=plan.supplier,
            reference=route.contract,
            segment=MarketSegment.SMART.value,
            connection_type=connection_type,
            contracts=market.contracts,
        )
        if isinstance(found, decisions.Decision):
            return [_contract_problem(market, plan, supplier, group, found)]
        if found not in chosen:
            chosen.append(found)
    problems: list[Problem] = []
    for contract in chosen:
        decision = decisions.choose_mdr(
            contract=contract,
            nominated_mdr=route.mdr,
            mdr_from=market.start,
            scenario=Scenario.CSP,
            today=market.start,
        )
        if not decision.accepted and route.mdr is None:
            return [
                Problem(
                    f"supplier {name} ({group.name}) leaves the MDR blank, but the contract "
                    f"{contract.reference} with SDS {sds_name} requires a nomination",
                    decision.code.value,
                )
            ]
        if not decision.accepted:
            problems.append(
                Problem(
                    f"supplier {name} proposes MDR {market.label(route.mdr)}, which the contract with "
                    f"SDS {sds_name} does not support",
                    decision.code.value,
                )
            )
        mdr = decision.mdr if decision.accepted else route.mdr
        if mdr is not None:
            problems += _check_mdr_access(market, isd, supplier, mdr, group.name)
    return problems


def _contract_problem(
    market: MarketDescription,
    plan: SupplierPlan,
    supplier: Party,
    group: Brand | CustomerType,
    refused: decisions.Decision,
) -> Problem:
    """The SDS's refusal of a route's contract (SP001, SP002), in the description's words."""
    route = group.route
    sds_name = market.label(route.sds)
    mine = [c for c in market.contracts if c.sds == route.sds and c.supplier == plan.supplier]
    if not mine:
        reason = f"proposes SDS {sds_name}, with which it has no contract"
    elif route.contract is not None:
        reason = f"names contract {route.contract}, not one it holds with SDS {sds_name}"
    else:
        reason = f"must name which of its {len(mine)} contracts with SDS {sds_name} applies"
    return Problem(f"supplier {supplier.mpid} ({group.name}) {reason}", refused.code.value)


def _check_mdr_access(
    market: MarketDescription, isd: IsdTable, supplier: Party, mdr: DipId, group: str
) -> list[Problem]:
    """The MDR must be registered (the RS's REG1081) and able to read the meters: the DCC's MDR
    user role, or the Supplier itself using its Import/Export Supplier user roles."""
    party = market.party(mdr)
    label = market.label(mdr)
    try:
        rules.registered_mdr(isd, mdr=mdr, day=market.start)
    except rules.MdrNotValid as exc:
        return [Problem(f"{label} ({group}) is not registered as an MDR in the ISD", exc.code.value)]
    if party is None:  # registered in the ISD, so described: the ISD is the description's
        return []
    if party.sec is not SecStatus.ACCEDED:
        return [Problem(f"MDR {label} has not acceded to the SEC, so it cannot be a DCC user")]
    if DccUserRole.METER_DATA_RETRIEVER in party.dcc_user_roles:
        return []
    if party.dip_id != supplier.dip_id:
        return [Problem(f"MDR {label} holds no DCC Meter Data Retriever role and is not the supplier")]
    # The supplier as its own MDR: the run reads with the role the DCC decision needs for the
    # MPAN's energy direction (dcc.access.retrieval_role); the population is of import MPANs.
    needed = supplier_role_for(IMPORT)
    if retrieval_role(held=party.dcc_user_roles, energy_direction=IMPORT) is None:
        held = ", ".join(sorted(r.value for r in party.dcc_user_roles)) or "no DCC user role"
        return [
            Problem(
                f"supplier {label} acts as MDR ({group}) with {held}: reading its import MPANs "
                f"needs the DCC {needed.value} role (or the meter_data_retriever role)",
                ResponseCode.OMH0709.value,
            )
        ]
    return []
