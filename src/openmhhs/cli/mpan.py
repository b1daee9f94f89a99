"""``openmhhs mpan …``: MPAN cores."""

from __future__ import annotations

from typing import Annotated

import typer

from openmhhs.cli.common import JsonOption, console, emit_json, error_json
from openmhhs.ids import InvalidMpanCore, MpanCore

app = typer.Typer(help="MPAN cores: check digits and registration data.")


@app.command("check")
def check_command(
    mpan: Annotated[str, typer.Argument(help="The 13-digit MPAN core.")],
    as_json: bool = JsonOption,
) -> None:
    """Check an MPAN core: 13 digits with a correct check digit. Exit 1 (REG0000) if not."""
    try:
        core = MpanCore(mpan)
    except InvalidMpanCore as exc:
        if as_json:
            emit_json({"mpan": mpan, "valid": False, "error": error_json(exc)})
        else:
            console.print(f"{exc.code.value} {exc.detail}")
        raise typer.Exit(1) from None
    gsp = core.area_gsp_group
    if as_json:
        emit_json(
            {
                "mpan": core,
                "valid": True,
                "distributor_id": core.distributor_id,
                "area_gsp_group": gsp,
            }
        )
    else:
        where = (
            f"area distributor {core.distributor_id}, GSP Group {gsp}"
            if gsp
            else (f"distributor {core.distributor_id} (independent network)")
        )
        console.print(f"{core} is a valid MPAN core ({where}).")
