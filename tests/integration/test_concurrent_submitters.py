"""Several `openmhhs submit` processes at once, on the same and on different MPANs, apply
every message exactly once, in order per MPAN, on PostgreSQL as on SQLite (issue 12,
finding 2): no doubled IF-032, DCC notice or portfolio row, no unique-key failure, no
"database is locked", and the one-appointment-per-day invariant holds."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import orjson
import pytest
import sqlalchemy as sa

from openmhhs.dip.parse import encode
from openmhhs.failpoints import FAILPOINTS_VAR, arm
from openmhhs.store.database import Database
from openmhhs.store.market_repo import MarketStore
from openmhhs.store.tables import appointment, dcc_mdr_notice, delivery, message, sds_portfolio
from tests.conftest import CliHarness
from tests.market_harness import AURORA, DAWN, TODAY, Market

SUBMITTERS = 4
PER_FILE = 20


@pytest.fixture
def market(cli: CliHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Market:
    monkeypatch.setenv("OPENMHHS_TODAY", TODAY.isoformat())
    market = Market(cli, tmp_path)
    market.contract()
    market.contract("C-DAWN-1", supplier=DAWN)
    return market


def test_concurrent_submitters_apply_each_message_once(market: Market, db_url: str, tmp_path: Path) -> None:
    shared = [market.mpan() for _ in range(PER_FILE)]  # every submitter asks for these
    files = []
    for index in range(SUBMITTERS):
        own = [market.mpan() for _ in range(PER_FILE)]
        supplier = AURORA if index % 2 == 0 else DAWN
        ref = "C-AURORA-1" if supplier == AURORA else "C-DAWN-1"
        messages = [market.dsapp(core) for core in own]
        if supplier == AURORA:  # the shared MPANs' supplier asks for them, twice over
            messages += [market.dsapp(core, ref=ref) for core in shared]
        path = tmp_path / f"submitter-{index}.json"
        path.write_bytes(encode(messages))
        files.append(path)
    env = {**os.environ, "OPENMHHS_DB": db_url, "OPENMHHS_TODAY": TODAY.isoformat(), "COLUMNS": "200"}
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "openmhhs", "submit", str(path), "--json"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for path in files
    ]
    outputs = [p.communicate(timeout=600) for p in processes]
    for process, (out, err) in zip(processes, outputs, strict=True):
        assert b"Traceback" not in err and b"database is locked" not in err
        results = orjson.loads(out)["results"]
        assert all(r["dipCode"] == "MSG0000" for r in results)
        refused = any(r["code"] not in ("SP000", "MSG0000") for r in results)  # e.g. REG1089
        assert process.returncode == (1 if refused else 0), err.decode()[-3000:]

    db = Database(db_url)
    try:
        with db.read() as connection:
            deliveries = Counter(
                connection.execute(sa.select(delivery.c.state, delivery.c.outcome_detail)).all()
            )
            requests = (
                connection.execute(
                    sa.select(message.c.correlation_id).where(message.c.interface_id == "IF-031")
                )
                .scalars()
                .all()
            )
            initial = Counter(
                connection.execute(
                    sa.select(message.c.correlation_id).where(message.c.event_code == "[DSAppInitialResp]")
                ).scalars()
            )
            notices = Counter(
                connection.execute(
                    sa.select(dcc_mdr_notice.c.mpan, dcc_mdr_notice.c.mdr, dcc_mdr_notice.c.valid_from)
                ).all()
            )
            portfolio = connection.execute(
                sa.select(
                    sds_portfolio.c.sds,
                    sds_portfolio.c.mpan,
                    sds_portfolio.c.valid_from,
                    sds_portfolio.c.valid_to,
                )
            ).all()
            live = connection.execute(
                sa.select(
                    appointment.c.mpan,
                    appointment.c.service,
                    appointment.c.valid_from,
                    appointment.c.valid_to,
                )
                .where(appointment.c.retired_at.is_(None))
                .order_by(appointment.c.mpan, appointment.c.service, appointment.c.valid_from)
            ).all()
    finally:
        db.dispose()
    assert {state for state, _ in deliveries} <= {"done", "mailbox"}, deliveries
    asked = list(requests)
    assert len(asked) == SUBMITTERS * PER_FILE + (SUBMITTERS // 2) * PER_FILE
    assert all(initial[c] == 1 for c in asked), [c for c in asked if initial[c] != 1][:5]
    # an MPAN asked for once gets one DCC notice; one asked for by two submitters may be
    # appointed twice over (one exchange after the other), as it would be one run at a time
    once = [notices[key] for key in notices if key[0] not in set(shared)]
    assert len(once) == SUBMITTERS * PER_FILE and set(once) == {1}
    by_key: dict[tuple[str, str], list[tuple[object, object]]] = {}
    for sds, core, start, end in portfolio:
        by_key.setdefault((sds, core), []).append((start, end))
    for periods in by_key.values():
        periods.sort()
        for (_, end), (start, _) in itertools.pairwise(periods):
            assert end is not None and end <= start, periods  # no overlapping portfolio rows
    for before, after in itertools.pairwise(live):
        if (before.mpan, before.service) == (after.mpan, after.service):
            assert before.valid_to is not None and before.valid_to <= after.valid_from


def test_a_submitter_killed_mid_batch_loses_and_doubles_nothing(
    market: Market, db_url: str, tmp_path: Path
) -> None:
    files, references = [], []
    for index in range(3):
        messages = [market.dsapp(market.mpan()) for _ in range(PER_FILE)]
        references.append({m.common_block.s1.sender_unique_reference for m in messages})
        path = tmp_path / f"submitter-{index}.json"
        path.write_bytes(encode(messages))
        files.append(path)
    failpoints = tmp_path / "failpoints"
    arm(failpoints, "bus.drain.before-commit")  # the first batch to commit dies, claims held
    env = {
        **os.environ,
        "OPENMHHS_DB": db_url,
        "OPENMHHS_TODAY": TODAY.isoformat(),
        FAILPOINTS_VAR: str(failpoints),
    }
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "openmhhs", "submit", str(path)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for path in files
    ]
    errors = [p.communicate(timeout=600)[1] for p in processes]
    codes = [p.returncode for p in processes]
    assert sorted(codes)[0] == -signal.SIGKILL and codes.count(0) == 2, (codes, errors)
    rerun = subprocess.run(
        [sys.executable, "-m", "openmhhs", "market", "run"], env=env, capture_output=True, check=False
    )
    assert rerun.returncode == 0, rerun.stderr.decode()[-2000:]
    db = Database(db_url)
    try:
        with db.read() as connection:
            states = Counter(connection.execute(sa.select(delivery.c.state)).scalars().all())
            logged = MarketStore(connection).known_references(set().union(*references))
            asked = (
                connection.execute(
                    sa.select(message.c.correlation_id).where(message.c.interface_id == "IF-031")
                )
                .scalars()
                .all()
            )
            initial = Counter(
                connection.execute(
                    sa.select(message.c.correlation_id).where(message.c.event_code == "[DSAppInitialResp]")
                )
                .scalars()
                .all()
            )
    finally:
        db.dispose()
    assert set(states) <= {"done", "mailbox"}, states  # nothing left pending, nothing failed
    for mine in references:  # each submission whole or not at all
        assert mine <= logged or not mine & logged
    assert asked and all(initial[c] == 1 for c in asked)  # every request answered exactly once
