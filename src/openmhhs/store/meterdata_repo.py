"""Storage of meter data: what SDSs received, what they submitted to settlement, and the
DCC's access log. Bulk writes; one call per partition (day x MPAN chunk)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from openmhhs.meterdata.gate import AccessDecision
from openmhhs.store.tables import (
    dcc_access_log,
    meter_reading,
    settlement_submission,
    supplier_data_sharing,
)

__all__ = ["MeterDataStore", "Reading", "Submission"]

_values = msgspec.json.Encoder()
_decode_values = msgspec.json.Decoder(list[int | None])


@dataclass(frozen=True, slots=True)
class Reading:
    sds: str
    mpan: str
    day: date
    source: str
    meter_id: str
    values_wh: Sequence[int | None]
    register_start_wh: int | None
    register_end_wh: int | None
    register_end_at: datetime | None
    start_meter_id: str | None
    received_at: datetime


@dataclass(frozen=True, slots=True)
class Submission:
    sds: str
    mpan: str
    day: date
    version: int
    periods: int
    actual: int
    estimated: int
    total_wh: int
    values_wh: Sequence[int]
    sender_unique_reference: str
    submitted_at: datetime


class MeterDataStore:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def sharing_suppliers(self) -> set[str]:
        """Suppliers that share their own consumption data with their SDS (model 1B)."""
        rows = self.connection.execute(
            sa.select(supplier_data_sharing.c.supplier).where(supplier_data_sharing.c.shares_consumption_data)
        )
        return {r[0] for r in rows}

    def log_access(self, decisions: Iterable[AccessDecision], *, at: datetime) -> None:
        rows = [
            {
                "at": at,
                "requester": d.request.requester_dip_id,
                "requester_mpid": d.request.requester_mpid,
                "via": d.request.via.value,
                "mpan": d.request.mpan,
                "day": d.request.day,
                "allowed": d.allowed,
                "code": None if d.code is None else d.code.value,
                "reason": d.reason[:300],
            }
            for d in decisions
        ]
        if rows:
            self.connection.execute(sa.insert(dcc_access_log), rows)

    def access_log(self, *, mpan: str | None = None) -> list[tuple[str, str, date, bool, str | None, str]]:
        query = sa.select(
            dcc_access_log.c.requester_mpid,
            dcc_access_log.c.mpan,
            dcc_access_log.c.day,
            dcc_access_log.c.allowed,
            dcc_access_log.c.code,
            dcc_access_log.c.reason,
        ).order_by(dcc_access_log.c.id)
        if mpan is not None:
            query = query.where(dcc_access_log.c.mpan == mpan)
        return [(r[0], r[1], r[2], bool(r[3]), r[4], r[5]) for r in self.connection.execute(query)]

    def save_readings(self, readings: Sequence[Reading]) -> None:
        if not readings:
            return
        groups: dict[tuple[date, str], list[str]] = {}
        for r in readings:  # a later retrieval of the same day replaces the earlier one
            groups.setdefault((r.day, r.source), []).append(r.mpan)
        for (day, source), mpans in groups.items():
            for start in range(0, len(mpans), 5000):
                self.connection.execute(
                    sa.delete(meter_reading).where(
                        meter_reading.c.day == day,
                        meter_reading.c.source == source,
                        meter_reading.c.mpan.in_(mpans[start : start + 5000]),
                    )
                )
        self.connection.execute(
            sa.insert(meter_reading),
            [
                {
                    "sds": r.sds,
                    "mpan": r.mpan,
                    "day": r.day,
                    "source": r.source,
                    "meter_id": r.meter_id,
                    "values_wh": _values.encode(list(r.values_wh)),
                    "register_start_wh": r.register_start_wh,
                    "register_end_wh": r.register_end_wh,
                    "register_end_at": r.register_end_at,
                    "start_meter_id": r.start_meter_id,
                    "received_at": r.received_at,
                }
                for r in readings
            ],
        )

    def readings_for(self, mpans: Sequence[str], day: date) -> dict[tuple[str, str, str], Reading]:
        """(SDS, MPAN, source) -> what the SDS holds for the day."""
        found: dict[tuple[str, str, str], Reading] = {}
        for start in range(0, len(mpans), 5000):
            rows = self.connection.execute(
                sa.select(meter_reading).where(
                    meter_reading.c.day == day, meter_reading.c.mpan.in_(list(mpans[start : start + 5000]))
                )
            )
            for r in rows:
                found[(r.sds, r.mpan, r.source)] = Reading(
                    r.sds,
                    r.mpan,
                    r.day,
                    r.source,
                    r.meter_id,
                    _decode_values.decode(r.values_wh),
                    r.register_start_wh,
                    r.register_end_wh,
                    r.register_end_at,
                    r.start_meter_id,
                    r.received_at,
                )
        return found

    def save_submissions(self, submissions: Sequence[Submission]) -> None:
        if submissions:
            self.connection.execute(
                sa.insert(settlement_submission),
                [
                    {
                        "sds": x.sds,
                        "mpan": x.mpan,
                        "day": x.day,
                        "version": x.version,
                        "periods": x.periods,
                        "actual": x.actual,
                        "estimated": x.estimated,
                        "total_wh": x.total_wh,
                        "values_wh": _values.encode(list(x.values_wh)),
                        "sender_unique_reference": x.sender_unique_reference,
                        "submitted_at": x.submitted_at,
                    }
                    for x in submissions
                ],
            )

    def latest_submissions(self, day: date) -> dict[tuple[str, str], tuple[int, int]]:
        """(SDS, MPAN) -> (latest version, its actual periods) for ``day``."""
        rows = self.connection.execute(
            sa.select(
                settlement_submission.c.sds,
                settlement_submission.c.mpan,
                sa.func.max(settlement_submission.c.version),
            )
            .where(settlement_submission.c.day == day)
            .group_by(settlement_submission.c.sds, settlement_submission.c.mpan)
        ).all()
        latest: dict[tuple[str, str], tuple[int, int]] = {}
        if not rows:
            return latest
        actual = {
            (r.sds, r.mpan, r.version): r.actual
            for r in self.connection.execute(
                sa.select(
                    settlement_submission.c.sds,
                    settlement_submission.c.mpan,
                    settlement_submission.c.version,
                    settlement_submission.c.actual,
                ).where(settlement_submission.c.day == day)
            )
        }
        for sds, mpan_, version in rows:
            latest[(sds, mpan_)] = (int(version), actual[(sds, mpan_, version)])
        return latest

    def submissions(self, *, mpan: str | None = None) -> list[Submission]:
        query = sa.select(settlement_submission).order_by(
            settlement_submission.c.mpan, settlement_submission.c.day, settlement_submission.c.version
        )
        if mpan is not None:
            query = query.where(settlement_submission.c.mpan == mpan)
        return [
            Submission(
                r.sds,
                r.mpan,
                r.day,
                r.version,
                r.periods,
                r.actual,
                r.estimated,
                r.total_wh,
                [int(v or 0) for v in _decode_values.decode(r.values_wh)],
                r.sender_unique_reference,
                r.submitted_at,
            )
            for r in self.connection.execute(query)
        ]
