"""``openmhhs bench``: the figures of docs/scaling.md, each measured beside its floor in one run.

Every stage runs in its own fresh process (multiprocessing, spawn) on its own fresh database,
so the peak resident memory reported for a stage is that stage's alone:

- ``appointments``: the full in-process flow per MPAN (IF-031 built and accepted, validated by
  the Registration Service, IF-032, IF-033 to the SDS, its IF-034 decision, IF-035/IF-036 and
  the DCC's [DCC-MDROutcome], every message schema-checked and persisted) beside its floor:
  the same messages only parsed and serialised with orjson, plus one bare insert per
  appointment row into the same database. The ratio is flow time / floor time.
- ``point_query``: "which SDS and MDR has MPAN M on day D", p50/p99 in microseconds: in-process
  through the readers' point query (``store.queries.ServedOn``, a prepared statement on the
  driver's cursor), through SQLAlchemy Core (``MarketStore.data_service_on``) and over HTTP (the
  query API under uvicorn on loopback), beside the bare statement on the driver's cursor, on a
  table of ``--rows`` appointments.
- ``access_list``: the DCC's daily list (every MPAN with its MDR's 4-character id as of the
  day) from the DCC's own [DCC-MDROutcome] records for ``--rows`` appointments, streamed to a
  CSV file: seconds and peak memory, beside the floor of reading the same records with a bare
  ``SELECT``.

PostgreSQL: ``--database`` names a server account allowed to create databases; each stage
makes its own database and drops it afterwards.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import resource
import socket
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from importlib.resources import files
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa

from openmhhs.bulk import gc_paused
from openmhhs.dataservice.contracts import Contract
from openmhhs.dcc.access_list import write_access_list
from openmhhs.dip import schema as s
from openmhhs.dip.build import MessageFactory, Sender, Site
from openmhhs.dip.parse import encode, parse
from openmhhs.dip.vocabulary import Scenario
from openmhhs.identity.m16_format import read_json
from openmhhs.ids import DipId, DipRole, GspGroup, MpanCore, Mpid
from openmhhs.market.bus import Market
from openmhhs.market.workers import Playing, Workers
from openmhhs.periods import Period
from openmhhs.registration.model import MpanRecord, SupplierPeriod
from openmhhs.store.bulk import bulk_insert
from openmhhs.store.database import Database
from openmhhs.store.footprint import footprint, table_bytes
from openmhhs.store.identity_repo import ImportMode, import_isd
from openmhhs.store.market_repo import MarketStore
from openmhhs.store.queries import ServedOn
from openmhhs.store.tables import appointment, dcc_mdr_notice, message, metadata
from openmhhs.supplier.requests import request_data_service

__all__ = ["LANES", "STAGES", "run_bench"]

TODAY = date(2025, 7, 1)
SUPPLIER, SDS, RS, LDSO = DipId("1111111111"), DipId("2222222222"), DipId("9000000001"), DipId("9000000020")
STAGES = ("appointments", "point_query", "access_list")


def _rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _cores(n: int, area: str = "20") -> list[str]:
    return [str(MpanCore.from_stem(f"{area}{i:010d}")) for i in range(1, n + 1)]


# -- databases --------------------------------------------------------------------------------------
@contextmanager
def _fresh_database(server: str | None) -> Iterator[Database]:
    """A new, empty database: a temporary SQLite file, or a new PostgreSQL database on ``server``."""
    if server is None or server.startswith("sqlite"):
        with tempfile.TemporaryDirectory(prefix="openmhhs-bench-") as folder:
            db = Database(f"sqlite:///{Path(folder) / 'bench.db'}")
            try:
                yield db
            finally:
                db.dispose()
        return
    import psycopg  # noqa: PLC0415 - PostgreSQL only

    admin = server.replace("postgresql+psycopg://", "postgresql://")
    name = f"openmhhs_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    base = admin.rpartition("/")[0]
    db = Database(f"{base}/{name}")
    try:
        yield db
    finally:
        db.dispose()
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _records(cores: list[str], distributor: DipId, gsp: GspGroup) -> list[MpanRecord]:
    """Registration data for ``cores``, supplied by the bench's Supplier since before the run."""
    since = Period(date(2025, 5, 1))
    return [
        MpanRecord(
            mpan=MpanCore(core),
            distributor=distributor,
            gsp_group=gsp,
            suppliers=(SupplierPeriod(SUPPLIER, since),),
        )
        for core in cores
    ]


def _load_reference_data(db: Database, cores: list[str]) -> None:
    with db.begin() as connection, gc_paused():
        isd = files("openmhhs.data").joinpath("market_isd.json").read_bytes()
        import_isd(connection, read_json(isd), mode=ImportMode.REPLACE)
        store = MarketStore(connection)
        store.add_mpans(_records(cores, LDSO, GspGroup("_H")))
        store.add_contract(
            Contract(
                sds=SDS, supplier=SUPPLIER, reference="C-1", supported_mdrs=frozenset({SDS}), default_mdr=SDS
            )
        )


# -- stage: appointments ------------------------------------------------------------------------------
LANES = ("batch", "message")
"""The lanes the appointments stage can time (``--lane``): the batch lane and the per-message one."""


def _appointment_requests(market: Market, cores: list[str]) -> list[s.IF031DSApp]:
    factory = MessageFactory(Sender(SUPPLIER, DipRole.SUP))
    return [
        request_data_service(
            factory,
            site=Site(MpanCore(core), LDSO, GspGroup("_H")),
            rs=RS,
            sds=SDS,
            sds_mpid=Mpid("SDSB"),
            effective_from=TODAY,
            scenario=Scenario.CSP,
            contract_reference="C-1",
            now=market.now,
        )
        for core in cores
    ]


def _flow(db: Database, cores: list[str], lane: str, workers: int) -> dict[str, Any]:
    """The full flow for ``cores`` through one lane: seconds, and what it did."""
    market = Market(db, today=TODAY, batch_size=500)
    delivered = produced = failed = 0
    with Workers(workers if lane == "batch" else 1) as pool:
        # the worker processes' start (a Python with the market's modules each) is reported
        # beside the flow, not in it: a migration pays it once for hours of work
        workers_start = pool.start()
        started = time.perf_counter()
        playing: list[Playing] = []  # the batch lane's pieces, each handed over as migrate does
        for offset in range(0, len(cores), 2_000):
            requests = _appointment_requests(market, cores[offset : offset + 2_000])
            if lane == "batch":
                playing.append(
                    pool.begin(db.url, today=market.today, now=market.now, messages=requests, market=market)
                )
                continue
            failed += sum(1 for r in market.send(requests) if not r.accepted)
            stats = market.run()
            delivered += stats.delivered
            produced += stats.produced
            failed += stats.failed
        for piece in playing:
            played, _ = piece.result()
            failed += played.refused + played.failed
            delivered += played.delivered
            produced += played.produced
        flow = time.perf_counter() - started
    with db.read() as connection:
        appointed = connection.execute(
            sa.select(sa.func.count()).select_from(appointment).where(appointment.c.service == "DS")
        ).scalar_one()
    return {
        "lane": lane,
        "workers": workers if lane == "batch" else 1,
        "appointed": appointed,
        "failed": failed,
        "deliveries": delivered,
        "flow_s": round(flow, 3),
        "appointments_per_s": round(appointed / flow),
        "workers_start_s": round(workers_start, 3),
    }


def _appointments(
    server: str | None, mpans: int, lanes: tuple[str, ...] = ("message",), workers: int = 1
) -> dict[str, Any]:
    cores = _cores(mpans)
    figures: dict[str, dict[str, Any]] = {}
    for lane in lanes[:-1]:  # each lane on its own fresh database
        with _fresh_database(server) as db:
            _load_reference_data(db, cores)
            figures[lane] = _flow(db, cores, lane, workers)
    with _fresh_database(server) as db:
        _load_reference_data(db, cores)
        first_message = _last_message_id(db)
        marks = _marks(db)  # what the tables held before the flow: the floor copies what it adds
        figures[lanes[-1]] = _flow(db, cores, lanes[-1], workers)
        flow_rss = _rss_mb()  # before the floor reads every message back into memory
        with db.read() as connection:
            bodies = [
                bytes(r[0])
                for r in connection.execute(sa.select(message.c.body).where(message.c.id > first_message))
            ]
        floor, floor_rows = _floor(db, bodies, cores)
        first = figures[lanes[0]]
        required = _required_work_floor(
            db,
            server,
            marks,
            appointed=figures[lanes[-1]]["appointed"],
            flow_s=figures[lanes[-1]]["flow_s"],
            chunk=2_000,
        )
        return required | {
            "mpans": mpans,
            "appointed": first["appointed"],
            "failed": first["failed"],
            "messages": len(bodies),
            "deliveries": first["deliveries"],
            "flow_s": first["flow_s"],
            "appointments_per_s": first["appointments_per_s"],
            "lanes": figures,
            "floor_s": round(floor, 3),
            "floor_rows": floor_rows,
            "floor_appointments_per_s": round(mpans / floor),
            "ratio_flow_to_floor": round(first["flow_s"] / floor, 1),
            "ratio_by_lane": {lane: round(f["flow_s"] / floor, 1) for lane, f in figures.items()},
            "ratio_to_required_floor_by_lane": {
                lane: round(f["flow_s"] / required["required_floor_s"], 1) for lane, f in figures.items()
            },
            "footprint_lane": lanes[-1],
            "flow_peak_rss_mb": flow_rss,
        }


def _last_message_id(db: Database) -> int:
    with db.read() as connection:
        return MarketStore(connection).last_message_id()


def _floor(db: Database, bodies: list[bytes], cores: list[str]) -> tuple[float, int]:
    """The same messages parsed and serialised with orjson, and one bare insert per appointment."""
    scratch = sa.Table(
        "bench_floor",
        sa.MetaData(),
        sa.Column("mpan", sa.String(13), nullable=False),
        sa.Column("provider", sa.String(10), nullable=False),
        sa.Column("mdr", sa.String(10)),
        sa.Column("valid_from", sa.Date, nullable=False),
    )
    with db.begin() as connection:
        scratch.create(connection)
    started = time.perf_counter()
    for body in bodies:
        orjson.dumps(orjson.loads(body))
    rows = [{"mpan": core, "provider": str(SDS), "mdr": str(SDS), "valid_from": TODAY} for core in cores]
    with db.begin() as connection:
        for offset in range(0, len(rows), 2_000):
            connection.execute(sa.insert(scratch), rows[offset : offset + 2_000])
    elapsed = time.perf_counter() - started
    with db.begin() as connection:
        scratch.drop(connection)
    return elapsed, len(rows)


# -- the required-work floor and the footprint --------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Marks:
    """What the database held before the flow: per table its rows and largest ``id`` (None
    without one), and its bytes (``store.footprint.table_bytes``)."""

    tables: dict[str, tuple[int, int | None]]
    table_bytes: dict[str, int]


def _marks(db: Database) -> _Marks:
    tables: dict[str, tuple[int, int | None]] = {}
    with db.read() as connection:
        for table in metadata.sorted_tables:
            count = connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            top = (
                connection.execute(sa.select(sa.func.max(table.c.id))).scalar_one()
                if "id" in table.c
                else None
            )
            tables[table.name] = (int(count), None if top is None else int(top))
        return _Marks(tables, table_bytes(connection))


def _written(
    db: Database, marks: _Marks
) -> tuple[dict[str, tuple[list[str], list[tuple[Any, ...]]]], list[bytes], list[str]]:
    """What the flow wrote, as the driver reads it back: per table (in metadata order) its
    columns (less the ``id`` the database numbers) and new rows; the messages' bodies as
    logged; tables that changed without new rows to tell apart (reported, not copied)."""
    written: dict[str, tuple[list[str], list[tuple[Any, ...]]]] = {}
    unclear: list[str] = []
    with db.read() as connection:
        raw: Any = connection.connection.dbapi_connection
        cursor = raw.cursor()
        for table in metadata.sorted_tables:
            count, top = marks.tables[table.name]
            columns = [c.name for c in table.columns if c.name != "id"]
            select = f"SELECT {', '.join(columns)} FROM {table.name}"
            if top is not None or ("id" in table.c and count == 0):
                cursor.execute(f"{select} WHERE id > {int(top or 0)} ORDER BY id")
            elif count == 0:
                cursor.execute(select)
            else:
                now = connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
                if now != count:
                    unclear.append(str(table.name))
                continue
            rows = [tuple(row) for row in cursor.fetchall()]
            if rows:
                written[str(table.name)] = (columns, rows)
        cursor.close()
        first = marks.tables[message.name][1] or 0
        bodies = [m.body for m in MarketStore(connection).messages(after_id=first)]
    return written, bodies, unclear


def _required_work_floor(
    db: Database,
    server: str | None,
    marks: _Marks,
    *,
    appointed: int,
    flow_s: float,
    chunk: int,
) -> dict[str, Any]:
    """The work the flow cannot avoid, timed in this process: every message of the flow parsed
    once (``dip.parse.parse``, schema and semantic checks) and encoded (``dip.parse.encode``),
    and the rows the flow wrote (messages with their encoded bodies, deliveries, appointments,
    requests, portfolio, DCC notices, MDR instructions …, copied from the run's own tables)
    written into a fresh database of the same schema with one ``executemany`` per table and
    one commit per chunk of ``chunk`` appointments' worth. (Index columns the log keeps as keys
    are copied as the run computed them; bodies are encoded and stored as the log stores them.)
    Beside it, the bytes per appointment the flow added to its database, per table
    (``store.footprint``)."""
    with db.read() as connection:
        grown = footprint(connection, appointments=appointed, before=marks.table_bytes).as_json()
    written, bodies, unclear = _written(db, marks)
    chunks = max(1, -(-appointed // chunk))
    body_at = written[message.name][0].index("body") if message.name in written else None
    with _fresh_database(server) as floor_db:
        floor_db.migrate()
        dialect = floor_db.engine.dialect
        encode_body = message.c.body.type.bind_processor(dialect)
        sqlite = dialect.name == "sqlite"
        statements = {
            name: f"INSERT INTO {name} ({', '.join(columns)}) VALUES "
            f"({', '.join(['?' if sqlite else '%s'] * len(columns))})"
            for name, (columns, _) in written.items()
        }
        with floor_db.engine.connect() as connection:
            raw: Any = connection.connection.dbapi_connection
            cursor = raw.cursor()
            raw.commit()
            with gc_paused():
                started = time.perf_counter()
                for k in range(chunks):
                    if sqlite:  # the engine's SQLite connections autocommit unless told BEGIN
                        cursor.execute("BEGIN IMMEDIATE")
                    part = slice(len(bodies) * k // chunks, len(bodies) * (k + 1) // chunks)
                    encoded = [encode(parse(body, now=None).message) for body in bodies[part]]
                    for name, (_, rows) in written.items():
                        mine = rows[len(rows) * k // chunks : len(rows) * (k + 1) // chunks]
                        if name == message.name and body_at is not None and len(mine) == len(encoded):
                            mine = [
                                (*row[:body_at], encode_body(e) if encode_body else e, *row[body_at + 1 :])
                                for row, e in zip(mine, encoded, strict=True)
                            ]
                        cursor.executemany(statements[name], mine)
                    raw.commit()
                elapsed = time.perf_counter() - started
            cursor.close()
    return {
        "required_floor_s": round(elapsed, 3),
        "required_floor_appointments_per_s": round(appointed / elapsed),
        "required_floor_messages_parsed": len(bodies),
        "required_floor_rows": {str(name): len(rows) for name, (_, rows) in written.items()},
        "required_floor_chunks": chunks,
        "required_floor_tables_not_copied": unclear,
        "ratio_flow_to_required_floor": round(flow_s / elapsed, 1),
        "bytes_per_appointment": grown["bytes_per_appointment"],
        "footprint": grown,
    }


# -- appointment rows for the read stages ----------------------------------------------------------------
def _bulk_appointments(db: Database, rows: int) -> list[str]:
    """``rows`` MPANs, each with one current Data Service row (a third of them with an MDR change
    half-way through the fortnight, so that the day matters), loaded directly: the read stages
    measure reading, not the flow."""
    db.migrate()
    cores = _cores(rows, area="14")
    at = datetime(2025, 6, 1, tzinfo=UTC)
    change = TODAY + timedelta(days=7)
    mdrs = [("3333333333", "MDRC"), ("2222222222", "SDSB")]
    batch: list[dict[str, Any]] = []
    with db.begin() as connection, gc_paused():
        for n, core in enumerate(cores):
            base = {
                "mpan": core,
                "service": "DS",
                "provider": str(SDS),
                "provider_mpid": "SDSB",
                "supplier": str(SUPPLIER),
                "recorded_at": at,
            }
            mdr, mdr_mpid = mdrs[n % 2]
            if n % 3 == 0:
                other, other_mpid = mdrs[(n + 1) % 2]
                batch.append(
                    base | {"mdr": mdr, "mdr_mpid": mdr_mpid, "valid_from": TODAY, "valid_to": change}
                )
                batch.append(
                    base | {"mdr": other, "mdr_mpid": other_mpid, "valid_from": change, "valid_to": None}
                )
            else:
                batch.append(base | {"mdr": mdr, "mdr_mpid": mdr_mpid, "valid_from": TODAY, "valid_to": None})
            if len(batch) >= 20_000:
                _flush(connection, batch)
                batch = []
        if batch:
            _flush(connection, batch)
        if db.backend == "postgresql":
            connection.exec_driver_sql("ANALYZE appointment")
    return cores


def _flush(connection: sa.Connection, batch: list[dict[str, Any]]) -> None:
    cores = list(dict.fromkeys(row["mpan"] for row in batch))
    MarketStore(connection).add_mpans(_records(cores, DipId("9000000014"), GspGroup("_B")))
    bulk_insert(connection, appointment, batch)


# -- stage: point query -----------------------------------------------------------------------------
def _percentiles(samples_ns: list[int]) -> dict[str, float]:
    ordered = sorted(samples_ns)
    cut = statistics.quantiles(ordered, n=100, method="inclusive")
    return {
        "p50_us": round(cut[49] / 1000, 1),
        "p99_us": round(cut[98] / 1000, 1),
        "mean_us": round(statistics.fmean(ordered) / 1000, 1),
    }


def _point_query(server: str | None, rows: int, queries: int, http: bool) -> dict[str, Any]:
    with _fresh_database(server) as db:
        cores = _bulk_appointments(db, rows)
        rng = random.Random(7)
        asks = [(rng.choice(cores), TODAY + timedelta(days=rng.randrange(14))) for _ in range(queries)]
        samples: list[int] = []
        found = 0
        with db.read() as connection, ServedOn(connection) as served:
            for core, day in asks[:200]:  # warm the statement cache and the pages
                served.data_service(core, day)
            clock = time.perf_counter_ns
            for core, day in asks:
                t0 = clock()
                hit = served.data_service(core, day)
                samples.append(clock() - t0)
                found += hit is not None
            # the same question through SQLAlchemy Core (MarketStore), as before the driver's cursor
            store = MarketStore(connection)
            for core, day in asks[:200]:
                store.data_service_on(core, day)
            core_samples: list[int] = []
            for core, day in asks:
                t0 = clock()
                store.data_service_on(core, day)
                core_samples.append(clock() - t0)
            # floor: the bare statement through the driver's own cursor
            floor_samples = _driver_floor(connection, asks)
        result: dict[str, Any] = {
            "rows": rows,
            "queries": queries,
            "found": found,
            "in_process": _percentiles(samples),
            "via_sqlalchemy": _percentiles(core_samples),
            "floor_driver": _percentiles(floor_samples),
        }
        result["ratio_p50_to_floor"] = round(
            result["in_process"]["p50_us"] / max(result["floor_driver"]["p50_us"], 0.1), 1
        )
        if http:
            result["http"] = _http_point_queries(db, asks[: min(queries, 5_000)])
        return result


def _driver_floor(connection: sa.Connection, asks: list[tuple[str, date]]) -> list[int]:
    raw = connection.connection.dbapi_connection
    assert raw is not None
    cursor = raw.cursor()
    sqlite = connection.dialect.name == "sqlite"
    mark = "?" if sqlite else "%s"
    sql = (
        "SELECT provider, provider_mpid, mdr, mdr_mpid FROM appointment "
        f"WHERE mpan = {mark} AND service = 'DS' AND retired_at IS NULL AND valid_from <= {mark} "
        f"AND (valid_to IS NULL OR valid_to > {mark}) LIMIT 1"
    )
    samples: list[int] = []
    clock = time.perf_counter_ns
    for core, day in asks:
        value: Any = day.isoformat() if sqlite else day
        t0 = clock()
        cursor.execute(sql, (core, value, value))
        cursor.fetchone()
        samples.append(clock() - t0)
    cursor.close()
    return samples


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _http_point_queries(db: Database, asks: list[tuple[str, date]]) -> dict[str, Any]:
    """The same question to the query API (``GET /api/timeline/{mpan}?on=``) under uvicorn."""
    import httpx  # noqa: PLC0415
    import uvicorn  # noqa: PLC0415
    from fastapi import FastAPI  # noqa: PLC0415

    from openmhhs.api.identity import OPERATOR, Caller  # noqa: PLC0415
    from openmhhs.api.query import router  # noqa: PLC0415

    app = FastAPI()
    app.include_router(router(db, lambda _request: Caller(OPERATOR)))  # asked as the operator
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    samples: list[int] = []
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            for core, day in asks[:100]:
                client.get(f"/api/timeline/{core}", params={"on": day.isoformat()})
            clock = time.perf_counter_ns
            for core, day in asks:
                t0 = clock()
                response = client.get(f"/api/timeline/{core}", params={"on": day.isoformat()})
                samples.append(clock() - t0)
                response.raise_for_status()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    return {"queries": len(asks), "transport": "HTTP/1.1 keep-alive, loopback"} | _percentiles(samples)


# -- stage: the DCC's daily access list -------------------------------------------------------------
def _dcc_notices(db: Database) -> None:
    """The [DCC-MDROutcome] notices the DCC would have received for the bulk appointments, in
    the order the RS sent them, and the ISD the DCC translates MDR ids through."""
    at = datetime(2025, 6, 1, tzinfo=UTC)
    with db.begin() as connection, gc_paused():
        isd = files("openmhhs.data").joinpath("market_isd.json").read_bytes()
        import_isd(connection, read_json(isd), mode=ImportMode.REPLACE)
        rows = connection.execute(
            sa.select(appointment.c.mpan, appointment.c.mdr, appointment.c.mdr_mpid, appointment.c.valid_from)
            .where(appointment.c.service == "DS")
            .order_by(appointment.c.mpan, appointment.c.valid_from)
            .execution_options(yield_per=50_000)
        )
        batch: list[dict[str, Any]] = []
        for mpan_, mdr, mdr_mpid, start in rows:
            batch.append(
                {
                    "mpan": mpan_,
                    "mdr": mdr,
                    "mdr_mpid": mdr_mpid,
                    "valid_from": start,
                    "supplier": str(SUPPLIER),
                    "received_at": at,
                    "transaction_id": "bench",
                }
            )
            if len(batch) >= 20_000:
                bulk_insert(connection, dcc_mdr_notice, batch)
                batch = []
        if batch:
            bulk_insert(connection, dcc_mdr_notice, batch)
        if db.backend == "postgresql":
            connection.exec_driver_sql("ANALYZE dcc_mdr_notice")


def _access_list(server: str | None, rows: int) -> dict[str, Any]:
    with _fresh_database(server) as db:
        _bulk_appointments(db, rows)
        _dcc_notices(db)
        loaded_rss = _rss_mb()
        day = TODAY + timedelta(days=10)
        with tempfile.TemporaryDirectory(prefix="openmhhs-bench-") as folder:
            started = time.perf_counter()
            listed = write_access_list(db, day, Path(folder) / "access.csv")
            elapsed = time.perf_counter() - started
            size = (Path(folder) / "access.csv").stat().st_size
        started = time.perf_counter()
        with db.read() as connection:
            floor_rows = sum(
                1
                for _ in connection.execution_options(stream_results=True, yield_per=50_000).execute(
                    sa.select(dcc_mdr_notice.c.mpan, dcc_mdr_notice.c.mdr)
                )
            )
        floor = time.perf_counter() - started
        return {
            "rows": rows,
            "day": day.isoformat(),
            "listed": listed,
            "seconds": round(elapsed, 3),
            "mpans_per_s": round(listed / elapsed),
            "file_mb": round(size / 1e6, 1),
            "floor_bare_select_s": round(floor, 3),
            "floor_rows": floor_rows,
            "ratio_to_floor": round(elapsed / floor, 1),
            "rss_before_list_mb": loaded_rss,
            "projected_32m_s": round(elapsed / listed * 32_000_000) if listed else None,
        }


# -- running stages in their own processes ------------------------------------------------------------
def _child(stage: Callable[..., dict[str, Any]], args: tuple[Any, ...], queue: Any) -> None:
    try:
        result = stage(*args)
        result["peak_rss_mb"] = _rss_mb()
        queue.put(("ok", result))
    except BaseException as exc:  # reported to the parent, which fails the bench
        queue.put(("error", f"{type(exc).__name__}: {exc}"))


def _in_child(stage: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_child, args=(stage, args, queue))
    process.start()
    status, value = queue.get()
    process.join()
    if status != "ok":
        raise RuntimeError(f"bench stage {stage.__name__} failed: {value}")
    assert isinstance(value, dict)
    return value


def run_bench(
    *,
    database: str | None,
    mpans: int,
    rows: int,
    queries: int,
    repeat: int,
    http: bool,
    stages: tuple[str, ...] = STAGES,
    lanes: tuple[str, ...] = LANES,
    workers: int = 1,
    progress: Callable[[str], None] = lambda stage: None,
) -> dict[str, Any]:
    """Run the stages ``repeat`` times; each repetition's figures, and the best of them."""
    backend = "postgresql" if database and database.startswith("postgres") else "sqlite"
    runs: dict[str, list[dict[str, Any]]] = {stage: [] for stage in stages}
    for n in range(repeat):
        for stage in stages:
            progress(f"{stage} ({n + 1}/{repeat})")
            if stage == "appointments":
                runs[stage].append(_in_child(_appointments, database, mpans, lanes, workers))
            elif stage == "point_query":
                runs[stage].append(_in_child(_point_query, database, rows, queries, http))
            elif stage == "access_list":
                runs[stage].append(_in_child(_access_list, database, rows))
    return {
        "backend": backend,
        "cpus": os.cpu_count(),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "repeat": repeat,
        "stages": runs,
    }
