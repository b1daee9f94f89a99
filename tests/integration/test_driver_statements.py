"""The per-message lane's hot statements on the driver's cursor (``store.driver``) write and read
exactly what SQLAlchemy does, fail as SQLAlchemy does, and the lane parses each message once."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa

from openmhhs import bench
from openmhhs.market import bus, ingress
from openmhhs.market.bus import Market
from openmhhs.store.database import Database
from openmhhs.store.driver import Driver, Statement
from openmhhs.store.tables import appointment, appointment_request, message

BST = timezone(timedelta(hours=1))
_APPOINTMENT = (
    "mpan",
    "service",
    "provider",
    "provider_mpid",
    "mdr",
    "mdr_mpid",
    "valid_from",
    "valid_to",
    "supplier",
    "scenario",
    "correlation_id",
    "recorded_at",
    "retired_at",
)
_MESSAGE = tuple(c.name for c in message.c if c.name != "id")


def _insert(table: sa.Table, names: tuple[str, ...]) -> Statement:
    return Statement(
        f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({', '.join('?' for _ in names)})",
        binds=[table.c[n] for n in names],
    )


def _raw(connection: sa.Connection, table: sa.Table, names: tuple[str, ...]) -> list[tuple[Any, ...]]:
    """The rows as the database holds them (the driver's own values, no type conversion)."""
    query = f"SELECT {', '.join(names)} FROM {table.name} ORDER BY id"
    return [
        tuple(bytes(v) if isinstance(v, memoryview) else v for v in r)
        for r in connection.exec_driver_sql(query)
    ]


def test_rows_on_the_drivers_cursor_are_stored_and_read_as_sqlalchemys(db: Database) -> None:
    appointment_row = (
        "2000000000015",
        "MS",
        "2222222222",
        "SDSB",
        None,
        None,
        date(2025, 3, 30),  # the spring DST change: the day has 46 periods
        date(2025, 10, 26),
        "1111111111",
        "CSP",
        "C-1",
        datetime(2025, 3, 30, 1, 30, 0, 250, tzinfo=BST),  # stored in UTC
        None,
    )
    message_row = (
        "S-IF-031-1111111111-SUP-20250701-abc",
        "IF-031",
        "[DSApp]",
        "1111111111",
        "2000000000015",
        "C-IF-031-1111111111-SUP-20250701-abc",
        "T-IF-031-1111111111-SUP-20250701-0123456789abcdef",
        datetime(2025, 7, 1, 11, tzinfo=UTC),
        "submitted",
        b'{"CommonBlock": {"S1": {"senderUniqueReference": "S-IF-031-1111111111-SUP-20250701-abc"}}}',
    )
    with db.begin() as connection:
        connection.execute(sa.insert(appointment), [dict(zip(_APPOINTMENT, appointment_row, strict=True))])
        connection.execute(sa.insert(message), [dict(zip(_MESSAGE, message_row, strict=True))])
        driver = Driver(connection)
        other_mpan = ("2000000000024", *appointment_row[1:])  # one MS per MPAN and day
        driver.execute(_insert(appointment, _APPOINTMENT), other_mpan)
        driver.executemany(_insert(message, _MESSAGE), [message_row])

        by_sqlalchemy, by_driver = _raw(connection, appointment, _APPOINTMENT)
        assert by_driver[1:] == by_sqlalchemy[1:] and by_driver[0] == "2000000000024"
        by_sqlalchemy, by_driver = _raw(connection, message, _MESSAGE)
        assert by_driver == by_sqlalchemy

        read = Statement(
            f"SELECT {', '.join(_APPOINTMENT)} FROM appointment ORDER BY id",
            results=[appointment.c[n] for n in _APPOINTMENT],
        )
        columns = (appointment.c[n] for n in _APPOINTMENT)
        expected = [  # as SQLAlchemy reads them
            tuple(r) for r in connection.execute(sa.select(*columns).order_by(appointment.c.id))
        ]
        assert driver.all(read) == expected
        assert expected[0][11] == datetime(2025, 3, 30, 0, 30, 0, 250, tzinfo=UTC)
        assert driver.first(read) == expected[0]


def test_a_drivers_error_is_sqlalchemys_and_a_savepoint_undoes_only_its_block(db: Database) -> None:
    names = ("correlation_id", "mpan", "service", "supplier", "supplier_mpid", "provider", "provider_mpid")
    names += ("effective_from", "scenario", "received_on", "raw_block", "state", "activated")
    row = ("C-1", "2000000000015", "DS", "1111111111", "SUPA", "2222222222", "SDSB")
    row += (date(2025, 7, 1), "CSP", date(2025, 7, 1), b"{}", "awaiting_provider", False)
    insert = _insert(appointment_request, names)
    with db.begin() as connection:
        driver = Driver(connection)
        driver.execute(insert, row)
        with pytest.raises(sa.exc.IntegrityError), connection.begin_nested():
            driver.execute(insert, row)  # correlation_id is unique
        count = Statement("SELECT count(*) FROM appointment_request", results=[appointment_request.c.id])
        assert driver.all(count) == [(1,)]


def test_the_per_message_lane_parses_each_message_once(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """Validated when admitted or produced, each message is handed to its deliveries as it was
    (before: parsed again in each delivery batch that took it)."""
    cores = bench._cores(3)
    bench._load_reference_data(db, cores)
    parsed: list[bytes] = []
    real_parse, real_check = bus.parse, ingress.check_produced

    def parse(raw: bytes, **options: Any) -> Any:
        parsed.append(raw)
        return real_parse(raw, **options)

    def check_produced(message: Any, raw: bytes) -> Any:
        parsed.append(raw)
        return real_check(message, raw)

    monkeypatch.setattr(ingress, "check_produced", check_produced)
    monkeypatch.setattr(bus, "parse", parse)
    market = Market(db, today=bench.TODAY, batch_size=4)  # many batches: a message spans two
    assert all(r.accepted for r in market.send(bench._appointment_requests(market, cores)))
    stats = market.run()
    assert stats.failed == 0 and stats.produced > 0
    assert len(parsed) == stats.produced  # each produced message once (validation); none at delivery
    assert len(set(parsed)) == len(parsed)
    with db.read() as connection:
        appointed = connection.execute(
            sa.select(sa.func.count()).select_from(appointment).where(appointment.c.service == "DS")
        ).scalar_one()
    assert appointed == len(cores)


def test_a_kept_message_is_used_only_for_the_body_it_was_validated_from(db: Database) -> None:
    """An id a rolled-back transaction gave out may be given again to another message: the body
    decides, not the id."""
    cores = bench._cores(1)
    bench._load_reference_data(db, cores)
    market = Market(db, today=bench.TODAY)
    first, second = (bench._appointment_requests(market, cores)[0] for _ in range(2))
    kept = ingress.prepare(first, at=market.now, origin=ingress.PRODUCED, route=market.route)
    other = ingress.prepare(second, at=market.now, origin=ingress.PRODUCED, route=market.route)
    assert kept.parsed is not None and other.parsed is not None and kept.new.body != other.new.body
    market._keep_validated(7, kept.parsed, pending=1)

    class Stored:
        id = 7
        body = other.new.body

    got = market._parsed(Stored())  # type: ignore[arg-type]
    assert got is not kept.parsed and got.raw == other.new.body
    Stored.body = kept.new.body
    assert market._parsed(Stored()) is kept.parsed  # type: ignore[arg-type]
    assert market._validated == {}  # its one pending delivery took it
