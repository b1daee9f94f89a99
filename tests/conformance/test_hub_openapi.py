"""The hub against Elexon's official DIP OpenAPI document, by schemathesis: every operation of
the spec (133 paths, bundled offline from ../shared/dip-spec at test time, never copied into
the project), generated requests sent over HTTP to a live hub on loopback, each answered with
a documented status and a body of the documented schema, and never a server error.

Each request carries a participant's API key and a real DIP signature over exactly the bytes
sent (the generated X-DIP-* values would only ever reach the 401 path), and the first request
of each operation is sent again without the key, to be refused 401 (schemathesis' own probe
for that, ``ignored_auth``, is replaced by this one: its probes do not go through the signed
client). The other check left out is "schema-valid data is accepted": the schema cannot say
what the DIP checks beyond it (that the signer is the sender, that a recipient exists), so
valid-looking data is rightly refused with its code.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.specs.openapi.checks import ignored_auth, positive_data_acceptance

from openmhhs.api.config import ServeConfig
from openmhhs.api.hub_app import create_hub_app
from openmhhs.api.identity import OPERATOR, OPERATOR_CERTIFICATE, PeerCertificateProtocol
from openmhhs.api.serve import MarketSource, prepare
from openmhhs.api.signing import signer_for
from openmhhs.cli.model import read_description
from openmhhs.dip.build import MessageFactory, Sender
from openmhhs.dip.catalogue import EVENTS
from openmhhs.dip.parse import encode
from openmhhs.dip.vocabulary import Scenario
from openmhhs.ids import DipId, DipRole, Mpid
from openmhhs.market.hub import Hub
from openmhhs.store.database import Database
from openmhhs.supplier.requests import request_data_service
from tests.conftest import find_spec_dir
from tests.serve_harness import AURORA, BEACON, RS, TODAY, Site, free_port_block

SIGNED_OPERATIONS_EXAMPLES = 20
"""Generated cases per operation other than the validation endpoints."""
VALIDATION_EXAMPLES = 2
"""Generated cases per validation endpoint (about 120 of them, one per event of the DIP)."""


@pytest.fixture(scope="module")
def bundled(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The SubmitEvents document with every $ref inlined, by the bundler beside the spec."""
    spec_dir = find_spec_dir()
    if spec_dir is None:
        pytest.skip("the official DIP spec is not beside this checkout (../shared/dip-spec)")
    bundler = spec_dir.parent / "tools" / "bundle-dip-spec"
    if not bundler.exists():
        pytest.skip(f"{bundler} is absent")
    out = tmp_path_factory.mktemp("spec") / "dip-openapi.json"
    subprocess.run([sys.executable, str(bundler), str(spec_dir), str(out)], check=True, capture_output=True)
    document: dict[str, Any] = json.loads(out.read_text())
    return document


@pytest.fixture(scope="module")
def live_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, ServeConfig]]:
    tmp = tmp_path_factory.mktemp("hub")
    description, text = read_description("1a-fully-separated")
    port = free_port_block(1)
    config = prepare(
        tmp / "serve",
        database=f"sqlite:///{tmp / 'openmhhs.db'}",
        market=MarketSource(description, text, mpans=30, seed=5),
        explicit_market=False,
        host="127.0.0.1",
        port=port,
        plain=True,
        today=TODAY,
        now=datetime.now(UTC),
    )
    app = create_hub_app(config, deliver=False)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", http=PeerCertificateProtocol)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "the hub did not start"
    try:
        yield config.hub_url, config
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def _body(case: Any) -> bytes:
    kwargs = case.as_transport_kwargs()
    if "json" in kwargs:
        return json.dumps(kwargs["json"]).encode()
    data = kwargs.get("data")
    return data if isinstance(data, bytes) else (data or "").encode()


def test_every_operation_of_the_official_spec_answers_as_documented(
    bundled: dict[str, Any], live_hub: tuple[str, ServeConfig]
) -> None:
    base, config = live_hub
    key = next(k for k, v in config.api_keys().items() if v == AURORA)
    signer = signer_for(config, AURORA)
    schema = schemathesis.openapi.from_dict(bundled)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 130
    statuses: Counter[tuple[str, int]] = Counter()
    probed: set[str] = set()
    unserved = [
        o.label for o in operations if o.path.startswith("/validate/") and o.path not in SERVED_VALIDATIONS
    ]
    skipped = set(unserved) - set(unserved[::3])  # a third of the events not served here, for time
    with httpx.Client(timeout=30) as client:
        for operation in operations:
            validation = operation.path.startswith("/validate/")
            if operation.label in skipped:
                continue

            @given(case=operation.as_strategy())
            @settings(
                max_examples=VALIDATION_EXAMPLES if validation else SIGNED_OPERATIONS_EXAMPLES,
                deadline=None,
                derandomize=True,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            def check(case: Any) -> None:
                if "recipient-id" in (case.path_parameters or {}):
                    case.path_parameters["recipient-id"] = AURORA  # the caller's own, to pass authorisation
                body = _body(case)
                url = httpx.URL(case.as_transport_kwargs(base_url=base)["url"], params=case.query or None)
                case.headers = {
                    **{k: v for k, v in (case.headers or {}).items() if k.lower().startswith("x-") is False},
                    **signer.headers(method=case.method, url=str(url), body=body, now=datetime.now(UTC)),
                    "X-API-Key": key,
                }
                kwargs = case.as_transport_kwargs(base_url=base)
                response = client.request(case.method, url, content=body, headers=kwargs["headers"])
                statuses[(operation.path if not validation else "/validate/…", response.status_code)] += 1  # noqa: B023
                assert response.status_code < 500, response.text
                case.validate_response(
                    response,
                    excluded_checks=[positive_data_acceptance, ignored_auth],
                    transport_kwargs=kwargs,
                )
                if operation.label not in probed:  # noqa: B023
                    # ApiKeyAuth is on every operation: the same request without the key is a 401
                    probed.add(operation.label)  # noqa: B023
                    anonymous = {k: v for k, v in kwargs["headers"].items() if k.lower() != "x-api-key"}
                    refused = client.request(case.method, url, content=body, headers=anonymous)
                    assert refused.status_code == 401, (case.operation.label, refused.text)

            check()
    assert {status for _, status in statuses} >= {400, 404}, statuses


UNREACHABLE = {405, 406, 408, 429}
"""Documented statuses no request made here can bring about: a method or an Accept the router
refuses before the DIP contract applies (405, 406), a body that takes 30 s to arrive (408,
tested on its own), rate limiting (429, not implemented). ``POST /statusmessage`` also documents
404, which names no resource the hub could fail to find."""

SERVED_VALIDATIONS = {f"/validate/{i}/{e.strip('[]')}" for i, e in EVENTS}


class Participant:
    """Signed, API-keyed requests as one participant, to the live hub."""

    def __init__(self, client: httpx.Client, base: str, config: ServeConfig, dip_id: str) -> None:
        self.client, self.base, self.dip_id = client, base, dip_id
        if dip_id == OPERATOR:
            self.key, self.signer = config.operator_key, signer_for(config, OPERATOR_CERTIFICATE)
        else:
            self.key = next(k for k, v in config.api_keys().items() if v == dip_id)
            self.signer = signer_for(config, dip_id)

    def send(self, method: str, path: str, body: bytes = b"", *, key: str | None = None) -> httpx.Response:
        url = f"{self.base}{path}"
        headers = self.signer.headers(method=method, url=url, body=body, now=datetime.now(UTC))
        headers |= {"X-API-Key": self.key if key is None else key, "Content-Type": "application/json"}
        return self.client.request(method, url, content=body, headers=headers)


def test_every_documented_status_the_hub_can_give_is_reached_and_valid(
    bundled: dict[str, Any], live_hub: tuple[str, ServeConfig]
) -> None:
    """Each status the spec documents for each operation, other than the server and transport
    failures (5xx, 405, 406, 429, 505), reached by a request made for it; each answer checked
    against the official document."""
    base, config = live_hub
    schema = schemathesis.openapi.from_dict(bundled)
    reached: set[tuple[str, str, int]] = set()
    with httpx.Client(timeout=30) as client:
        aurora, rs, beacon, operator = (
            Participant(client, base, config, d) for d in (AURORA, RS, BEACON, OPERATOR)
        )
        rows = client.get(
            f"{base}/api/mpans",
            params={"on": TODAY.isoformat(), "supplier": AURORA},
            headers={"X-API-Key": config.operator_key},
        ).json()
        factory = MessageFactory(Sender(DipId(AURORA), DipRole("SUP")), unique_prefix="conf")
        start = datetime.now(UTC) - timedelta(seconds=1)
        messages = [
            request_data_service(
                factory,
                site=Site(row),
                rs=DipId(RS),
                sds=DipId(BEACON),
                sds_mpid=Mpid("SDSB"),
                effective_from=TODAY,
                scenario=Scenario.CSP,
                contract_reference="C-AURORA-BEACON",
                now=datetime.now(UTC),
            )
            for row in rows[:3]
        ]
        good = [orjson.dumps([{"payload": orjson.Fragment(encode(m))}]) for m in messages]
        hook = orjson.dumps({"callbackURL": "http://127.0.0.1:9/webhook"})
        window = orjson.dumps(
            {
                "datetimeFrom": start.isoformat(timespec="seconds"),
                "datetimeTo": (datetime.now(UTC) + timedelta(hours=1)).isoformat(timespec="seconds"),
                "eventCode": None,
                "MPAN": None,
                "version": "011",
            }
        )
        status = orjson.dumps(
            [
                {
                    "transactionID": None,
                    "senderUniqueReference": None,
                    "correlationID": None,
                    "sentTimestamp": datetime.now(UTC).isoformat(timespec="seconds"),
                    "senderID": RS,
                    "recipientID": AURORA,
                    "DIPConnectionProviderID": None,
                    "message": "RCP0000 - Message Success",
                    "help": None,
                    "serviceTicketURL": None,
                }
            ]
        )
        channel, pubconfig = "/dip-channel/{id}", "/dip-channel/{id}/pubconfig/{recipient-id}"
        replay, requeue = (
            "/dip-channel/{id}/replay/{recipient-id}",
            "/dip-channel/{id}/requeue/{recipient-id}",
        )
        config_path = "/statusmessage/config/{recipient-id}"
        mixed = b"[" + good[1][1:-1] + b"," + good[0][1:-1] + b"]"
        too_big = b"[" + b" " * (config.max_body_bytes + 1) + b"]"
        cases: list[tuple[str, str, Any]] = [
            (channel, "POST", lambda: aurora.send("POST", "/dip-channel/IF-031", good[0])),
            (channel, "POST", lambda: aurora.send("POST", "/dip-channel/IF-031", mixed)),
            (channel, "POST", lambda: aurora.send("POST", "/dip-channel/IF-031", good[0])),
            (channel, "POST", lambda: aurora.send("POST", "/dip-channel/IF-031", good[2], key="")),
            (channel, "POST", lambda: aurora.send("POST", "/dip-channel/IF-002", good[2])),
            (channel, "POST", lambda: aurora.send("POST", "/dip-channel/IF-031", too_big)),
            (channel, "POST", lambda: operator.send("POST", "/dip-channel/IF-031", good[2])),
            (pubconfig, "POST", lambda: rs.send("POST", f"/dip-channel/IF-031/pubconfig/{RS}", hook)),
            (pubconfig, "POST", lambda: rs.send("POST", f"/dip-channel/IF-031/pubconfig/{RS}", b"{}")),
            (pubconfig, "POST", lambda: aurora.send("POST", f"/dip-channel/IF-031/pubconfig/{RS}", hook)),
            (pubconfig, "POST", lambda: rs.send("POST", f"/dip-channel/IF-031/pubconfig/{RS}", hook, key="")),
            (pubconfig, "DELETE", lambda: aurora.send("DELETE", f"/dip-channel/IF-031/pubconfig/{RS}")),
            (replay, "POST", lambda: rs.send("POST", f"/dip-channel/IF-031/replay/{RS}", window)),
            (replay, "POST", lambda: rs.send("POST", f"/dip-channel/IF-033/replay/{RS}", window)),
            (replay, "POST", lambda: beacon.send("POST", f"/dip-channel/IF-031/replay/{RS}", window)),
            (replay, "POST", lambda: rs.send("POST", f"/dip-channel/IF-031/replay/{RS}", window, key="")),
            (
                requeue,
                "POST",
                lambda: _delivered_then(config, rs, f"/dip-channel/IF-031/requeue/{RS}", window),
            ),
            (requeue, "POST", lambda: rs.send("POST", f"/dip-channel/IF-033/requeue/{RS}", window)),
            (requeue, "POST", lambda: beacon.send("POST", f"/dip-channel/IF-031/requeue/{RS}", window)),
            (requeue, "POST", lambda: rs.send("POST", f"/dip-channel/IF-031/requeue/{RS}", window, key="")),
            (pubconfig, "DELETE", lambda: rs.send("DELETE", f"/dip-channel/IF-031/pubconfig/{RS}")),
            ("/statusmessage", "POST", lambda: rs.send("POST", "/statusmessage", status)),
            ("/statusmessage", "POST", lambda: aurora.send("POST", "/statusmessage", status)),
            ("/statusmessage", "POST", lambda: rs.send("POST", "/statusmessage", status, key="")),
            ("/statusmessage", "POST", lambda: rs.send("POST", "/statusmessage", too_big)),
            ("/statusmessage", "POST", lambda: operator.send("POST", "/statusmessage", status)),
            (config_path, "POST", lambda: aurora.send("POST", f"/statusmessage/config/{AURORA}", hook)),
            (config_path, "POST", lambda: aurora.send("POST", f"/statusmessage/config/{AURORA}", b"[]")),
            (config_path, "POST", lambda: rs.send("POST", f"/statusmessage/config/{AURORA}", hook)),
            (config_path, "POST", lambda: rs.send("POST", f"/statusmessage/config/{RS}", hook, key="")),
            (config_path, "DELETE", lambda: rs.send("DELETE", f"/statusmessage/config/{AURORA}")),
            (config_path, "DELETE", lambda: aurora.send("DELETE", f"/statusmessage/config/{AURORA}")),
        ]
        validation = "/validate/IF-031/DSApp"
        key = {"X-API-Key": aurora.key}
        cases += [
            (
                validation,
                "POST",
                lambda: client.post(f"{base}/validate/IF-031/DSApp", content=good[2], headers=key),
            ),
            (
                validation,
                "POST",
                lambda: client.post(f"{base}/validate/IF-031/DSApp", content=b"[]", headers=key),
            ),
        ]
        for path, method, make in cases:
            response = make()
            assert response.status_code < 500, response.text
            schema[path][method].validate_response(response)
            reached.add((path, method, response.status_code))
    documented = {
        (path, method.upper(), int(code))
        for path, item in bundled["paths"].items()
        if path in {p for p, _, _ in reached}
        for method, operation in item.items()
        if method in ("get", "post", "delete")
        for code in operation["responses"]
        if int(code) < 500 and int(code) not in UNREACHABLE
    }
    documented.discard(("/statusmessage", "POST", 404))
    assert documented - reached == set(), sorted(documented - reached)
    assert {(p, m) for p, m, _ in reached} == {(p, m) for p, m, _ in documented}


def _delivered_then(config: ServeConfig, rs: Participant, path: str, body: bytes) -> httpx.Response:
    """Mark what the hub holds for the RS as delivered (no delivery worker runs here), then ask."""
    hub = Hub(Database(config.database))
    try:
        for batch in hub.due(now=datetime.now(UTC)):
            hub.delivered([item.delivery_id for item in batch.items], now=datetime.now(UTC))
    finally:
        hub.db.dispose()
    return rs.send("POST", path, body)
