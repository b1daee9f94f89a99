"""The live dashboard (issue 15): its HTTP contract over a market's database, and a user's
visit in real headless Chromium (Debian's /usr/bin/chromium driven by Playwright, never a
downloaded browser): open the page, search an MPAN, follow a message chain, screenshot, and
check what is on the screen. Screenshots go to test-artifacts/ (kept by CI)."""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from openmhhs.store.database import Database
from openmhhs.store.tables import appointment
from tests.conftest import CliHarness

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A small market run (appointments, MDR changes, a day of meter data) and the dashboard
    serving its database on loopback: (base URL, an MPAN with an MDR change)."""
    import uvicorn

    from openmhhs.web.app import create_dashboard_app

    folder = tmp_path_factory.mktemp("dashboard")
    url = f"sqlite:///{folder / 'market.db'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OPENMHHS_DB", url)
        result = CliHarness()(
            "model",
            "run",
            "4a-hybrid-brand",
            "--mpans",
            "40",
            "--data-days",
            "1",
            "--out",
            str(folder),
            "--json",
        )
        assert result.exit_code == 0, result.output
    db = Database(url)
    with db.read() as connection:
        changed = connection.execute(
            sa.select(appointment.c.mpan)
            .where(appointment.c.service == "DS", appointment.c.retired_at.is_(None))
            .group_by(appointment.c.mpan)
            .having(sa.func.count(sa.distinct(appointment.c.mdr)) > 1)
            .order_by(appointment.c.mpan)
            .limit(1)
        ).scalar_one()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            create_dashboard_app(db, folder / "meterdata"), host="127.0.0.1", port=port, log_level="error"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", str(changed)
    finally:
        server.should_exit = True
        thread.join()
        db.dispose()


def _addresses(html: str) -> list[str]:
    return re.findall(r"""(?:src|href|action|hx-get|hx-post)=["']([^"']*)["']""", html)


def test_overview_answers_html_with_every_section(served: tuple[str, str]) -> None:
    base, _ = served
    page = httpx.get(f"{base}/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    for section in (
        "arrangements",
        "outcomes",
        "queues",
        "gaps",
        "dcc",
        "completeness",
        "participants",
        "isd",
    ):
        assert f'id="{section}"' in page.text
    assert "SP000" in page.text and "SUPA" in page.text
    assert "No meter data yet" not in page.text  # completeness read from the run's dataset


def test_mpan_page_answers_html_with_its_timeline(served: tuple[str, str]) -> None:
    base, mpan = served
    page = httpx.get(f"{base}/mpan/{mpan}")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert f'<span id="mpan-core">{mpan}</span>' in page.text
    assert page.text.count("/messages?correlation=") >= 2  # every period links to its exchange
    assert httpx.get(f"{base}/mpan/2000000000016").status_code == 400  # bad check digit
    assert httpx.get(f"{base}/mpan/{'9' * 12}7").status_code in (400, 404)


def test_no_page_refers_to_an_address_outside_the_server(served: tuple[str, str]) -> None:
    base, mpan = served
    pages = [httpx.get(f"{base}{path}").text for path in ("/", f"/mpan/{mpan}")]
    chain = re.search(r'hx-get="([^"]+)"', pages[1])
    assert chain
    pages.append(httpx.get(base + chain.group(1).replace("&amp;", "&")).text)
    for html in pages:
        for address in _addresses(html):
            assert address.startswith(("/", "#", "?")), address
    for name in ("htmx.min.js", "chart.umd.min.js", "dashboard.js", "dashboard.css"):
        assert httpx.get(f"{base}/static/{name}").status_code == 200
    assert httpx.get(f"{base}/static/..%2Fapp.py").status_code == 404


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _require_chromium() -> str:
    reason = None
    browser = _chromium()
    if browser is None:
        reason = "Chromium is not installed (CI installs Debian's chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            reason = "the playwright package is not installed (pip install -e '.[dev]')"
    if reason is not None:
        if os.environ.get("OPENMHHS_REQUIRE_CHROMIUM") == "1":
            pytest.fail(f"OPENMHHS_REQUIRE_CHROMIUM=1 but {reason}")
        pytest.skip(reason)
    assert browser is not None
    return browser


def test_a_user_searches_an_mpan_and_follows_a_message_chain_in_chromium(
    served: tuple[str, str], tmp_path: Path
) -> None:
    browser_path = _require_chromium()
    from playwright.sync_api import sync_playwright

    base, mpan = served
    ARTIFACTS.mkdir(exist_ok=True)
    requested: list[str] = []
    errors: list[str] = []
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=browser_path,
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1280, "height": 900},
        )
        try:
            page = context.new_page()
            page.on("request", lambda r: requested.append(r.url))
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(f"{base}/")
            assert page.locator("h1").inner_text().startswith("The market on")
            page.wait_for_function(
                "() => window.Chart && Chart.getChart(document.querySelector('canvas[data-chart=outcomes]'))"
            )
            drawn = page.evaluate(
                "() => Chart.getChart(document.querySelector('canvas[data-chart=outcomes]')).data.labels"
            )
            assert "SP000" in drawn  # the chart shows the same codes as the table
            page.screenshot(path=str(ARTIFACTS / "dashboard-overview.png"), full_page=True)

            page.fill("#mpan", mpan)
            page.click("form.search button")
            page.wait_for_url(re.compile(rf"/mpan/{mpan}"))
            assert page.locator("#mpan-core").inner_text() == mpan
            rows = page.locator("#periods tbody tr")
            assert rows.count() >= 3  # DS with its first MDR, DS after the change, MS
            assert page.locator("#periods tr.holds").count() == 2  # a DS and an MS on the day
            page.wait_for_function(
                "() => Chart.getChart(document.querySelector('canvas[data-chart=timeline]'))"
            )
            page.screenshot(path=str(ARTIFACTS / "dashboard-mpan.png"), full_page=True)

            before = page.url
            page.locator("a.chain-link").first.click()
            page.wait_for_selector("#chain table.chain tbody tr")
            events = page.locator("#chain td.event").all_inner_texts()
            assert events[0] == "[DSApp]" and "[DSAppActive]" in events, events
            assert page.url == before  # htmx swapped the chain in place
            page.locator("#chain details summary").first.click()
            assert '"interfaceID": "IF-031"' in page.locator("#chain details pre").first.inner_text()
            page.screenshot(path=str(ARTIFACTS / "dashboard-chain.png"), full_page=True)
        finally:
            context.close()
    assert errors == []
    assert requested and all(u.startswith(base) for u in requested), [
        u for u in requested if not u.startswith(base)
    ]
