"""The DIP's StandardResponse, as the hub and the participants' webhooks answer: one
``StandardResponseBodyType`` per message answered (or one for a refusal of the whole
request), its fields kept within the official lengths and patterns."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from openmhhs.codes import ResponseCode
from openmhhs.days import format_utc_datetime

__all__ = [
    "DIP_PARTICIPANT_ID",
    "StandardResponse",
    "coded_response",
    "response_item",
    "standard_body",
    "standard_response",
]


def standard_body(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"messageArray": items, "timestamp": format_utc_datetime(datetime.now(UTC))}


def standard_response(items: list[dict[str, Any]], *, status: int) -> JSONResponse:
    return JSONResponse(standard_body(items), status_code=status)


DIP_PARTICIPANT_ID = "0000000000"
"""The DIP's own participant id, the sender of its responses."""

_REFERENCE = re.compile(r"^S-((IF|REP)-)?\d{3,4}-[0-9a-fA-F]{10}-[A-Z]{3,5}-\d{8}-[a-zA-Z0-9]+$")


def response_item(
    *,
    code: ResponseCode,
    detail: str,
    sender: str,
    recipient: str | None,
    sent: datetime,
    transaction_id: str | None = None,
    reference: str | None = None,
    correlation_id: str | None = None,
    path: str | None = None,
) -> dict[str, Any]:
    """One StandardResponseBodyType: ``senderID`` is who answers, ``recipientID`` who sent
    the message answered. Fields are kept within the official lengths and patterns."""
    wording = f"{code.value} - {code.wording}"
    message = wording if code.value.endswith("0000") or not detail else f"{wording}: {detail}"
    return {
        "transactionID": transaction_id,
        "senderUniqueReference": reference if reference and _REFERENCE.match(reference) else None,
        "correlationID": correlation_id if correlation_id and len(correlation_id) <= 60 else None,
        "sentTimestamp": format_utc_datetime(sent),
        "senderID": sender,
        "recipientID": recipient if recipient and len(recipient) == 10 else None,
        "DIPConnectionProviderID": None,
        "message": message[:200],
        "help": f"{path}: {detail}"[:500] if path else None,
        "serviceTicketURL": None,
    }


class StandardResponseItem(BaseModel):
    """The spec's StandardResponseBodyType, as documented in the hub's OpenAPI document."""

    transactionID: str | None  # noqa: N815
    senderUniqueReference: str | None  # noqa: N815
    correlationID: str | None  # noqa: N815
    sentTimestamp: str  # noqa: N815
    senderID: str  # noqa: N815
    recipientID: str | None  # noqa: N815
    DIPConnectionProviderID: str | None
    message: str = Field(description="The code, its official wording and the detail: `MSG1001 - …: …`")
    help: str | None
    serviceTicketURL: str | None  # noqa: N815


class StandardResponse(BaseModel):
    """The DIP's StandardResponse: every answer and every coded error of the hub."""

    messageArray: list[StandardResponseItem]  # noqa: N815
    timestamp: str


def coded_response(code: ResponseCode, detail: str, *, status: int, path: str | None = None) -> JSONResponse:
    """A refusal or error as a StandardResponse with one item, sent by the DIP."""
    item = response_item(
        code=code, detail=detail, sender=DIP_PARTICIPANT_ID, recipient=None, sent=datetime.now(UTC), path=path
    )
    return standard_response([item], status=status)
