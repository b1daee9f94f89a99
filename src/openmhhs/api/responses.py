"""The DIP's StandardResponse, as the hub and the participants' webhooks answer: one
``StandardResponseBodyType`` per message answered (or one for a refusal of the whole
request), its fields kept within the official lengths and patterns."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from fastapi.responses import JSONResponse

from openmhhs.codes import ResponseCode
from openmhhs.days import format_utc_datetime

__all__ = ["DIP_PARTICIPANT_ID", "response_item", "standard_body", "standard_response"]


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
