"""Queries over the consumption dataset with DuckDB (``meterdata.dataset`` layout): one MPAN's
day, and the completeness of a window per SDS and MDR with the DCC's refusals by code. Every
query reads each MPAN-day as last submitted (the highest IF-021 version: an amendment by late
actual data replaces the first submission)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import duckdb

__all__ = ["completeness", "day_values", "samples", "summary"]


def _files(dataset: Path, kind: str, first: date, last: date) -> list[str]:
    """The Parquet files of ``kind`` for the days ``first`` to ``last`` (never a temporary file)."""
    found: list[str] = []
    for folder in sorted((dataset / kind).glob("day=*")):
        day = date.fromisoformat(folder.name.removeprefix("day="))
        if first <= day <= last:
            found += [str(p) for p in sorted(folder.glob("block=*.parquet"))]
    return found


LATEST = """
    SELECT * FROM read_parquet(?, hive_partitioning = true, hive_types = {'day': DATE}, filename = true)
    QUALIFY version = max(version) OVER (PARTITION BY day, mpan, sds)
"""
"""The consumption rows of each MPAN-day's latest IF-021 version (parameter: the files)."""


def day_values(dataset: Path, mpan: str, day: date) -> list[dict[str, Any]] | None:
    """Each period of the MPAN's day: value (kWh), estimated, the MDR that retrieved it; None when
    the dataset has no such day for the MPAN."""
    files = _files(dataset, "consumption", day, day)
    if not files:
        return None
    rows = (
        duckdb.connect()
        .execute(
            f"SELECT period, value_wh, estimated, mdr FROM ({LATEST}) WHERE mpan = ? ORDER BY period",
            [files, mpan],
        )
        .fetchall()
    )
    if not rows:
        return None
    return [{"period": int(p), "value": int(v) / 1000, "estimated": bool(e), "mdr": m} for p, v, e, m in rows]


def summary(dataset: Path, first: date, last: date) -> dict[str, Any]:
    """Completeness (share of actual values), estimated share and the DCC's refusals by code, in
    all and per SDS and MDR, over the days ``first`` to ``last``."""
    consumption = _files(dataset, "consumption", first, last)
    decisions = _files(dataset, "decisions", first, last)
    connection = duckdb.connect()
    groups: list[dict[str, Any]] = []
    values = actual = 0
    if consumption:
        # the MDR of an MPAN-day is the one whose data it has (null: none of its values came from one)
        for sds, mdr, n, a in connection.execute(
            f"""
            WITH days AS (
                SELECT day, mpan, sds, count(*) AS n, count(*) FILTER (WHERE NOT estimated) AS a,
                       max(mdr) AS mdr
                FROM ({LATEST}) GROUP BY day, mpan, sds
            )
            SELECT sds, mdr, sum(n), sum(a) FROM days GROUP BY sds, mdr ORDER BY sds, mdr NULLS LAST
            """,
            [consumption],
        ).fetchall():
            groups.append(
                {
                    "sds": sds,
                    "mdr": mdr,
                    "values": int(n),
                    "actual": int(a),
                    "estimated_share": (int(n) - int(a)) / int(n) if n else 0.0,
                }
            )
            values += int(n)
            actual += int(a)
    refusals: dict[str, int] = {}
    if decisions:
        for code, n in connection.execute(
            "SELECT code, count(*) FROM read_parquet(?) WHERE NOT allowed GROUP BY code ORDER BY code",
            [decisions],
        ).fetchall():
            refusals[str(code)] = int(n)
    return {
        "from": first.isoformat(),
        "to": last.isoformat(),
        "values": values,
        "actual": actual,
        "completeness": actual / values if values else 0.0,
        "estimated_share": (values - actual) / values if values else 0.0,
        "refusals": refusals,
        "by_sds_mdr": groups,
    }


def completeness(dataset: Path) -> list[tuple[date, int, int, int]]:
    """Per settlement day in the dataset: (day, MPAN-days, actual values, estimated values)."""
    files = _files(dataset, "consumption", date.min, date.max)
    if not files:
        return []
    rows = (
        duckdb.connect()
        .execute(
            f"""
            SELECT day, count(DISTINCT (mpan, sds)), count(*) FILTER (WHERE NOT estimated),
                   count(*) FILTER (WHERE estimated)
            FROM ({LATEST}) GROUP BY day ORDER BY day
            """,
            [files],
        )
        .fetchall()
    )
    return [(d, int(n), int(a), int(e)) for d, n, a, e in rows]


def samples(dataset: Path, count: int) -> dict[str, list[tuple[date, list[int], int]]]:
    """The first ``count`` MPANs of the dataset: per settlement day, each period's value (Wh)
    and how many were estimated."""
    files = _files(dataset, "consumption", date.min, date.max)
    if not files or count < 1:
        return {}
    rows = (
        duckdb.connect()
        .execute(
            f"""
            WITH chosen AS (SELECT DISTINCT mpan FROM read_parquet(?) ORDER BY mpan LIMIT ?)
            SELECT mpan, day, list(value_wh ORDER BY period), count(*) FILTER (WHERE estimated)
            FROM ({LATEST})
            WHERE mpan IN (SELECT mpan FROM chosen)
            GROUP BY mpan, day ORDER BY mpan, day
            """,
            [files, count, files],
        )
        .fetchall()
    )
    found: dict[str, list[tuple[date, list[int], int]]] = {}
    for mpan, day, values, estimated in rows:
        found.setdefault(str(mpan), []).append((day, [int(v) for v in values], int(estimated)))
    return found
