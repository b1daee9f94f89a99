"""Implementation models: each built-in scenario's distinctive outcome, the checks of a
description in business words, and the main job (demo) with its report."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from openmhhs.cli.model import scenario_names
from tests.conftest import CliHarness

SMALL = "120"


def run(cli: CliHarness, tmp_path: Path, scenario: str) -> dict[str, Any]:
    result = cli("model", "run", scenario, "--mpans", SMALL, "--out", str(tmp_path / scenario), "--json")
    assert result.exit_code == 0, result.output
    return orjson.loads(result.stdout)  # type: ignore[no-any-return]


def arrangements(summary: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {(row["group"], row["sds"], row["mdr"]) for row in summary["by_model"]}


def case_codes(summary: dict[str, Any]) -> dict[str, list[str]]:
    return {c["case"]: c["codes"] for c in summary["cases"]}


def test_every_built_in_scenario_checks_clean(cli: CliHarness) -> None:
    assert len(scenario_names()) == 8
    for name in scenario_names():
        assert cli.json("model", "check", name)["valid"] is True


@pytest.mark.parametrize(
    ("scenario", "expected"),
    [
        ("1a-fully-separated", {("Aurora", "SDSB", "MDRC")}),
        ("1b-fully-separated-data-sharing", {("Aurora", "SDSB", "MDRC")}),
        ("2a-fully-integrated", {("Aurora", "SUPA", "SUPA")}),
        ("2a-fully-integrated-mdr-role", {("Aurora", "SUPA", "SUPA")}),
        ("3a-mixed", {("Aurora", "SDSB", "SUPA")}),
        ("3a-mixed-mdr-role", {("Aurora", "SDSB", "SUPA")}),
        ("4a-hybrid-brand", {("Aurora Energy", "SUPA", "SUPA"), ("Breeze (white label)", "SDSB", "MDRC")}),
        (
            "4a-hybrid-customer-type",
            {
                ("Standard domestic", "SUPA", "SUPA"),
                ("EV and heat pump (behaviour)", "SDSB", "SDSB"),
                ("Small business (non-domestic)", "SDSB", "MDRC"),
            },
        ),
    ],
)
def test_scenario_distinctive_outcome(
    cli: CliHarness, tmp_path: Path, scenario: str, expected: set[tuple[str, str, str]]
) -> None:
    summary = run(cli, tmp_path, scenario)
    assert summary["gaps_first_day"] == 0 and summary["gaps_last_day"] == 0 and summary["failed"] == 0
    got = arrangements(summary)
    assert expected <= got, got  # the routes' arrangements hold (MDR changes add others)
    for group, sds, _ in got - expected:
        assert any(group == g and sds == s for g, s, _ in expected) or group == "Dawn Power"
    codes = case_codes(summary)
    assert codes["Accept with the Supplier's nominated MDR"] == ["SP000"]
    unsupported = codes["Reject a nominated MDR the contract does not support"]
    assert unsupported in ([], ["DS001", "SP000"])
    blank = codes["Reject a blank nomination the contract does not allow"]
    if scenario == "4a-hybrid-brand":
        assert blank == ["DS001", "SP000"]  # Breeze's contract requires a nomination
        assert unsupported == ["DS001", "SP000"]
    else:
        assert blank == []  # no contract in this model forbids a blank nomination
    assert summary["outcomes"].get("SP000", 0) >= int(SMALL) * 2


def test_1b_records_the_suppliers_data_sharing(cli: CliHarness, tmp_path: Path) -> None:
    import sqlalchemy as sa

    from openmhhs.store.database import Database
    from openmhhs.store.tables import supplier_data_sharing

    run(cli, tmp_path, "1b-fully-separated-data-sharing")
    with Database().begin() as connection:
        rows = {
            r.supplier: r.shares_consumption_data
            for r in connection.execute(sa.select(supplier_data_sharing))
        }
    assert rows == {"1111111111": True, "4444444444": False}


def _broken(tmp_path: Path, replace: tuple[str, str], name: str = "4a-hybrid-brand") -> Path:
    from importlib.resources import files

    text = files("openmhhs.data.scenarios").joinpath(f"{name}.yaml").read_text()
    assert replace[0] in text
    path = tmp_path / "broken.yaml"
    path.write_text(text.replace(*replace))
    return path


def problems(cli: CliHarness, path: Path) -> list[str]:
    result = cli("model", "check", str(path), "--json")
    assert result.exit_code == 1
    return [
        f"{p['message']} ({p['code']})" if p["code"] else p["message"]
        for p in orjson.loads(result.stdout)["problems"]
    ]


def test_check_explains_an_unsupported_mdr(cli: CliHarness, tmp_path: Path) -> None:
    path = _broken(
        tmp_path,
        (
            "propose: {sds: SDSB, mdr: MDRC, contract: C-BREEZE}",
            "propose: {sds: SDSB, mdr: SUPA, contract: C-BREEZE}",
        ),
    )
    assert problems(cli, path) == [
        "supplier SUPA proposes MDR SUPA, which the contract with SDS SDSB does not support (DS001)"
    ]


def test_check_explains_an_mdr_without_dcc_access(cli: CliHarness, tmp_path: Path) -> None:
    path = _broken(
        tmp_path,
        (
            "    mpid: MDRC\n    sec: acceded\n    dcc_user_roles: [meter_data_retriever]",
            "    mpid: MDRC\n    sec: acceded\n    dcc_user_roles: []",
        ),
    )
    assert "MDR MDRC holds no DCC Meter Data Retriever role and is not the supplier" in problems(cli, path)


def test_check_accepts_the_supplier_as_mdr_with_its_supplier_roles(cli: CliHarness) -> None:
    assert cli.json("model", "check", "3a-mixed")["valid"] is True  # SUPA has no MDR DCC role


def test_check_explains_a_forbidden_blank_nomination(cli: CliHarness, tmp_path: Path) -> None:
    path = _broken(
        tmp_path,
        ("propose: {sds: SDSB, mdr: MDRC, contract: C-BREEZE}", "propose: {sds: SDSB, contract: C-BREEZE}"),
    )
    assert problems(cli, path) == [
        "supplier SUPA (Breeze (white label)) leaves the MDR blank, but the contract C-BREEZE with SDS SDSB requires a nomination (DS001)"
    ]


@pytest.mark.parametrize(
    ("replace", "expected"),
    [
        (("share: 0.7", "share: 0.6"), "supplier SUPA: brand or customer-type shares add up to 0.9, not 1"),
        (
            ("propose: {sds: SUPA, contract: IN-HOUSE}", "propose: {sds: MDRC, contract: IN-HOUSE}"),
            "supplier SUPA (Aurora Energy) proposes MDRC as SDS, which does not hold the SDS role (REG1031)",
        ),
        (
            ("propose: {sds: SUPA, contract: IN-HOUSE}", "propose: {sds: SUPA, contract: NOPE}"),
            "supplier SUPA (Aurora Energy) names contract NOPE, not one it holds with SDS SUPA (SP002)",
        ),
        (
            ("mpid: SUPA", "mpid: SUP1"),
            "organisation Aurora Energy Supply Ltd mpid: MPID must be 4 upper-case letters, got 'SUP1' (OMH0103)",
        ),
        (
            ("mdrs: [MDRC, SDSB]", "mdrs: [MDRC, ZZZZ]"),
            "contract C-BREEZE mdrs: 'ZZZZ' is not one of the organisations (give its DIP ID or MPID)",
        ),
    ],
)
def test_check_explains_each_problem(
    cli: CliHarness, tmp_path: Path, replace: tuple[str, str], expected: str
) -> None:
    assert expected in problems(cli, _broken(tmp_path, replace))


def test_model_show_gives_a_copyable_file(cli: CliHarness, tmp_path: Path) -> None:
    text = cli("model", "show", "1a-fully-separated", ok=True).stdout
    path = tmp_path / "mine.yaml"
    path.write_text(text)
    assert cli.json("model", "check", str(path))["model"] == "1A"
    assert [r["scenario"] for r in cli.json("model", "list")] == scenario_names()


def test_model_run_refuses_a_database_that_already_has_mpans(cli: CliHarness, tmp_path: Path) -> None:
    run(cli, tmp_path, "1a-fully-separated")
    again = cli(
        "model", "run", "1a-fully-separated", "--mpans", "10", "--out", str(tmp_path / "again"), "--json"
    )
    assert again.exit_code == 1 and "new database" in orjson.loads(again.stdout)["error"]["message"]


# --- the main job, as `make demo` runs it ------------------------------------------------------


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    folder = tmp_path_factory.mktemp("demo")
    env = {k: v for k, v in os.environ.items() if k != "OPENMHHS_DB"}  # as `make demo` runs it
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "openmhhs",
            "demo",
            "--fresh",
            "--mpans",
            "400",
            "--out",
            str(folder / "out"),
            "--json",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return folder / "out" / "report.html", orjson.loads(done.stdout)


def test_demo_end_to_end(demo: tuple[Path, dict[str, Any]]) -> None:
    report, summary = demo
    assert summary["model"] == "4A" and summary["mpans"] == 400
    assert summary["gaps_first_day"] == 0 and summary["gaps_last_day"] == 0 and summary["failed"] == 0
    assert all(c["codes"] and c["codes"][0] == c["expected"] for c in summary["cases"])
    assert (
        summary["supplier_led_mdr_changes"] > 0
        and summary["sds_led_mdr_changes"] > 0
        and summary["changes_of_supplier"] > 0
    )
    meter = summary["meter_data"]  # two settlement days of meter data by default
    assert len(meter["days"]) == 2 and meter["mpan_days"] == 2 * 400
    assert meter["periods"] == meter["actual"] + meter["estimated"] and meter["access_refusals"] == 0
    assert meter["if021"] >= meter["mpan_days"]
    html = report.read_text()
    from openmhhs.market.report import SECTIONS

    for anchor, title, _ in SECTIONS:
        assert f'id="{anchor}"' in html and title in html
    for needle in (
        "1111111111",
        "SUPA",
        "MDRC",
        "DCCL",
        "IF-031 [DSApp]",
        "IF-037 [DSDeApp]",
        "IF-036 [DSAppActive]",
        "Breeze (white label)",
    ):
        assert needle in html
    import re

    # one self-contained file: scripts and styles inline, nothing loaded from anywhere else
    assert re.findall(r"""<(?:script|link|img|iframe)[^>]*\s(?:src|href)=""", html) == []


def test_report_figures_agree_with_the_database(demo: tuple[Path, dict[str, Any]]) -> None:
    """Every count the report states, recomputed from the run's database: each IF-031 has one
    outcome, each IF-034 [SDS-MDRUpdate] one "MDR change" outcome, and the text says so."""
    import sqlalchemy as sa

    from openmhhs.store.database import Database
    from openmhhs.store.tables import message

    report, summary = demo
    db = Database(f"sqlite:///{report.parent / 'openmhhs.db'}")  # the demo's own, under --out
    with db.read() as connection:
        sent = dict(
            connection.execute(
                sa.select(message.c.event_code, sa.func.count())
                .where(message.c.interface_id.in_(["IF-031", "IF-034"]))
                .group_by(message.c.event_code)
            ).all()
        )
    db.dispose()
    requests = sent["[DSApp]"] + sent["[MSApp]"]
    outcomes = summary["outcomes"]
    changes = sum(n for code, n in outcomes.items() if code.startswith("MDR change "))
    assert summary["appointments_requested"] == requests
    assert sum(outcomes.values()) - changes == requests
    assert changes == sent["[SDS-MDRUpdate]"] == summary["sds_led_mdr_changes"]
    html = report.read_text()
    assert f"{requests:,} appointment requests (IF-031" in html
    assert f"{changes:,} SDS-led MDR changes" in html and f"{requests + changes:,} in all" in html
    assert "<th>==</th>" not in html and "<td>==</td>" not in html
    sequence = html[html.index('id="sequence"') : html.index('id="completeness"')]
    assert "IF-037 [DSDeApp]" in sequence  # the diagram shows the de-appointment its text promises


def test_report_renders_in_headless_chromium_offline(
    demo: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    """The report in real Chromium: it loads nothing but itself, every chart is drawn, no
    diagram text runs outside its drawing, and every section shows in order (its colour bar)."""
    from PIL import Image

    from openmhhs.market.report import SECTIONS
    from tests.e2e.test_dashboard import ARTIFACTS, CHROMIUM_FLAGS, _require_chromium

    browser_path = _require_chromium()
    from playwright.sync_api import sync_playwright

    report, summary = demo
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "report.png"
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
            page.goto(report.as_uri())
            drawn = page.evaluate(
                "() => [...document.querySelectorAll('canvas[data-chart]')].map(c => [c.dataset.chart, !!Chart.getChart(c)])"
            )
            outcome_labels = page.evaluate(
                "() => Chart.getChart(document.querySelector('canvas[data-chart=outcomes]')).data.labels"
            )
            overflowing = page.evaluate(
                """() => [...document.querySelectorAll('svg text')].filter(t => {
                    const svg = t.ownerSVGElement.getBoundingClientRect(), box = t.getBoundingClientRect();
                    return box.width > 0 && (box.left < svg.left - 1 || box.right > svg.right + 1
                        || box.top < svg.top - 1 || box.bottom > svg.bottom + 1);
                }).map(t => t.textContent)"""
            )
            page.screenshot(path=str(shot), full_page=True)
        finally:
            context.close()
    assert errors == []
    assert requested == [report.as_uri()]  # nothing but the file itself
    assert drawn and all(ok for _, ok in drawn), drawn
    assert {"appointments", "outcomes", "volumes", "completeness", "consumption"} <= {n for n, _ in drawn}
    assert sorted(outcome_labels) == sorted(summary["outcomes"])  # the chart shows every code
    assert overflowing == []
    image = Image.open(shot).convert("RGB")
    width, height = image.size
    column = 12  # the left edge of every section's colour bar, clear of charts and tables
    pixels = [image.getpixel((width // 2, y)) for y in range(height)]
    edge = [image.getpixel((column + 40, y)) for y in range(height)]
    found = []
    for anchor, _, colour in SECTIONS:
        rgb = tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))
        rows = [
            y
            for y in range(height)
            if all(abs(a - b) <= 6 for a, b in zip(pixels[y], rgb, strict=True))
            or all(abs(a - b) <= 6 for a, b in zip(edge[y], rgb, strict=True))
        ]
        assert rows, f"section {anchor} not visible in the rendered report"
        found.append(rows[0])
    assert found == sorted(found)
