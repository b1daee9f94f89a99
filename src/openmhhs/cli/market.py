"""Commands of the appointment engine: MPANs, contracts, submitting messages to the
in-process market, timelines, gaps and the message log."""

from __future__ import annotations

import os
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.table import Table

from openmhhs.cli.common import (
    InputInvalid,
    JsonOption,
    coded,
    console,
    emit_json,
    err_console,
    error_json,
    now,
    open_database,
    parse_day,
    read_input,
    today,
    uk_local,
)
from openmhhs.cli.info import announce_database
from openmhhs.cli.requests import OutOption, write_message
from openmhhs.codes import CodedError, ResponseCode
from openmhhs.dataservice.contracts import BlankMdrPolicy, Contract
from openmhhs.dataservice.decisions import MdrChangeRefused
from openmhhs.dataservice.service import SmartDataService
from openmhhs.dip.build import Site
from openmhhs.identity.isd import IsdTable
from openmhhs.identity.translation import require_role
from openmhhs.ids import DipId, DipRole, MpanCore
from openmhhs.market.bus import EXTERNAL, SIMULATED, Market, MarketIncomplete, RunStats, SubmitResult
from openmhhs.market.outcomes import as_sent
from openmhhs.periods import Period
from openmhhs.registration.mpan_format import MPAN_COLUMNS, read_mpans, record_from
from openmhhs.registration.rules import RsSettings
from openmhhs.store import queries
from openmhhs.store.database import DatabaseUnavailable
from openmhhs.store.identity_repo import load_isd
from openmhhs.store.market_repo import MarketStore
from openmhhs.store.queries import Held

mpan_app_commands: list[Any] = []
contract_app = typer.Typer(help="Supplier–SDS contracts (what each SDS agreed to do).")
market_app = typer.Typer(help="The in-process market: run it to today.")
sds_app = typer.Typer(help="What an in-process Smart Data Service does on its own initiative.")


class RecordNotFound(CodedError):
    code = ResponseCode.OMH0402
    rule = "cli.record.exists"


GOING_AHEAD = frozenset({ResponseCode.SP000.value, ResponseCode.MSG0000.value})
"""Outcomes that are not refusals: accepted (SP000), or accepted by the DIP and in flight."""


def _refused(codes: list[str]) -> bool:
    return any(code not in GOING_AHEAD for code in codes)


def _own_decision(sent: Any) -> str | None:
    """The response code a provider itself put in its IF-034 (B007), if it is one: an outcome
    equal to it is the submitter's own decision, not a refusal of what it submitted."""
    custom = sent.get("CustomBlock") if isinstance(sent, dict) else None
    b007 = (custom or {}).get("B007") or {}
    code = b007.get("proposedAppointmentResponseCode") if isinstance(b007, dict) else None
    return str(code).split(" ", 1)[0] if code else None


def _stats_json(stats: RunStats) -> dict[str, Any]:
    return {
        "delivered": stats.delivered,
        "produced": stats.produced,
        "failed": stats.failed,
        "days": [d.isoformat() for d in stats.days],
    }


LAPSE_VAR = "OPENMHHS_RS_LAPSE_AFTER_DAYS"


def rs_settings() -> RsSettings:
    """The Registration Service's settings; the lapse timeout from ``OPENMHHS_RS_LAPSE_AFTER_DAYS``."""
    text = os.environ.get(LAPSE_VAR, "").strip()
    if not text:
        return RsSettings()
    if not text.isdigit() or int(text) < 1:
        raise InputInvalid(f"{LAPSE_VAR} must be a whole number of days (1 or more), got {text!r}")
    return RsSettings(lapse_after_days=int(text))


def open_market() -> Market:
    try:
        return Market(open_database(), today=today(), now=now(), settings=rs_settings())
    except MarketIncomplete as exc:
        raise InputInvalid(str(exc)) from None


# --- MPANs ---------------------------------------------------------------------------------


def _require_supplier(isd: IsdTable, supplier: DipId, day: date, *, mpan: str) -> None:
    """An MPAN's supplier must be a Supplier (SUP) in the ISD on its supply start date."""
    require_role(
        isd,
        dip_id=supplier,
        role=DipRole.SUP,
        during=Period(day, day + timedelta(days=1)),
        what=f"MPAN {mpan}'s supplier",
    )


def _publish_registrations(changes: list[tuple[str, date | None]]) -> None:
    """The RS tells the DCC and the Data Services of a supplier registration (IF-001), as CSS
    would, and the market delivers it (no day's work is run)."""
    market = open_market()
    if market.registrations_changed(changes):
        market.deliver()


@coded
def mpan_add_command(
    mpan: Annotated[str, typer.Argument(help="The 13-digit MPAN core.")],
    distributor: Annotated[str, typer.Option("--distributor", help="Distributor DIP ID.")],
    gsp: Annotated[str, typer.Option("--gsp", help="GSP Group, _A to _P.")],
    supplier: Annotated[str, typer.Option("--supplier", help="Supplier DIP ID.")],
    from_: Annotated[str, typer.Option("--from", help="Supply start date YYYY-MM-DD.")],
    segment: Annotated[str, typer.Option("--segment", help="Market segment: S, A or U.")] = "S",
    domestic: Annotated[bool, typer.Option("--domestic/--non-domestic", help="Domestic premises.")] = True,
    connection_type: Annotated[str, typer.Option("--connection-type", help="W, L, H, E or U.")] = "W",
    energisation: Annotated[str, typer.Option("--energisation", help="E, D or U.")] = "E",
    energy_direction: Annotated[
        str, typer.Option("--energy-direction", help="I (import) or E (export).")
    ] = "I",
    dcc_flag: Annotated[str, typer.Option("--dcc-flag", help="B029 DCC service flag: A, I or N.")] = "A",
    meter_type: Annotated[str, typer.Option("--meter-type", help="Installed meter type.")] = "S2AD",
    postcode: Annotated[
        str | None,
        typer.Option(
            "--postcode",
            help="Metering point postcode (B022). Without it the MPAN has none, as with `mpan import` "
            "without the column, and an SDS refuses its appointment with SP008.",
        ),
    ] = None,
    as_json: bool = JsonOption,
) -> None:
    """Register an MPAN with the Registration Service, with its supplier from a date (a DIP ID
    registered as a Supplier in the ISD on that date)."""
    try:
        record = record_from(
            {
                "mpan": mpan,
                "distributor": distributor,
                "gsp_group": gsp,
                "supplier": supplier,
                "supplier_from": from_,
                "segment": segment,
                "domestic": str(domestic),
                "connection_type": connection_type,
                "energisation": energisation,
                "energy_direction": energy_direction,
                "dcc_service_flag": dcc_flag,
                "meter_type": meter_type,
                "postcode": postcode or "",
            }
        )
    except ValueError as exc:
        raise InputInvalid(str(exc)) from None
    with open_database().begin() as connection:
        store = MarketStore(connection)
        if store.mpan_exists(record.mpan):
            raise InputInvalid(f"MPAN {record.mpan} is already registered")
        isd = load_isd(connection, dip_role=DipRole.SUP)
        for held in record.suppliers:
            _require_supplier(isd, held.supplier, held.period.start, mpan=record.mpan)
        store.add_mpan(record)
    _publish_registrations([(str(record.mpan), None)])
    if as_json:
        emit_json({"mpan": record.mpan, "registered": True})
    else:
        console.print(f"Registered {record.mpan} (supplier {supplier} from {from_}).")


@coded
def mpan_import_command(
    file: Annotated[Path, typer.Argument(help=f"CSV with columns {','.join(MPAN_COLUMNS[:5])},…")],
    as_json: bool = JsonOption,
) -> None:
    """Register MPANs from CSV; all or nothing."""
    records = read_mpans(read_input(file).decode("utf-8-sig"), source=str(file))
    with open_database().begin() as connection:
        store = MarketStore(connection)
        clashes = [r.mpan for r in records if store.mpan_exists(r.mpan)]
        if clashes:
            raise InputInvalid(
                f"{len(clashes)} MPAN(s) already registered, nothing loaded: {', '.join(clashes[:5])}"
            )
        isd = load_isd(connection, dip_role=DipRole.SUP)
        for record in records:
            for held in record.suppliers:
                _require_supplier(isd, held.supplier, held.period.start, mpan=record.mpan)
        store.add_mpans(records)
    _publish_registrations([(str(r.mpan), None) for r in records])
    if as_json:
        emit_json({"imported": len(records)})
    else:
        console.print(f"Registered {len(records)} MPANs.")


@coded
def mpan_supplier_command(
    mpan: Annotated[str, typer.Argument(help="The MPAN core.")],
    supplier: Annotated[str, typer.Option("--supplier", help="Incoming supplier DIP ID.")],
    from_: Annotated[str, typer.Option("--from", help="Supply start date YYYY-MM-DD.")],
    as_json: bool = JsonOption,
) -> None:
    """Record a change of supplier as CSS tells the Registration Service."""
    core = MpanCore(mpan)
    day = parse_day(from_, option="--from")
    with open_database().begin() as connection:
        store = MarketStore(connection)
        if not store.mpan_exists(core):
            raise RecordNotFound(f"MPAN {core} is not registered")
        _require_supplier(load_isd(connection, dip_role=DipRole.SUP), DipId(supplier), day, mpan=core)
        try:
            store.change_supplier(core, DipId(supplier), day)
        except ValueError as exc:
            raise InputInvalid(str(exc)) from None
    _publish_registrations([(str(core), day)])
    if as_json:
        emit_json({"mpan": core, "supplier": supplier, "from": day.isoformat()})
    else:
        console.print(f"{core}: supplier {supplier} from {day.isoformat()}.")


@coded
def mpan_show_command(
    mpan: Annotated[str, typer.Argument(help="The MPAN core.")], as_json: bool = JsonOption
) -> None:
    """The Registration Service's data for an MPAN."""
    core = MpanCore(mpan)
    with open_database().begin() as connection:
        record = MarketStore(connection).get_mpan(core)
    if record is None:
        raise RecordNotFound(f"MPAN {core} is not registered")
    suppliers = [
        {
            "supplier": str(p.supplier),
            "from": p.period.start.isoformat(),
            "to": p.period.end.isoformat() if p.period.end else None,
        }
        for p in record.suppliers
    ]
    data: dict[str, Any] = {
        "mpan": str(record.mpan),
        "distributor": str(record.distributor),
        "gsp_group": str(record.gsp_group),
        "segment": record.segment.value,
        "connection_type": record.connection_type.value,
        "energisation": record.energisation,
        "energy_direction": record.energy_direction,
        "domestic": record.domestic,
        "dcc_service_flag": record.dcc_service_flag,
        "meter_type": record.meter_type,
        "postcode": record.postcode,
        "suppliers": suppliers,
    }
    if as_json:
        emit_json(data)
        return
    for key, value in data.items():
        if key != "suppliers":
            console.print(f"{key:17} {'' if value is None else value}", markup=False)
    for held in suppliers:
        console.print(
            f"{'supplier':17} {held['supplier']} from {held['from']} to {held['to'] or 'open'}", markup=False
        )


mpan_app_commands += [
    ("add", mpan_add_command),
    ("import", mpan_import_command),
    ("supplier", mpan_supplier_command),
    ("show", mpan_show_command),
]


# --- contracts -------------------------------------------------------------------------------


def contract_json(c: Contract) -> dict[str, Any]:
    from openmhhs.store.market_repo import contract_terms  # noqa: PLC0415

    return {"sds": c.sds, "supplier": c.supplier, "reference": c.reference, **contract_terms(c)}


@contract_app.command("add")
@coded
def contract_add_command(
    sds: Annotated[str, typer.Option("--sds", help="SDS DIP ID.")],
    supplier: Annotated[str, typer.Option("--supplier", help="Supplier DIP ID.")],
    ref: Annotated[str, typer.Option("--ref", help="Contract reference (B071).")],
    mdr: Annotated[list[str], typer.Option("--mdr", help="An MDR the SDS will use (repeatable).")],
    default_mdr: Annotated[str | None, typer.Option("--default-mdr", help="Contractual default MDR.")] = None,
    blank_mdr: Annotated[
        BlankMdrPolicy, typer.Option("--blank-mdr", help="If the supplier leaves the MDR blank.")
    ] = BlankMdrPolicy.DEFAULT,
    segment: Annotated[
        list[str] | None, typer.Option("--segment", help="Segments covered (S, A, U).")
    ] = None,
    connection_type: Annotated[
        list[str] | None, typer.Option("--connection-type", help="Connection types covered.")
    ] = None,
    domestic_only: Annotated[bool, typer.Option("--domestic-only", help="Domestic premises only.")] = False,
    non_domestic_only: Annotated[
        bool, typer.Option("--non-domestic-only", help="Non-domestic only.")
    ] = False,
    gsp_group: Annotated[list[str] | None, typer.Option("--gsp-group", help="Operational area.")] = None,
    meter_type: Annotated[list[str] | None, typer.Option("--meter-type", help="Meter types covered.")] = None,
    min_lead_days: Annotated[int, typer.Option("--min-lead-days", help="SP011 lead time.")] = 0,
    mdr_notice_days: Annotated[int, typer.Option("--mdr-notice-days", help="DS004 notice.")] = 0,
    mdr_max_notice_days: Annotated[
        int | None, typer.Option("--mdr-max-notice-days", help="DS006 furthest ahead.")
    ] = None,
    requires_fallback_frequency: Annotated[
        bool, typer.Option("--requires-fallback-frequency", help="DS003 when missing.")
    ] = False,
    no_dcc_enrolment: Annotated[
        bool, typer.Option("--no-dcc-enrolment", help="Accept meters not DCC enrolled (no SP009).")
    ] = False,
    from_: Annotated[str, typer.Option("--from", help="Contract start YYYY-MM-DD.")] = "2000-01-01",
    to: Annotated[str | None, typer.Option("--to", help="Contract end (exclusive).")] = None,
    as_json: bool = JsonOption,
) -> None:
    """Record a Supplier–SDS contract. Its SDS, supplier and MDRs must hold those roles in the
    ISD on the contract's dates."""
    if domestic_only and non_domestic_only:
        raise InputInvalid("--domestic-only and --non-domestic-only exclude each other")
    domestic = {True} if domestic_only else {False} if non_domestic_only else {True, False}
    valid = Period(parse_day(from_, option="--from"), parse_day(to, option="--to") if to else None)
    contract = Contract(
        sds=DipId(sds),
        supplier=DipId(supplier),
        reference=ref,
        supported_mdrs=frozenset(DipId(m) for m in mdr),
        default_mdr=DipId.parse_optional(default_mdr),
        blank_mdr=blank_mdr,
        valid=valid,
        segments=frozenset(segment or ["S"]),
        connection_types=frozenset(connection_type or ["W", "L", "H", "E"]),
        domestic_indicators=frozenset(domestic),
        gsp_groups=frozenset(gsp_group) if gsp_group else None,
        meter_types=frozenset(meter_type) if meter_type else None,
        requires_dcc_enrolment=not no_dcc_enrolment,
        requires_fallback_frequency=requires_fallback_frequency,
        min_lead_days=min_lead_days,
        mdr_change_notice_days=mdr_notice_days,
        mdr_change_max_notice_days=mdr_max_notice_days,
    )
    with open_database().begin() as connection:
        isd = load_isd(connection)
        require_role(isd, dip_id=contract.sds, role=DipRole.SDS, during=valid, what="the contract's SDS")
        require_role(
            isd, dip_id=contract.supplier, role=DipRole.SUP, during=valid, what="the contract's supplier"
        )
        listed = contract.supported_mdrs | ({contract.default_mdr} if contract.default_mdr else set())
        for mdr_id in sorted(listed):
            require_role(isd, dip_id=mdr_id, role=DipRole.MDR, during=valid, what="the contract's MDR")
        try:
            MarketStore(connection).add_contract(contract)
        except ValueError as exc:
            raise InputInvalid(str(exc)) from None
    if as_json:
        emit_json(contract_json(contract))
    else:
        console.print(f"Contract {ref}: SDS {sds} for supplier {supplier}, MDRs {', '.join(mdr)}.")


@contract_app.command("list")
@coded
def contract_list_command(
    sds: Annotated[str | None, typer.Option("--sds", help="Only this SDS.")] = None,
    supplier: Annotated[str | None, typer.Option("--supplier", help="Only this supplier.")] = None,
    as_json: bool = JsonOption,
) -> None:
    """List Supplier–SDS contracts."""
    with open_database().begin() as connection:
        contracts = MarketStore(connection).contracts(sds=sds, supplier=supplier)
    if as_json:
        emit_json([contract_json(c) for c in contracts])
        return
    table = Table(title=f"Contracts ({len(contracts)})", title_justify="left")
    for column in ("SDS", "Supplier", "Reference", "MDRs", "Default", "Blank MDR"):
        table.add_column(column)
    for c in contracts:
        table.add_row(
            c.sds,
            c.supplier,
            c.reference,
            ", ".join(sorted(c.supported_mdrs)),
            c.default_mdr or "-",
            c.blank_mdr.value,
        )
    console.print(table)


# --- submitting and running -------------------------------------------------------------------


@coded
def submit_command(
    file: Annotated[Path, typer.Argument(help="One DIP message or an array, bare or {'payload': …}.")],
    as_json: bool = JsonOption,
) -> None:
    """Submit messages as a participant would, run the in-process market until nothing is
    pending, and print each input's outcome and every message produced. Exits 1 when any
    input was refused or rejected (an outcome other than SP000 or MSG0000), except a
    provider's own rejection in the IF-034 it submits."""
    market = open_market()
    announce_database(market.db)
    with market.db.begin() as connection:
        before = MarketStore(connection).last_message_id()
    results = market.submit(read_input(file))
    try:
        stats = market.run()
    except DatabaseUnavailable as exc:
        _undelivered(results, exc, as_json=as_json)
    rows: list[dict[str, Any]] = []
    decided: set[int] = set()  # rows whose outcome is the submitter's own decision (its IF-034)
    with market.db.begin() as connection:
        store = MarketStore(connection)
        stored = {m.id: m for m in store.messages(after_id=before)}
        for result in results:
            row: dict[str, Any] = {
                "senderUniqueReference": result.sender_unique_reference,
                "code": result.code.value,
                "message": result.message,
                "dipCode": result.code.value,
                "path": result.path,
            }
            if result.accepted and result.message_id is not None:
                submitted = stored[result.message_id]
                refused = [d for d in store.deliveries_of(submitted.id) if d[2]]
                if refused:
                    row["code"], row["message"] = refused[0][2], refused[0][3]
                else:
                    outcome = queries.outcome(connection, submitted.correlation_id, since=submitted)
                    assert outcome is not None  # judged from the submitted message itself
                    row["code"], row["message"] = outcome.code, outcome.message
                    if outcome.code == _own_decision(as_sent(submitted)):
                        decided.add(len(rows))
            rows.append(row)
        submitted_ids = {r.message_id for r in results if r.message_id is not None}
        produced = [as_sent(m) for m in stored.values() if m.id not in submitted_ids]
    if as_json:
        emit_json({"results": rows, "produced": produced, "run": _stats_json(stats)})
    else:
        table = Table(title="Submitted", title_justify="left")
        for column in ("#", "code", "outcome", "sender unique reference"):
            table.add_column(column)
        for index, row in enumerate(rows, start=1):
            table.add_row(str(index), row["code"], row["message"], row["senderUniqueReference"] or "")
        console.print(table)
        console.print(
            f"{len(produced)} messages produced; {stats.delivered} deliveries, {stats.failed} failed."
        )
    if _refused([row["code"] for index, row in enumerate(rows) if index not in decided]):
        raise typer.Exit(1)


def _undelivered(results: list[SubmitResult], exc: DatabaseUnavailable, *, as_json: bool) -> NoReturn:
    """The database failed after the messages were accepted: each sender still gets the DIP's
    answer (accepted ones are kept and delivered by the next ``market run``), then OMH0801."""
    rows = [
        {
            "senderUniqueReference": r.sender_unique_reference,
            "code": r.code.value,
            "message": r.message if not r.accepted else "accepted; delivery pending (next market run)",
            "dipCode": r.code.value,
            "path": r.path,
        }
        for r in results
    ]
    if as_json:
        emit_json({"results": rows, "produced": [], "error": error_json(exc)})
    else:
        for index, row in enumerate(rows, start=1):
            console.print(f"{index} {row['code']} {row['message']} {row['senderUniqueReference'] or ''}")
        err_console.print(f"[bold red]{exc.code.value}[/] {exc.detail}", markup=True)
    raise typer.Exit(1)


@market_app.command("run")
@coded
def market_run_command(as_json: bool = JsonOption) -> None:
    """Bring the market to today (OPENMHHS_TODAY): daily work, then every pending delivery."""
    stats = open_market().run()
    if as_json:
        emit_json(_stats_json(stats))
    else:
        console.print(
            f"Ran {', '.join(d.isoformat() for d in stats.days)}: {stats.delivered} deliveries, "
            f"{stats.produced} messages produced, {stats.failed} failed."
        )


@market_app.command("deliveries")
@coded
def deliveries_command(
    limit: Annotated[int, typer.Option("--limit", help="At most this many.")] = 1000,
    as_json: bool = JsonOption,
) -> None:
    """Deliveries set aside (failed or refused), with their code and reason. They never hold
    up other messages; `market requeue` delivers them again after a fix."""
    with open_database().read() as connection:
        parked = MarketStore(connection).parked_deliveries(limit=limit)
    if as_json:
        emit_json(
            [
                {
                    "delivery": p.id,
                    "message": p.message_id,
                    "recipient": p.recipient,
                    "state": p.state,
                    "code": p.code,
                    "reason": p.reason,
                    "interfaceID": p.interface_id,
                    "eventCode": p.event_code,
                    "mpan": p.mpan,
                    "senderUniqueReference": p.sender_unique_reference,
                }
                for p in parked
            ]
        )
        return
    table = Table(title=f"Parked deliveries ({len(parked)})", title_justify="left")
    for column in ("delivery", "state", "code", "to", "message", "MPAN", "reason"):
        table.add_column(column)
    for p in parked:
        table.add_row(
            str(p.id),
            p.state,
            p.code or "",
            p.recipient,
            f"{p.interface_id} {p.event_code}",
            p.mpan or "",
            (p.reason or "")[:120],
        )
    console.print(table)


@market_app.command("requeue")
@coded
def requeue_command(
    delivery: Annotated[list[int], typer.Argument(help="Parked delivery ids (see market deliveries).")],
    as_json: bool = JsonOption,
) -> None:
    """Make parked deliveries pending again and run the market, e.g. after a fix."""
    with open_database().begin() as connection:
        requeued = MarketStore(connection).requeue_deliveries(delivery)
    stats = open_market().run()
    if as_json:
        emit_json({"requeued": requeued, "run": _stats_json(stats)})
    else:
        console.print(f"Requeued {requeued}; {stats.delivered} deliveries, {stats.failed} failed.")


def mode_command(
    dip_id: Annotated[str, typer.Argument(help="Participant DIP ID.")],
    mode: Annotated[str, typer.Argument(help="simulated (in-process) or external (mailbox).")],
    as_json: bool = JsonOption,
) -> None:
    """Choose whether a participant is simulated in-process or external (its messages wait)."""
    if mode not in (SIMULATED, EXTERNAL):
        raise typer.BadParameter("mode is simulated or external")
    with open_database().begin() as connection:
        MarketStore(connection).set_mode(str(DipId(dip_id)), mode)
    if as_json:
        emit_json({"dip_id": dip_id, "mode": mode})
    else:
        console.print(f"{dip_id} is {mode}.")


@sds_app.command("mdr-change")
@coded
def sds_mdr_change_command(
    sds: Annotated[str, typer.Option("--sds", help="The SDS DIP ID (simulated here).")],
    mpan: Annotated[str, typer.Option("--mpan", help="The MPAN core.")],
    mdr: Annotated[str, typer.Option("--mdr", help="The new MDR DIP ID.")],
    from_: Annotated[str, typer.Option("--from", help="MDR effective-from YYYY-MM-DD.")],
    out: Annotated[Path | None, OutOption] = None,
    as_json: bool = JsonOption,
) -> None:
    """Have an in-process SDS change an MPAN's MDR (IF-034 [SDS-MDRUpdate]) and run the market.
    Exits 1 when the SDS's contract or the Registration Service refuses the change. With
    -o/--out FILE the IF-034 (valid DIP JSON, checked by the SDS's contract as when sent) is
    written to FILE instead of being sent ("-" for standard output), for `openmhhs send`."""
    market = open_market()
    participant = market.participant(str(DipId(sds)), SmartDataService)
    if not isinstance(participant, SmartDataService) or market.rs is None:
        raise InputInvalid(f"{sds} is not an SDS simulated in this market (or there is no RS)")
    core = MpanCore(mpan)
    with market.db.begin() as connection:
        record = MarketStore(connection).get_mpan(core)
    if record is None:
        raise RecordNotFound(f"MPAN {core} is not registered")
    site = Site(record.mpan, record.distributor, record.gsp_group)
    market.bring_to_today()  # the SDS judges its change on today's portfolio
    try:
        with market.unit_of_work() as uow:
            message = participant.request_mdr_change(
                site=site,
                new_mdr=DipId(mdr),
                effective_from=parse_day(from_, option="--from"),
                rs=market.rs.dip_id,
                ctx=market.context(),
                uow=uow,
            )
    except MdrChangeRefused as exc:
        raise exc from None
    if out is not None:
        write_message(message, None if str(out) == "-" else out, as_json=as_json)
        return
    results = market.send([message])
    stats = market.run()
    with market.db.read() as connection:
        outcome = queries.outcome(connection, message.common_block.s1.sender_correlation_id)
    data = {
        "dipCode": results[0].code.value,
        "code": outcome.code if outcome else results[0].code.value,
        "message": outcome.message if outcome else results[0].message,
        "run": _stats_json(stats),
    }
    if as_json:
        emit_json(data)
    else:
        console.print(f"{data['code']} {data['message']}")
    if _refused([str(data["code"]), str(data["dipCode"])]):
        raise typer.Exit(1)


# --- reading ------------------------------------------------------------------------------------


def _period_json(row: Held) -> dict[str, Any]:
    return {
        "service": row.service,
        "dip_id": row.provider,
        "mpid": row.provider_mpid,
        "mdr_dip_id": row.mdr,
        "mdr_mpid": row.mdr_mpid,
        "from": row.start.isoformat(),
        "to": row.end.isoformat() if row.end else None,
        "supplier": row.supplier,
        "scenario": row.scenario,
        "correlation_id": row.correlation_id,
    }


def _periods(core: str, *, on: date | None, history: bool) -> tuple[list[Held], tuple[queries.Retired, ...]]:
    """The MPAN's current rows (those holding on ``on``, through the point query, when given)
    and, with ``history``, the rows later changes retired."""
    with open_database().read() as connection:
        if on is not None:
            with queries.ServedOn(connection) as served:
                found = served.ask(core, on)
            rows = None if found is None else list(found)
        else:
            line = queries.timeline(connection, core)
            rows = None if line is None else [queries.held(r) for r in line.rows]
        if rows is None:
            raise RecordNotFound(f"MPAN {core} is not registered")
        return rows, queries.retired(connection, core) if history else ()


@coded
def timeline_command(
    mpan: Annotated[str, typer.Argument(help="The MPAN core.")],
    from_: Annotated[
        str | None, typer.Option("--from", help="Only periods overlapping from this day.")
    ] = None,
    to: Annotated[str | None, typer.Option("--to", help="…up to this day (exclusive).")] = None,
    on: Annotated[str | None, typer.Option("--on", help="Who served the MPAN on this day.")] = None,
    history: Annotated[bool, typer.Option("--history", help="Also rows retired by later changes.")] = False,
    as_json: bool = JsonOption,
) -> None:
    """The MPAN's Data Service (with MDR) and Metering Service periods, in date order."""
    core = MpanCore(mpan)
    day = parse_day(on, option="--on") if on is not None else None
    window = (
        Period(
            parse_day(from_, option="--from") if from_ else date.min,
            parse_day(to, option="--to") if to else None,
        )
        if from_ is not None or to is not None
        else None
    )
    rows, retired = _periods(core, on=day, history=history)
    if window is not None:
        rows = [r for r in rows if Period(r.start, r.end).overlaps(window)]
    if as_json:
        data = [_period_json(r) for r in rows]
        if history:
            emit_json(
                {
                    "current": data,
                    "retired": [
                        {
                            **_period_json(queries.held(r.row)),
                            "recorded_at": uk_local(r.recorded_at),
                            "retired_at": uk_local(r.retired_at),
                        }
                        for r in retired
                    ],
                }
            )
        else:
            emit_json(data)
        return
    table = Table(title=f"Timeline of {core}", title_justify="left")
    for column in ("Service", "Provider", "MDR", "From", "To", "Supplier", "Scenario"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            r.service,
            f"{r.provider_mpid} ({r.provider})",
            f"{r.mdr_mpid} ({r.mdr})" if r.mdr else "-",
            r.start.isoformat(),
            r.end.isoformat() if r.end else "open",
            r.supplier,
            r.scenario or "-",
        )
    console.print(table)
    for gone in retired:
        a = gone.row
        when = uk_local(gone.retired_at)
        console.print(f"  retired {when}: {a.service.value} {a.provider_mpid} {a.mdr_mpid or ''} {a.period}")


@coded
def gaps_command(
    on: Annotated[str | None, typer.Option("--on", help="Day YYYY-MM-DD; default today.")] = None,
    as_json: bool = JsonOption,
) -> None:
    """MPANs with a supplier on the day that lack a Data Service, an MDR or a Metering Service.
    Exits 1 when there is any."""
    day = parse_day(on, option="--on")
    with open_database().read() as connection:
        found = queries.gaps_on(connection, day)
    if as_json:
        emit_json([{"mpan": g.mpan, "supplier": g.supplier, "missing": list(g.missing)} for g in found])
    else:
        console.print(f"{len(found)} MPAN(s) with gaps on {day.isoformat()}")
        for g in found[:50]:
            console.print(f"  {g.mpan} (supplier {g.supplier}): lacks {', '.join(g.missing)}")
    if found:
        raise typer.Exit(1)


@coded
def messages_command(
    mpan: Annotated[str | None, typer.Option("--mpan", help="Only this MPAN's messages.")] = None,
    correlation: Annotated[str | None, typer.Option("--correlation", help="Only this exchange.")] = None,
    as_json: bool = JsonOption,
) -> None:
    """The message log: every message received and produced, as sent."""
    with open_database().read() as connection:
        found = queries.logged(connection, core=mpan, correlation_id=correlation, deliveries=not as_json)
    if as_json:
        emit_json([as_sent(m.message) for m in found])
        return
    table = Table(title=f"Messages ({len(found)})", title_justify="left")
    for column in ("#", "interface", "event", "from", "to"):
        table.add_column(column)
    # Ids in full, never cut or folded, so that they can be copied into --correlation or --mpan.
    table.add_column("MPAN", no_wrap=True, min_width=13)
    longest = max((len(m.message.correlation_id or "") for m in found), default=11)
    table.add_column("correlation", no_wrap=True, min_width=max(11, longest))
    for entry in found:
        m = entry.message
        to = ", ".join(f"{d.recipient}{'' if d.state == 'done' else f' ({d.state})'}" for d in entry.to)
        table.add_row(
            str(m.id),
            m.interface_id,
            m.event_code,
            f"{m.sender} {m.sender_role}",
            to,
            m.mpan or "",
            m.correlation_id or "",
        )
    console.print(table)
