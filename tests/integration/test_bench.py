"""``openmhhs bench`` measures what it says on both backends: every figure comes with its floor
and the counts that show the work was really done. (No timing thresholds: figures are reported,
not asserted.)"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from openmhhs.bench import run_bench
from tests.conftest import CliHarness


@pytest.mark.postgres
def test_bench_on_postgresql(pg_url: str) -> None:
    # the server URL: each stage makes and drops its own database beside the fixture's
    result = run_bench(database=pg_url, mpans=150, rows=1_500, queries=300, repeat=1, http=False)
    assert result["backend"] == "postgresql"
    _check(result, mpans=150, rows=1_500, queries=300, http=False)


def test_bench_command_writes_json_and_a_table(cli: CliHarness, tmp_path: Path, db_url: str) -> None:
    if db_url.startswith("postgresql"):
        pytest.skip("the PostgreSQL bench has its own test")
    out = tmp_path / "bench.json"
    shown = cli("bench", "--mpans", "150", "--rows", "1500", "--queries", "300", "--out", str(out), ok=True)
    # the table (cells wrap at the console's width) names each stage
    assert "openmhhs bench on sqlite" in shown.stdout
    assert all(word in shown.stdout for word in ("appointments", "point", "DCC access", "Written:"))
    result = orjson.loads(out.read_bytes())
    assert result["backend"] == "sqlite"
    _check(result, mpans=150, rows=1_500, queries=300, http=True)
    refused = cli("bench", "--stage", "everything", "--json", ok=False)
    assert "OMH" in refused.stdout and "unknown stage" in refused.stdout


def _check(result: dict[str, object], *, mpans: int, rows: int, queries: int, http: bool) -> None:
    stages = result["stages"]
    assert isinstance(stages, dict)
    (appointments,) = stages["appointments"]
    assert appointments["appointed"] == mpans and appointments["failed"] == 0
    assert appointments["floor_rows"] == mpans and appointments["messages"] >= 7 * mpans
    assert appointments["ratio_flow_to_floor"] > 0 and appointments["peak_rss_mb"] > 0
    # the required-work floor parsed every message of the flow once and wrote the rows it wrote
    assert appointments["required_floor_messages_parsed"] == appointments["messages"]
    copied = appointments["required_floor_rows"]
    assert copied["message"] == appointments["messages"] and copied["delivery"] == appointments["deliveries"]
    assert copied["appointment"] == copied["appointment_request"] == copied["sds_portfolio"] == mpans
    assert copied["dcc_mdr_notice"] == copied["mdr_instruction"] == mpans
    assert appointments["required_floor_tables_not_copied"] == []
    assert appointments["ratio_flow_to_required_floor"] > 0 and appointments["bytes_per_appointment"] > 0
    (point,) = stages["point_query"]
    assert point["queries"] == queries and point["found"] == queries  # every MPAN has an SDS every day
    assert 0 < point["in_process"]["p50_us"] <= point["in_process"]["p99_us"]
    assert 0 < point["via_sqlalchemy"]["p50_us"] <= point["via_sqlalchemy"]["p99_us"]
    assert ("http" in point) is http
    if http:
        assert point["http"]["queries"] == queries and point["http"]["p50_us"] > 0
    (listing,) = stages["access_list"]
    assert listing["listed"] == rows and listing["floor_rows"] == rows + (rows + 2) // 3
    assert listing["peak_rss_mb"] > 0
