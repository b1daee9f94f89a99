"""The hub's HTTP contract, in process (TestClient, a real SQLite database): who may call what
(API key, signature, the participant named in the path), the DIP's codes where the spec
assigns them, capitalisation tolerance, the body's shape, replay, requeue and status messages,
and the query API's entitlements. Each test names the behaviour the spec or issue 12 asks for."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import orjson
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from openmhhs.api.config import ServeConfig
from openmhhs.api.hub_app import create_hub_app
from openmhhs.api.node_app import create_node_app
from openmhhs.api.serve import MarketSource, prepare
from openmhhs.api.signing import signer_for
from openmhhs.cli.model import read_description
from openmhhs.dip.build import MessageFactory, Sender
from openmhhs.dip.parse import encode
from openmhhs.dip.schema import DipMessageStruct
from openmhhs.dip.vocabulary import Scenario
from openmhhs.ids import DipId, DipRole, Mpid
from openmhhs.market.hub import Hub
from openmhhs.store.database import Database
from openmhhs.supplier.requests import request_data_service
from tests.conftest import find_spec_dir
from tests.official_spec import SUBMIT_EVENTS_FILE, OfficialSpec
from tests.serve_harness import AURORA, BEACON, DAWN, RS, TODAY, Site

BASE = "http://testserver"


class Hubside:
    """A hub app on a fresh market, and a participant's way of calling it."""

    def __init__(self, config: ServeConfig, client: TestClient) -> None:
        self.config = config
        self.client = client
        self.counter = 0
        self.sites = 0

    def key(self, dip_id: str) -> str:
        if dip_id == "operator":
            return self.config.operator_key
        return next(k for k, v in self.config.api_keys().items() if v == dip_id)

    def signed(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        *,
        as_: str = AURORA,
        key: str | None = None,
        signer: str | None = None,
    ) -> Any:
        headers = signer_for(self.config, signer or as_).headers(
            method=method, url=f"{BASE}{path}", body=body, now=datetime.now(UTC)
        )
        headers["X-API-Key"] = self.key(as_) if key is None else key
        headers["Content-Type"] = "application/json"
        return self.client.request(method, path, content=body, headers=headers)

    def get(self, path: str, *, as_: str = "operator", **params: Any) -> Any:
        return self.client.get(path, params=params, headers={"X-API-Key": self.key(as_)})

    def site(self, supplier: str = AURORA) -> Site:
        rows = self.get("/api/mpans", on=TODAY.isoformat(), supplier=supplier, limit=1000).json()
        self.sites += 1
        return Site(rows[self.sites])

    def dsapp(self, site: Site, *, sender: str = AURORA, now: datetime | None = None) -> DipMessageStruct:
        self.counter += 1
        factory = MessageFactory(Sender(DipId(sender), DipRole("SUP")), unique_prefix=f"c{self.counter}")
        return request_data_service(
            factory,
            site=site,
            rs=DipId(RS),
            sds=DipId(BEACON),
            sds_mpid=Mpid("SDSB"),
            effective_from=TODAY,
            scenario=Scenario.CSP,
            contract_reference="C-AURORA-BEACON",
            now=now or datetime.now(UTC),
        )


def wrapped(*messages: DipMessageStruct) -> bytes:
    return orjson.dumps([{"payload": orjson.Fragment(encode(m))} for m in messages])


def codes(response: Any) -> list[str]:
    return [item["message"].split(" ", 1)[0] for item in response.json()["messageArray"]]


@contextlib.contextmanager
def hub_on(tmp: Path, database: str) -> Iterator[Hubside]:
    description, text = read_description("1a-fully-separated")
    config = prepare(
        tmp / "serve",
        database=database,
        market=MarketSource(description, text, mpans=80, seed=3),
        explicit_market=False,
        host="127.0.0.1",
        port=18900,
        plain=True,
        today=TODAY,
        now=datetime.now(UTC),
    )
    config = msgspec.structs.replace(config, max_body_bytes=256 * 1024)
    with TestClient(create_hub_app(config, deliver=False), base_url=BASE) as client:
        yield Hubside(config, client)


@pytest.fixture(scope="module")
def hubside(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hubside]:
    tmp = tmp_path_factory.mktemp("contract")
    with hub_on(tmp, f"sqlite:///{tmp / 'openmhhs.db'}") as hub:
        yield hub


# -- who may call: ApiKeyAuth on every operation ----------------------------------------------------
def test_validation_needs_an_api_key(hubside: Hubside) -> None:
    body = wrapped(hubside.dsapp(hubside.site()))
    refused = hubside.client.post("/validate/IF-031/DSApp", content=body)
    assert refused.status_code == 401 and codes(refused) == ["OMH0820"]
    assert "X-API-Key" in refused.json()["messageArray"][0]["message"]
    wrong = hubside.client.post("/validate/IF-031/DSApp", content=body, headers={"X-API-Key": "nope"})
    assert wrong.status_code == 401 and codes(wrong) == ["OMH0821"]
    ok = hubside.client.post(
        "/validate/IF-031/DSApp", content=body, headers={"X-API-Key": hubside.key(AURORA)}
    )
    assert ok.status_code == 201 and ok.json() == "Message OK"


def test_a_missing_api_key_is_worded_as_missing_not_as_a_bad_signature(hubside: Hubside) -> None:
    body = wrapped(hubside.dsapp(hubside.site()))
    response = hubside.signed("POST", "/dip-channel/IF-031", body, key="")
    assert response.status_code == 401 and codes(response) == ["OMH0820"]
    assert "RCP9999" not in response.text


def test_an_api_key_of_another_participant_is_refused(hubside: Hubside) -> None:
    body = wrapped(hubside.dsapp(hubside.site()))
    response = hubside.signed("POST", "/dip-channel/IF-031", body, key=hubside.key(DAWN))
    assert response.status_code == 401 and codes(response) == ["OMH0822"]


def test_the_operator_sends_nothing_as_a_participant(hubside: Hubside) -> None:
    body = wrapped(hubside.dsapp(hubside.site()))
    response = hubside.signed("POST", "/dip-channel/IF-031", body, as_="operator", signer="hub")
    assert response.status_code == 403 and codes(response) == ["OMH0823"]


def test_a_signature_over_a_percent_encoded_channel_url_verifies(hubside: Hubside) -> None:
    body = wrapped(hubside.dsapp(hubside.site()))
    response = hubside.signed("POST", "/dip-channel/IF%2D031", body)
    assert response.status_code == 201, response.text


# -- the DIP's codes, not the recipients' ---------------------------------------------------------------
def _mutated(hubside: Hubside, change: Any) -> bytes:
    message = orjson.loads(encode(hubside.dsapp(hubside.site())))
    change(message["CommonBlock"])
    return orjson.dumps([{"payload": message}])


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (lambda c: c["S1"].update(senderTimestamp="2099-06-02T10:00:00+00:00"), "MSG1007"),
        (lambda c: c["S0"].update(schemaVersion="010"), "MSG1001"),
        (lambda c: c["S1"].update(senderUniqueReference="S-IF-033-1111111111-SUP-20250601-a1"), "MSG1001"),
        (lambda c: c["S0"].update(eventCode="[DSAppActive]"), "MSG1001"),
        (lambda c: c["S1"].update(environmentTag="LIVE"), "MSG1001"),
    ],
    ids=["future-timestamp", "schema-version", "sender-reference", "event-code", "environment"],
)
def test_the_hub_answers_dip_codes_never_recipient_codes(hubside: Hubside, change: Any, code: str) -> None:
    response = hubside.signed("POST", "/dip-channel/IF-031", _mutated(hubside, change))
    assert response.status_code == 400 and codes(response) == [code]


# -- capitalisation: URLs and field names are not enforced -------------------------------------------
def _lower_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {k.lower(): _lower_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_lower_keys(v) for v in value]
    return value


def test_validation_urls_in_any_case(hubside: Hubside) -> None:
    body = wrapped(hubside.dsapp(hubside.site()))
    key = {"X-API-Key": hubside.key(AURORA)}
    for path in ("/validate/if-031/dsapp", "/VALIDATE/If-031/DSAPP", "/validate/IF-031/[DSApp]"):
        assert hubside.client.post(path, content=body, headers=key).status_code == 201, path


def test_lower_cased_field_names_are_accepted_and_stored_as_the_schema_spells_them(hubside: Hubside) -> None:
    message = hubside.dsapp(hubside.site())
    lowered = orjson.dumps(_lower_keys([{"payload": orjson.loads(encode(message))}]))
    key = {"X-API-Key": hubside.key(AURORA)}
    assert hubside.client.post("/validate/IF-031/DSApp", content=lowered, headers=key).status_code == 201
    response = hubside.signed("POST", "/Dip-Channel/if-031", lowered)
    assert response.status_code == 201 and codes(response) == ["MSG0000"], response.text
    correlation = message.common_block.s1.sender_correlation_id
    [logged] = hubside.get("/api/messages", correlation=correlation).json()
    assert logged == orjson.loads(encode(message))


# -- the body's shape: a DIPMessageArray -------------------------------------------------------------
@pytest.mark.parametrize("shape", ["bare", "object", "empty", "item-without-payload"])
def test_only_an_array_of_payload_items_is_accepted(hubside: Hubside, shape: str) -> None:
    message = orjson.loads(encode(hubside.dsapp(hubside.site())))
    body = {
        "bare": message,
        "object": {"payload": message},
        "empty": [],
        "item-without-payload": [message],
    }[shape]
    response = hubside.signed("POST", "/dip-channel/IF-031", orjson.dumps(body))
    assert response.status_code == 400 and codes(response) == ["MSG1001"]
    official = find_spec_dir()
    if official is not None:
        assert OfficialSpec(official).response_errors(response.json()) == []
    key = {"X-API-Key": hubside.key(AURORA)}
    checked = hubside.client.post("/validate/IF-031/DSApp", content=orjson.dumps(body), headers=key)
    assert checked.status_code == 400 and checked.json().startswith("MSG1001")


def _deep(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


def test_deeply_nested_json_is_a_coded_400_everywhere(hubside: Hubside) -> None:
    body = b'[{"payload": ' + _deep(5000) + b"}]"
    response = hubside.signed("POST", "/dip-channel/IF-031", body)
    assert response.status_code == 400 and codes(response) == ["MSG1001"]
    key = {"X-API-Key": hubside.key(AURORA)}
    checked = hubside.client.post("/validate/IF-031/DSApp", content=body, headers=key)
    assert checked.status_code == 400 and checked.json().startswith("MSG1001")


def test_a_body_over_the_limit_is_a_coded_413(hubside: Hubside) -> None:
    body = b"[" + b" " * (hubside.config.max_body_bytes + 1) + b"]"
    response = hubside.client.post("/validate/IF-031/DSApp", content=body, headers={"X-API-Key": "x"})
    assert response.status_code == 413 and codes(response) == ["OMH0824"]
    signed = hubside.signed("POST", "/dip-channel/IF-031", body)
    assert signed.status_code == 413 and codes(signed) == ["OMH0824"]


# -- publication configuration -------------------------------------------------------------------------
def test_publication_configuration_is_the_recipients_own(hubside: Hubside) -> None:
    config = orjson.dumps({"callbackURL": "http://127.0.0.1:9/webhook"})
    path = f"/dip-channel/IF-033/pubconfig/{BEACON}"
    assert hubside.signed("POST", path, config, as_=AURORA).status_code == 403
    assert hubside.signed("POST", path, config, as_=BEACON).status_code == 201
    # the spec documents 204 and 401 for DELETE: a non-owner gets 401, not 403
    refused = hubside.signed("DELETE", path, as_=AURORA)
    assert refused.status_code == 401 and codes(refused) == ["OMH0823"]
    assert hubside.signed("DELETE", path, as_=BEACON).status_code == 204
    assert hubside.signed("DELETE", path, as_=BEACON).status_code == 204  # nothing left: still 204
    bad = hubside.signed("POST", path, orjson.dumps({"maxMessageCount": 5}), as_=BEACON)
    assert bad.status_code == 400 and codes(bad) == ["MSG1001"]


# -- replay and requeue ----------------------------------------------------------------------------------
def _window(start: datetime, **extra: Any) -> bytes:
    return orjson.dumps(
        {
            "datetimeFrom": start.isoformat(timespec="seconds"),
            "datetimeTo": (datetime.now(UTC) + timedelta(minutes=1)).isoformat(timespec="seconds"),
            "eventCode": None,
            "MPAN": None,
            "version": "011",
            **extra,
        }
    )


def test_replay_returns_what_was_published_to_the_recipient_marked_as_replays(hubside: Hubside) -> None:
    start = datetime.now(UTC) - timedelta(seconds=1)
    site = hubside.site()
    message = hubside.dsapp(site)
    assert hubside.signed("POST", "/dip-channel/IF-031", wrapped(message)).status_code == 201
    body = _window(start, MPAN=site.row["mpan"], eventCode="DSApp")
    replayed = hubside.signed("POST", f"/dip-channel/IF-031/replay/{RS}", body, as_=RS)
    assert replayed.status_code == 200, replayed.text
    [item] = replayed.json()
    d0 = item["payload"]["CommonBlock"]["D0"]
    assert d0["replayIndicator"] is True and d0["publicationID"] == "PUB-031"
    assert item["payload"]["CommonBlock"]["S1"] == orjson.loads(encode(message))["CommonBlock"]["S1"]
    spec_dir = find_spec_dir()
    if spec_dir is not None:
        official = OfficialSpec(spec_dir)
        assert official.errors("DIPMessageEgressArray", replayed.json(), SUBMIT_EVENTS_FILE) == []
    # only the recipient (or the operator) may ask; nothing in the window is a coded 400
    assert hubside.signed("POST", f"/dip-channel/IF-031/replay/{RS}", body, as_=BEACON).status_code == 403
    assert hubside.signed(
        "POST", f"/dip-channel/IF-031/replay/{RS}", body, as_="operator", signer="hub"
    ).is_success
    empty = hubside.signed("POST", f"/dip-channel/IF-031/replay/{BEACON}", body, as_=BEACON)
    assert empty.status_code == 400 and codes(empty) == ["OMH0825"]
    lowered = orjson.dumps(_lower_keys(orjson.loads(body)))
    assert hubside.signed("POST", f"/dip-channel/if-031/REPLAY/{RS}", lowered, as_=RS).status_code == 200
    bad = hubside.signed("POST", f"/dip-channel/IF-031/replay/{RS}", _window(start, version="010"), as_=RS)
    assert bad.status_code == 400 and codes(bad) == ["MSG1001"]


def test_requeue_publishes_again_as_replays_in_order(hubside: Hubside) -> None:
    start = datetime.now(UTC) - timedelta(seconds=1)
    sites = [hubside.site(), hubside.site()]
    assert hubside.signed(
        "POST", "/dip-channel/IF-031", wrapped(*(hubside.dsapp(s) for s in sites))
    ).is_success
    config = orjson.dumps({"callbackURL": "http://127.0.0.1:9/webhook"})
    assert hubside.signed("POST", f"/dip-channel/IF-031/pubconfig/{RS}", config, as_=RS).status_code == 201
    hub = Hub(Database(hubside.config.database))
    due = [b for b in hub.due(now=datetime.now(UTC)) if b.recipient == RS]
    hub.delivered([i.delivery_id for b in due for i in b.items], now=datetime.now(UTC))
    assert not [b for b in hub.due(now=datetime.now(UTC)) if b.recipient == RS]

    body = _window(start)
    assert hubside.signed("POST", f"/dip-channel/IF-031/requeue/{AURORA}", body).status_code == 400
    response = hubside.signed("POST", f"/dip-channel/IF-031/requeue/{RS}", body, as_=RS)
    assert response.status_code == 200 and codes(response) == ["MSG0000"]
    [batch] = [b for b in hub.due(now=datetime.now(UTC)) if b.recipient == RS]
    assert [i.message.mpan for i in batch.items][-2:] == [s.row["mpan"] for s in sites]
    published = orjson.loads(hub.egress(batch, now=datetime.now(UTC)))
    assert all(p["payload"]["CommonBlock"]["D0"]["replayIndicator"] is True for p in published)
    assert hubside.signed("POST", f"/dip-channel/IF-031/requeue/{RS}", body, as_=BEACON).status_code == 403
    hub.db.dispose()


# -- status messages -------------------------------------------------------------------------------------
def _status(sender: str, recipient: str | None) -> dict[str, Any]:
    return {
        "transactionID": "T-IF-032-9000000001-REGS-20250701-1",
        "senderUniqueReference": None,
        "correlationID": None,
        "sentTimestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "senderID": sender,
        "recipientID": recipient,
        "DIPConnectionProviderID": None,
        "message": "RCP1000 - Message Processing Failed",
        "help": None,
        "serviceTicketURL": None,
    }


def test_status_messages_are_kept_for_their_recipients_webhook(hubside: Hubside) -> None:
    from openmhhs.api.replay import due_status

    db = Database(hubside.config.database)
    config = orjson.dumps({"callbackURL": "http://127.0.0.1:9/status"})
    assert hubside.signed("POST", f"/statusmessage/config/{AURORA}", config, as_=RS).status_code == 403
    assert hubside.signed("POST", f"/statusmessage/config/{AURORA}", config).status_code == 201
    sent = hubside.signed("POST", "/statusmessage", orjson.dumps([_status(RS, AURORA)]), as_=RS)
    assert sent.status_code == 201 and codes(sent) == ["MSG0000"]
    [batch] = [b for b in due_status(db) if b.recipient == AURORA]
    assert orjson.loads(batch.body)[-1]["message"] == "RCP1000 - Message Processing Failed"
    forged = hubside.signed("POST", "/statusmessage", orjson.dumps([_status(BEACON, AURORA)]), as_=RS)
    assert forged.status_code == 400 and codes(forged) == ["MSG1009"]
    nobody = hubside.signed("POST", "/statusmessage", orjson.dumps([_status(RS, "0123456789")]), as_=RS)
    assert nobody.status_code == 400 and codes(nobody) == ["MSG1031"]
    assert hubside.signed("DELETE", f"/statusmessage/config/{AURORA}", as_=RS).status_code == 401
    assert hubside.signed("DELETE", f"/statusmessage/config/{AURORA}").status_code == 204
    db.dispose()


# -- who may see what: the query API ---------------------------------------------------------------------
def test_the_query_api_answers_nothing_without_authentication(hubside: Hubside) -> None:
    site = hubside.site()
    for path in ("/api/mpans", "/api/gaps", "/api/messages", f"/api/timeline/{site.row['mpan']}"):
        response = hubside.client.get(path, params={"on": TODAY.isoformat()})
        assert response.status_code == 401 and codes(response) == ["OMH0820"], path


def test_a_participant_sees_its_own_messages_and_mpans_only(hubside: Hubside) -> None:
    site = hubside.site()
    mpan = site.row["mpan"]
    message = hubside.dsapp(site)
    assert hubside.signed("POST", "/dip-channel/IF-031", wrapped(message)).status_code == 201
    correlation = message.common_block.s1.sender_correlation_id
    # the sender and the recipient see the message; another participant does not
    for who, count in ((AURORA, 1), (RS, 1), (BEACON, 0), (DAWN, 0), ("operator", 1)):
        found = hubside.get("/api/messages", as_=who, correlation=correlation).json()
        assert len(found) == count, who
    # Aurora supplies the MPAN; Dawn does not: to Dawn it does not exist
    assert hubside.get(f"/api/timeline/{mpan}", as_=AURORA).status_code == 200
    unknown = hubside.get(f"/api/timeline/{mpan}", as_=DAWN)
    assert unknown.status_code == 404 and unknown.json()["messageArray"][0]["message"].startswith("REG0000")
    mine = {m["mpan"] for m in hubside.get("/api/mpans", as_=AURORA, on=TODAY.isoformat(), limit=1000).json()}
    theirs = {m["mpan"] for m in hubside.get("/api/mpans", as_=DAWN, on=TODAY.isoformat(), limit=1000).json()}
    assert mpan in mine and mpan not in theirs
    assert all(
        m["supplier"] == AURORA for m in hubside.get("/api/mpans", as_=AURORA, on=TODAY.isoformat()).json()
    )
    spied = hubside.get("/api/mpans", as_=DAWN, on=TODAY.isoformat(), supplier=AURORA).json()
    assert spied == []
    gaps = hubside.get("/api/gaps", as_=DAWN, on=TODAY.isoformat()).json()
    assert all(g["supplier"] == DAWN for g in gaps)


def test_the_message_log_is_read_with_its_limit_in_sql(hubside: Hubside) -> None:
    """``/api/messages?limit=1`` asks the database for one row, not for the whole log."""
    for _ in range(3):
        assert hubside.signed(
            "POST", "/dip-channel/IF-031", wrapped(hubside.dsapp(hubside.site()))
        ).is_success
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(" ".join(statement.split()))

    sa.event.listen(Engine, "before_cursor_execute", record)
    try:
        fetched = hubside.get("/api/messages", limit=1).json()
        own = hubside.get("/api/messages", as_=AURORA, limit=1).json()
    finally:
        sa.event.remove(Engine, "before_cursor_execute", record)
    assert len(fetched) == 1 and len(own) == 1
    reads = [s for s in statements if "FROM message" in s]
    assert len(reads) == 2 and all(" LIMIT " in s for s in reads), reads


# -- a node's /send: only its own participant -------------------------------------------------------------
def test_a_nodes_send_is_only_for_its_own_participant(hubside: Hubside) -> None:
    config = hubside.config
    with TestClient(create_node_app(config, AURORA, loops=False)) as node:
        body = wrapped(hubside.dsapp(hubside.site()))
        nobody = node.post("/send", content=body)
        assert nobody.status_code == 401 and codes(nobody) == ["OMH0820"]
        other = node.post("/send", content=body, headers={"X-API-Key": hubside.key(BEACON)})
        assert other.status_code == 401 and codes(other) == ["OMH0821"]
        operator = node.post("/send", content=body, headers={"X-API-Key": config.operator_key})
        assert operator.status_code == 403 and codes(operator) == ["OMH0823"]
        own = node.post("/send", content=body, headers={"X-API-Key": hubside.key(AURORA)})
        assert own.status_code == 202 and own.json() == {"queued": 1}
        deep = node.post("/send", content=_deep(5000), headers={"X-API-Key": hubside.key(AURORA)})
        assert deep.status_code == 400
        assert node.get("/inbox").status_code == 401
        assert node.get("/inbox", headers={"X-API-Key": hubside.key(BEACON)}).status_code == 401
        assert node.get("/inbox", headers={"X-API-Key": config.operator_key}).status_code == 200


@pytest.mark.postgres
def test_replay_requeue_and_entitlements_on_postgresql(pg_url: str, tmp_path: Path) -> None:
    with hub_on(tmp_path, pg_url) as pg:
        test_replay_returns_what_was_published_to_the_recipient_marked_as_replays(pg)
        test_requeue_publishes_again_as_replays_in_order(pg)
        test_a_participant_sees_its_own_messages_and_mpans_only(pg)
        test_status_messages_are_kept_for_their_recipients_webhook(pg)


def test_a_bad_query_parameter_is_a_coded_400_not_fastapis_422(hubside: Hubside) -> None:
    response = hubside.get("/api/mpans", limit=0)  # and no `on`
    assert response.status_code == 400 and response.json()["messageArray"][0]["message"].startswith("MSG1001")
