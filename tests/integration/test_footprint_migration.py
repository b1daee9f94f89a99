"""Migration 0013 (fewer bytes per appointment) on SQLite and PostgreSQL: every appointment
request's block reads back byte for byte, stored compressed; the SDS's MPAN facts survive the
rebuild; deliveries are indexed by recipient only while they wait; and the downgrade gives
back the wide forms, data unchanged."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from openmhhs.dip.build import new_transaction_id
from openmhhs.dip.catalogue import EVENTS
from openmhhs.ids import MpanCore
from openmhhs.store.compact import DELIVERY_STATES, pack_correlation_id, pack_dip_id, text_key
from openmhhs.store.database import Database
from openmhhs.store.market_repo import MarketStore
from openmhhs.store.migrate import MIGRATIONS
from openmhhs.store.tables import (
    appointment,
    appointment_request,
    dcc_mdr_notice,
    dcc_supply_notice,
    delivery,
    mdr_instruction,
    message,
    sds_portfolio,
)
from openmhhs.store.types import UtcDateTime
from tests.dip_examples import example_message

WIDE_REQUEST = sa.Table(
    "appointment_request",
    sa.MetaData(),
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("correlation_id", sa.String(60)),
    sa.Column("mpan", sa.String(13)),
    sa.Column("service", sa.String(2)),
    sa.Column("supplier", sa.String(10)),
    sa.Column("supplier_mpid", sa.String(4)),
    sa.Column("provider", sa.String(10)),
    sa.Column("provider_mpid", sa.String(4)),
    sa.Column("effective_from", sa.Date),
    sa.Column("scenario", sa.String(3)),
    sa.Column("received_on", sa.Date),
    sa.Column("raw_block", sa.LargeBinary),
    sa.Column("nominated_mdr", sa.String(10)),
    sa.Column("state", sa.String(20)),
    sa.Column("outcome_code", sa.String(7)),
    sa.Column("activated", sa.Boolean),
)
FACT = sa.Table(
    "sds_mpan_fact",
    sa.MetaData(),
    sa.Column("sds", sa.String(10)),
    sa.Column("mpan", sa.String(13)),
    sa.Column("energy_direction", sa.String(1)),
    sa.Column("energisation", sa.String(1)),
)

WIDE_APPOINTMENT = sa.Table(
    "appointment",
    sa.MetaData(),
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("mpan", sa.String(13)),
    sa.Column("service", sa.String(2)),
    sa.Column("provider", sa.String(10)),
    sa.Column("provider_mpid", sa.String(4)),
    sa.Column("mdr", sa.String(10)),
    sa.Column("mdr_mpid", sa.String(4)),
    sa.Column("valid_from", sa.Date),
    sa.Column("valid_to", sa.Date),
    sa.Column("supplier", sa.String(10)),
    sa.Column("contract_reference", sa.String(50)),
    sa.Column("scenario", sa.String(3)),
    sa.Column("correlation_id", sa.String(60)),
    sa.Column("recorded_at", UtcDateTime),
    sa.Column("retired_at", UtcDateTime),
    sa.Column("retired_by", sa.String(60)),
)


def _wide_notice(name: str, *extra: sa.Column[Any]) -> sa.Table:
    return sa.Table(
        name,
        sa.MetaData(),
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("mpan", sa.String(13)),
        sa.Column("supplier", sa.String(10)),
        *extra,
        sa.Column("valid_from", sa.Date),
        sa.Column("received_at", UtcDateTime),
        sa.Column("transaction_id", sa.String(65)),
    )


WIDE_MDR_NOTICE = _wide_notice(
    "dcc_mdr_notice", sa.Column("mdr", sa.String(10)), sa.Column("mdr_mpid", sa.String(4))
)
WIDE_SUPPLY_NOTICE = _wide_notice("dcc_supply_notice", sa.Column("energy_direction", sa.String(1)))
WIDE_PORTFOLIO = sa.Table(
    "sds_portfolio",
    sa.MetaData(),
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("sds", sa.String(10)),
    sa.Column("mpan", sa.String(13)),
    sa.Column("supplier", sa.String(10)),
    sa.Column("mdr", sa.String(10)),
    sa.Column("mdr_mpid", sa.String(4)),
    sa.Column("valid_from", sa.Date),
    sa.Column("valid_to", sa.Date),
    sa.Column("correlation_id", sa.String(60)),
    sa.Column("contract_reference", sa.String(50)),
)
WIDE_INSTRUCTION = sa.Table(
    "mdr_instruction",
    sa.MetaData(),
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("mdr", sa.String(10)),
    sa.Column("mpan", sa.String(13)),
    sa.Column("sds", sa.String(10)),
    sa.Column("mdr_mpid", sa.String(4)),
    sa.Column("valid_from", sa.Date),
    sa.Column("valid_to", sa.Date),
    sa.Column("correlation_id", sa.String(60)),
)
AT = datetime(2025, 7, 1, 10, 30, 15, 123456, tzinfo=UTC)
CORRELATIONS = (
    "C-IF-031-1111111111-SUP-20250701-fd258dbc00000104",  # a supplier's (hex tail)
    "C-IF-031-9000000001-REGS-20250701-r6cd81b00000099",  # the RS's (letters in its tail)
    "C-IF-031-ABCDEF0123-SUP-20250701-00ff",  # an upper-case sender
    "C-legacy-7",  # not the DIP's form: kept as text
    None,
    "C-IF-031-1111111111-SUP-20250702-fd258dbc00000105",
)


def _alembic(db: Database) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = db.engine
    return config


def _block(n: int, *, service: str) -> bytes:
    """An appointment block as the RS keeps it (B071 or B070, JSON as received)."""
    day = f"2025-07-{n % 28 + 1:02d}T00:00:00+01:00"
    if service == "MS":
        return (
            f'{{"proposedMeteringServiceDIPID":"3333333333","proposedMeteringServiceMPID":"MSAA",'
            f'"proposedMeteringServiceDIPEffectiveFromDate":"{day}",'
            f'"contractReferenceMeteringService":"M-{n}","appointmentScenario":"CSP"}}'
        ).encode()
    return (
        f'{{"proposedDataServiceDIPID":"2222222222","proposedDataServiceMPID":"SDSB",'
        f'"proposedDataServiceDIPEffectiveFromDate":"{day}","contractReferenceDataService":"C-{n}",'
        f'"appointmentScenario":"CSP","supplierNominatedMDRDIPID":null,"supplierNominatedMDRMPID":null,'
        f'"supplierNominatedMDREffectiveFromDate":null,"supplierProposedConsentGranularity":"H",'
        f'"supplierProposedDomesticIndicator":true,"traditionalFallBackReadFrequency":null}}'
    ).encode()


def _requests() -> list[dict[str, Any]]:
    rows = []
    for n in range(1, 31):
        service = "MS" if n % 3 == 0 else "DS"
        rows.append(
            {
                "id": n,
                "correlation_id": f"C-IF-031-1111111111-SUP-20250701-{n:016x}",
                "mpan": str(MpanCore.from_stem(f"20{n:010d}")),
                "service": service,
                "supplier": "1111111111",
                "supplier_mpid": "SUPA",
                "provider": "2222222222" if service == "DS" else "3333333333",
                "provider_mpid": "SDSB" if service == "DS" else "MSAA",
                "effective_from": date(2025, 7, 1),
                "scenario": "CSP",
                "received_on": date(2025, 6, 20),
                "raw_block": _block(n, service=service) if n != 7 else b"",
                "nominated_mdr": None if n % 2 else "2222222222",
                "state": "awaiting_provider",
                "outcome_code": None,
                "activated": False,
            }
        )
    return rows


def _appointments() -> list[dict[str, Any]]:
    return [
        {
            "id": n,
            "mpan": str(MpanCore.from_stem(f"20{n:010d}")),
            "service": "DS",
            "provider": "2222222222",
            "provider_mpid": "SDSB",
            "mdr": "2222222222",
            "mdr_mpid": "SDSB",
            "valid_from": date(2025, 7, 1),
            "valid_to": None,
            "supplier": "1111111111",
            "contract_reference": "C-1",
            "scenario": "CSP",
            "correlation_id": f"C-IF-031-1111111111-SUP-20250701-{n:016x}",
            "recorded_at": AT + timedelta(seconds=n, microseconds=n),
            "retired_at": AT + timedelta(days=1) if n % 2 else None,
            "retired_by": "C-later" if n % 2 else None,
        }
        for n in range(1, 7)
    ]


def _notices(*, mdr: bool) -> list[dict[str, Any]]:
    rows = []
    for n in range(1, 7):
        transaction = (
            f"legacy-{n}"
            if n == 3
            else new_transaction_id("IF-035" if mdr else "IF-001", "9000000001", "REGS", AT)
        )
        extra = {"mdr": "2222222222", "mdr_mpid": "SDSB"} if mdr else {"energy_direction": "I"}
        rows.append(
            {
                "id": n,
                "mpan": str(MpanCore.from_stem(f"20{n:010d}")),
                "supplier": "1111111111",
                **extra,
                "valid_from": date(2025, 7, 1),
                "received_at": AT + timedelta(minutes=n),
                "transaction_id": transaction,
            }
        )
    return rows


def _portfolio() -> list[dict[str, Any]]:
    return [
        {
            "id": n,
            "sds": "2222222222",
            "mpan": str(MpanCore.from_stem(f"20{n:010d}")),
            "supplier": "1111111111",
            "mdr": "2222222222",
            "mdr_mpid": "SDSB",
            "valid_from": date(2025, 7, 1),
            "valid_to": None,
            "correlation_id": correlation,
            "contract_reference": "C-1",
        }
        for n, correlation in enumerate(CORRELATIONS, start=1)
    ]


def _instructions() -> list[dict[str, Any]]:
    return [
        {
            "id": n,
            "mdr": "2222222222",
            "mpan": str(MpanCore.from_stem(f"20{n:010d}")),
            "sds": "2222222222",
            "mdr_mpid": "SDSB",
            "valid_from": date(2025, 7, 1),
            "valid_to": date(2025, 8, 1) if n % 2 else None,
            "correlation_id": correlation,
        }
        for n, correlation in enumerate(CORRELATIONS, start=1)
    ]


def _rows(connection: sa.Connection, table: sa.Table) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in connection.execute(sa.select(table).order_by(table.c.id))]


def _stored(connection: sa.Connection) -> list[dict[str, Any]]:
    return [
        {**r._mapping, "raw_block": bytes(r.raw_block)}
        for r in connection.execute(sa.select(WIDE_REQUEST).order_by(WIDE_REQUEST.c.id))
    ]


def _facts(connection: sa.Connection) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in connection.execute(sa.select(FACT).order_by(FACT.c.sds, FACT.c.mpan))]


def _recipient_index_is_partial(connection: sa.Connection) -> bool:
    if connection.dialect.name == "postgresql":
        definition = connection.execute(
            sa.text("SELECT indexdef FROM pg_indexes WHERE indexname = 'delivery_by_recipient'")
        ).scalar_one()
    else:
        definition = connection.execute(
            sa.text("SELECT sql FROM sqlite_schema WHERE name = 'delivery_by_recipient'")
        ).scalar_one()
    return "WHERE" in str(definition).upper()


DROPPED_INDEXES = {("appointment", "appointment_by_provider"), ("dcc_mdr_notice", "dcc_mdr_notice_by_mpan")}


def _dropped_indexes_present(connection: sa.Connection) -> set[tuple[str, str]]:
    inspector = sa.inspect(connection)
    return {
        (table, index)
        for table, index in DROPPED_INDEXES
        if index in {i["name"] for i in inspector.get_indexes(table)}
    }


def _facts_without_rowid(connection: sa.Connection) -> bool:
    if connection.dialect.name != "sqlite":
        return False
    sql = connection.execute(
        sa.text("SELECT sql FROM sqlite_schema WHERE name = 'sds_mpan_fact'")
    ).scalar_one()
    return "WITHOUT ROWID" in str(sql).upper()


def test_0013_compresses_request_blocks_and_gives_them_back(db_url: str) -> None:
    db = Database(db_url)
    requests = _requests()
    appointments, mdr_notices, supply_notices = _appointments(), _notices(mdr=True), _notices(mdr=False)
    portfolio, instructions = _portfolio(), _instructions()
    facts = [("2222222222", f"{2000000000000 + n:013d}", "I" if n % 2 else "E", "E") for n in range(1, 11)]
    try:
        command.upgrade(_alembic(db), "0012")
        with db.engine.begin() as connection:
            connection.execute(sa.insert(WIDE_REQUEST), requests)
            connection.execute(sa.insert(FACT), [dict(zip(FACT.c.keys(), f, strict=True)) for f in facts])
            connection.execute(sa.insert(WIDE_APPOINTMENT), appointments)
            connection.execute(sa.insert(WIDE_MDR_NOTICE), mdr_notices)
            connection.execute(sa.insert(WIDE_SUPPLY_NOTICE), supply_notices)
            connection.execute(sa.insert(WIDE_PORTFOLIO), portfolio)
            connection.execute(sa.insert(WIDE_INSTRUCTION), instructions)
            assert not _recipient_index_is_partial(connection)
            assert _dropped_indexes_present(connection) == DROPPED_INDEXES
        command.upgrade(_alembic(db), "0013")
        with db.engine.begin() as connection:
            stored = _stored(connection)  # the bytes in the database
            store = MarketStore(connection)
            for wrote, kept in zip(requests, stored, strict=True):
                read = store.request(wrote["correlation_id"])
                assert read is not None and read.raw_block == wrote["raw_block"]
                assert kept["raw_block"] != wrote["raw_block"]
                if wrote["raw_block"]:
                    assert len(kept["raw_block"]) < len(wrote["raw_block"]) // 2
            typed = [
                {**r, "raw_block": bytes(r["raw_block"])} for r in _rows(connection, appointment_request)
            ]
            assert typed == requests
            assert _facts(connection) == sorted(facts)
            assert _facts_without_rowid(connection) == (connection.dialect.name == "sqlite")
            assert _rows(connection, appointment) == appointments
            assert _rows(connection, dcc_mdr_notice) == mdr_notices
            assert _rows(connection, dcc_supply_notice) == supply_notices
            assert _rows(connection, sds_portfolio) == portfolio
            assert _rows(connection, mdr_instruction) == instructions
            packed = (
                connection.execute(sa.select(WIDE_PORTFOLIO.c.correlation_id).order_by(WIDE_PORTFOLIO.c.id))
                .scalars()
                .all()
            )
            assert [None if p is None else bytes(p) for p in packed] == [
                None if c is None else pack_correlation_id(c) for c in CORRELATIONS
            ]
            assert all(len(pack_correlation_id(c)) <= 0.7 * len(c) for c in CORRELATIONS if c and "IF" in c)
            request_keys = (
                connection.execute(sa.select(WIDE_REQUEST.c.correlation_id).order_by(WIDE_REQUEST.c.id))
                .scalars()
                .all()
            )
            assert all(
                2 * len(k) <= len(w["correlation_id"]) for k, w in zip(request_keys, requests, strict=True)
            )
            kept = (
                connection.execute(sa.select(WIDE_MDR_NOTICE.c.transaction_id).order_by(WIDE_MDR_NOTICE.c.id))
                .scalars()
                .all()
            )
            if connection.dialect.name == "sqlite":  # instants as microseconds
                kinds = connection.exec_driver_sql("SELECT DISTINCT typeof(recorded_at) FROM appointment")
                assert kinds.scalars().all() == ["integer"]
            dip_form = [(k, w) for k, w in zip(kept, mdr_notices, strict=True) if w["id"] != 3]
            assert all(2 * len(k) <= len(w["transaction_id"]) for k, w in dip_form)
            assert _recipient_index_is_partial(connection)
            assert not _dropped_indexes_present(connection)
        command.downgrade(_alembic(db), "0012")
        with db.engine.begin() as connection:
            assert _stored(connection) == requests
            assert _facts(connection) == sorted(facts)
            assert not _facts_without_rowid(connection)
            assert _dropped_indexes_present(connection) == DROPPED_INDEXES
            assert _rows(connection, WIDE_APPOINTMENT) == appointments
            assert _rows(connection, WIDE_MDR_NOTICE) == mdr_notices
            assert _rows(connection, WIDE_SUPPLY_NOTICE) == supply_notices
            assert _rows(connection, WIDE_PORTFOLIO) == portfolio
            assert _rows(connection, WIDE_INSTRUCTION) == instructions
            assert not _recipient_index_is_partial(connection)
    finally:
        db.dispose()


def test_requests_written_after_0013_read_back_as_written(db: Database) -> None:
    """The column type compresses on the way in and gives the bytes back on the way out."""
    wrote = [r for r in _requests()[:6] if r["raw_block"]]
    with db.begin() as connection:
        connection.execute(sa.insert(appointment_request), wrote)
        read = connection.execute(
            sa.select(appointment_request.c.raw_block).order_by(appointment_request.c.id)
        )
        assert [bytes(r.raw_block) for r in read] == [w["raw_block"] for w in wrote]
        kept = [
            bytes(r.raw_block)
            for r in connection.execute(sa.select(WIDE_REQUEST).order_by(WIDE_REQUEST.c.id))
        ]
        assert all(len(k) < len(w["raw_block"]) // 2 for k, w in zip(kept, wrote, strict=True))


@pytest.mark.parametrize("state", ["pending", "mailbox"])
def test_sqlite_finds_waiting_deliveries_by_recipient_through_the_partial_index(
    tmp_path: Path, state: str
) -> None:
    db = Database(f"sqlite:///{tmp_path / 'plan.db'}")
    db.migrate()
    explain = sa.select(delivery.c.id).where(delivery.c.recipient == "2222222222", delivery.c.state == state)
    try:
        with db.read() as connection:
            sql = str(explain.compile(connection))
            params = ("2222222222", DELIVERY_STATES.index(state) + 1)
            plan = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params).all()
        assert any("delivery_by_recipient" in str(row[-1]) for row in plan), plan
    finally:
        db.dispose()


def _logged(n: int, *, correlated: bool) -> dict[str, Any]:
    """A message-log row as 0012 wrote it: full 64-bit keys."""
    body = example_message(EVENTS[("IF-031", "[DSApp]")], maximal=False)
    s1 = body["CommonBlock"]["S1"]
    s1["senderUniqueReference"] = f"S-IF-031-1111111111-SUP-20250701-fd258dbc{n:08d}"
    s1["senderCorrelationID"] = f"C-IF-031-1111111111-SUP-20250701-fd258dbc{n:08d}" if correlated else None
    return {
        "id": n,
        "sender_unique_reference": text_key(s1["senderUniqueReference"]),
        "interface_id": "IF-031",
        "event_code": "[DSApp]",
        "sender": "1111111111",
        "mpan": body["CommonBlock"]["M0"]["MPANCore"],
        "correlation_id": text_key(s1["senderCorrelationID"]) if correlated else None,
        "transaction_id": new_transaction_id("IF-031", "1111111111", "SUP", AT),
        "received_at": AT,
        "origin": "participant",
        "body": orjson.dumps(body),
    }


def _keys(connection: sa.Connection) -> list[tuple[int, int | None]]:
    raw = sa.table(
        "message",
        sa.column("id", sa.BigInteger),
        sa.column("sender_unique_reference", sa.BigInteger),
        sa.column("correlation_id", sa.BigInteger),
    )
    query = sa.select(raw.c.sender_unique_reference, raw.c.correlation_id).order_by(raw.c.id)
    return [(r[0], r[1]) for r in connection.execute(query)]


def _as_0012(table: sa.Table, column: str) -> sa.Table:
    """``table`` as 0012 left it: ``column`` a plain text."""
    copy = table.to_metadata(sa.MetaData())
    copy.c[column].type = sa.String(10)
    return copy


MESSAGE_0012, DELIVERY_0012 = _as_0012(message, "sender"), _as_0012(delivery, "recipient")
RECIPIENTS = ("9000000001", "ABCDEF0123", "2222222222", "abcDEF0123")
"""Lower-case (packed in 5 bytes), upper-case (7) and mixed-case (kept as text) DIP ids."""


def _parties(connection: sa.Connection) -> tuple[list[Any], list[Any]]:
    """The senders and recipients as stored."""
    senders = connection.exec_driver_sql("SELECT sender FROM message ORDER BY id").scalars().all()
    recipients = connection.exec_driver_sql("SELECT recipient FROM delivery ORDER BY id").scalars().all()
    return list(senders), list(recipients)


def test_0013_keys_the_log_in_48_bits_on_sqlite_and_finds_every_message(db_url: str) -> None:
    db = Database(db_url)
    logged = [_logged(n, correlated=n % 3 != 0) for n in range(1, 8)]
    deliveries = [
        {
            "id": n,
            "message_id": n,
            "recipient": RECIPIENTS[n % len(RECIPIENTS)],
            "state": "done",
            "processed_at": AT,
        }
        for n in range(1, 8)
    ]
    references = [orjson.loads(m["body"])["CommonBlock"]["S1"]["senderUniqueReference"] for m in logged]
    correlations = [orjson.loads(m["body"])["CommonBlock"]["S1"]["senderCorrelationID"] for m in logged]
    full = [
        (text_key(r), None if c is None else text_key(c))
        for r, c in zip(references, correlations, strict=True)
    ]
    short = [(r >> 16, None if c is None else c >> 16) for r, c in full]
    try:
        command.upgrade(_alembic(db), "0012")
        with db.engine.begin() as connection:
            connection.execute(sa.insert(MESSAGE_0012), logged)
            connection.execute(sa.insert(DELIVERY_0012), deliveries)
            assert _keys(connection) == full
            wide = _parties(connection)
            assert wide == ([m["sender"] for m in logged], [d["recipient"] for d in deliveries])
        command.upgrade(_alembic(db), "0013")
        with db.engine.begin() as connection:
            sqlite = connection.dialect.name == "sqlite"
            assert _keys(connection) == (short if sqlite else full)
            store = MarketStore(connection)
            assert all(store.reference_seen(r) for r in references)
            assert not store.reference_seen(references[0] + "x")
            assert store.known_correlations([c for c in correlations if c]) == {c for c in correlations if c}
            assert [m.body for m in store.messages(correlation_id=correlations[0])] == [logged[0]["body"]]
            read = connection.execute(sa.select(delivery.c.recipient).order_by(delivery.c.id)).scalars().all()
            assert read == [d["recipient"] for d in deliveries]
            assert [m.sender for m in store.messages()] == [m["sender"] for m in logged]
            for n, recipient in enumerate(RECIPIENTS):
                found = connection.execute(sa.select(delivery.c.id).where(delivery.c.recipient == recipient))
                assert found.scalars().all() == [
                    d["id"] for d in deliveries if d["recipient"] == recipient
                ], n
            senders, recipients = _parties(connection)
            if sqlite:
                assert {len(s) for s in senders} == {5}
                assert recipients == [pack_dip_id(d["recipient"]) for d in deliveries]
                assert sum(len(r) == 5 for r in recipients) == sum(
                    d["recipient"].isdigit() for d in deliveries
                )
        command.downgrade(_alembic(db), "0012")
        with db.engine.begin() as connection:
            assert _keys(connection) == full
            assert _parties(connection) == wide
    finally:
        db.dispose()
