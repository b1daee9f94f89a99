"""The "as of" clock every command and service shares: UK local today, or a fixed day for
rehearsals and tests (``OPENMHHS_TODAY=YYYY-MM-DD``)."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime

from openmhhs.codes import CodedError, ResponseCode
from openmhhs.days import LONDON

__all__ = ["TODAY_VAR", "ClockInvalid", "now", "today"]

TODAY_VAR = "OPENMHHS_TODAY"


class ClockInvalid(CodedError):
    code = ResponseCode.OMH0403
    rule = "cli.input.valid"


def today() -> date:
    """UK local today, or ``OPENMHHS_TODAY`` (YYYY-MM-DD) when set."""
    fixed = os.environ.get(TODAY_VAR, "").strip()
    if fixed:
        try:
            return date.fromisoformat(fixed)
        except ValueError:
            raise ClockInvalid(f"{TODAY_VAR} must be YYYY-MM-DD, got {fixed!r}") from None
    return datetime.now(LONDON).date()


def now() -> datetime:
    """The current instant (UTC); with ``OPENMHHS_TODAY`` set, noon UK time on that day."""
    if os.environ.get(TODAY_VAR, "").strip():
        day = today()
        return datetime(day.year, day.month, day.day, 12, tzinfo=LONDON).astimezone(UTC)
    return datetime.now(UTC)
