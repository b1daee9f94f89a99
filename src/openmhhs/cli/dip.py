"""``openmhhs validate``, ``sign``, ``verify`` and ``certs init``: the DIP message layer."""

from __future__ import annotations

import os
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.table import Table

from openmhhs.cli.common import (
    InputInvalid,
    JsonOption,
    coded,
    console,
    emit_json,
    now,
    open_database,
    read_input,
)
from openmhhs.codes import ResponseCode
from openmhhs.days import format_dip_datetime
from openmhhs.dip.certs import issue_participant, make_authority, refuse_to_replace, write_file, write_key
from openmhhs.dip.parse import MessageRejected, Parsed, Perspective, Rejection, parse_batch
from openmhhs.dip.routing import check_routing
from openmhhs.dip.signing import Signer, Verifier
from openmhhs.identity.registry import Registry
from openmhhs.ids import DipId, InvalidDipId
from openmhhs.store.identity_repo import load_registry

certs_app = typer.Typer(help="A test certificate authority and participants' keys.")


class RegistryDirectory:
    """The stored ISD registry, as the DIP's routing checks see it."""

    def __init__(self, registry: Registry) -> None:
        self._registry = registry

    def roles_of(self, dip_id: str, *, on: date | datetime) -> set[str]:
        try:
            identifier = DipId(dip_id)
        except InvalidDipId:  # a malformed DIP ID is simply not a registered one
            return set()
        return {str(r) for r in self._registry.roles_of(identifier, on=on)}


def _result_row(result: Parsed | Rejection, ok_code: ResponseCode) -> dict[str, Any]:
    if isinstance(result, Parsed):
        s1 = result.message.common_block.s1  # type: ignore[attr-defined]
        return {
            "valid": True,
            "code": ok_code.value,
            "path": None,
            "message": "valid",
            "interface_id": result.spec.interface_id,
            "event_code": result.spec.event_code,
            "sender_unique_reference": s1.sender_unique_reference,
        }
    return {
        "valid": False,
        "code": result.code.value,
        "path": result.error.path,
        "message": result.error.detail,
        "rule": result.error.rule,
        "interface_id": None,
        "event_code": None,
        "sender_unique_reference": result.sender_unique_reference,
    }


@coded
def validate_command(
    file: Annotated[Path, typer.Argument(help="One DIP message or a JSON array (bare or {'payload': …}).")],
    perspective: Annotated[
        Perspective, typer.Option(help="dip: answer MSG codes; recipient: RCP codes.")
    ] = Perspective.DIP,
    check_registry: Annotated[
        bool,
        typer.Option(
            "--check-registry",
            help="Also check sender and recipients against the stored ISD (MSG1009-10, 1031-36).",
        ),
    ] = False,
    as_json: bool = JsonOption,
) -> None:
    """Validate DIP messages against the official schemas; exit 0 only if all are valid."""
    moment = now()
    results = parse_batch(read_input(file), now=moment, perspective=perspective)
    if check_registry:
        with open_database().begin() as connection:
            directory = RegistryDirectory(load_registry(connection))
        checked: list[Parsed | Rejection] = []
        for result in results:
            if isinstance(result, Parsed):
                try:
                    check_routing(
                        result.message,
                        result.spec,
                        directory=directory,
                        at=moment,
                        submitted=True,
                        perspective=perspective,
                    )
                except MessageRejected as exc:
                    s1 = result.message.common_block.s1  # type: ignore[attr-defined]
                    checked.append(Rejection(exc, result.raw, s1.sender_unique_reference))
                    continue
            checked.append(result)
        results = checked
    ok_code = ResponseCode.MSG0000 if perspective is Perspective.DIP else ResponseCode.RCP0000
    rows = [_result_row(r, ok_code) for r in results]
    if as_json:
        emit_json(rows)
    else:
        table = Table(
            title=f"{file}: {sum(r['valid'] for r in rows)}/{len(rows)} valid", title_justify="left"
        )
        for column in ("#", "code", "message", "path"):
            table.add_column(column)
        for index, row in enumerate(rows, start=1):
            style = "green" if row["valid"] else "red"
            what = f"{row['interface_id']} {row['event_code']}" if row["valid"] else row["message"]
            table.add_row(str(index), f"[{style}]{row['code']}[/]", what, row["path"] or "")
        console.print(table)
    if not all(r["valid"] for r in rows):
        raise typer.Exit(1)


@coded
def sign_command(
    file: Annotated[Path, typer.Argument(help="The request body to sign (sent as is).")],
    key: Annotated[Path, typer.Option("--key", help="The sender's private key (PEM).")],
    cert: Annotated[Path, typer.Option("--cert", help="The sender's certificate (PEM).")],
    url: Annotated[str, typer.Option("--url", help="The URL the request is sent to.")],
    method: Annotated[str, typer.Option("--method", help="HTTP method.")] = "POST",
    password_env: Annotated[
        str | None,
        typer.Option("--password-env", help="Environment variable holding the key's password."),
    ] = None,
    as_json: bool = typer.Option(False, "--json", help="Accepted for uniformity: output is JSON."),
) -> None:
    """Print the four X-DIP-* signature headers for a request, as JSON."""
    password = _password(password_env)
    try:
        signer = Signer.from_pem(read_input(key), read_input(cert), password)
    except (ValueError, TypeError) as exc:
        raise InputInvalid(f"cannot load key/certificate: {exc}") from None
    emit_json(signer.headers(method=method, url=url, body=read_input(file), now=now()))


@coded
def verify_command(
    file: Annotated[Path, typer.Argument(help="The request body as received.")],
    headers: Annotated[Path, typer.Option("--headers", help="JSON object of the request's headers.")],
    ca: Annotated[Path, typer.Option("--ca", help="Trusted certificate authority (PEM).")],
    url: Annotated[str, typer.Option("--url", help="The URL the request was sent to.")],
    method: Annotated[str, typer.Option("--method", help="HTTP method.")] = "POST",
    dip_id: Annotated[str | None, typer.Option("--dip-id", help="Require this signer DIP ID.")] = None,
    as_json: bool = JsonOption,
) -> None:
    """Verify X-DIP-* headers (RCP9999 when they do not hold)."""
    try:
        header_map = orjson.loads(read_input(headers))
    except orjson.JSONDecodeError:
        raise InputInvalid(f"{headers} is not a JSON object of headers") from None
    if not isinstance(header_map, dict):
        raise InputInvalid(f"{headers} is not a JSON object of headers")
    verifier = Verifier.from_pem(read_input(ca))
    verified = verifier.verify(
        method=method,
        url=url,
        body=read_input(file),
        headers=header_map,
        now=now(),
        expected_dip_id=dip_id,
    )
    if as_json:
        emit_json(
            {"valid": True, "dip_id": verified.dip_id, "signed_at": format_dip_datetime(verified.signed_at)}
        )
    else:
        console.print(
            f"Signature valid: signed by {verified.dip_id} at {format_dip_datetime(verified.signed_at)}."
        )


def _password(variable: str | None) -> bytes | None:
    if variable is None:
        return None
    value = os.environ.get(variable)
    if not value:
        raise InputInvalid(f"environment variable {variable} is empty or unset")
    return value.encode()


@certs_app.command("init")
@coded
def certs_init_command(
    directory: Annotated[
        Path, typer.Option("--dir", help="Folder for the CA and participants' files.")
    ] = Path("openmhhs-certs"),
    participant: Annotated[
        list[str] | None,
        typer.Option("--participant", help="DIP ID (repeatable); default: every DIP ID in the stored ISD."),
    ] = None,
    password_env: Annotated[
        str | None,
        typer.Option("--password-env", help="Encrypt keys with the password in this variable."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing CA (and every key) in the folder.")
    ] = False,
    as_json: bool = JsonOption,
) -> None:
    """Create a test CA, and a key and certificate for the hub and each participant. Keys are
    written 0600 and never through a link; an existing CA is kept unless --force (OMH0800)."""
    password = _password(password_env)
    moment = now()
    names: dict[str, str] = {}
    if participant:
        for value in participant:
            names[str(DipId(value))] = value
    else:
        with open_database().begin() as connection:
            registry = load_registry(connection)
        for entry in registry.table:
            if entry.dip_id is not None:
                names.setdefault(str(entry.dip_id), entry.company_name or str(entry.dip_id))
        if not names:
            raise InputInvalid("no --participant given and the stored ISD is empty")
    if not force:
        refuse_to_replace(directory / "ca.pem", directory / "ca.key")
    directory.mkdir(parents=True, exist_ok=True)
    authority = make_authority(name="openmhhs test DIP CA", now=moment)
    write_file(directory / "ca.pem", authority.certificate_pem)
    write_key(directory / "ca.key", authority.key_pem(password))
    written = ["ca.pem"]
    for dip_id, organisation in {"hub": "openmhhs DIP hub", **names}.items():
        issued = issue_participant(authority, dip_id=dip_id, organisation=organisation, now=moment)
        write_file(directory / f"{dip_id}.pem", issued.certificate_pem)
        write_key(directory / f"{dip_id}.key", issued.key_pem(password))
        written.append(f"{dip_id}.pem")
    if as_json:
        emit_json({"dir": str(directory), "certificates": written})
    else:
        console.print(f"Wrote a CA and {len(written) - 1} participant certificates to {directory}/")
    sys.stdout.flush()
