"""Messages from the command line, as a participant's test engineer makes them:
``request ds|ms`` writes a Supplier's IF-031, ``sds respond`` an SDS's IF-034 answer to an
IF-033 it received, and ``send`` signs a file of messages and posts it to a DIP hub.

The messages are built by the same builders the simulated participants use
(``supplier/requests.py``, ``dip/build.py``); identifiers come from the stored ISD (MPIDs,
the Registration Service) and the MPAN's registration (distributor, GSP Group)."""

from __future__ import annotations

import ssl
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any

import httpx
import msgspec
import orjson
import typer

from openmhhs.api.config import ServeConfig, client_tls
from openmhhs.cli.common import (
    InputInvalid,
    JsonOption,
    coded,
    emit_json,
    err_console,
    now,
    open_database,
    parse_day,
    read_input,
)
from openmhhs.codes import CodedError, ResponseCode
from openmhhs.days import day_of, day_start, format_dip_datetime, parse_dip_datetime
from openmhhs.dip import schema as s
from openmhhs.dip.build import MessageFactory, Sender, Site
from openmhhs.dip.parse import Parsed, Perspective, encode, parse_batch
from openmhhs.dip.signing import Signer
from openmhhs.dip.vocabulary import Scenario
from openmhhs.identity.isd import IsdTable
from openmhhs.identity.translation import mdr_mpid, moment_of, mpid_for
from openmhhs.ids import DipId, DipRole, GspGroup, MpanCore
from openmhhs.store.identity_repo import load_isd
from openmhhs.store.market_repo import MarketStore
from openmhhs.supplier.requests import request_data_service, request_metering_service

__all__ = ["OutOption", "request_app", "sds_respond_command", "send_command", "write_message"]

request_app = typer.Typer(
    help="Write a Supplier's IF-031 appointment request, ready for `openmhhs submit FILE` or "
    "`openmhhs send FILE --hub URL`.",
    no_args_is_help=True,
)

REGISTRATION_SERVICE = DipRole("REGS")
METERING_SERVICE = DipRole("SMS")
SCENARIOS = ("COS", "CSP", "USP")

OutOption = typer.Option(
    "-o", "--out", "--output", help="File to write the message to (default: standard output)."
)


class HubUnreachable(CodedError):
    code = ResponseCode.OMH0901
    rule = "cli.send.hub_answers"


def _isd() -> IsdTable:
    with open_database().read() as connection:
        table = load_isd(connection)
    if not len(table):
        raise InputInvalid("the database holds no ISD table: `openmhhs isd import FILE` first")
    return table


def _site(core: MpanCore, distributor: str | None, gsp: str | None) -> Site:
    """M0 from the options, or else from the MPAN's registration in the database."""
    if distributor and gsp:
        return Site(core, DipId(distributor), GspGroup(gsp))
    with open_database().read() as connection:
        record = MarketStore(connection).get_mpan(core)
    if record is None:
        raise InputInvalid(
            f"MPAN {core} is not registered here: `openmhhs mpan add` it, or give --distributor and --gsp"
        )
    return Site(record.mpan, record.distributor, record.gsp_group)


def _rs(table: IsdTable, given: str | None, day: date) -> DipId:
    if given:
        return DipId(given)
    at = moment_of(day)
    found = sorted(
        {str(e.dip_id) for e in table.for_role(REGISTRATION_SERVICE) if e.dip_id and e.effective_at(at)}
    )
    if len(found) != 1:
        raise InputInvalid(
            f"the ISD holds {len(found)} Registration Services on {day.isoformat()}: give --rs DIPID"
        )
    return DipId(found[0])


def _scenario(value: str) -> Scenario:
    if value.upper() not in SCENARIOS:
        raise InputInvalid(f"--scenario must be one of {', '.join(SCENARIOS)}, got {value!r}")
    return Scenario(value.upper())


def write_message(message: Any, out: Path | None, *, as_json: bool) -> None:
    """The message, pretty-printed, to ``out`` or standard output; a note on standard error."""
    parsed = parse_batch(encode(message), now=now(), perspective=Perspective.DIP)
    if not isinstance(parsed[0], Parsed):  # the builders make valid messages; say so if not
        raise InputInvalid(f"the message built is not valid: {parsed[0].code.value} {parsed[0].error.detail}")
    body = orjson.dumps(orjson.loads(encode(message)), option=orjson.OPT_INDENT_2) + b"\n"
    s0, s1 = message.common_block.s0, message.common_block.s1
    summary = {
        "file": None if out is None else str(out),
        "interface": s0.interface_id,
        "event": s0.event_code,
        "sender_unique_reference": s1.sender_unique_reference,
        "correlation_id": s1.sender_correlation_id,
    }
    if out is None:
        sys.stdout.buffer.write(body)
        sys.stdout.flush()
        return
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(body)
    except OSError as exc:
        raise InputInvalid(f"cannot write {out}: {exc.strerror or exc}") from None
    if as_json:
        emit_json(summary)
    else:
        err_console.print(
            f"Wrote {s0.interface_id} {s0.event_code} {s1.sender_unique_reference} to {out}; "
            f"next: openmhhs submit {out}  (or openmhhs send {out} --hub URL --state DIR)",
            markup=False,
            soft_wrap=True,
        )


MpanOption = Annotated[str, typer.Option("--mpan", help="The 13-digit MPAN core.")]
SupplierOption = Annotated[str, typer.Option("--supplier", help="The requesting Supplier's DIP ID.")]
FromOption = Annotated[str, typer.Option("--from", help="Appointment effective from, YYYY-MM-DD (UK day).")]
ScenarioOption = Annotated[
    str, typer.Option("--scenario", help="COS (change of supplier), CSP (change of provider), USP (update).")
]
ContractOption = Annotated[str | None, typer.Option("--contract", help="The contract reference (B071).")]
DistributorOption = Annotated[
    str | None, typer.Option("--distributor", help="Distributor DIP ID (default: the MPAN's registration).")
]
GspOption = Annotated[str | None, typer.Option("--gsp", help="GSP Group (default: the MPAN's registration).")]
RsOption = Annotated[
    str | None, typer.Option("--rs", help="Registration Service DIP ID (default: the ISD's one).")
]


@request_app.command("ds")
@coded
def request_ds_command(
    mpan: MpanOption,
    supplier: SupplierOption,
    sds: Annotated[str, typer.Option("--sds", help="The proposed Smart Data Service's DIP ID.")],
    from_: FromOption,
    mdr: Annotated[
        str | None, typer.Option("--mdr", help="Nominated MDR DIP ID (blank: the SDS's contractual default).")
    ] = None,
    mdr_from: Annotated[
        str | None, typer.Option("--mdr-from", help="The nominated MDR's effective from (default --from).")
    ] = None,
    scenario: ScenarioOption = "CSP",
    contract: ContractOption = None,
    domestic: Annotated[
        bool, typer.Option("--domestic/--non-domestic", help="Supplier's proposed domestic indicator.")
    ] = True,
    distributor: DistributorOption = None,
    gsp: GspOption = None,
    rs: RsOption = None,
    out: Annotated[Path | None, OutOption] = None,
    as_json: bool = JsonOption,
) -> None:
    """IF-031 [DSApp]: a Supplier proposes a Smart Data Service (and optionally an MDR) for an MPAN."""
    day = parse_day(from_, option="--from")
    nominated_from = parse_day(mdr_from, option="--mdr-from") if mdr_from else None
    table = _isd()
    sds_id = DipId(sds)
    mdr_id = DipId.parse_optional(mdr)
    message = request_data_service(
        MessageFactory(Sender(DipId(supplier), DipRole.SUP)),
        site=_site(MpanCore(mpan), distributor, gsp),
        rs=_rs(table, rs, day),
        sds=sds_id,
        sds_mpid=mpid_for(table, dip_id=sds_id, dip_role=DipRole.SDS, on=day).mpid,
        effective_from=day,
        scenario=_scenario(scenario),
        contract_reference=contract,
        now=now(),
        mdr=mdr_id,
        mdr_mpid=None if mdr_id is None else mdr_mpid(table, dip_id=mdr_id, on=nominated_from or day),
        mdr_from=nominated_from,
        domestic=domestic,
    )
    write_message(message, out, as_json=as_json)


@request_app.command("ms")
@coded
def request_ms_command(
    mpan: MpanOption,
    supplier: SupplierOption,
    ms: Annotated[str, typer.Option("--ms", help="The proposed Metering Service's DIP ID.")],
    from_: FromOption,
    scenario: ScenarioOption = "CSP",
    contract: ContractOption = None,
    distributor: DistributorOption = None,
    gsp: GspOption = None,
    rs: RsOption = None,
    out: Annotated[Path | None, OutOption] = None,
    as_json: bool = JsonOption,
) -> None:
    """IF-031 [MSApp]: a Supplier proposes a Metering Service for an MPAN."""
    day = parse_day(from_, option="--from")
    table = _isd()
    ms_id = DipId(ms)
    message = request_metering_service(
        MessageFactory(Sender(DipId(supplier), DipRole.SUP)),
        site=_site(MpanCore(mpan), distributor, gsp),
        rs=_rs(table, rs, day),
        ms=ms_id,
        ms_mpid=mpid_for(table, dip_id=ms_id, dip_role=METERING_SERVICE, on=day).mpid,
        effective_from=day,
        scenario=_scenario(scenario),
        contract_reference=contract,
        now=now(),
    )
    write_message(message, out, as_json=as_json)


def _messages_in(path: Path) -> list[Any]:
    """The messages of a file: one message, an array, bare or ``{"payload": …}`` (as
    ``openmhhs messages --json`` prints them)."""
    try:
        data = orjson.loads(read_input(path))
    except orjson.JSONDecodeError as exc:
        raise InputInvalid(f"{path} is not JSON: {exc}") from None
    items = data if isinstance(data, list) else [data]
    return [i["payload"] if isinstance(i, dict) and "payload" in i else i for i in items]


def _event_of(item: Any) -> tuple[str, str]:
    try:
        s0 = item["CommonBlock"]["S0"]
        return str(s0["interfaceID"]), str(s0["eventCode"])
    except (KeyError, TypeError):
        return "", ""


@coded
def sds_respond_command(
    file: Annotated[
        Path, typer.Argument(help="The IF-033 [DSAppSPRequest] received (or `messages --json` output).")
    ],
    code: Annotated[
        str, typer.Option("--code", help="SP000 accepts; SP001-SP011, SP099, DS001-DS006 reject.")
    ] = "SP000",
    mdr: Annotated[
        str | None,
        typer.Option(
            "--mdr", help="The MDR the SDS nominates (accepting; default: the Supplier's nomination)."
        ),
    ] = None,
    mdr_from: Annotated[
        str | None, typer.Option("--mdr-from", help="The MDR's effective from (default: the appointment's).")
    ] = None,
    out: Annotated[Path | None, OutOption] = None,
    as_json: bool = JsonOption,
) -> None:
    """IF-034 [DSAppSPResponse]: an SDS's answer to the Registration Service's IF-033."""
    requests = [i for i in _messages_in(file) if _event_of(i) == ("IF-033", "[DSAppSPRequest]")]
    if len(requests) != 1:
        raise InputInvalid(f"{file} holds {len(requests)} IF-033 [DSAppSPRequest] messages, not one")
    try:
        request = msgspec.convert(requests[0], s.IF033DSAppSPRequest)
    except msgspec.ValidationError as exc:
        raise InputInvalid(f"{file}: the IF-033 is not valid: {exc}") from None
    try:
        answer = ResponseCode(code)
    except ValueError:
        raise InputInvalid(f"--code {code} is not a response code") from None
    if not answer.value.startswith(("SP", "DS")):
        raise InputInvalid(f"--code must be an SDS's code (SPxxx or DSxxx), got {code}")
    custom = request.custom_block
    b071 = custom.b071
    accepted = answer is ResponseCode.SP000
    b018: Any = msgspec.UNSET
    if accepted:
        chosen = mdr or b071.supplier_nominated_mdr_dip_id
        if chosen is None:
            raise InputInvalid("the Supplier nominated no MDR: give --mdr for the one the SDS appoints")
        effective = (
            parse_day(mdr_from, option="--mdr-from")
            if mdr_from
            else day_of(parse_dip_datetime(b071.proposed_data_service_dip_effective_from_date))
        )
        mdr_id = DipId(chosen)
        b018 = s.B018(
            sds_nominated_mdr_dip_id=str(mdr_id),
            sds_nominated_mdr_mpid=str(mdr_mpid(_isd(), dip_id=mdr_id, on=effective)),
            sds_nominated_mdr_requested_effective_from_date=format_dip_datetime(day_start(effective)),
        )
    factory = MessageFactory(Sender(DipId(b071.proposed_data_service_dip_id), DipRole.SDS))
    message = factory.reply(
        s.IF034DSAppSPResponse,
        s.IF034DSAppSPResponseCustomBlock(
            b007=s.B007(
                response_code="A" if accepted else "R", proposed_appointment_response_code=answer.value
            ),
            b012=custom.b012,
            b071=b071,
            b018=b018,
        ),
        to=request,
        recipients=[DipId(request.common_block.s1.sender_dip_id)],
        now=now(),
    )
    write_message(message, out, as_json=as_json)


@coded
def send_command(
    file: Annotated[Path, typer.Argument(help="DIP message(s): one, an array, bare or {'payload': …}.")],
    hub: Annotated[str, typer.Option("--hub", help="The hub's address, e.g. https://127.0.0.1:8700.")],
    state: Annotated[
        Path | None,
        typer.Option("--state", help="`openmhhs serve`'s folder: keys, certificates and API keys from it."),
    ] = None,
    as_: Annotated[
        str | None, typer.Option("--as", help="Send as this DIP ID (default: the first message's sender).")
    ] = None,
    key: Annotated[Path | None, typer.Option("--key", help="Signing key (PEM), without --state.")] = None,
    cert: Annotated[Path | None, typer.Option("--cert", help="Certificate (PEM), without --state.")] = None,
    api_key: Annotated[str | None, typer.Option("--api-key", help="X-API-Key, without --state.")] = None,
    ca: Annotated[Path | None, typer.Option("--ca", help="CA trusted for the hub's TLS (PEM).")] = None,
    as_json: bool = JsonOption,
) -> None:
    """Sign a file of DIP messages (X-DIP-* headers) and post it to the hub's
    /dip-channel/{interface}; print the hub's StandardResponse. Exit 0 only if every message
    was accepted (201)."""
    items = _messages_in(file)
    interfaces = {_event_of(i)[0] for i in items}
    if len(interfaces) != 1 or "" in interfaces:
        raise InputInvalid(
            f"{file} must hold messages of one interface, found {sorted(interfaces) or 'none'}"
        )
    channel = interfaces.pop()
    try:
        sender = as_ or str(items[0]["CommonBlock"]["S1"].get("senderDIPID", ""))
    except (KeyError, TypeError, AttributeError):
        raise InputInvalid(f"{file}: a message lacks CommonBlock.S1 (its sender): give --as ID") from None
    signer, headers, verify = _credentials(sender, state=state, key=key, cert=cert, api_key=api_key, ca=ca)
    url = f"{hub.rstrip('/')}/dip-channel/{channel}"
    body = orjson.dumps([{"payload": i} for i in items])
    headers = {
        **headers,
        # the signature's date is checked against the hub's own clock, never OPENMHHS_TODAY
        **signer.headers(method="POST", url=url, body=body, now=datetime.now(UTC)),
        "Content-Type": "application/json",
    }
    try:
        with httpx.Client(verify=verify, timeout=60) as client:
            response = client.post(url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        raise HubUnreachable(f"cannot post to {url}: {exc}") from None
    try:
        answer = response.json()
    except ValueError:
        raise HubUnreachable(
            f"{url} answered {response.status_code} without JSON: {response.text[:200]}"
        ) from None
    if as_json:
        emit_json({"status": response.status_code, "response": answer})
    else:
        sys.stdout.buffer.write(orjson.dumps(answer, option=orjson.OPT_INDENT_2) + b"\n")
        err_console.print(f"HTTP {response.status_code} from {url}", markup=False, soft_wrap=True)
    if response.status_code != 201:
        raise typer.Exit(1)


def _credentials(
    sender: str,
    *,
    state: Path | None,
    key: Path | None,
    cert: Path | None,
    api_key: str | None,
    ca: Path | None,
) -> tuple[Signer, dict[str, str], Any]:
    """(signer, API-key header, TLS setting) from a serve folder or from the options."""
    if state is not None:
        path = state / "serve.json"
        if not path.exists():
            raise InputInvalid(f"{path} does not exist: give `openmhhs serve`'s --state folder")
        config = ServeConfig.load(path)
        keys = {dip: k for k, dip in config.api_keys().items()}
        if sender not in keys:
            raise InputInvalid(f"{path} holds no API key for {sender}")
        cert_file, key_file = config.cert(sender)
        signer = Signer.from_pem(read_input(Path(key_file)), read_input(Path(cert_file)))
        return signer, {"X-API-Key": api_key or keys[sender]}, client_tls(config, sender)
    if key is None or cert is None or api_key is None:
        raise InputInvalid("give --state DIR (openmhhs serve's folder), or --key, --cert and --api-key")
    try:
        signer = Signer.from_pem(read_input(key), read_input(cert))
    except (ValueError, TypeError) as exc:
        raise InputInvalid(f"cannot load key/certificate: {exc}") from None
    if ca is None:
        return signer, {"X-API-Key": api_key}, True
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(ca))
    context.load_cert_chain(str(cert), str(key))
    return signer, {"X-API-Key": api_key}, context
