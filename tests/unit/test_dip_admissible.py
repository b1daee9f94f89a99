"""What the schema lets through but the market cannot hold is refused with RCP1022, naming
the field, before any handler sees it (dip.admissible)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from openmhhs.codes import ResponseCode
from openmhhs.dip.admissible import EARLIEST, LATEST, ValueNotAdmissible, check_admissible, check_new_exchange
from openmhhs.dip.catalogue import event_spec
from openmhhs.dip.parse import MessageRejected, Perspective, parse
from tests.dip_examples import example_message

DSAPP = event_spec("IF-031", "[DSApp]")
MDR_UPDATE = event_spec("IF-034", "[SDS-MDRUpdate]")


def _message(change: Any = None, spec: Any = DSAPP) -> Any:
    message = example_message(spec, maximal=True)
    if change is not None:
        change(message)
    return parse(orjson.dumps(message), now=None).message


def _effective(value: str) -> Any:
    return lambda m: m["CustomBlock"]["B071"].__setitem__("proposedDataServiceDIPEffectiveFromDate", value)


def test_sound_messages_are_admissible() -> None:
    check_admissible(_message())
    check_admissible(_message(spec=MDR_UPDATE))


@pytest.mark.parametrize(
    "value",
    [
        "9999-12-31T23:59:59-23:59",
        "0001-01-01T00:00:00+23:59",
        "1899-12-31T23:59:59+00:00",
        "3000-01-01T00:00:00+00:00",
    ],
)
def test_rcp1022_for_a_date_time_the_market_cannot_hold(value: str) -> None:
    with pytest.raises(ValueNotAdmissible) as refused:
        check_admissible(_message(_effective(value)))
    assert refused.value.code is ResponseCode.RCP1022
    assert refused.value.path == "$.CustomBlock.B071.proposedDataServiceDIPEffectiveFromDate"
    dip = ValueNotAdmissible("x", path="$", perspective=Perspective.DIP)
    assert dip.code is ResponseCode.MSG1001


@given(
    moment=st.datetimes(min_value=datetime(1900, 1, 2), max_value=datetime(2999, 12, 30)),
    offset=st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59),
)
def test_every_instant_inside_the_window_is_admissible(moment: datetime, offset: int) -> None:
    zone = timezone(timedelta(minutes=offset))
    text = moment.replace(tzinfo=UTC, microsecond=0).astimezone(zone).isoformat(timespec="seconds")
    instant = datetime.fromisoformat(text).astimezone(UTC)
    if len(text) == 25 and EARLIEST <= instant < LATEST:
        check_admissible(_message(_effective(text)))


@pytest.mark.parametrize(
    "dip_id", ["éééééééééé", "１２３４５６７８９０", "ZZZZZZZZZZ", "          ", "abc\u200bdefghi"]
)
def test_rcp1022_for_a_dip_id_no_participant_can_hold(dip_id: str) -> None:
    def change(m: dict[str, Any]) -> None:
        m["CommonBlock"]["A0"]["primaryRecipients"] = ["1234567890", dip_id]

    with pytest.raises(ValueNotAdmissible) as refused:
        check_admissible(_message(change))
    assert refused.value.path == "$.CommonBlock.A0.primaryRecipients[1]"


def test_msg1012_for_an_if031_reusing_a_correlation_id() -> None:
    message = _message()
    check_new_exchange(message, DSAPP, seen=lambda correlation, other_than: False)
    with pytest.raises(MessageRejected) as refused:
        check_new_exchange(message, DSAPP, seen=lambda correlation, other_than: True)
    assert refused.value.code is ResponseCode.MSG1012
    check_new_exchange(_message(spec=MDR_UPDATE), MDR_UPDATE, seen=lambda correlation, other_than: True)


def test_msg1012_for_an_if031_without_a_correlation_id() -> None:
    message = _message(lambda m: m["CommonBlock"]["S1"].__setitem__("senderCorrelationID", None))
    with pytest.raises(MessageRejected) as refused:
        check_new_exchange(message, DSAPP, seen=lambda correlation, other_than: False)
    assert refused.value.code is ResponseCode.MSG1012 and "must carry" in refused.value.detail
