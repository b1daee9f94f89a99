"""Shared fixtures: a database per test on SQLite, and on PostgreSQL when configured.

PostgreSQL tests need ``OPENMHHS_TEST_PG_URL`` (an account allowed to create databases);
each test gets its own database. With ``OPENMHHS_REQUIRE_PG=1`` (as in CI) a missing
PostgreSQL fails the run instead of skipping.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest
from hypothesis import HealthCheck, settings
from typer.testing import Result

from openmhhs.store.database import Database, normalise_url

settings.register_profile("ci", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=60, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

PG_URL = os.environ.get("OPENMHHS_TEST_PG_URL", "").strip()
REQUIRE_PG = os.environ.get("OPENMHHS_REQUIRE_PG", "") == "1"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if PG_URL or REQUIRE_PG:
        return
    skip = pytest.mark.skip(reason="PostgreSQL not configured (set OPENMHHS_TEST_PG_URL)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


def _plain(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    if not PG_URL:
        pytest.fail("OPENMHHS_REQUIRE_PG=1 but OPENMHHS_TEST_PG_URL is not set")
    name = f"openmhhs_t_{uuid.uuid4().hex[:12]}"
    admin = _plain(PG_URL)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = admin.rpartition("/")
    url = f"{base}/{name}"
    try:
        yield normalise_url(url)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'openmhhs.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same test on both backends."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'openmhhs.db'}"
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    database.migrate()
    yield database
    database.dispose()


def find_spec_dir() -> Path | None:
    """The official DIP YAML (../shared/dip-spec or OPENMHHS_DIP_SPEC), if it is there."""
    candidates = [
        Path(os.environ.get("OPENMHHS_DIP_SPEC", "")),
        Path(__file__).resolve().parents[2] / "shared" / "dip-spec",
    ]
    for candidate in candidates:
        if str(candidate) not in ("", ".") and (candidate / "SubmitEvents-unresolved.yaml").exists():
            return candidate
    if os.environ.get("OPENMHHS_REQUIRE_SPEC", "") == "1":
        pytest.fail("OPENMHHS_REQUIRE_SPEC=1 but ../shared/dip-spec is not there")
    return None


@pytest.fixture
def spec_dir() -> Path:
    """The official DIP YAML, or a skip when it is absent."""
    found = find_spec_dir()
    if found is not None:
        return found
    pytest.skip(
        "the official DIP spec is not beside this checkout (../shared/dip-spec); "
        "set OPENMHHS_DIP_SPEC to run conformance tests"
    )


@pytest.fixture
def cli(db_url: str, monkeypatch: pytest.MonkeyPatch) -> CliHarness:
    """Run ``openmhhs`` commands in-process against the test's database."""
    monkeypatch.setenv("OPENMHHS_DB", db_url)
    monkeypatch.setenv("COLUMNS", "200")
    return CliHarness()


class CliHarness:
    def __call__(self, *args: str, ok: bool | None = None) -> Result:
        from typer.testing import CliRunner

        from openmhhs.cli.main import app

        result = CliRunner().invoke(app, list(args), catch_exceptions=False)
        if ok is True:
            assert result.exit_code == 0, result.output
        if ok is False:
            assert result.exit_code != 0, result.output
        return result

    def json(self, *args: str) -> Any:
        result = self(*args, "--json")
        return orjson.loads(result.stdout)
