"""The IF-021s of a block written from arrays (``messages.settlement_bodies``) are, byte for
byte, the messages ``settlement_data`` builds one by one, every one valid against the official
schema; and the ECS rules in array form (``ecs.ecs_masks``) refuse, row by row, exactly what
``check_settlement_data`` refuses in each message, on ordinary and clock-change days."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import numpy as np
import pytest

from openmhhs.days import settlement_period_count
from openmhhs.dip.build import MessageFactory, Sender, Site
from openmhhs.dip.parse import encode, parse
from openmhhs.ids import DipId, DipRole, GspGroup, MpanCore
from openmhhs.meterdata.ecs import MAX_PERIOD_KWH, check_settlement_data, ecs_masks
from openmhhs.meterdata.messages import SettlementRows, settlement_bodies, settlement_data
from openmhhs.meterdata.pipeline import _connection_seconds, _period_layout
from openmhhs.meterdata.validation import QUALITIES, SettledPeriod

DAYS = [date(2025, 3, 30), date(2025, 7, 10), date(2025, 10, 26), date(2025, 12, 1)]
MPANS = [str(MpanCore.from_stem(str(200005653597 + 7 * i))) for i in range(12)]
SDS, DNO = DipId("a1a1a1a1a1"), "b2b2b2b2b2"
NOW = datetime(2025, 12, 2, 2, tzinfo=UTC)
MAX_WH = int(MAX_PERIOD_KWH * 1000)


def _block(day: date, seed: int, *, low: int = 0, high: int = MAX_WH) -> SettlementRows:
    rng = np.random.default_rng(seed)
    rows, n = len(MPANS), settlement_period_count(day)
    quality = rng.integers(0, len(QUALITIES), (rows, n)).astype(np.uint8)
    reason = np.where(quality == 0, 0, rng.integers(2, 5, (rows, n))).astype(np.uint8)
    reason[0, -1] = 0 if quality[0, -1] == 0 else 10  # the widest reason
    return SettlementRows(
        mpan=MPANS,
        distributor=[DNO] * rows,
        gsp_group=["_A", "_B", "_P"] * (rows // 3),
        recipients=[("c3c3c3c3c3", "d4d4d4d4d4", DNO) if i % 2 else ("c3c3c3c3c3", DNO) for i in range(rows)],
        connection_type=["W", "L"] * (rows // 2),
        connection_from=[date(2020, 1, 1 + i) for i in range(rows)],
        mq=["AI", "AI", "AE"] * (rows // 3),
        values_wh=rng.integers(low, high + 1, (rows, n)),
        quality=quality,
        reason=reason,
    )


def _one_by_one(block: SettlementRows, day: date, factory: MessageFactory) -> list[bytes]:
    return [
        encode(
            settlement_data(
                factory,
                site=Site(MpanCore(block.mpan[i]), DipId(block.distributor[i]), GspGroup(block.gsp_group[i])),
                recipients=[DipId(r) for r in block.recipients[i]],
                day=day,
                periods=[
                    SettledPeriod(int(v), QUALITIES[q], None if r == 0 else str(r), "")
                    for v, q, r in zip(block.values_wh[i], block.quality[i], block.reason[i], strict=True)
                ],
                connection_type=block.connection_type[i],
                connection_from=block.connection_from[i],
                now=NOW,
                mq=block.mq[i],
            )
        )
        for i in range(len(block.mpan))
    ]


@pytest.mark.parametrize("day", DAYS)
@pytest.mark.parametrize("seed", [1, 2])
def test_block_bodies_are_the_messages_built_one_by_one(day: date, seed: int) -> None:
    block = _block(day, seed)
    references, bodies = settlement_bodies(
        MessageFactory(Sender(SDS, DipRole.SDS), unique_prefix="x1"),
        block,
        day=day,
        now=NOW,
        qualities=QUALITIES,
        max_wh=MAX_WH,
    )
    assert bodies == _one_by_one(block, day, MessageFactory(Sender(SDS, DipRole.SDS), unique_prefix="x1"))
    for reference, body in zip(references, bodies, strict=True):
        parsed = parse(body, now=None)  # every one against the official schema
        assert parsed.message.common_block.s1.sender_unique_reference == reference  # type: ignore[attr-defined]
    assert len(set(references)) == len(references)


@pytest.mark.parametrize("value", [-1, MAX_WH + 1])
def test_values_settlement_would_refuse_are_never_written(value: int) -> None:
    block = _block(DAYS[1], 3)
    block.values_wh[3, 4] = value
    with pytest.raises(ValueError, match="within 0 and"):
        settlement_bodies(
            MessageFactory(Sender(SDS, DipRole.SDS)),
            block,
            day=DAYS[1],
            now=NOW,
            qualities=QUALITIES,
            max_wh=MAX_WH,
        )


@pytest.mark.parametrize("day", DAYS)
def test_ecs_in_array_form_refuses_what_each_message_is_refused(day: date) -> None:
    block = _block(day, 4)
    block.values_wh[3, 1], block.values_wh[5, -1] = -1, MAX_WH + 1  # negative; above the maximum
    block.reason[1, 2], block.quality[1, 2] = 0, QUALITIES.index("E1")  # an estimate without a reason
    connection_from = list(block.connection_from)
    connection_from[2] = day  # periods before the connection type's effective-from
    block = replace(block, connection_from=connection_from)
    masks = ecs_masks(
        event="[ActivePower]",
        mq=np.array(block.mq),
        layout=_period_layout(day),
        value_wh=block.values_wh,
        quality=np.array(QUALITIES)[block.quality],
        has_reason=block.reason != 0,
        connection_from=np.array([_connection_seconds(d) for d in block.connection_from], dtype=np.int64),
    )
    factory = MessageFactory(Sender(SDS, DipRole.SDS))
    refused = masks.refused_rows()
    for i in range(len(MPANS)):
        message = settlement_data(
            factory,
            site=Site(MpanCore(block.mpan[i]), DipId(DNO), GspGroup("_A")),
            recipients=[DipId(DNO)],
            day=day,
            periods=[
                SettledPeriod(int(v), QUALITIES[q], None if r == 0 else str(r), "")
                for v, q, r in zip(block.values_wh[i], block.quality[i], block.reason[i], strict=True)
            ],
            connection_type="W",
            connection_from=block.connection_from[i],
            now=NOW,
            mq=block.mq[i],
        )
        codes = sorted({r.code for r in check_settlement_data(message)}, key=lambda c: c.value)
        assert masks.codes(i) == codes
        assert refused[i] == bool(codes)
    assert refused.any() and not refused.all()
