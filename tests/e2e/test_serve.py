"""`openmhhs serve` as real processes on loopback, with mutual TLS and DIP signatures: a
supplier's signed IF-031 travels hub -> RS -> SDS -> RS -> everyone, through webhooks; a
hung recipient, a SIGKILLed hub and forged requests change nothing they should not."""

from __future__ import annotations

import os
import re
import signal
import ssl
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import msgspec
import orjson
import pytest

from openmhhs.api.config import client_tls
from openmhhs.dip.certs import issue_participant, make_authority
from openmhhs.dip.parse import Perspective, parse
from openmhhs.dip.signing import Signer
from tests.conftest import find_spec_dir
from tests.official_spec import OfficialSpec
from tests.serve_harness import AURORA, BEACON, CIRRUS, DAWN, DCC, RS, TODAY, Served, batch, serving, wait_for

FLOW = {
    RS: ["IF-031 [DSApp]", "IF-034 [DSAppSPResponse]"],
    AURORA: ["IF-032 [DSAppInitialResp]", "IF-035 [DSAppAccepted]", "IF-036 [DSAppActive]"],
    BEACON: [
        "IF-033 [DSAppSPRequest]",
        "IF-035 [DSAppAccepted]",
        "IF-062 [MDRStartResponse]",
        "IF-036 [DSAppActive]",
    ],
    DCC: ["IF-035 [DCC-MDROutcome]"],
    CIRRUS: ["IF-061 [MDRStart]"],  # the MDR, instructed by Beacon
}
"""What each participant's webhook receives for one accepted IF-031 [DSApp] (at least)."""


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("serve")
    with serving(tmp, database=f"sqlite:///{tmp}/openmhhs.db", mpans=300) as running:
        yield running


def _official() -> OfficialSpec | None:
    found = find_spec_dir()
    return None if found is None else OfficialSpec(found)


def _appointed(served: Served, mpan: str) -> bool:
    return any(p["service"] == "DS" for p in served.get(f"/api/timeline/{mpan}"))


def _flow_done(served: Served, mpans: list[str]) -> bool:
    for dip_id, expected in FLOW.items():
        got = Counter((m["mpan"], f"{m['interfaceID']} {m['eventCode']}") for m in served.inbox(dip_id))
        if any(got[(mpan, event)] < 1 for mpan in mpans for event in expected):
            return False
    return True


def _quiet(served: Served) -> bool:
    """Nothing waiting to be published, twice over a second (participants may still send)."""
    for _ in range(2):
        if served.health("hub")["deliveries"].get("pending", 0):
            return False
        time.sleep(0.5)
    return True


def _codes(response: httpx.Response) -> list[str]:
    return [item["message"].split(" ", 1)[0] for item in response.json()["messageArray"]]


# -- the flow ---------------------------------------------------------------------------------------
def test_signed_if031_reaches_every_webhook_signed_and_valid(served: Served) -> None:
    site = served.fresh_mpans(1)[0]
    mpan = site.row["mpan"]
    request = served.dsapp(site)
    response = served.submit([request])
    assert response.status_code == 201, response.text
    official = _official()
    if official is not None:
        assert official.response_errors(response.json()) == []
    [item] = response.json()["messageArray"]
    assert item["message"] == "MSG0000 - Success"
    assert item["senderUniqueReference"] == request.common_block.s1.sender_unique_reference
    assert item["recipientID"] == AURORA and item["transactionID"].startswith("T-IF-031-1111111111-SUP-")

    wait_for(lambda: _flow_done(served, [mpan]), timeout=60, what="the appointment flow")
    for dip_id, expected in FLOW.items():
        received = [m for m in served.inbox(dip_id) if m["mpan"] == mpan]
        events = [f"{m['interfaceID']} {m['eventCode']}" for m in received]
        assert sorted(e for e in events if e in expected) == sorted(expected), (dip_id, events)
        # in the order their sender sent them (the RS's; the MDR's IF-062 travels on its own)
        rs_events = [e for e in expected if not e.startswith("IF-062")]
        assert [e for e in events if e in rs_events] == rs_events, (dip_id, events)
        for record in received:
            assert record["signedBy"] == "hub"  # the webhook checked the hub's DIP signature
            body = orjson.dumps(record["message"])
            parsed = parse(body, now=None, perspective=Perspective.RECIPIENT)  # strict: raises if not
            d0 = record["message"]["CommonBlock"]["D0"]
            assert d0["transactionID"] == record["transactionID"] and d0["replayIndicator"] is False
            assert d0["publicationID"] == f"PUB-{record['interfaceID'][3:]}"
            if official is not None:
                assert official.errors(parsed.spec.message_type.SCHEMA_NAME, record["message"]) == []

    [period] = served.get(f"/api/timeline/{mpan}", on=TODAY.isoformat())
    assert (period["service"], period["dip_id"], period["mdr_mpid"], period["from"], period["to"]) == (
        "DS",
        BEACON,
        "MDRC",  # the Aurora-Beacon contract's default MDR: the supplier nominated none
        TODAY.isoformat(),
        None,
    )
    exchange = served.get("/api/messages", correlation=request.common_block.s1.sender_correlation_id)
    assert {m["CommonBlock"]["S0"]["interfaceID"] for m in exchange} >= {
        "IF-031",
        "IF-032",
        "IF-033",
        "IF-034",
    }


# -- a recipient's outage -------------------------------------------------------------------------------
def test_hung_webhook_gets_everything_exactly_once_in_order(served: Served) -> None:
    """Beacon's webhook stops answering (SIGSTOP): the hub's calls time out and are retried
    with back-off. When it comes back, each publication is applied once, in the hub's order."""
    sites = served.fresh_mpans(8)
    mpans = [s.row["mpan"] for s in sites]
    beacon = served.pid(BEACON)
    served.kill(BEACON, signal.SIGSTOP)
    try:
        for half in (sites[:4], sites[4:]):
            response = served.submit([served.dsapp(s) for s in half])
            assert response.status_code == 201, response.text
        # IF-033s for Beacon queue at the hub while it does not answer
        wait_for(
            lambda: served.health("hub")["deliveries"].get("pending", 0) >= 8, timeout=30, what="a backlog"
        )
        time.sleep(5)  # several timed-out attempts and retries
    finally:
        os.kill(beacon, signal.SIGCONT)
    wait_for(lambda: _flow_done(served, mpans), timeout=120, what="delivery after the outage")

    inbox = served.inbox(BEACON)
    transactions = [m["transactionID"] for m in inbox]
    assert len(transactions) == len(set(transactions)), "a publication was applied twice"
    assert [m["sequence"] for m in inbox] == sorted(m["sequence"] for m in inbox)
    for mpan in mpans:
        applied = [m["transactionID"] for m in inbox if m["mpan"] == mpan]
        # the hub's log, in the order it accepted them: what was addressed to Beacon
        logged = served.get("/api/messages", mpan=mpan)
        published = [m for m in logged if BEACON in m["CommonBlock"]["A0"]["primaryRecipients"]]
        assert len(applied) == len(published)
        events = [f"{m['interfaceID']} {m['eventCode']}" for m in inbox if m["mpan"] == mpan]
        assert events == [
            f"{m['CommonBlock']['S0']['interfaceID']} {m['CommonBlock']['S0']['eventCode']}"
            for m in published
        ]
    ds_requests = Counter(m["mpan"] for m in inbox if m["interfaceID"] == "IF-033" and m["mpan"] in mpans)
    assert ds_requests == dict.fromkeys(mpans, 1)


def test_a_message_the_rs_cannot_hold_never_blocks_the_ones_behind_it(served: Served) -> None:
    """Issue 12, finding 1: an IF-031 the DIP accepts but whose effective date the RS cannot
    hold is refused by the RS (RCP1022, IF-032 R to the supplier) and the ten behind it are
    delivered and applied."""
    sites = served.fresh_mpans(11)
    poison = served.dsapp(sites[0])
    b071 = msgspec.structs.replace(
        poison.custom_block.b071,  # type: ignore[attr-defined]
        proposed_data_service_dip_effective_from_date="9999-12-31T23:59:59-23:59",
    )
    poison = msgspec.structs.replace(poison, custom_block=type(poison.custom_block)(b071=b071))  # type: ignore[attr-defined]
    response = served.submit([poison] + [served.dsapp(s) for s in sites[1:]])
    assert response.status_code == 201 and set(_codes(response)) == {"MSG0000"}, response.text
    mpans = [s.row["mpan"] for s in sites[1:]]
    wait_for(lambda: all(_appointed(served, m) for m in mpans), timeout=120, what="the ten appointed")

    def refused() -> list[dict[str, object]]:
        return [
            m
            for m in served.inbox(AURORA)
            if m["mpan"] == sites[0].row["mpan"] and m["interfaceID"] == "IF-032"
        ]

    (answer,) = wait_for(refused, timeout=60, what="IF-032 R for the refused request")
    r0 = answer["message"]["CommonBlock"]["R0"]  # type: ignore[index]
    assert r0["responseCode"] == "R" and r0["responseMessages"][0].startswith("RCP1022")
    assert not _appointed(served, sites[0].row["mpan"])


# -- the hub killed ---------------------------------------------------------------------------------------
def _send(served: Served, body: bytes) -> httpx.Response | None:
    try:
        return served.post_signed("/dip-channel/IF-031", body)
    except httpx.HTTPError:
        return None


def _killed_at(served: Served, failpoint: str, body: bytes) -> None:
    """Send ``body`` with the hub set to die at ``failpoint``; no answer comes back."""
    hub = served.pid("hub")
    served.arm(failpoint)
    assert _send(served, body) is None, "the hub answered although it was to die"
    served.wait_restarted("hub", hub)


def test_hub_killed_mid_batch_loses_nothing_and_applies_nothing_twice(served: Served) -> None:
    """SIGKILL at the worst moments: while storing a batch, just after storing it (before
    answering), after a webhook applied a publication (before the hub recorded it), and at
    an arbitrary moment while publishing. The supplier resends what it got no answer for."""
    sites = served.fresh_mpans(120)
    mpans = [s.row["mpan"] for s in sites]
    messages = [served.dsapp(s) for s in sites]
    bodies = [batch(messages[i : i + 30]) for i in range(0, 120, 30)]

    # 1. killed inside the transaction: nothing was stored, the resend is accepted
    _killed_at(served, "hub.accept.before-commit", bodies[0])
    again = wait_for(lambda: _send(served, bodies[0]), timeout=60, what="the hub to answer again")
    assert set(_codes(again)) == {"MSG0000"}
    # What phase 1 set off ends first: the failpoint armed next must meet the supplier's batch,
    # not a participant's answer to phase 1 (an IF-034 stored just before the kill would leave
    # the supplier's batch unstored, and its resend rightly accepted).
    wait_for(lambda: _flow_done(served, mpans[:30]), timeout=120, what="phase 1 to complete")
    wait_for(lambda: _quiet(served), timeout=60, what="the hub to have nothing to publish")

    # 2. killed after storing, before answering: the resend is refused as a duplicate, the
    #    original goes on
    _killed_at(served, "hub.accept.after-commit", bodies[1])
    again = wait_for(lambda: _send(served, bodies[1]), timeout=60, what="the hub to answer again")
    assert set(_codes(again)) == {"MSG1006"}

    # 3. killed after a webhook applied a publication, before the hub recorded it: the
    #    publication is sent again and the participant does not apply it twice
    wait_for(lambda: _flow_done(served, mpans[:60]), timeout=120, what="phases 1-2 to complete")
    wait_for(lambda: _quiet(served), timeout=60, what="the hub to have nothing to publish")
    hub = served.pid("hub")
    duplicates_before = sum(served.health(d)["duplicates"] for d in FLOW)
    served.arm("hub.publish.before-recorded")
    response = _send(served, bodies[2])
    assert response is not None and set(_codes(response)) == {"MSG0000"}
    served.wait_restarted("hub", hub)

    # 4. killed from outside while it publishes
    response = _send(served, bodies[3])
    assert response is not None and set(_codes(response)) == {"MSG0000"}
    wait_for(lambda: any(m["mpan"] in mpans[90:] for m in served.inbox(BEACON)), timeout=60, what="IF-033s")
    hub = served.kill("hub")
    served.wait_restarted("hub", hub)

    wait_for(lambda: _flow_done(served, mpans), timeout=240, what="every appointment to complete")
    for mpan in mpans:
        logged = served.get("/api/messages", mpan=mpan)
        kinds = Counter(
            f"{m['CommonBlock']['S0']['interfaceID']} {m['CommonBlock']['S0']['eventCode']}" for m in logged
        )
        assert kinds["IF-031 [DSApp]"] == 1 and kinds["IF-033 [DSAppSPRequest]"] == 1, kinds
        assert kinds["IF-035 [DSAppAccepted]"] == 1 and kinds["IF-036 [DSAppActive]"] == 1, kinds
    for dip_id, expected in FLOW.items():
        inbox = [m for m in served.inbox(dip_id) if m["mpan"] in mpans]
        transactions = Counter(m["transactionID"] for m in inbox)
        assert max(transactions.values()) == 1, f"{dip_id} applied a publication twice"
        per_event = Counter((m["mpan"], f"{m['interfaceID']} {m['eventCode']}") for m in inbox)
        assert all(per_event[(mpan, e)] == 1 for mpan in mpans for e in expected), dip_id
    # phase 3 really did publish again something a participant had applied, and it was ignored
    assert sum(served.health(d)["duplicates"] for d in FLOW) > duplicates_before


# -- refusals ---------------------------------------------------------------------------------------------
def _refused(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    [item] = response.json()["messageArray"]
    assert item["message"].startswith(f"{code} - "), item
    official = _official()
    if official is not None:
        assert official.response_errors(response.json()) == []
    return str(item["message"])


def test_forged_requests_are_refused_with_their_codes(served: Served, tmp_path: Path) -> None:
    site = served.fresh_mpans(1)[0]
    body = batch([served.dsapp(site)])
    path = "/dip-channel/IF-031"
    # the body changed after signing
    tampered = body.replace(b'"CSP"', b'"COS"')
    assert "Content-Hash" in _refused(served.post_signed(path, body, sent_body=tampered), 401, "RCP9999")
    # an API key that is not the signer's, one nobody holds, and none: each worded as what it is
    _refused(served.post_signed(path, body, api_key=served.api_key(DAWN)), 401, "OMH0822")
    _refused(served.post_signed(path, body, api_key="not-a-key"), 401, "OMH0821")
    assert "X-API-Key" in _refused(served.post_signed(path, body, api_key=""), 401, "OMH0820")
    # a certificate from an authority the hub does not trust
    now = datetime.now(UTC)
    stranger_ca = make_authority(name="somebody else's CA", now=now)
    stranger = issue_participant(stranger_ca, dip_id=AURORA, organisation="Impostor", now=now)
    impostor = Signer.from_pem(stranger.key_pem(), stranger.certificate_pem)
    _refused(served.post_signed(path, body, signer=impostor), 401, "RCP9999")
    # a signature date far from now
    stale = now - timedelta(minutes=30)
    assert "from now" in _refused(served.post_signed(path, body, signed_at=stale), 401, "RCP9999")
    # nothing of those was accepted
    assert not any(m["mpan"] == site.row["mpan"] for m in served.inbox(RS))

    # a sender role the sender does not hold (Aurora is no SDS): MSG1010
    as_sds = served.factory(AURORA, "SDS")
    _refused(served.submit([served.dsapp(site, as_sds)]), 400, "MSG1010")
    # Dawn's message, signed with Aurora's key: MSG1009
    dawn = served.dsapp(site, served.factory(DAWN, "SUP"))
    _refused(served.post_signed(path, batch([dawn])), 400, "MSG1009")
    # on the wrong channel: MSG1002
    _refused(served.post_signed("/dip-channel/IF-033", body), 400, "MSG1002")
    # accepted once, then refused as a duplicate: MSG1006
    assert served.post_signed(path, body).status_code == 201
    _refused(served.post_signed(path, body), 400, "MSG1006")
    # 207: one new message and one duplicate in the same batch
    fresh = served.dsapp(served.fresh_mpans(1)[0])
    mixed = orjson.dumps([{"payload": orjson.loads(batch([fresh]))[0]["payload"]}, orjson.loads(body)[0]])
    response = served.post_signed(path, mixed)
    assert response.status_code == 207 and _codes(response) == ["MSG0000", "MSG1006"]


def test_mutual_tls_refuses_clients_without_a_trusted_certificate(served: Served) -> None:
    url = f"{served.config.hub_url}/health"
    context = ssl.create_default_context(cafile=served.config.ca)  # trusts the hub, presents nothing
    with httpx.Client(verify=context) as client, pytest.raises(httpx.HTTPError):
        client.get(url)
    now = datetime.now(UTC)
    stranger_ca = make_authority(name="somebody else's CA", now=now)
    stranger = issue_participant(stranger_ca, dip_id=AURORA, organisation="Impostor", now=now)
    folder = Path(served.state) / "stranger"
    folder.mkdir(exist_ok=True)
    (folder / "s.pem").write_bytes(stranger.certificate_pem)
    (folder / "s.key").write_bytes(stranger.key_pem())
    context = ssl.create_default_context(cafile=served.config.ca)
    context.load_cert_chain(str(folder / "s.pem"), str(folder / "s.key"))
    with httpx.Client(verify=context) as client, pytest.raises(httpx.HTTPError):
        client.get(url)
    with httpx.Client(verify=client_tls(served.config, AURORA)) as client:
        assert client.get(url).status_code == 200


def test_webhooks_refuse_publications_not_signed_by_the_hub(served: Served) -> None:
    site = served.fresh_mpans(1)[0]
    url = f"{served.config.node_url(BEACON)}/webhook"
    body = batch([served.dsapp(site)])
    headers = served.signer(AURORA).headers(method="POST", url=url, body=body, now=datetime.now(UTC))
    response = served.client(AURORA).post(url, content=body, headers=headers)
    assert response.status_code == 401 and response.json()["message"].startswith("RCP9999")
    assert not any(m["mpan"] == site.row["mpan"] for m in served.inbox(BEACON))


def test_validation_endpoint(served: Served) -> None:
    site = served.fresh_mpans(1)[0]
    good = batch([served.dsapp(site)])
    url = f"{served.config.hub_url}/validate/IF-031/DSApp"
    key = {"X-API-Key": served.api_key(AURORA)}
    assert served.client().post(url, content=good, headers=key).status_code == 201
    bad = msgspec.json.encode([{"payload": {"CommonBlock": {}}}])
    response = served.client().post(url, content=bad, headers=key)
    assert response.status_code == 400 and "MSG1001" in response.text
    # the spec documents 201, 400 and 500 for validation: an event not served here is a 400
    unknown = served.client().post(f"{served.config.hub_url}/validate/IF-031/Nope", content=good, headers=key)
    assert unknown.status_code == 400 and unknown.json().startswith("MSG1002")
    # the spec's ApiKeyAuth is on every operation, validation included
    refused = served.client().post(url, content=good)
    assert refused.status_code == 401 and refused.json()["messageArray"][0]["message"].startswith("OMH0820")
    # validating sends nothing
    assert not any(m["mpan"] == site.row["mpan"] for m in served.inbox(RS))


# -- PostgreSQL, and a webhook really down -------------------------------------------------------------
@pytest.mark.postgres
def test_served_on_postgresql_through_a_dead_webhook(pg_url: str, tmp_path: Path) -> None:
    """On PostgreSQL: Beacon's service is killed (connection refused) while suppliers send;
    the supervisor brings it back, and everything arrives once, in order."""
    with serving(tmp_path, database=pg_url, mpans=30) as served:
        sites = served.fresh_mpans(10)
        mpans = [s.row["mpan"] for s in sites]
        beacon = served.kill(BEACON)
        response = served.submit([served.dsapp(s) for s in sites])
        assert response.status_code == 201, response.text
        served.wait_restarted(BEACON, beacon)
        wait_for(lambda: _flow_done(served, mpans), timeout=120, what="delivery after the outage")
        inbox = served.inbox(BEACON)
        assert len({m["transactionID"] for m in inbox}) == len(inbox)
        for mpan in mpans:
            published = [
                m
                for m in served.get("/api/messages", mpan=mpan)
                if BEACON in m["CommonBlock"]["A0"]["primaryRecipients"]
            ]
            events = [f"{m['interfaceID']} {m['eventCode']}" for m in inbox if m["mpan"] == mpan]
            assert events == [
                f"{m['CommonBlock']['S0']['interfaceID']} {m['CommonBlock']['S0']['eventCode']}"
                for m in published
            ]
            [period] = served.get(f"/api/timeline/{mpan}", on=TODAY.isoformat())
            assert period["dip_id"] == BEACON and period["mdr_mpid"] == "MDRC"


# -- who may see and do what, over mutual TLS ----------------------------------------------------------
def test_the_client_certificate_binds_the_api_key_to_one_participant(served: Served) -> None:
    """Aurora's certificate with Beacon's API key is refused (finding 3: any certificate could
    read everything); with its own key Aurora reads only its own messages."""
    site = served.fresh_mpans(1)[0]
    request = served.dsapp(site)
    assert served.submit([request]).status_code == 201
    correlation = request.common_block.s1.sender_correlation_id
    hub = served.config.hub_url
    borrowed = served.client(AURORA).get(
        f"{hub}/api/messages",
        headers={"X-API-Key": served.api_key(BEACON)},
        params={"correlation": correlation},
    )
    assert borrowed.status_code == 401 and _codes(borrowed) == ["OMH0822"]
    nothing = served.client(AURORA).get(f"{hub}/api/messages")
    assert nothing.status_code == 401 and _codes(nothing) == ["OMH0820"]
    assert len(served.get("/api/messages", as_=AURORA, correlation=correlation)) >= 1
    assert served.get("/api/messages", as_=DAWN, correlation=correlation) == []
    # Beacon signs with its own key but connects with Aurora's certificate
    body = batch([served.dsapp(served.fresh_mpans(1)[0], served.factory(BEACON, "SUP"))])
    url = f"{hub}/dip-channel/IF-031"
    headers = served.signer(BEACON).headers(method="POST", url=url, body=body, now=datetime.now(UTC))
    headers["X-API-Key"] = served.api_key(BEACON)
    mixed = served.client(AURORA).post(url, content=body, headers=headers)
    assert mixed.status_code == 401 and _codes(mixed) == ["OMH0822"]


def test_a_nodes_send_and_inbox_are_its_own_participants(served: Served) -> None:
    """A POST to another participant's node ``/send`` was accepted and signed as that
    participant (finding 3); now only the participant itself may queue there."""
    site = served.fresh_mpans(1)[0]
    body = batch([served.dsapp(site, served.factory(BEACON, "SUP"))])
    url = f"{served.config.node_url(BEACON)}/send"
    as_aurora = served.client(AURORA).post(url, content=body, headers={"X-API-Key": served.api_key(AURORA)})
    assert as_aurora.status_code == 401 and _codes(as_aurora) == ["OMH0821"]
    key_only = served.client(AURORA).post(url, content=body, headers={"X-API-Key": served.api_key(BEACON)})
    assert key_only.status_code == 401 and _codes(key_only) == ["OMH0822"]
    inbox = served.client(AURORA).get(
        f"{served.config.node_url(BEACON)}/inbox", headers={"X-API-Key": served.api_key(AURORA)}
    )
    assert inbox.status_code == 401
    assert not any(m["mpan"] == site.row["mpan"] for m in served.inbox(RS))


def test_a_stop_is_clean(tmp_path: Path) -> None:
    """SIGTERM stops every service within uvicorn's graceful-shutdown time: idle mutual-TLS
    connections used to hold each stop until it logged "graceful shutdown exceeded"."""
    with serving(tmp_path, database=f"sqlite:///{tmp_path}/openmhhs.db", mpans=10) as served:
        site = served.fresh_mpans(1)[0]
        assert served.submit([served.dsapp(site)]).status_code == 201
        wait_for(lambda: served.inbox(RS), timeout=60, what="a publication to the RS")
    log = (tmp_path / "serve.log").read_text()
    assert "Ready." in log and "graceful shutdown exceeded" not in log, log[-2000:]
    assert "Traceback" not in log and "ERROR" not in log and "CancelledError" not in log, log[-2000:]
    # one access-log line per request, naming the caller (the supplier's submit, the hub's
    # publication to the RS's webhook)
    assert re.search(r"hub POST /dip-channel/IF-031 201 [\d.]+ms caller=\d{10}", log), log[-2000:]
    assert re.search(rf"{RS} POST /webhook 20[17] [\d.]+ms caller=hub", log), log[-2000:]
    # no secret in the log: no API key, and no private key
    secrets = [*served.config.api_keys(), served.config.operator_key]
    assert not [s for s in secrets if s in log] and "PRIVATE KEY" not in log
