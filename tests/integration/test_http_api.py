"""The hub's HTTP API as a user expects it (issue 15 item 5): documentation pages that work
with no internet, the hub's own operations in its OpenAPI document, coded 400s in the DIP's
shape (never FastAPI's 422), one access-log line per request without secrets, and the
dashboard at ``/`` for the operator only."""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Iterator
from importlib.resources import files

import pytest

from openmhhs.api.docs import DOCS_ASSETS
from tests.integration.test_hub_contract import Hubside, codes, hub_on
from tests.serve_harness import AURORA, TODAY


@pytest.fixture(scope="module")
def hubside(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hubside]:
    tmp = tmp_path_factory.mktemp("http-api")
    with hub_on(tmp, f"sqlite:///{tmp / 'openmhhs.db'}") as hub:
        yield hub


def _addresses(html: str) -> list[str]:
    return re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html) + re.findall(
        r"""url:\s*['"]([^'"]+)['"]""", html
    )


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_documentation_pages_need_no_key_and_load_nothing_from_elsewhere(hubside: Hubside, page: str) -> None:
    response = hubside.client.get(page)
    assert response.status_code == 200 and "text/html" in response.headers["content-type"]
    addresses = _addresses(response.text)
    assert addresses and all(a.startswith("/") for a in addresses), addresses
    assert "http://" not in response.text and "https://" not in response.text
    for address in addresses:
        loaded = hubside.client.get(address)
        assert loaded.status_code == 200, address


def test_documentation_assets_are_the_packaged_files_with_their_licences() -> None:
    folder = files("openmhhs.api").joinpath("static")
    for file, _ in DOCS_ASSETS.values():
        assert folder.joinpath(file).read_bytes()
    names = {p.name for p in folder.iterdir()}
    assert {"swagger-ui-5.35.0.LICENSE", "swagger-ui-5.35.0.NOTICE", "redoc-2.5.4.LICENSE"} <= names


def test_the_openapi_document_lists_the_hubs_operations_without_a_422(hubside: Hubside) -> None:
    response = hubside.client.get("/openapi.json")  # no key needed
    assert response.status_code == 200
    document = response.json()
    paths = set(document["paths"])
    assert {
        "/dip-channel/{channel}",
        "/dip-channel/{channel}/pubconfig/{recipient}",
        "/dip-channel/{channel}/replay/{recipient}",
        "/dip-channel/{channel}/requeue/{recipient}",
        "/statusmessage",
        "/statusmessage/config/{recipient}",
        "/validate/{interface}/{event}",
        "/health",
        "/api/timeline/{mpan}",
    } <= paths
    statuses = {s for ops in document["paths"].values() for op in ops.values() for s in op["responses"]}
    assert "422" not in statuses and "400" in statuses
    submit = document["paths"]["/dip-channel/{channel}"]["post"]
    assert submit["security"] == [{"APIKeyHeader": []}] and "requestBody" in submit
    assert not any(p.startswith(("/docs", "/redoc", "/static", "/mpan")) or p == "/" for p in paths)


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/mpans", {"limit": "0"}),
        ("/api/mpans", {"on": "yesterday"}),
        ("/api/gaps", {"on": "2026-02-30"}),
        ("/api/timeline/12", {}),
        ("/api/messages", {"limit": "many"}),
    ],
)
def test_bad_input_is_a_coded_400_in_the_dips_shape(
    hubside: Hubside, path: str, params: dict[str, str]
) -> None:
    response = hubside.client.get(path, params=params, headers={"X-API-Key": hubside.key("operator")})
    assert response.status_code == 400, response.text
    assert set(response.json()) == {"messageArray", "timestamp"} and codes(response) == ["MSG1001"]


def test_an_unknown_route_is_coded_not_fastapis_detail(hubside: Hubside) -> None:
    response = hubside.client.get("/no/such/thing")
    assert response.status_code == 404 and codes(response) == ["MSG1002"]


def test_one_access_log_line_per_request_naming_the_caller_and_no_secret(
    hubside: Hubside, caplog: pytest.LogCaptureFixture
) -> None:
    key = hubside.key(AURORA)
    with caplog.at_level(logging.INFO, logger="openmhhs.access"):
        hubside.client.get("/api/gaps", params={"on": TODAY.isoformat()}, headers={"X-API-Key": key})
        hubside.client.get("/api/gaps", params={"on": TODAY.isoformat()}, headers={"X-API-Key": "wrong"})
    lines = [r.getMessage() for r in caplog.records if r.name == "openmhhs.access"]
    assert len(lines) == 2, lines
    assert re.fullmatch(rf"GET /api/gaps 200 \d+\.\dms caller={AURORA}", lines[0]), lines
    assert re.fullmatch(r"GET /api/gaps 401 \d+\.\dms caller=-", lines[1]), lines
    assert not any(key in line or "wrong" in line or "on=" in line for line in lines)


def _basic(password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"me:{password}".encode()).decode()}


def test_the_dashboard_at_the_root_is_the_operators_only(hubside: Hubside) -> None:
    anonymous = hubside.client.get("/")
    assert anonymous.status_code == 401 and codes(anonymous) == ["OMH0820"]
    assert anonymous.headers["WWW-Authenticate"].startswith("Basic ")
    participant = hubside.client.get("/", headers={"X-API-Key": hubside.key(AURORA)})
    assert participant.status_code == 403 and codes(participant) == ["OMH0823"]
    assert hubside.client.get("/static/htmx.min.js").status_code == 401
    wrong = hubside.client.get("/", headers=_basic("not-the-key"))
    assert wrong.status_code == 401 and codes(wrong) == ["OMH0821"]

    page = hubside.client.get("/", headers=_basic(hubside.config.operator_key))
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    mpan = hubside.site().row["mpan"]
    timeline = hubside.client.get(f"/mpan/{mpan}", headers={"X-API-Key": hubside.key("operator")})
    assert timeline.status_code == 200 and mpan in timeline.text
