"""The live dashboard: server-rendered pages (Jinja2) over the market's database, enhanced by
htmx and Chart.js shipped in this package (``web/static``), so the page works with no
internet. Read-only: every page is a query.

``dashboard_router(db)`` is an ``APIRouter`` to mount in any FastAPI app
(``app.include_router(dashboard_router(db))``); ``create_dashboard_app(db)`` is the
stand-alone app ``openmhhs dashboard`` serves. Meter data completeness is read from the
consumption dataset (``dataset=``, DuckDB over its Parquet files), not the database."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import msgspec
import orjson
from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from openmhhs import __version__, clock
from openmhhs.ids import InvalidMpanCore, MpanCore
from openmhhs.market.bus import CLOCK_KEY
from openmhhs.market.driver import outcome_counts
from openmhhs.meterdata.query import completeness as meter_completeness
from openmhhs.store import queries as store_queries
from openmhhs.store.database import Database
from openmhhs.store.market_repo import MarketStore
from openmhhs.web import queries
from openmhhs.web.templating import STATIC, asset, render

__all__ = ["create_dashboard_app", "dashboard_router"]


def _html(template: str, status: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(render(template, **context), status_code=status)


def _market_day(db: Database) -> date:
    """The day the market's clock has reached, else today (OPENMHHS_TODAY)."""
    with db.read() as connection:
        text = MarketStore(connection).state(CLOCK_KEY)
    return date.fromisoformat(text) if text else clock.today()


def dashboard_router(db: Database, dataset: Path | None = None) -> APIRouter:
    """The dashboard's pages and assets, mountable at ``/`` of any FastAPI app."""
    router = APIRouter(include_in_schema=False)

    @router.get("/static/{name}")
    async def static(name: str) -> Response:
        found = STATIC.get(name)
        if found is None:
            return Response("not found", status_code=404, media_type="text/plain")
        return Response(asset(name), media_type=found[1], headers={"Cache-Control": "max-age=3600"})

    @router.get("/", response_class=HTMLResponse)
    async def overview(on: Annotated[date | None, Query()] = None) -> HTMLResponse:
        return await asyncio.to_thread(_overview, db, on, dataset)

    @router.get("/mpan")
    async def search(mpan: Annotated[str, Query()] = "", on: Annotated[str, Query()] = "") -> Response:
        target = f"/mpan/{mpan.strip()}" + (f"?on={on}" if on else "")
        return RedirectResponse(target, status_code=303)

    @router.get("/mpan/{core}", response_class=HTMLResponse)
    async def mpan_page(core: str, on: Annotated[date | None, Query()] = None) -> HTMLResponse:
        return await asyncio.to_thread(_mpan, db, core, on)

    @router.get("/messages", response_class=HTMLResponse)
    async def chain(request: Request, correlation: Annotated[str, Query(max_length=60)]) -> HTMLResponse:
        fragment = request.headers.get("hx-request") == "true"
        return await asyncio.to_thread(_chain, db, correlation, fragment)

    return router


def create_dashboard_app(db: Database, dataset: Path | None = None) -> FastAPI:
    app = FastAPI(
        title="openmhhs dashboard", version=__version__, docs_url=None, redoc_url=None, openapi_url=None
    )
    app.include_router(dashboard_router(db, dataset))
    return app


# --- pages ----------------------------------------------------------------------------------------


def _overview(db: Database, on: date | None, dataset: Path | None) -> HTMLResponse:
    day = on or _market_day(db)
    with db.read() as connection:
        headline = queries.counts(connection)
        isd = queries.isd_on(connection, day)
        participants = queries.participants_on(connection, day)
        queues = queries.delivery_queues(connection)
        allowed, refused, refusals = queries.access_log(connection, refused_only=True, limit=50)
        gaps = store_queries.gaps_on(connection, day, limit=200)
        arrangements = store_queries.arrangements_on(connection, day)
    completeness = meter_completeness(dataset) if dataset is not None else []
    outcomes: Counter[str] = outcome_counts(db)
    states = sorted({s for q in queues for s in q.states})
    return _html(
        "overview.html",
        day=day,
        headline=headline,
        isd=isd,
        participants=participants,
        queues=queues,
        queue_states=states,
        access={"allowed": allowed, "refused": refused, "rows": refusals},
        completeness=completeness,
        gaps=gaps,
        arrangements=arrangements,
        outcomes=sorted(outcomes.items(), key=lambda kv: (-kv[1], kv[0])),
        charts={
            "outcomes": {
                "type": "bar",
                "labels": [c for c, _ in sorted(outcomes.items(), key=lambda kv: (-kv[1], kv[0]))],
                "series": [
                    {
                        "label": "requests",
                        "data": [n for _, n in sorted(outcomes.items(), key=lambda kv: (-kv[1], kv[0]))],
                    }
                ],
            },
            "queues": {
                "type": "bar",
                "stacked": True,
                "labels": [q.recipient for q in queues],
                "series": [{"label": s, "data": [q.states.get(s, 0) for q in queues]} for s in states],
            },
            "completeness": {
                "type": "bar",
                "stacked": True,
                "labels": [d.isoformat() for d, _, _, _ in completeness],
                "series": [
                    {"label": "actual", "data": [a for _, _, a, _ in completeness]},
                    {"label": "estimated", "data": [e for _, _, _, e in completeness]},
                ],
            },
        },
    )


def _mpan(db: Database, text: str, on: date | None) -> HTMLResponse:
    try:
        core = MpanCore(text)
    except InvalidMpanCore as exc:
        return _html("problem.html", 400, title="Not an MPAN core", code=exc.code.value, detail=exc.detail)
    day = on or _market_day(db)
    with db.read() as connection:
        line = store_queries.timeline(connection, core)
        if line is None:
            return _html(
                "problem.html", 404, title="MPAN not registered", code="REG0000",
                detail=f"MPAN {core} is not registered in this database",
            )  # fmt: skip
        retired = [(r.row, r.recorded_at, r.retired_at) for r in store_queries.retired(connection, core)]
        logged = store_queries.logged(connection, core=core, deliveries=False)
        counts = Counter(m.message.correlation_id for m in logged)
    record, rows = line.record, line.rows
    holding = {id(r) for r in line.on(day)}
    return _html(
        "mpan.html",
        day=day,
        record=record,
        supplier=record.supplier_on(day),
        rows=[(r, id(r) in holding, counts.get(r.correlation_id, 0)) for r in rows],
        retired=retired,
        correlations=[c for c in counts if c],
        chart={
            "type": "timeline",
            "labels": ["DS", "MS"],
            "series": [
                {
                    "label": f"{r.service.value} {r.provider_mpid}"
                    + (f" · MDR {r.mdr_mpid}" if r.mdr_mpid else ""),
                    "service": r.service.value,
                    "from": r.period.start.isoformat(),
                    "to": r.period.end.isoformat() if r.period.end else None,
                }
                for r in rows
            ],
            "day": day.isoformat(),
        },
    )


def _chain(db: Database, correlation: str, fragment: bool) -> HTMLResponse:
    with db.read() as connection:
        found = store_queries.exchange(connection, correlation)
    chain = [
        {
            "message": m.message,
            "to": m.to,
            "body": orjson.dumps(msgspec.json.decode(m.message.body), option=orjson.OPT_INDENT_2).decode(),
        }
        for m in found
    ]
    return _html("chain_fragment.html" if fragment else "chain.html", correlation=correlation, chain=chain)
