"""The compact message log on SQLite and PostgreSQL: migration 0012 keeps every existing
message byte for byte, MSG1006 still refuses a sender unique reference seen before (exactly,
whatever its 64-bit key), the bulk path writes with ids taken in one step, and the footprint
counts every table with its indexes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from openmhhs.dip.build import new_transaction_id
from openmhhs.dip.catalogue import EVENTS
from openmhhs.store import compact, market_repo
from openmhhs.store.compact import DELIVERY_STATES, ORIGINS
from openmhhs.store.database import Database
from openmhhs.store.footprint import MESSAGE_LOG_TABLES, footprint, table_bytes
from openmhhs.store.market_repo import FinishedDelivery, MarketStore, NewMessage
from openmhhs.store.migrate import MIGRATIONS
from openmhhs.store.types import UtcDateTime
from tests.conftest import CliHarness
from tests.dip_examples import example_message
from tests.market_harness import TODAY, Market

AT = datetime(2025, 7, 1, 10, 30, 15, 123456, tzinfo=UTC)
WIDE_MESSAGE = sa.Table(
    "message",
    sa.MetaData(),
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("sender_unique_reference", sa.String(200)),
    sa.Column("interface_id", sa.String(6)),
    sa.Column("event_code", sa.String(40)),
    sa.Column("sender", sa.String(10)),
    sa.Column("sender_role", sa.String(5)),
    sa.Column("mpan", sa.String(13)),
    sa.Column("correlation_id", sa.String(60)),
    sa.Column("transaction_id", sa.String(65)),
    sa.Column("received_at", UtcDateTime),
    sa.Column("origin", sa.String(20)),
    sa.Column("body", sa.LargeBinary),
)
WIDE_DELIVERY = sa.Table(
    "delivery",
    sa.MetaData(),
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("message_id", sa.BigInteger),
    sa.Column("recipient", sa.String(10)),
    sa.Column("state", sa.String(10)),
    sa.Column("processed_at", UtcDateTime),
    sa.Column("outcome_code", sa.String(7)),
    sa.Column("outcome_detail", sa.Text),
)


def _alembic(db: Database) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = db.engine
    return config


def _existing_log() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Message-log rows as the wide schema held them: every event, compact and indented
    bodies, a correlation id or none, a DIP transaction id and a foreign one, every origin,
    and deliveries in every state."""
    messages: list[dict[str, Any]] = []
    deliveries: list[dict[str, Any]] = []
    for number, spec in enumerate(EVENTS.values(), start=1):
        for maximal in (False, True):
            message = example_message(spec, maximal=maximal)
            s1 = message["CommonBlock"]["S1"]
            s1["senderUniqueReference"] += f"-{number}{maximal:d}"
            if maximal:
                s1["senderCorrelationID"] = f"C-{number}"
            body = orjson.dumps(message, option=orjson.OPT_INDENT_2 if maximal else 0)
            at = AT + timedelta(minutes=len(messages))
            transaction = (
                f"legacy-{number}{maximal:d}"
                if number == 3
                else new_transaction_id(spec.interface_id, s1["senderDIPID"], s1["senderRoleID"], at)
            )
            message_id = len(messages) + 1
            messages.append(
                {
                    "id": message_id,
                    "sender_unique_reference": s1["senderUniqueReference"],
                    "interface_id": spec.interface_id,
                    "event_code": spec.event_code,
                    "sender": s1["senderDIPID"],
                    "sender_role": s1["senderRoleID"],
                    "mpan": message["CommonBlock"].get("M0", {}).get("MPANCore"),
                    "correlation_id": s1.get("senderCorrelationID"),
                    "transaction_id": transaction,
                    "received_at": at,
                    "origin": ORIGINS[message_id % len(ORIGINS)],
                    "body": body,
                }
            )
            state = DELIVERY_STATES[message_id % len(DELIVERY_STATES)]
            deliveries.append(
                {
                    "id": message_id,
                    "message_id": message_id,
                    "recipient": "9000000001",
                    "state": state,
                    "processed_at": None if state in ("pending", "mailbox") else at,
                    "outcome_code": "SP001" if state == "refused" else None,
                    "outcome_detail": "why" if state == "refused" else None,
                }
            )
    return messages, deliveries


def test_migration_keeps_every_message_byte_for_byte_and_back(db_url: str) -> None:
    db = Database(db_url)
    try:
        command.upgrade(_alembic(db), "0009")
        messages, deliveries = _existing_log()
        with db.engine.begin() as connection:
            connection.execute(sa.insert(WIDE_MESSAGE), messages)
            connection.execute(sa.insert(WIDE_DELIVERY), deliveries)
        command.upgrade(_alembic(db), "0012")
        with db.engine.begin() as connection:
            store = MarketStore(connection)
            stored = store.messages()
            assert [m.body for m in stored] == [m["body"] for m in messages]
            for read, wrote in zip(stored, messages, strict=True):
                assert read.id == wrote["id"]
                assert read.sender_unique_reference == wrote["sender_unique_reference"]
                assert (read.interface_id, read.event_code) == (wrote["interface_id"], wrote["event_code"])
                assert (read.sender, read.sender_role) == (wrote["sender"], wrote["sender_role"])
                assert (read.mpan, read.correlation_id) == (wrote["mpan"], wrote["correlation_id"])
                assert read.transaction_id == wrote["transaction_id"]
                assert (read.received_at, read.origin) == (wrote["received_at"], wrote["origin"])
                (delivered,) = store.deliveries_of(read.id)
                d = deliveries[read.id - 1]
                assert delivered == (d["recipient"], d["state"], d["outcome_code"], d["outcome_detail"])
            assert store.reference_seen(messages[5]["sender_unique_reference"])
            assert store.messages(correlation_id="C-2") == [stored[3]]
            # new rows follow the converted ones
            after = example_message(EVENTS[("IF-031", "[DSApp]")], maximal=False)
            after["CommonBlock"]["S1"]["senderUniqueReference"] = "S-after"
            later = store.log_messages([_new(orjson.dumps(after), "S-after")])
            assert later == [len(messages) + 1]
        command.downgrade(_alembic(db), "0009")
        with db.engine.begin() as connection:
            back = [
                dict(r._mapping)
                for r in connection.execute(sa.select(WIDE_MESSAGE).order_by(WIDE_MESSAGE.c.id))
            ]
            undelivered = [
                dict(r._mapping)
                for r in connection.execute(sa.select(WIDE_DELIVERY).order_by(WIDE_DELIVERY.c.id))
            ]
        assert [{**r, "body": bytes(r["body"])} for r in back[: len(messages)]] == messages
        assert undelivered == deliveries
    finally:
        db.dispose()


def _new(body: bytes, reference: str, *, recipients: tuple[tuple[str, str], ...] = ()) -> NewMessage:
    said = market_repo.envelope(body)
    return NewMessage(
        reference=reference,
        interface_id="IF-031",
        event_code="[DSApp]",
        sender="1111111111",
        sender_role=said.sender_role,
        core="2000000000015",
        correlation_id=said.correlation_id,
        transaction_id=new_transaction_id("IF-031", "1111111111", "SUP", AT),
        at=AT,
        origin="participant",
        body=body,
        recipients=recipients,
    )


def test_bulk_log_takes_ids_in_one_step_and_writes_deliveries(db_url: str) -> None:
    db = Database(db_url)
    db.migrate()
    spec = EVENTS[("IF-031", "[DSApp]")]
    try:
        with db.begin() as connection:
            before = table_bytes(connection)
            batch = []
            for n in range(600):  # past COPY_THRESHOLD: COPY on PostgreSQL
                message = example_message(spec, maximal=False)
                message["CommonBlock"]["S1"]["senderUniqueReference"] = f"S-bulk-{n}"
                batch.append(
                    _new(orjson.dumps(message), f"S-bulk-{n}", recipients=(("9000000001", "pending"),))
                )
            store = MarketStore(connection)
            first = store.log_messages(batch[:1])
            ids = store.log_messages(batch[1:])
            assert first + ids == list(range(first[0], first[0] + len(batch)))
            assert [m.body for m in store.messages_by_id(first + ids)] == [m.body for m in batch]
            assert [m.sender_unique_reference for m in store.messages()] == [m.reference for m in batch]
            assert store.deliveries_of(ids[-1]) == [("9000000001", "pending", None, None)]
            assert [d.message.id for d in store.pending_deliveries(3)] == first + ids[:2]
            assert store.known_references(["S-bulk-7", "S-never"]) == {"S-bulk-7"}
            final = example_message(spec, maximal=False)
            final["CommonBlock"]["S1"]["senderUniqueReference"] = "S-final"
            (finished,) = store.log_finished(
                [_new(orjson.dumps(final), "S-final")],
                [
                    [
                        FinishedDelivery("9000000001", "refused", AT, "SP001", "why"),
                        FinishedDelivery("2222222222", "done", AT),
                    ]
                ],
            )
            assert store.deliveries_of(finished) == [
                ("9000000001", "refused", "SP001", "why"),
                ("2222222222", "done", None, None),
            ]
            assert [p.id for p in store.parked_deliveries()] and finished not in {
                d.message.id for d in store.pending_deliveries(len(batch) + 10)
            }
            grown = footprint(connection, appointments=len(batch), before=before)
        assert grown.tables["message"] > 0 and grown.tables["delivery"] > 0
        assert grown.total == sum(grown.tables.values())
        assert grown.message_log == sum(grown.tables.get(t, 0) for t in MESSAGE_LOG_TABLES)
        assert not any(name.startswith(("message_by", "delivery_by")) for name in grown.tables)
        report = grown.as_json()
        assert report["bytes_per_appointment"] == round(grown.total / len(batch))
    finally:
        db.dispose()


@pytest.fixture
def market(cli: CliHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Market:
    monkeypatch.setenv("OPENMHHS_TODAY", TODAY.isoformat())
    m = Market(cli, tmp_path)
    m.contract()
    return m


def test_msg1006_refuses_only_the_same_reference_even_when_every_key_collides(
    market: Market, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(compact, "text_key", lambda text: 42)  # every reference and correlation id: one key
    monkeypatch.setattr(market_repo, "text_key", lambda text: 42)
    first, second = market.mpan(), market.mpan()
    asked = market.dsapp(first)
    assert market.code(asked) == "SP000"
    assert market.code(market.dsapp(second)) == "SP000"  # another reference, the same key: accepted
    again = market.submit(asked)
    assert again["results"][0]["code"] == "MSG1006"
    assert again["produced"] == []
    shown = market.cli.json("messages", "--mpan", str(first))
    (correlation,) = [
        m["CommonBlock"]["S1"]["senderCorrelationID"]
        for m in shown
        if m["CommonBlock"]["S0"]["interfaceID"] == "IF-031"
    ]
    exchange = market.cli.json("messages", "--correlation", correlation)
    assert [m["CommonBlock"]["S1"]["senderUniqueReference"] for m in exchange] == [
        m["CommonBlock"]["S1"]["senderUniqueReference"]
        for m in shown
        if m["CommonBlock"]["S1"]["senderCorrelationID"] == correlation
    ]
    assert len(exchange) > 1 and {m["CommonBlock"]["M0"]["MPANCore"] for m in exchange} == {str(first)}


def test_messages_of_something_that_is_no_mpan_are_none(cli: CliHarness) -> None:
    shown = cli("messages", "--mpan", "not-an-mpan", "--json", ok=True)
    assert orjson.loads(shown.stdout) == [] and "Traceback" not in shown.output
