"""The appointment query API (``/api/…`` on the hub) against its own OpenAPI document, by
schemathesis: every operation, generated inputs, responses checked against the schema, no
server errors; plus what a test team relies on, checked by hand."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from openmhhs.api.config import ServeConfig
from openmhhs.api.hub_app import create_hub_app
from openmhhs.api.serve import MarketSource, prepare
from openmhhs.cli.model import read_description
from openmhhs.ids import MpanCore
from openmhhs.market.driver import run_market
from openmhhs.market.loader import load_market, register_population
from openmhhs.market.population import population
from openmhhs.store.database import Database

DAY = date(2025, 7, 1)


@pytest.fixture(scope="module")
def served_config(tmp_path_factory: pytest.TempPathFactory) -> ServeConfig:
    tmp = tmp_path_factory.mktemp("query")
    url = f"sqlite:///{tmp / 'openmhhs.db'}"
    description, text = read_description("1a-fully-separated")
    db = Database(url)
    members = population(description, size=40, seed=7)
    with db.begin() as connection:
        load_market(connection, description, source=text, at=datetime(2025, 7, 1, 9, tzinfo=UTC))
        register_population(connection, members)
    run_market(db, description, members, seed=7)
    db.dispose()
    return prepare(
        tmp / "serve",
        database=url,
        market=MarketSource(description, text, mpans=0, seed=0),
        explicit_market=False,
        host="127.0.0.1",
        port=18700,
        plain=True,
        today=DAY,
        now=datetime(2025, 7, 1, 9, tzinfo=UTC),
    )


@pytest.fixture(scope="module")
def hub_app(served_config: ServeConfig) -> Iterator[FastAPI]:
    yield create_hub_app(served_config, deliver=False)


@pytest.fixture(scope="module")
def operator(served_config: ServeConfig) -> dict[str, str]:
    return {"X-API-Key": served_config.operator_key}


def test_query_api_conforms_to_its_openapi_document(hub_app: FastAPI, operator: dict[str, str]) -> None:
    """Every operation, by schemathesis' generated cases (its pytest plugin does not support
    pytest 9 yet, so the cases are drawn here with Hypothesis directly)."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", hub_app)
    every = [result.ok() for result in schema.get_all_operations()]
    # The DIP operations are checked against the official document (tests/conformance).
    operations = [o for o in every if o.path.startswith("/api/")]
    assert len(operations) == 4
    for operation in operations:
        takes_mpan = "mpan" in operation.path or operation.path == "/api/messages"
        excluded = [positive_data_acceptance] if takes_mpan else None

        @given(case=operation.as_strategy())
        @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
        def check(case: Any) -> None:
            # An MPAN core's check digit cannot be said in JSON Schema: 13 digits with a wrong
            # one are schema-valid and rightly refused (400 REG0000), so that one check is off
            # where an MPAN is an input; every other check (schema, status, server errors) runs.
            case.call_and_validate(headers=operator, excluded_checks=excluded)  # noqa: B023 - run at once

        check()


def test_query_api_answers_what_a_test_team_asks(hub_app: FastAPI, operator: dict[str, str]) -> None:
    with TestClient(hub_app, headers=operator) as client:
        mpans = client.get("/api/mpans", params={"on": DAY.isoformat(), "limit": 5}).json()
        assert len(mpans) == 5 and mpans == sorted(mpans, key=lambda m: m["mpan"])
        after = client.get("/api/mpans", params={"on": DAY.isoformat(), "after": mpans[-1]["mpan"]}).json()
        assert after and after[0]["mpan"] > mpans[-1]["mpan"]
        core = mpans[0]["mpan"]
        timeline = client.get(f"/api/timeline/{core}").json()
        assert {p["service"] for p in timeline} == {"DS", "MS"}
        assert all(len(p["mdr_mpid"]) == 4 for p in timeline if p["service"] == "DS")
        log = client.get("/api/messages", params={"mpan": core}).json()
        assert log and all(m["CommonBlock"]["M0"]["MPANCore"] == core for m in log)
        gaps = client.get("/api/gaps", params={"on": DAY.isoformat()}).json()
        assert core not in {g["mpan"] for g in gaps}

        bad = client.get("/api/timeline/1234567890123")
        assert bad.status_code == 400 and bad.json()["messageArray"][0]["message"].startswith("REG0000")
        unknown = client.get(f"/api/timeline/{MpanCore.from_stem('209999999999')}")
        assert unknown.status_code == 404 and unknown.json()["messageArray"][0]["message"].startswith(
            "REG0000"
        )


def test_openapi_document_is_served(hub_app: FastAPI) -> None:
    with TestClient(hub_app) as client:
        document = client.get("/openapi.json").json()
    api = {p for p in document["paths"] if p.startswith("/api/")}
    assert api == {"/api/timeline/{mpan}", "/api/mpans", "/api/gaps", "/api/messages"}


def test_an_exchange_is_only_its_own_messages_when_another_shares_its_key(
    served_config: ServeConfig, hub_app: FastAPI, operator: dict[str, str]
) -> None:
    """The log keeps correlation ids as keys (48 bits on SQLite): a message of another exchange
    whose key is the same (made here by copying one with the key overwritten) is not shown."""
    with TestClient(hub_app, headers=operator) as client:
        mpans = client.get("/api/mpans", params={"on": DAY.isoformat()}).json()
        first, last = mpans[0]["mpan"], mpans[-1]["mpan"]
        log = client.get("/api/messages", params={"mpan": first}).json()
        correlation = log[0]["CommonBlock"]["S1"]["senderCorrelationID"]
        exchange = client.get("/api/messages", params={"correlation": correlation}).json()
        db = Database(served_config.database)
        try:
            with db.begin() as connection:
                key = connection.exec_driver_sql(
                    "SELECT correlation_id FROM message WHERE id = (SELECT MIN(id) FROM message WHERE mpan = ?)",
                    (int(first),),
                ).scalar_one()
                columns = "interface_id, event_code, sender, mpan, transaction_id, received_at, origin, body"
                connection.exec_driver_sql(
                    f"INSERT INTO message (sender_unique_reference, correlation_id, {columns}) "
                    f"SELECT sender_unique_reference + 1, ?, {columns} FROM message "
                    "WHERE id = (SELECT MAX(id) FROM message WHERE mpan = ?)",
                    (key, int(last)),
                )
        finally:
            db.dispose()
        again = client.get("/api/messages", params={"correlation": correlation}).json()
    assert again == exchange and all(
        m["CommonBlock"]["S1"]["senderCorrelationID"] == correlation for m in again
    )
