"""The outcome of a submitted message, read from the exchange it started.

A message the DIP refuses has the DIP's code. Otherwise the outcome is the decisive code of
its exchange (same correlation id): an IF-031 refused by the Registration Service has the
REG code of its IF-032; one the provider rejects has the SP/DS (or REG) code of its IF-035;
an accepted appointment has SP000; a lapsed one is reported as lapsed; an SDS-led MDR change
has the code of its [SDS-MDROutcome]. Anything still in flight is MSG0000 (accepted by the
DIP) with a sentence saying what it waits for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import msgspec

from openmhhs.codes import ResponseCode
from openmhhs.dip import schema as s
from openmhhs.dip.parse import parse
from openmhhs.store.market_repo import StoredMessage

__all__ = ["Outcome", "outcome_of"]


@dataclass(frozen=True, slots=True)
class Outcome:
    code: str
    message: str


def _code_of(text: str | None) -> str | None:
    if not text:
        return None
    head = text.split(" ", 1)[0]
    return head if head[:2].isalpha() else None


def _wording(code: str) -> str:
    try:
        return ResponseCode(code).wording
    except ValueError:
        return code


def outcome_of(submitted: StoredMessage, exchange: Sequence[StoredMessage]) -> Outcome:
    """``exchange``: the messages of the same correlation id produced after ``submitted``."""
    later = [m for m in exchange if m.id > submitted.id]
    for stored in later:
        message = parse(stored.body, now=None).message
        if isinstance(message, (s.IF032DSAppInitialResp, s.IF032MSAppInitialResp)):
            r0 = message.common_block.r0
            if isinstance(r0, s.R0) and r0.response_code == "R":
                text = next((m for m in r0.response_messages if m), None)
                code = _code_of(text) or ResponseCode.MSG1000.value
                return Outcome(code, text or _wording(code))
        if isinstance(message, (s.IF035DSAppRejected, s.IF035MSAppRejected)):
            code = _code_of(message.custom_block.b007.proposed_appointment_response_code) or "R"
            return Outcome(code, _wording(code))
        if isinstance(message, (s.IF035DSAppLapsed, s.IF035MSAppLapsed)):
            return Outcome("LAPSED", "the appointment request lapsed: the provider did not answer in time")
        if isinstance(message, (s.IF035DSAppAccepted, s.IF035MSAppAccepted)):
            return Outcome(ResponseCode.SP000.value, ResponseCode.SP000.wording)
        if isinstance(message, s.IF035SDSMDROutcome) and submitted.interface_id == "IF-034":
            b099 = message.custom_block.b099
            if b099.response_code == "A":
                return Outcome(ResponseCode.SP000.value, "MDR change accepted")
            text = next((m for m in b099.response_messages if m), None)
            code = _code_of(text) or "R"
            return Outcome(code, text or _wording(code))
    waiting = {
        "IF-031": "accepted by the DIP; the appointment awaits the provider's response",
        "IF-034": "accepted by the DIP",
    }.get(submitted.interface_id, "accepted by the DIP")
    return Outcome(ResponseCode.MSG0000.value, waiting)


def as_sent(stored: StoredMessage) -> object:
    """The message exactly as its sender sent it (JSON)."""
    return msgspec.json.decode(stored.body)
