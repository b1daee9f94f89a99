"""The hub's deliveries under faults, in process (the HTTP layer is tested in e2e/test_serve):
a message a recipient cannot take is parked with its code and never blocks the others; order
is kept per MPAN; parked deliveries can be requeued (issue 12, finding 1)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from openmhhs.api.hub_app import DIP_PARTICIPANT_ID, response_item
from openmhhs.dip.parse import encode
from openmhhs.market.hub import MAX_BACKOFF, PARK_AFTER, Hub
from openmhhs.market.node import Node
from openmhhs.registration.service import RegistrationService
from openmhhs.store.database import Database
from openmhhs.store.tables import delivery, message
from tests.conftest import CliHarness
from tests.market_harness import RS, TODAY, Market


@pytest.fixture
def market(cli: CliHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Market:
    monkeypatch.setenv("OPENMHHS_TODAY", TODAY.isoformat())
    market = Market(cli, tmp_path)
    market.contract()
    return market


@pytest.fixture
def hub(db_url: str, market: Market) -> Iterator[Hub]:
    db = Database(db_url)
    hub = Hub(db)
    hub.register_webhook(recipient=RS, channel="IF-031", url="https://rs.invalid/webhook")
    yield hub
    db.dispose()


def publish(hub: Hub, node: Node, market: Market, *, rounds: int = 50) -> int:
    """Publish what is due to the RS's node and record its answers, as the hub's loop does."""
    published = 0
    for _ in range(rounds):
        batches = hub.due(now=market.now)
        if not batches:
            break
        for batch in batches:
            body = hub.egress(batch, now=market.now)
            results = node.receive(body, today=market.today, now=market.now, signed_by=DIP_PARTICIPANT_ID)
            answer = {
                "messageArray": [
                    response_item(
                        code=r.code,
                        detail=r.detail,
                        sender=batch.recipient,
                        recipient=DIP_PARTICIPANT_ID,
                        sent=market.now,
                        transaction_id=r.transaction_id,
                        reference=r.sender_unique_reference,
                    )
                    for r in results
                ]
            }
            hub.settle(batch, orjson.dumps(answer), now=market.now)
            published += len(batch.items)
    return published


def submit(hub: Hub, market: Market, messages: list[Any]) -> None:
    answers = hub.accept(encode(messages), channel="IF-031", signer=None, at=market.now)
    assert all(a.ok for a in answers), answers


def states(hub: Hub) -> dict[str | None, tuple[str, str | None]]:
    with hub.db.read() as connection:
        rows = connection.execute(
            sa.select(message.c.mpan, delivery.c.state, delivery.c.outcome_code)
            .join(message, message.c.id == delivery.c.message_id)
            .where(delivery.c.recipient == RS)
        ).all()
    return {r.mpan: (r.state, r.outcome_code) for r in rows}


def test_unholdable_message_is_parked_and_the_ones_behind_it_are_delivered(hub: Hub, market: Market) -> None:
    cores = [market.mpan() for _ in range(6)]
    poison = market.dsapp(cores[0], effective_text="9999-12-31T23:59:59-23:59")
    submit(hub, market, [poison] + [market.dsapp(core) for core in cores[1:]])
    node = Node(hub.db, dip_id=RS)  # type: ignore[arg-type]
    publish(hub, node, market)
    found = states(hub)
    assert found[cores[0]] == ("refused", "RCP1022")
    assert all(found[core] == ("done", None) for core in cores[1:])
    initial = [m for m in node.outbox(500) if m[1] == "IF-032"]
    assert len(initial) == len(cores)  # every supplier answered, the refused one with IF-032 R
    assert sum(b'"responseCode":"R"' in body for _, _, body in initial) == 1


def test_failing_handler_is_parked_replayable_and_never_blocks(
    hub: Hub, market: Market, monkeypatch: pytest.MonkeyPatch
) -> None:
    cores = [market.mpan() for _ in range(5)]
    submit(hub, market, [market.dsapp(core) for core in cores])
    real = RegistrationService.receive

    def broken(self: RegistrationService, delivered: Any, ctx: Any, uow: Any) -> Any:
        if delivered.message.common_block.m0.mpan_core == cores[1]:
            raise RuntimeError("disk on fire")
        return real(self, delivered, ctx, uow)

    monkeypatch.setattr(RegistrationService, "receive", broken)
    node = Node(hub.db, dip_id=RS)  # type: ignore[arg-type]
    publish(hub, node, market)
    found = states(hub)
    assert found[cores[1]] == ("failed", "RCP1000")
    assert all(found[c] == ("done", None) for c in cores if c != cores[1])
    parked = hub.parked()
    assert [(p[2], p[3]) for p in parked] == [("failed", "RCP1000")] and "disk on fire" in (
        parked[0][4] or ""
    )
    monkeypatch.setattr(RegistrationService, "receive", real)  # the fix
    assert hub.requeue([parked[0][0]]) == 1
    publish(hub, node, market)
    assert states(hub)[cores[1]] == ("done", None)
    assert node.inbox()[-1]["mpan"] == cores[1] and node.inbox()[-1]["replay"] is True


def test_order_is_kept_per_mpan_not_for_the_whole_queue(hub: Hub, market: Market) -> None:
    slow, other = market.mpan(), market.mpan()
    submit(hub, market, [market.dsapp(slow), market.dsapp(slow), market.dsapp(other)])
    (batch,) = hub.due(now=market.now)
    first = batch.items[0].delivery_id
    hub.retry_later([first], now=market.now, error="HTTP 503")  # the oldest backs off
    (batch,) = hub.due(now=market.now)
    assert [i.message.mpan for i in batch.items] == [other]  # slow's second waits behind its first


def test_a_delivery_that_keeps_failing_goes_alone_then_is_parked(hub: Hub, market: Market) -> None:
    cores = [market.mpan() for _ in range(3)]
    submit(hub, market, [market.dsapp(core) for core in cores])
    now = market.now
    for attempt in range(1, PARK_AFTER + 1):
        (batch,) = hub.due(now=now)
        ids = [i.delivery_id for i in batch.items]
        if attempt > 3:
            assert len(ids) == 1  # isolated
        hub.retry_later(ids, now=now, error="HTTP 500")
        now = now.replace(year=now.year + 1)  # past any back-off
    assert [p[2] for p in hub.parked()] == ["failed"]
    assert hub.backlog()["pending"] == 2  # the others are still due, not parked


def test_a_recipient_that_is_down_is_never_parked(hub: Hub, market: Market) -> None:
    core = market.mpan()
    submit(hub, market, [market.dsapp(core)])
    now = market.now
    for _ in range(PARK_AFTER * 2):
        ids = [i.delivery_id for b in hub.due(now=now) for i in b.items]
        hub.retry_later(ids, now=now, error="ConnectError: connection refused")
        now = now.replace(year=now.year + 1)
    assert hub.parked() == [] and hub.backlog()["pending"] == 1


def test_thousands_queued_through_an_outage_arrive_once_in_order_per_mpan(hub: Hub, market: Market) -> None:
    cores = [market.mpan() for _ in range(50)]
    per_core = 40  # 2,000 publications
    for _ in range(per_core):
        submit(hub, market, [market.dsapp(core) for core in cores])
    received: list[tuple[str | None, int]] = []
    now, calls, outage_calls = market.now, 0, 25
    while True:
        batches = hub.due(now=now)
        if not batches:
            if hub.backlog().get("pending", 0) == 0:
                break
            now += MAX_BACKOFF  # wait out the back-off
            continue
        for batch in batches:
            calls += 1
            ids = [i.delivery_id for i in batch.items]
            if calls <= outage_calls:  # the recipient is down: nothing reaches it
                hub.retry_later(ids, now=now, error="ConnectError: [Errno 111] Connection refused")
                continue
            body = orjson.loads(hub.egress(batch, now=now))
            received += [
                (item["payload"]["CommonBlock"]["M0"]["MPANCore"], i)
                for i, item in zip(ids, body, strict=True)
            ]
            hub.settle(batch, b"", now=now)
    assert calls > outage_calls
    assert len(received) == len({i for _, i in received}) == len(cores) * per_core  # all, once
    for core in cores:
        order = [i for c, i in received if c == core]
        assert order == sorted(order) and len(order) == per_core  # in order per MPAN
    assert hub.parked() == []


def test_deep_json_gets_a_coded_answer_from_hub_and_node(hub: Hub, market: Market) -> None:
    deep = b"[" * 10_000 + b"]" * 10_000
    (answer,) = hub.accept(deep, channel="IF-031", signer=None, at=market.now)
    assert answer.code.value == "MSG1001" and "nested" in answer.detail
    node = Node(hub.db, dip_id=RS)  # type: ignore[arg-type]
    (received,) = node.receive(deep, today=market.today, now=market.now, signed_by=DIP_PARTICIPANT_ID)
    assert received.code.value == "RCP1001" and not received.applied
