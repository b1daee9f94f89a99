"""Meter data for one (settlement day, block of MPANs), as a pure function of the day's registry
snapshot (``meterdata.snapshot``) and the block's state from the day before: what a task of
the distributed run computes. No database, no Python loop per half-hour.

Steps, each the one rule of its place:

1. **DCC-gated retrieval**: each instructed MDR's read request, and in model 1B the supplier's,
   decided by the gate's own function (``dcc.access.decide``) on the DCC's records as they
   stand that day (the snapshot row); every decision kept, every refusal with its code.
2. **Simulated meters** for the whole block (``SimulatedMeters.block``): a day the DCC cannot
   reach the morning after (a communications outage) is not retrieved.
3. **SDS validation and estimation** for the whole block (``validation.settle_block``).
4. **IF-021** per served MPAN-day (``messages.settlement_data``), checked by the ECS checks and
   the official schema before it counts as sent; refused ones are counted, not sent.

The result is three Arrow tables (consumption per MPAN and period, the gate's decisions, the
IF-021s) and the block's state for the next day (each MPAN's latest day of actual data, for E5).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pyarrow as pa

from openmhhs.days import LONDON
from openmhhs.dcc.access import MdrIdOn, ReadRequest, decide
from openmhhs.dip.build import MessageFactory, Sender, Site
from openmhhs.dip.parse import encode, parse
from openmhhs.identity.registry import DccUserRole
from openmhhs.ids import DipId, DipRole, GspGroup, MpanCore
from openmhhs.meterdata.ecs import check_settlement_data
from openmhhs.meterdata.messages import settlement_data
from openmhhs.meterdata.meters import FaultPlan, SimulatedMeters, local_hours
from openmhhs.meterdata.snapshot import Snapshot, gate_records
from openmhhs.meterdata.validation import (
    QUALITIES,
    SOURCES,
    BlockInputs,
    Limits,
    SettledPeriod,
    history_periods,
    settle_block,
)

__all__ = ["CONSUMPTION", "DECISIONS", "SUBMISSIONS", "BlockResult", "process_block"]

NULL = np.array(None, dtype=object)

CONSUMPTION = pa.schema(
    [
        ("mpan", pa.string()),
        ("sds", pa.string()),
        ("period", pa.int8()),
        ("value_wh", pa.int32()),
        ("estimated", pa.bool_()),
        ("quality", pa.string()),
        ("reason", pa.int8()),
        ("mdr", pa.string()),
    ]
)
"""Per MPAN (and SDS) and settlement period: the value, the DI-083 flag, the DI-076 estimation
reason (0 for actual), and the MDR whose retrieval gave the value (null: estimated or the
supplier's shared data)."""

DECISIONS = pa.schema(
    [
        ("mpan", pa.string()),
        ("requester", pa.string()),
        ("requester_mpid", pa.string()),
        ("via", pa.string()),
        ("allowed", pa.bool_()),
        ("code", pa.string()),
        ("sds", pa.string()),
    ]
)

SUBMISSIONS = pa.schema(
    [
        ("mpan", pa.string()),
        ("sds", pa.string()),
        ("supplier", pa.string()),
        ("periods", pa.int8()),
        ("actual", pa.int8()),
        ("reference", pa.string()),
        ("ecs", pa.string()),
    ]
)
"""One row per served MPAN-day: the IF-021 sent (its reference), or the ECS codes refusing it."""


@dataclass(frozen=True)
class BlockResult:
    day: date
    consumption: pa.Table
    decisions: pa.Table
    submissions: pa.Table
    history: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    """Per MPAN, its latest day with only actual data (carried to the next day, for E5)."""


def _known(ids: dict[str, str | None]) -> MdrIdOn:
    """The MDR ids of the snapshot row (the MDR in force and its id that day, from the ISD)."""

    def mdr_id(mdr: str, _day: date) -> str | None:
        return ids.get(mdr)

    return mdr_id


def _decisions(snapshot: Snapshot, who: str) -> tuple[np.ndarray, list[dict[str, object]]]:
    """The gate's decision on each row's read request by its MDR (``who="mdr"``) or supplier."""
    allowed = np.zeros(snapshot.table.num_rows, dtype=np.bool_)
    logged: list[dict[str, object]] = []
    rows = snapshot.table.to_pylist()
    for i, row in enumerate(rows):
        requester = row["mdr"] if who == "mdr" else row["supplier"]
        if requester is None or (who == "supplier" and not row["shares_data"]):
            continue
        via = DccUserRole(row[f"{who}_via"])
        mpid = row[f"{who}_presented_id"]
        records = gate_records(
            mpan=row["mpan"],
            day=snapshot.day,
            dcc_mdr=row["dcc_mdr"],
            dcc_supplier=row["dcc_supplier"],
            energy_direction=row["energy_direction"],
        )
        ids: dict[str, str | None] = {row["dcc_mdr"]: row["dcc_mdr_id"]} if row["dcc_mdr"] else {}
        decision = decide(
            request=ReadRequest(requester, mpid, via, row["mpan"], snapshot.day),
            records=records,
            mdr_id=_known(ids),
            dcc_roles=snapshot.dcc_roles,
        )
        allowed[i] = decision.allowed
        logged.append(
            {
                "mpan": row["mpan"],
                "requester": requester,
                "requester_mpid": mpid,
                "via": via.value,
                "allowed": decision.allowed,
                "code": None if decision.code is None else decision.code.value,
                "sds": row["sds"],
            }
        )
    return allowed, logged


def process_block(
    snapshot: Snapshot,
    *,
    seed: int = 2025,
    faults: FaultPlan | None = None,
    limits: Limits | None = None,
    history: Mapping[str, tuple[int, ...]] | None = None,
) -> BlockResult:
    """Retrieve, validate, estimate and submit one block of one day (see the module)."""
    day = snapshot.day
    table = snapshot.table
    history = dict(history or {})
    limits = limits or Limits()
    meters = SimulatedMeters(seed, faults)
    hours = local_hours(day)
    n, rows = len(hours), table.num_rows
    mpans = table.column("mpan").to_pylist()
    annual = np.asarray(table.column("annual_wh").fill_null(3_100_000).to_numpy(), dtype=np.float64)
    export = np.asarray(table.column("export").to_numpy(zero_copy_only=False), dtype=np.bool_)
    kwp = np.where(export, 4.0, 0.0)

    mdr_allowed, logged = _decisions(snapshot, "mdr")
    meter = meters.block(mpans, day, annual_wh=annual, export_kwp=kwp, asked_on=day + timedelta(days=1))
    retrieved = mdr_allowed & meter.reachable
    import_side = ~export
    mdr_wh = np.where(export[:, None], meter.export_wh, meter.import_wh)
    recorded = np.where(export[:, None], True, meter.recorded)
    clock_off = np.where(meter.clock_error, 3600.0, 0.0)  # an hour fast: its midnight read an hour early

    supplier_allowed, supplier_logged = _decisions(snapshot, "supplier")
    logged += supplier_logged
    later = meters.block(mpans, day, annual_wh=annual, export_kwp=kwp, asked_on=day + timedelta(days=2))
    shared_ok = (supplier_allowed & later.reachable)[:, None] & later.recorded

    known = [history.get(m) for m in mpans]
    settled = settle_block(
        BlockInputs(
            period_hours=hours,
            retrieved=retrieved,
            mdr_wh=mdr_wh,
            recorded=recorded,
            has_register=retrieved & import_side,
            register_start_wh=meter.register_start_wh,
            register_end_wh=meter.register_end_wh,
            clock_ok=clock_off <= limits.clock_tolerance.total_seconds(),
            same_meter=np.ones(rows, dtype=np.bool_),
            supplier_wh=later.import_wh,
            supplier_recorded=shared_ok,
            history_wh=np.array(
                [history_periods(h, n) if h else [0] * n for h in known], dtype=np.int64
            ).reshape(rows, n),
            has_history=np.array([bool(h) for h in known], dtype=np.bool_),
            annual_wh=annual.astype(np.int64),
        ),
        limits,
    )

    served = np.asarray(table.column("supplier").is_valid().to_numpy(zero_copy_only=False), dtype=np.bool_)
    actual = settled.actual
    for i in np.flatnonzero(served & (actual == n)):
        history[mpans[i]] = tuple(int(v) for v in settled.values_wh[i])

    idx = np.flatnonzero(served)
    mdr_names = np.array(table.column("mdr").to_pylist(), dtype=object)
    from_mdr = settled.source[idx] == SOURCES.index("mdr")
    consumption = pa.table(
        {
            "mpan": np.repeat(np.array(mpans, dtype=object)[idx], n),
            "sds": np.repeat(np.array(table.column("sds").to_pylist(), dtype=object)[idx], n),
            "period": np.tile(np.arange(1, n + 1, dtype=np.int8), len(idx)),
            "value_wh": settled.values_wh[idx].astype(np.int32).ravel(),
            "estimated": (settled.quality[idx] != QUALITIES.index("A")).ravel(),
            "quality": np.array(QUALITIES, dtype=object)[settled.quality[idx]].ravel(),
            "reason": settled.reason[idx].astype(np.int8).ravel(),
            "mdr": np.where(from_mdr, np.repeat(mdr_names[idx], n).reshape(len(idx), n), NULL).ravel(),
        },
        schema=CONSUMPTION,
    )
    submissions = _submit(snapshot, idx, settled.values_wh, settled.quality, settled.reason, n)
    return BlockResult(
        day,
        consumption,
        pa.Table.from_pylist(logged, schema=DECISIONS),
        submissions,
        {m: history[m] for m in mpans if m in history},
    )


def _submit(
    snapshot: Snapshot, idx: np.ndarray, values: np.ndarray, quality: np.ndarray, reason: np.ndarray, n: int
) -> pa.Table:
    """IF-021 for each served MPAN-day, built, ECS-checked and schema-checked (``parse``)."""
    day = snapshot.day
    asked_on = day + timedelta(days=1)
    at = datetime(asked_on.year, asked_on.month, asked_on.day, 2, tzinfo=LONDON).astimezone(UTC)
    rows = snapshot.table.to_pylist()
    factories: dict[str, MessageFactory] = {}
    out: list[dict[str, object]] = []
    for i in idx:
        row = rows[i]
        sds = row["sds"]
        factory = factories.get(sds)
        if factory is None:
            prefix = f"d{day:%y%m%d}{row['mpan'][-6:]}{len(factories)}"
            factory = factories[sds] = MessageFactory(Sender(DipId(sds), DipRole.SDS), unique_prefix=prefix)
        periods = [
            SettledPeriod(int(v), QUALITIES[q], None if q == 0 else str(r), "")
            for v, q, r in zip(values[i], quality[i], reason[i], strict=True)
        ]
        recipients = [
            DipId(x) for x in dict.fromkeys([snapshot.mds, row["supplier"], row["distributor"]]) if x
        ]
        message = settlement_data(
            factory,
            site=Site(MpanCore(row["mpan"]), DipId(row["distributor"]), GspGroup(row["gsp_group"])),
            recipients=recipients,
            day=day,
            periods=periods,
            connection_type=row["connection_type"],
            connection_from=row["connection_from"],
            now=at,
            mq="AE" if row["export"] else "AI",
        )
        refusals = check_settlement_data(message)
        if not refusals:
            parse(encode(message), now=None)  # never send what the DIP would refuse
        out.append(
            {
                "mpan": row["mpan"],
                "sds": sds,
                "supplier": row["supplier"],
                "periods": n,
                "actual": int((quality[i] == 0).sum()),
                "reference": None if refusals else message.common_block.s1.sender_unique_reference,
                "ecs": ",".join(sorted({r.code.value for r in refusals})) or None,
            }
        )
    return pa.Table.from_pylist(out, schema=SUBMISSIONS)
