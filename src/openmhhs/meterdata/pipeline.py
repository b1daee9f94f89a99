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
4. **IF-021** per served MPAN-day: the ECS checks over the whole block at once
   (``ecs.ecs_masks``), then the JSON bodies of those settlement accepts written from the arrays
   (``messages.settlement_bodies``, byte for byte what ``settlement_data`` builds); the first
   body of each sender in the block is parsed in full against the official schema, and every
   piece the others are made of was checked against it when cut (see ``messages``). Refused
   MPAN-days are counted, not sent.
5. **Late retrieval**: the earlier days of the block's backlog (an allowed MDR could not reach
   the meter) are retried the same way, through the gate, for ``RETRY_DAYS`` days; a day whose
   late actual data has more actual periods than its first IF-021 is amended (version 2).

The result is three Arrow tables (consumption per MPAN and period, the gate's decisions, the
IF-021s), the same for each earlier day amended, the IF-021 bodies, and the block's state for
the next day (``BlockState``: each MPAN's latest day of actual data, for E5, and the backlog).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from openmhhs.days import LONDON, day_start
from openmhhs.dcc.access import AccessDecision, ReadRequest, decide
from openmhhs.dip.build import MessageFactory, Sender
from openmhhs.identity.registry import DccUserRole
from openmhhs.ids import DipId, DipRole
from openmhhs.meterdata.ecs import MAX_PERIOD_KWH, PeriodLayout, ecs_masks, utc_seconds
from openmhhs.meterdata.messages import SettlementRows, period_layout, settlement_bodies
from openmhhs.meterdata.meters import FaultPlan, SimulatedMeters, local_hours
from openmhhs.meterdata.snapshot import SCHEMA as SNAPSHOT_SCHEMA
from openmhhs.meterdata.snapshot import Snapshot, gate_records
from openmhhs.meterdata.validation import (
    QUALITIES,
    SOURCES,
    BlockInputs,
    Limits,
    SettledBlock,
    history_block,
    settle_block,
)

__all__ = [
    "CONSUMPTION",
    "DECISIONS",
    "RETRY_DAYS",
    "SUBMISSIONS",
    "BlockResult",
    "BlockState",
    "History",
    "LateResult",
    "process_block",
]

Ints = npt.NDArray[np.int64]
MAX_PERIODS = 50

CONSUMPTION = pa.schema(
    [
        ("mpan", pa.dictionary(pa.int32(), pa.string())),
        ("sds", pa.dictionary(pa.int32(), pa.string())),
        ("period", pa.int8()),
        ("value_wh", pa.int32()),
        ("estimated", pa.bool_()),
        ("quality", pa.dictionary(pa.int8(), pa.string())),
        ("reason", pa.int8()),
        ("mdr", pa.dictionary(pa.int32(), pa.string())),
        ("version", pa.int8()),
    ]
)
"""Per MPAN (and SDS) and settlement period, in MPAN and period order: the value, the DI-083
flag, the DI-076 estimation reason (0 for actual), and the MDR whose retrieval gave the value
(null: estimated or the supplier's shared data), and the IF-021 version that carried it (1,
then 2 where late actual data amended the day). Strings are dictionary-encoded."""

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
        ("version", pa.int8()),
    ]
)
"""One row per served MPAN-day: the IF-021 sent (its reference), or the ECS codes refusing it."""


@dataclass(frozen=True, eq=False)
class History:
    """Per MPAN (sorted), its latest day with only actual data (E5), carried to the next day:
    the day's values padded to 50 periods and how many periods it had."""

    mpans: npt.NDArray[np.str_] = field(default_factory=lambda: np.array([], dtype=np.str_))
    values: Ints = field(default_factory=lambda: np.zeros((0, MAX_PERIODS), dtype=np.int64))
    lengths: Ints = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.mpans)

    def find(self, mpans: npt.NDArray[np.str_]) -> tuple[npt.NDArray[np.bool_], Ints]:
        """For each MPAN: whether it has history, and its row here."""
        at = np.searchsorted(self.mpans, mpans)
        at = np.minimum(at, max(len(self.mpans) - 1, 0))
        found = (self.mpans[at] == mpans) if len(self.mpans) else np.zeros(len(mpans), dtype=np.bool_)
        return np.asarray(found, dtype=np.bool_), at

    def get(self, mpan: str) -> tuple[int, ...] | None:
        found, at = self.find(np.array([mpan]))
        return tuple(int(v) for v in self.values[at[0], : self.lengths[at[0]]]) if found[0] else None

    def updated(self, mpans: npt.NDArray[np.str_], values: Ints) -> History:
        """This history with ``mpans``' latest day replaced by ``values`` (rows x periods; of an
        MPAN given twice, the later row wins)."""
        padded = np.zeros((len(mpans), MAX_PERIODS), dtype=np.int64)
        padded[:, : values.shape[1]] = values
        lengths = np.full(len(mpans), values.shape[1], dtype=np.int64)
        return self.merged(History(mpans[::-1], padded[::-1], lengths[::-1]))

    def merged(self, newer: History) -> History:
        """Both histories; ``newer`` (its first row of an MPAN) wins for an MPAN in both."""
        keys, first = np.unique(np.concatenate([newer.mpans, self.mpans]), return_index=True)
        return History(
            keys,
            np.concatenate([newer.values, self.values])[first],
            np.concatenate([newer.lengths, self.lengths])[first],
        )

    def only(self, mpans: npt.NDArray[np.str_]) -> History:
        """The history of ``mpans`` alone."""
        keep = np.isin(self.mpans, mpans)
        return History(self.mpans[keep], self.values[keep], self.lengths[keep])


RETRY_DAYS = 5
"""An MDR keeps trying to retrieve a day it could not reach for this many days."""

BACKLOG = pa.schema(
    [*((f.name, f.type) for f in SNAPSHOT_SCHEMA), ("day", pa.date32()), ("first_actual", pa.int8())]
)
"""A day an MDR could not reach: its snapshot row of that day, the day, and the actual periods
of the IF-021 first sent for it (-1: none was sent)."""


@dataclass(frozen=True, eq=False)
class BlockState:
    """What a block carries from one day to the next: the E5 history and the retry backlog."""

    history: History = field(default_factory=History)
    backlog: pa.Table = field(default_factory=BACKLOG.empty_table)


@dataclass(frozen=True)
class LateResult:
    """An earlier day a late retrieval amended: its consumption (version 2 rows), the gate's
    decisions on the retries and the amending IF-021s."""

    day: date
    consumption: pa.Table
    decisions: pa.Table
    submissions: pa.Table


@dataclass(frozen=True)
class BlockResult:
    day: date
    consumption: pa.Table
    decisions: pa.Table
    submissions: pa.Table
    state: BlockState = field(default_factory=BlockState)
    """What the block carries to its next day (the E5 history and the retry backlog)."""
    bodies: tuple[bytes, ...] = ()
    """The IF-021s sent, in submission order (JSON, as handed to the DIP)."""
    unreachable: int = 0
    """Rows whose MDR was allowed to read but the DCC could not reach the meter."""
    late_retrievals: int = 0
    amendments: int = 0
    late: tuple[LateResult, ...] = ()


def _decisions(snapshot: Snapshot, who: str) -> tuple[npt.NDArray[np.bool_], pa.Table]:
    """The gate's decision (``dcc.access.decide``) on each row's read request by its MDR
    (``who="mdr"``) or supplier. The decision is a function of what the row holds besides the
    MPAN (requester, its id and role, the DCC's MDR and its id, supplier and direction), so it
    is taken once per distinct such row and applied to every row alike."""
    table = snapshot.table
    columns = {
        name: table.column(name).to_pylist()
        for name in (
            "mpan",
            "sds",
            "mdr" if who == "mdr" else "supplier",
            f"{who}_via",
            f"{who}_presented_id",
            "dcc_mdr",
            "dcc_mdr_id",
            "dcc_supplier",
            "energy_direction",
            "shares_data",
        )
    }
    requesters = columns["mdr" if who == "mdr" else "supplier"]
    allowed = np.zeros(table.num_rows, dtype=np.bool_)
    asked: list[int] = []
    codes: list[str | None] = []
    known: dict[tuple[object, ...], AccessDecision] = {}
    for i, requester in enumerate(requesters):
        if requester is None or (who == "supplier" and not columns["shares_data"][i]):
            continue
        key = (
            requester,
            columns[f"{who}_via"][i],
            columns[f"{who}_presented_id"][i],
            columns["dcc_mdr"][i],
            columns["dcc_mdr_id"][i],
            columns["dcc_supplier"][i],
            columns["energy_direction"][i],
        )
        decision = known.get(key)
        if decision is None:
            decision = known[key] = _decide(snapshot, key, columns["mpan"][i])
        allowed[i] = decision.allowed
        asked.append(i)
        codes.append(None if decision.code is None else decision.code.value)
    rows = pa.array(asked, type=pa.int64())
    logged = pa.table(
        {
            "mpan": table.column("mpan").take(rows),
            "requester": table.column("mdr" if who == "mdr" else "supplier").take(rows),
            "requester_mpid": table.column(f"{who}_presented_id").take(rows),
            "via": table.column(f"{who}_via").take(rows),
            "allowed": pa.array(allowed[asked] if asked else [], type=pa.bool_()),
            "code": pa.array(codes, type=pa.string()),
            "sds": table.column("sds").take(rows),
        },
        schema=DECISIONS,
    )
    return allowed, logged


def _decide(snapshot: Snapshot, key: tuple[object, ...], mpan: str) -> AccessDecision:
    requester, via, mpid, dcc_mdr, dcc_mdr_id, dcc_supplier, direction = (
        str(k) if k is not None else None for k in key
    )
    assert requester is not None and via is not None and direction is not None
    ids = {dcc_mdr: dcc_mdr_id} if dcc_mdr else {}
    return decide(
        request=ReadRequest(requester, str(mpid), DccUserRole(via), mpan, snapshot.day),
        records=gate_records(
            mpan=mpan,
            day=snapshot.day,
            dcc_mdr=dcc_mdr,
            dcc_supplier=dcc_supplier,
            energy_direction=direction,
        ),
        mdr_id=lambda mdr, _day: ids.get(mdr),
        dcc_roles=snapshot.dcc_roles,
    )


@lru_cache(maxsize=64)
def _period_layout(day: date) -> PeriodLayout:
    """The IF-021's settlement days and period ends of a UK day, for the ECS checks."""
    groups = period_layout(day)
    starts = [utc_seconds(datetime.fromisoformat(utc_day)) for utc_day, _ in groups]
    ends = [
        (utc_seconds(datetime.fromisoformat(sp)), d)
        for d, (_, indexes) in enumerate(groups)
        for _, sp in indexes
    ]
    return PeriodLayout(
        day_starts=np.array(starts, dtype=np.int64),
        durations=np.full(len(groups), 30, dtype=np.int64),
        ends=np.array([e for e, _ in ends], dtype=np.int64),
        day_of=np.array([d for _, d in ends], dtype=np.int64),
    )


@lru_cache(maxsize=4096)
def _connection_seconds(day: date) -> int:
    return utc_seconds(day_start(day))


def _dictionary(values: list[str], index: Ints, type_: pa.DataType | None = None) -> pa.DictionaryArray:
    """``values[index]`` dictionary-encoded (an index of -1 is null)."""
    mask = index < 0
    return pa.DictionaryArray.from_arrays(
        pa.array(np.where(mask, 0, index), type=type_ or pa.int32(), mask=mask if mask.any() else None),
        pa.array(values, type=pa.string()),
    )


@dataclass(frozen=True)
class _Settled:
    mdr_allowed: npt.NDArray[np.bool_]
    reachable: npt.NDArray[np.bool_]
    settled: SettledBlock
    decisions: pa.Table


def _settle_rows(
    snapshot: Snapshot, meters: SimulatedMeters, *, asked_on: date, history: History, limits: Limits
) -> _Settled:
    """The gate, the meters as a retrieval on ``asked_on`` finds them (the supplier's a day
    later) and the SDS's validation and estimation, for the snapshot's rows and day."""
    day = snapshot.day
    table = snapshot.table
    hours = local_hours(day)
    n, rows = len(hours), table.num_rows
    mpans = table.column("mpan").to_pylist()
    annual = np.asarray(table.column("annual_wh").fill_null(3_100_000).to_numpy(), dtype=np.float64)
    export = np.asarray(table.column("export").to_numpy(zero_copy_only=False), dtype=np.bool_)
    kwp = np.where(export, 4.0, 0.0)

    mdr_allowed, logged = _decisions(snapshot, "mdr")
    meter = meters.block(mpans, day, annual_wh=annual, export_kwp=kwp, asked_on=asked_on)
    retrieved = mdr_allowed & meter.reachable
    mdr_wh = np.where(export[:, None], meter.export_wh, meter.import_wh)
    recorded = np.where(export[:, None], True, meter.recorded)
    clock_off = np.where(meter.clock_error, 3600.0, 0.0)  # an hour fast: its midnight read an hour early

    supplier_allowed, supplier_logged = _decisions(snapshot, "supplier")
    # the supplier reads the same meter a day later: the same half-hours, reached or not then
    later_reachable = meters.reachable(mpans, asked_on + timedelta(days=1))
    shared_ok = (supplier_allowed & later_reachable)[:, None] & meter.recorded

    has_history, at = history.find(np.array(mpans, dtype=np.str_))
    history_wh = (
        history_block(history.values[at], history.lengths[at], n)
        if len(history)
        else np.zeros((rows, n), dtype=np.int64)
    )
    settled = settle_block(
        BlockInputs(
            period_hours=hours,
            retrieved=retrieved,
            mdr_wh=mdr_wh,
            recorded=recorded,
            has_register=retrieved & ~export,
            register_start_wh=meter.register_start_wh,
            register_end_wh=meter.register_end_wh,
            clock_ok=clock_off <= limits.clock_tolerance.total_seconds(),
            same_meter=np.ones(rows, dtype=np.bool_),
            supplier_wh=meter.import_wh,
            supplier_recorded=shared_ok,
            history_wh=np.where(has_history[:, None], history_wh, 0),
            has_history=has_history,
            annual_wh=annual.astype(np.int64),
        ),
        limits,
    )
    return _Settled(mdr_allowed, meter.reachable, settled, pa.concat_tables([logged, supplier_logged]))


def _consumption(table: pa.Table, idx: Ints, settled: SettledBlock, version: int) -> pa.Table:
    """The consumption rows of the snapshot rows ``idx`` (MPAN and period order)."""
    n = settled.values_wh.shape[1]
    quality = settled.quality[idx]
    from_mdr = settled.source[idx] == SOURCES.index("mdr")
    mdr_names = table.column("mdr").to_pylist()
    mdr_dictionary = sorted({m for m in mdr_names if m is not None})
    mdr_index = np.array([-1 if m is None else mdr_dictionary.index(m) for m in mdr_names], dtype=np.int64)[
        idx
    ]
    sds_names = table.column("sds").to_pylist()
    sds_dictionary = sorted(set(sds_names))
    sds_index = np.array([sds_dictionary.index(x) for x in sds_names], dtype=np.int64)[idx]
    mpans = np.array(table.column("mpan").to_pylist(), dtype=np.str_)
    return pa.table(
        {
            "mpan": _dictionary(mpans[idx].tolist(), np.repeat(np.arange(len(idx)), n)),
            "sds": _dictionary(sds_dictionary, np.repeat(sds_index, n)),
            "period": np.tile(np.arange(1, n + 1, dtype=np.int8), len(idx)),
            "value_wh": settled.values_wh[idx].astype(np.int32).ravel(),
            "estimated": (quality != QUALITIES.index("A")).ravel(),
            "quality": _dictionary(list(QUALITIES), quality.astype(np.int64).ravel(), pa.int8()),
            "reason": settled.reason[idx].astype(np.int8).ravel(),
            "mdr": _dictionary(mdr_dictionary, np.where(from_mdr, mdr_index[:, None], -1).ravel()),
            "version": np.full(len(idx) * n, version, dtype=np.int8),
        },
        schema=CONSUMPTION,
    )


def _served(table: pa.Table) -> npt.NDArray[np.bool_]:
    return np.asarray(table.column("supplier").is_valid().to_numpy(zero_copy_only=False), dtype=np.bool_)


def process_block(
    snapshot: Snapshot,
    *,
    seed: int = 2025,
    faults: FaultPlan | None = None,
    limits: Limits | None = None,
    state: BlockState | None = None,
) -> BlockResult:
    """Retrieve, validate, estimate and submit one block of one day, then retry the earlier days
    its MDRs could not reach and amend those late actual data improves (see the module)."""
    day = snapshot.day
    table = snapshot.table
    state = state if state is not None else BlockState()
    limits = limits or Limits()
    meters = SimulatedMeters(seed, faults)
    n = len(local_hours(day))
    mpan_array = np.array(table.column("mpan").to_pylist(), dtype=np.str_)

    today = _settle_rows(
        snapshot, meters, asked_on=day + timedelta(days=1), history=state.history, limits=limits
    )
    settled = today.settled
    served = _served(table)
    complete = np.flatnonzero(served & (settled.actual == n))
    carried = state.history.updated(mpan_array[complete], settled.values_wh[complete])

    idx = np.flatnonzero(served)
    consumption = _consumption(table, idx, settled, 1)
    submissions, bodies = _submit(
        snapshot, idx, settled.values_wh, settled.quality, settled.reason, sent_on=day + timedelta(days=1)
    )

    # the days an allowed MDR could not reach: retried each morning for RETRY_DAYS days
    unreached = np.flatnonzero(today.mdr_allowed & ~today.reachable)
    first_actual = np.full(table.num_rows, -1, dtype=np.int8)
    sent = np.asarray(
        submissions.column("reference").is_valid().to_numpy(zero_copy_only=False), dtype=np.bool_
    )
    first_actual[idx[sent]] = np.asarray(submissions.column("actual").to_numpy(), dtype=np.int8)[sent]
    new_backlog = (
        table.take(pa.array(unreached, type=pa.int64()))
        .append_column("day", pa.array([day] * len(unreached), type=pa.date32()))
        .append_column("first_actual", pa.array(first_actual[unreached], type=pa.int8()))
    )

    late: list[LateResult] = []
    kept: list[pa.Table] = []
    retrieved_late = amendments = 0
    backlog = state.backlog
    days_due = sorted(set(backlog.column("day").to_pylist()))
    for old in days_due:
        rows = backlog.filter(pc.equal(backlog.column("day"), pa.scalar(old, type=pa.date32())))
        if (day - old).days > RETRY_DAYS or old >= day:
            continue
        old_table = rows.select(SNAPSHOT_SCHEMA.names)
        retry = _settle_rows(
            Snapshot(old, old_table, snapshot.dcc_roles, snapshot.mds),
            meters,
            asked_on=day + timedelta(days=1),
            history=carried,
            limits=limits,
        )
        got = retry.mdr_allowed & retry.reachable
        retrieved_late += int(got.sum())
        kept.append(rows.filter(pa.array(~got)))
        previous = np.asarray(rows.column("first_actual").to_numpy(), dtype=np.int64)
        better = np.flatnonzero(
            got & _served(old_table) & (previous >= 0) & (retry.settled.actual > previous)
        )
        amended, amending = _submit(
            Snapshot(old, old_table, snapshot.dcc_roles, snapshot.mds),
            better,
            retry.settled.values_wh,
            retry.settled.quality,
            retry.settled.reason,
            sent_on=day + timedelta(days=1),
            version=2,
        )
        amendments += amended.column("ecs").null_count
        bodies += amending
        late.append(
            LateResult(old, _consumption(old_table, better, retry.settled, 2), retry.decisions, amended)
        )
    remaining = pa.concat_tables([*kept, new_backlog]) if kept else new_backlog
    return BlockResult(
        day,
        consumption,
        today.decisions,
        submissions,
        BlockState(carried.only(mpan_array), remaining),
        bodies,
        unreachable=len(unreached),
        late_retrievals=retrieved_late,
        amendments=amendments,
        late=tuple(late),
    )


def _submit(
    snapshot: Snapshot,
    idx: Ints,
    values: Ints,
    quality: npt.NDArray[np.uint8],
    reason: npt.NDArray[np.uint8],
    *,
    sent_on: date,
    version: int = 1,
) -> tuple[pa.Table, tuple[bytes, ...]]:
    """IF-021 for the snapshot rows ``idx`` (served MPAN-days), sent at 02:00 on ``sent_on``: the
    ECS checks over the block, then the bodies of those settlement accepts, per sender (see the
    module)."""
    day = snapshot.day
    at = datetime(sent_on.year, sent_on.month, sent_on.day, 2, tzinfo=LONDON).astimezone(UTC)
    table = snapshot.table.take(pa.array(idx, type=pa.int64()))
    col = {
        name: table.column(name).to_pylist()
        for name in (
            "mpan",
            "sds",
            "supplier",
            "distributor",
            "gsp_group",
            "connection_type",
            "connection_from",
            "export",
        )
    }
    values, quality, reason = values[idx], quality[idx], reason[idx]
    mq = ["AE" if e else "AI" for e in col["export"]]
    masks = ecs_masks(
        event="[ActivePower]",
        mq=np.array(mq or [""])[: len(mq)],
        layout=_period_layout(day),
        value_wh=values,
        quality=np.array(QUALITIES)[quality],
        has_reason=reason != 0,
        connection_from=np.array([_connection_seconds(d) for d in col["connection_from"]], dtype=np.int64),
    )
    refused = masks.refused_rows()
    known: dict[tuple[str, str], tuple[str, ...]] = {}

    def addressees(supplier: str, distributor: str) -> tuple[str, ...]:
        """The Market-wide Data Service, the supplier and the distributor, once each."""
        key = (supplier, distributor)
        if key not in known:
            known[key] = tuple(x for x in dict.fromkeys([snapshot.mds, supplier, distributor]) if x)
        return known[key]

    references: list[str | None] = [None] * len(idx)
    bodies: list[bytes] = []
    by_sds: dict[str, list[int]] = {}
    for i in np.flatnonzero(~refused).tolist():
        by_sds.setdefault(col["sds"][i], []).append(i)
    for number, (sds, rows) in enumerate(sorted(by_sds.items())):
        prefix = f"d{day:%y%m%d}{col['mpan'][rows[0]][-6:]}{number}" + (
            f"v{version}{sent_on:%y%m%d}" if version > 1 else ""
        )
        factory = MessageFactory(Sender(DipId(sds), DipRole.SDS), unique_prefix=prefix)
        took = np.array(rows, dtype=np.int64)
        made, sent = settlement_bodies(
            factory,
            SettlementRows(
                mpan=[col["mpan"][i] for i in rows],
                distributor=[col["distributor"][i] for i in rows],
                gsp_group=[col["gsp_group"][i] for i in rows],
                recipients=[addressees(col["supplier"][i], col["distributor"][i]) for i in rows],
                connection_type=[col["connection_type"][i] for i in rows],
                connection_from=[col["connection_from"][i] for i in rows],
                mq=[mq[i] for i in rows],
                values_wh=values[took],
                quality=quality[took],
                reason=reason[took],
            ),
            day=day,
            now=at,
            qualities=QUALITIES,
            max_wh=int(MAX_PERIOD_KWH * 1000),
        )
        for i, reference in zip(rows, made, strict=True):
            references[i] = reference
        bodies += sent
    ecs = [",".join(c.value for c in masks.codes(i)) if refused[i] else None for i in range(len(idx))]
    submissions = pa.table(
        {
            "mpan": pa.array(col["mpan"], type=pa.string()),
            "sds": pa.array(col["sds"], type=pa.string()),
            "supplier": pa.array(col["supplier"], type=pa.string()),
            "periods": np.full(len(idx), values.shape[1] if values.ndim == 2 else 0, dtype=np.int8),
            "actual": (quality == QUALITIES.index("A")).sum(axis=1).astype(np.int8),
            "reference": pa.array(references, type=pa.string()),
            "ecs": pa.array(ecs, type=pa.string()),
            "version": np.full(len(idx), version, dtype=np.int8),
        },
        schema=SUBMISSIONS,
    )
    return submissions, tuple(bodies)
