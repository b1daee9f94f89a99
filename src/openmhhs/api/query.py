"""The appointment data over HTTP: who served an MPAN when, the gap report, the message log.
Read-only; every failure is a coded error in the DIP's StandardResponse shape (400 for bad
input, 404 for an unknown MPAN).

Every request is authenticated (``X-API-Key``, bound to the client certificate) and answered
only with what the caller is entitled to see: a participant sees the messages it sent or that
were published to it, and the MPANs it supplies or serves (as SDS, MDR or Metering Service)
on the days it does, with the timeline periods it took part in; an MPAN it has no part in is
answered as unknown (404), never as forbidden, so that its existence is not revealed. The
hub's operator sees everything. Filters and limits are in SQL: nothing reads the whole log.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import date
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Path, Query, Request, Security
from fastapi.responses import JSONResponse, Response
from fastapi.security import APIKeyHeader
from pydantic import BaseModel, Field

from openmhhs.api.identity import Caller
from openmhhs.api.responses import StandardResponse, coded_response
from openmhhs.codes import ResponseCode
from openmhhs.ids import InvalidMpanCore, MpanCore
from openmhhs.registration.model import Appointment
from openmhhs.store import queries
from openmhhs.store.database import Database
from openmhhs.store.message_codec import envelope
from openmhhs.store.tables import appointment, delivery, message, mpan, supplier_period

__all__ = ["router"]


class Period(BaseModel):
    service: str = Field(description="DS (Data Service, with its MDR) or MS (Metering Service)")
    dip_id: str
    mpid: str
    mdr_dip_id: str | None
    mdr_mpid: str | None = Field(description="The MDR's 4-character id, used by CSS and the DCC")
    from_: date = Field(alias="from")
    to: date | None = Field(description="Exclusive; null when open")
    supplier: str


class Gap(BaseModel):
    mpan: str
    supplier: str | None
    missing: list[str]


class Mpan(BaseModel):
    mpan: str = Field(description="13-digit MPAN core")
    distributor: str = Field(description="The distributor's DIP ID (M0)")
    gsp_group: str
    segment: str
    supplier: str | None = Field(description="The registered supplier's DIP ID on the day asked")


def _error(status: int, code: ResponseCode, message: str) -> JSONResponse:
    return coded_response(code, message, status=status)


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": StandardResponse, "description": "Bad input (REG0000 for an MPAN core, MSG1001)"},
    401: {"model": StandardResponse, "description": "No or unknown X-API-Key (OMH0820-OMH0822)"},
    404: {"model": StandardResponse, "description": "An MPAN not registered, or not the caller's"},
}

API_KEY = APIKeyHeader(name="X-API-Key", auto_error=False, description="The caller's API key")


def _on(day: date, table: sa.Table) -> sa.ColumnElement[bool]:
    return sa.and_(table.c.valid_from <= day, sa.or_(table.c.valid_to.is_(None), table.c.valid_to > day))


def _supplier_on(day: date) -> sa.ScalarSelect[Any]:
    return (
        sa.select(supplier_period.c.supplier)
        .where(supplier_period.c.mpan == mpan.c.mpan, _on(day, supplier_period))
        .limit(1)
        .scalar_subquery()
    )


def _takes_part(dip_id: str, day: date) -> sa.ColumnElement[bool]:
    """``dip_id`` supplies or serves (SDS, MDR, Metering Service) the MPAN on ``day``."""
    supplies = sa.exists().where(
        supplier_period.c.mpan == mpan.c.mpan, supplier_period.c.supplier == dip_id, _on(day, supplier_period)
    )
    serves = sa.exists().where(
        appointment.c.mpan == mpan.c.mpan,
        appointment.c.retired_at.is_(None),
        sa.or_(appointment.c.provider == dip_id, appointment.c.mdr == dip_id),
        _on(day, appointment),
    )
    return sa.or_(supplies, serves)


def router(db: Database, caller_of: Callable[[Request], Caller]) -> APIRouter:
    def caller(request: Request, _key: Annotated[str | None, Security(API_KEY)] = None) -> Caller:
        return caller_of(request)

    authenticated = Depends(caller)
    api = APIRouter(prefix="/api", tags=["Appointment data"], responses=ERRORS)

    @api.get("/timeline/{mpan}", response_model=list[Period], summary="Timeline of an MPAN")
    async def timeline(
        mpan: Annotated[str, Path(description="13-digit MPAN core", pattern=r"^\d{13}$")],
        on: Annotated[date | None, Query(description="Only what held on this day")] = None,
        who: Caller = authenticated,
    ) -> Any:
        try:
            core = MpanCore(mpan)
        except InvalidMpanCore as exc:
            return _error(400, exc.code, exc.detail)

        def read() -> list[queries.Held] | None:
            """The MPAN's rows the caller may see (holding on ``on``, when given); None when
            it may see nothing of the MPAN."""
            with db.read() as connection:
                if who.operator and on is not None:
                    with queries.ServedOn(connection) as served:
                        found = served.ask(core, on)
                    return None if found is None else list(found)
                line = queries.timeline(connection, core)
            if line is None:
                return None
            rows: Sequence[Appointment] = line.rows
            if not who.operator:
                supplied = any(str(p.supplier) == who.dip_id for p in line.record.suppliers)
                rows = [r for r in rows if who.dip_id in (r.supplier, r.provider, r.mdr)]
                if not rows and not supplied:
                    return None
            if on is not None:
                rows = queries.held_on(rows, on)
            return [queries.held(r) for r in rows]

        rows = await asyncio.to_thread(read)
        if rows is None:
            return _error(404, ResponseCode.REG0000, f"MPAN {core} is not registered (or not yours)")
        return [
            {
                "service": r.service,
                "dip_id": r.provider,
                "mpid": r.provider_mpid,
                "mdr_dip_id": r.mdr,
                "mdr_mpid": r.mdr_mpid,
                "from": r.start,
                "to": r.end,
                "supplier": r.supplier,
            }
            for r in rows
        ]

    @api.get(
        "/mpans", response_model=list[Mpan], summary="MPANs the caller supplies or serves, in MPAN order"
    )
    async def mpans(
        on: Annotated[date, Query(description="The UK day whose supplier is shown")],
        supplier: Annotated[
            str | None, Query(max_length=10, description="Only MPANs this DIP ID supplies on the day")
        ] = None,
        after: Annotated[str, Query(max_length=13, description="Only MPAN cores after this one")] = "",
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        who: Caller = authenticated,
    ) -> Any:
        held = _supplier_on(on).label("supplier")
        query = (
            sa.select(mpan.c.mpan, mpan.c.distributor, mpan.c.gsp_group, mpan.c.segment, held)
            .where(mpan.c.mpan > after)
            .order_by(mpan.c.mpan)
            .limit(limit)
        )
        if not who.operator:
            query = query.where(_takes_part(who.dip_id, on))
        if supplier is not None:
            query = query.where(
                sa.exists().where(
                    supplier_period.c.mpan == mpan.c.mpan,
                    supplier_period.c.supplier == supplier,
                    _on(on, supplier_period),
                )
            )

        def read() -> list[dict[str, Any]]:
            with db.read() as connection:
                return [dict(row._mapping) for row in connection.execute(query)]

        return await asyncio.to_thread(read)

    @api.get("/gaps", response_model=list[Gap], summary="MPANs lacking a DS, an MDR or an MS on a day")
    async def gaps(
        on: Annotated[date, Query(description="The UK day")],
        limit: Annotated[int, Query(ge=1, le=10000)] = 1000,
        who: Caller = authenticated,
    ) -> Any:
        """The caller's own MPANs (those it supplies on the day); the operator's: all."""

        def read() -> list[Any]:
            with db.read() as connection:
                return queries.gaps_on(
                    connection, on, limit=limit, supplier=None if who.operator else who.dip_id
                )

        return [
            {"mpan": g.mpan, "supplier": g.supplier, "missing": list(g.missing)}
            for g in await asyncio.to_thread(read)
        ]

    @api.get("/messages", response_model=list[dict[str, Any]], summary="The message log, as sent")
    async def messages(
        mpan: Annotated[
            str | None, Query(description="Only this MPAN's messages", pattern=r"^\d{13}$")
        ] = None,
        correlation: Annotated[str | None, Query(max_length=60, description="Only this exchange")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 200,
        who: Caller = authenticated,
    ) -> Any:
        """Messages the caller sent or that were published to it (the operator's: all), oldest
        first, as received."""
        if mpan is not None:
            try:
                MpanCore(mpan)
            except InvalidMpanCore as exc:
                return _error(400, exc.code, exc.detail)
        query = sa.select(message.c.body).order_by(message.c.id).limit(limit)
        if mpan is not None:
            query = query.where(message.c.mpan == mpan)
        if correlation is not None:
            query = query.where(message.c.correlation_id == correlation)
        if not who.operator:
            # per message, through its deliveries (deliveries are indexed by recipient only while
            # they wait: migration 0013)
            published = sa.exists().where(
                delivery.c.message_id == message.c.id, delivery.c.recipient == who.dip_id
            )
            query = query.where(sa.or_(message.c.sender == who.dip_id, published))

        def read() -> bytes:
            with db.read() as connection:
                bodies = [bytes(row.body) for row in connection.execute(query)]
            if correlation is not None:  # the log keeps correlation ids as keys: namesakes out
                bodies = [b for b in bodies if envelope(b).correlation_id == correlation]
            return b"[" + b",".join(bodies) + b"]"

        return Response(await asyncio.to_thread(read), media_type="application/json")

    return api
