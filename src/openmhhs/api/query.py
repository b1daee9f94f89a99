"""The appointment data over HTTP: who served an MPAN when, the gap report, the message log.
Read-only; every failure is a coded error (400 for bad input, 404 for an unknown MPAN)."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from openmhhs.codes import ResponseCode
from openmhhs.ids import InvalidMpanCore, MpanCore
from openmhhs.registration.model import Service
from openmhhs.registration.timeline import as_of
from openmhhs.store.database import Database
from openmhhs.store.market_repo import MarketStore

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


class Error(BaseModel):
    code: str
    message: str


def _error(status: int, code: ResponseCode, message: str) -> JSONResponse:
    return JSONResponse({"code": code.value, "message": message}, status_code=status)


ERRORS: dict[int | str, dict[str, Any]] = {400: {"model": Error}, 404: {"model": Error}}


def router(db: Database) -> APIRouter:
    api = APIRouter(prefix="/api", tags=["Appointment data"])

    @api.get("/timeline/{mpan}", response_model=list[Period], responses=ERRORS, summary="Timeline of an MPAN")
    async def timeline(
        mpan: Annotated[str, Path(description="13-digit MPAN core", pattern=r"^\d{13}$")],
        on: Annotated[date | None, Query(description="Only what held on this day")] = None,
    ) -> Any:
        try:
            core = MpanCore(mpan)
        except InvalidMpanCore as exc:
            return _error(400, exc.code, exc.detail)

        def read() -> list[Any] | None:
            with db.read() as connection:
                store = MarketStore(connection)
                if not store.mpan_exists(core):
                    return None
                return store.timeline(core)

        rows = await asyncio.to_thread(read)
        if rows is None:
            return _error(404, ResponseCode.REG0000, f"MPAN {core} is not registered")
        if on is not None:
            rows = [r for r in (as_of(rows, Service.DS, on), as_of(rows, Service.MS, on)) if r is not None]
        rows.sort(key=lambda r: (r.period.start, r.service.value))
        return [
            {
                "service": r.service.value,
                "dip_id": r.provider,
                "mpid": r.provider_mpid,
                "mdr_dip_id": r.mdr,
                "mdr_mpid": r.mdr_mpid,
                "from": r.period.start,
                "to": r.period.end,
                "supplier": r.supplier,
            }
            for r in rows
        ]

    @api.get("/mpans", response_model=list[Mpan], summary="Registered MPANs, in MPAN order")
    async def mpans(
        on: Annotated[date, Query(description="The UK day whose supplier is shown")],
        supplier: Annotated[
            str | None, Query(max_length=10, description="Only MPANs this DIP ID supplies on the day")
        ] = None,
        after: Annotated[str, Query(max_length=13, description="Only MPAN cores after this one")] = "",
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> Any:
        def read() -> list[Any]:
            found = []
            with db.read() as connection:
                for record in MarketStore(connection).iter_mpans(batch=limit, after=after):
                    held = record.supplier_on(on)
                    if supplier is None or (held is not None and str(held) == supplier):
                        found.append(
                            {
                                "mpan": str(record.mpan),
                                "distributor": str(record.distributor),
                                "gsp_group": str(record.gsp_group),
                                "segment": record.segment.value,
                                "supplier": None if held is None else str(held),
                            }
                        )
                        if len(found) >= limit:
                            break
            return found

        return await asyncio.to_thread(read)

    @api.get("/gaps", response_model=list[Gap], summary="MPANs lacking a DS, an MDR or an MS on a day")
    async def gaps(
        on: Annotated[date, Query(description="The UK day")],
        limit: Annotated[int, Query(ge=1, le=10000)] = 1000,
    ) -> Any:
        def read() -> list[Any]:
            with db.read() as connection:
                return MarketStore(connection).gaps_on(on, limit=limit)

        return [
            {"mpan": g.mpan, "supplier": g.supplier, "missing": list(g.missing)}
            for g in await asyncio.to_thread(read)
        ]

    @api.get(
        "/messages", response_model=list[dict[str, Any]], responses=ERRORS, summary="The message log, as sent"
    )
    async def messages(
        mpan: Annotated[
            str | None, Query(description="Only this MPAN's messages", pattern=r"^\d{13}$")
        ] = None,
        correlation: Annotated[str | None, Query(max_length=60, description="Only this exchange")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    ) -> Any:
        if mpan is not None:
            try:
                MpanCore(mpan)
            except InvalidMpanCore as exc:
                return _error(400, exc.code, exc.detail)

        def read() -> list[Any]:
            with db.read() as connection:
                return MarketStore(connection).messages(core=mpan, correlation_id=correlation)[:limit]

        return [msgspec.json.decode(m.body) for m in await asyncio.to_thread(read)]

    return api
