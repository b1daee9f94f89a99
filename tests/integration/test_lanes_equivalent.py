"""The batch lane and the per-message lane are one market (issue 13 item 3): the same mixed
scenario played through each, on its own database, leaves identical tables (surrogate ids
aside) and byte-identical message bodies.

The scenario is the demo's (``market.driver.run_market`` on the 4A hybrid model: two SDSs,
three MDRs, a Metering Service): the SDS's decision cases (SP000, DS001 twice, each refusal
followed by the corrected request), every MPAN's first appointments, Supplier-led and SDS-led
changes of MDR, changes of supplier (and with them of SDS, with de-appointments), ten days of
activations; then requests the RS and the SDS refuse (REG0000, REG1024/REG1034, REG1091,
REG1099, SP0xx) and a request superseded by a later one (REG1089). The clock is the market's
(noon of each day) and every random part (unique prefixes, transaction ids) is a counter, so
that the lanes can be compared byte for byte.
"""

from __future__ import annotations

import itertools
import secrets
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from importlib.resources import files
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa

from openmhhs.dip import build
from openmhhs.dip.build import MessageFactory, Sender, Site
from openmhhs.dip.schema import DipMessageStruct
from openmhhs.dip.vocabulary import Scenario
from openmhhs.ids import DipId, DipRole, MpanCore, Mpid
from openmhhs.market.description import MarketDescription, parse_description
from openmhhs.market.driver import _Run, outcome_counts, run_market
from openmhhs.market.lane import BatchLane
from openmhhs.market.loader import load_market, register_population
from openmhhs.market.population import Member, population
from openmhhs.store.database import Database, normalise_url
from openmhhs.store.tables import delivery, message, metadata
from openmhhs.supplier.requests import request_data_service
from tests.conftest import PG_URL

SCENARIO = "4a-hybrid-brand"
MPANS = 40


@pytest.fixture
def counters(monkeypatch: pytest.MonkeyPatch) -> dict[int, Iterator[int]]:
    """Every ``secrets.token_hex`` (market prefixes) and DIP transaction id from counters, which
    each play starts afresh (``counters.clear()``)."""
    counters: dict[int, Iterator[int]] = {}

    def token_hex(nbytes: int | None = 32) -> str:
        width = 2 * (nbytes or 32)  # one counter per use: prefixes (3 bytes), transaction ids (8)
        counter = counters.setdefault(width, itertools.count(1))
        return f"{next(counter):0{width}x}"[-width:]

    monkeypatch.setattr(secrets, "token_hex", token_hex)
    monkeypatch.setattr(build, "transaction_suffix", lambda: token_hex(8))
    return counters


def _description() -> tuple[MarketDescription, str]:
    text = files("openmhhs.data.scenarios").joinpath(f"{SCENARIO}.yaml").read_text(encoding="utf-8")
    return parse_description(text, source=SCENARIO), text


def _refused_requests(
    run: _Run, members: list[Member], day: Any, now: datetime, used: set[str]
) -> list[DipMessageStruct]:
    """IF-031s the RS or the SDS refuses, and one request superseded by the next, each for an
    MPAN served in-house (by its Supplier as SDS) that no earlier step changed."""
    plan = members[0].plan
    chosen = [m for m in members if m.route.sds == plan.supplier and str(m.record.mpan) not in used][:6]
    first = chosen[0]
    out: list[DipMessageStruct] = []
    stranger = Member(
        # not registered: REG0000
        type(first.record)(
            mpan=MpanCore.from_stem("209999999999"),
            distributor=first.record.distributor,
            gsp_group=first.record.gsp_group,
            suppliers=first.record.suppliers,
        ),
        first.plan,
        first.group,
        first.model,
        first.route,
    )
    for member, effective in (
        (stranger, day),
        (chosen[1], day - timedelta(days=3)),  # in the past
        (chosen[2], day + timedelta(days=400)),  # too far ahead
    ):
        out.append(
            run.ds_request(
                member,
                plan=member.plan,
                route=member.route,
                day=day,
                scenario=Scenario.CSP,
                effective=effective,
                now=now,
            )
        )
    site = Site(chosen[3].record.mpan, chosen[3].record.distributor, chosen[3].record.gsp_group)
    factory = MessageFactory(Sender(plan.supplier, DipRole.SUP), unique_prefix="eq")
    sds = DipId("2222222222")
    out.append(  # the SDS's MPID does not match its DIP ID: REG1091
        request_data_service(
            factory,
            site=site,
            rs=run.rs,
            sds=sds,
            sds_mpid=Mpid("ZZZZ"),
            effective_from=day + timedelta(days=5),
            scenario=Scenario.CSP,
            contract_reference="C-BREEZE",
            now=now,
            mdr=DipId("3333333333"),
            mdr_mpid=Mpid("MDRC"),
        )
    )
    out.append(  # a contract the SDS does not hold: the SDS refuses (SP0xx)
        request_data_service(
            factory,
            site=Site(chosen[4].record.mpan, chosen[4].record.distributor, chosen[4].record.gsp_group),
            rs=run.rs,
            sds=sds,
            sds_mpid=Mpid("SDSB"),
            effective_from=day + timedelta(days=5),
            scenario=Scenario.CSP,
            contract_reference="NO-SUCH-CONTRACT",
            now=now,
            mdr=DipId("3333333333"),
            mdr_mpid=Mpid("MDRC"),
        )
    )
    for _ in range(2):  # the first is superseded by the second (REG1089)
        out.append(
            request_data_service(
                factory,
                site=Site(chosen[5].record.mpan, chosen[5].record.distributor, chosen[5].record.gsp_group),
                rs=run.rs,
                sds=sds,
                sds_mpid=Mpid("SDSB"),
                effective_from=day + timedelta(days=5),
                scenario=Scenario.CSP,
                contract_reference="C-BREEZE",
                now=now,
                mdr=DipId("3333333333"),
                mdr_mpid=Mpid("MDRC"),
            )
        )
    return out


def _play(url: str, lane: str) -> None:
    description, text = _description()
    db = Database(url)
    try:
        members = population(description, size=MPANS, seed=7)
        with db.begin() as connection:
            load_market(connection, description, source=text, at=datetime(2025, 6, 1, tzinfo=UTC))
            register_population(connection, members)
        result = run_market(
            db, description, members, seed=7, mdr_change_share=0.1, change_of_supplier_share=0.1, lane=lane
        )
        used = {
            *(c.mpan for c in result.cases if c.mpan),
            *result.changes_of_supplier,
            *result.supplier_led_mdr_changes,
            *result.sds_led_mdr_changes,
        }
        day = description.start + timedelta(days=11)
        run = _Run(db, description, members, lambda *_: None, 7, lane)
        market = run.new_market(day)
        run.send(market, _refused_requests(run, members, day, market.now, used))
        run.send(run.new_market(day + timedelta(days=6)), [])  # their days pass
        for later in range(7, 9):
            run.new_market(day + timedelta(days=later)).run()
    finally:
        db.dispose()


def _tables(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows without their surrogate ids, a delivery named by its message's
    sender unique reference; sorted."""
    db = Database(url)
    found: dict[str, list[tuple[Any, ...]]] = {}
    try:
        with db.read() as connection:
            references = dict(
                connection.execute(sa.select(message.c.id, message.c.sender_unique_reference)).all()
            )
            for table in metadata.sorted_tables:
                columns = [c for c in table.c if c.name != "id"]
                rows = [tuple(r) for r in connection.execute(sa.select(*columns))]
                if table is delivery:
                    at = [c.name for c in columns].index("message_id")
                    rows = [(*r[:at], references[r[at]], *r[at + 1 :]) for r in rows]
                found[table.name] = sorted(rows, key=repr)
    finally:
        db.dispose()
    return found


@pytest.fixture
def second_url(db_url: str, tmp_path: Path) -> Iterator[str]:
    """A second fresh database on ``db_url``'s backend."""
    if db_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'second.db'}"
        return
    name = f"openmhhs_t_{uuid.uuid4().hex[:12]}"
    admin = PG_URL.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield normalise_url(f"{admin.rpartition('/')[0]}/{name}")
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_the_batch_lane_leaves_what_the_per_message_lane_leaves(
    db_url: str, second_url: str, counters: dict[int, Iterator[int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    played: list[str] = []
    in_memory = BatchLane._in_memory
    monkeypatch.setattr(BatchLane, "_per_message", lambda *a: pytest.fail("a chunk was replayed"))
    monkeypatch.setattr(BatchLane, "_in_memory", lambda *a: played.append("chunk") or in_memory(*a))
    _play(db_url, "batch")
    assert len(played) >= 8  # every step of the scenario went through the batch lane
    counters.clear()
    _play(second_url, "message")
    batch, per_message = _tables(db_url), _tables(second_url)
    assert batch["message"] and batch["appointment"] and batch["dcc_mdr_notice"]
    for name in per_message:
        assert batch[name] == per_message[name], f"table {name} differs between the lanes"
    codes = set(_outcomes(second_url))
    assert {"SP000", "DS001", "REG0000", "REG1089", "REG1091"} <= codes, codes
    assert any(c.startswith("SP0") and c != "SP000" for c in codes), codes
    assert any(c.startswith("REG10") and c not in ("REG1089", "REG1091") for c in codes), codes
    assert any(c.startswith("MDR change") for c in codes), codes


def _outcomes(url: str) -> list[str]:
    db = Database(url)
    try:
        return list(outcome_counts(db))
    finally:
        db.dispose()
