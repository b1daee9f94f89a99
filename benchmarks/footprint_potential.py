"""Figures: what the message log would take with bodies compressed in frames and finished
deliveries folded into their message (docs/scaling.md "Footprint (migration 0013)").

Runs the flow of ``openmhhs bench``'s appointment stage on a fresh SQLite database (the same
as benchmarks/message_log.py), then, from its ``message`` and ``delivery`` rows:

- the bodies compressed one by one (as stored), per MPAN, and in frames of N consecutive
  messages, with the shipped dictionary at the log's level; bytes per appointment and the
  time to decompress one frame (what reading one message would cost);
- the finished deliveries as a list on their message (5-byte DIP id, state, microseconds
  after the message's receipt as a varint, code and detail as texts), against the delivery
  table's pages.

    python benchmarks/footprint_potential.py [--mpans 2000] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from datetime import date
from importlib.resources import files
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from openmhhs.dataservice.contracts import Contract
from openmhhs.dip.build import MessageFactory, Sender, Site
from openmhhs.dip.vocabulary import Scenario
from openmhhs.identity.m16_format import read_json
from openmhhs.ids import DipRole, GspGroup, MpanCore, Mpid
from openmhhs.market.bus import Market
from openmhhs.periods import Period
from openmhhs.registration.model import MpanRecord, SupplierPeriod
from openmhhs.store import message_codec
from openmhhs.store.compact import to_micros
from openmhhs.store.database import Database
from openmhhs.store.identity_repo import ImportMode, import_isd
from openmhhs.store.market_repo import MarketStore
from openmhhs.store.tables import delivery, message
from openmhhs.supplier.requests import request_data_service

sys.path.insert(0, str(Path(__file__).resolve().parent))
from message_log import LDSO, RS, SDS, SUPPLIER, TODAY, fresh_database

FRAMES = (16, 32, 64, 128)


def _varint(value: int) -> int:
    """Bytes of a zig-zag varint."""
    value = (value << 1) ^ (value >> 63)
    size = 1
    while value >= 0x80:
        value >>= 7
        size += 1
    return size


def _frames(bodies: list[bytes], size: int) -> list[bytes]:
    compressor = message_codec._compressor(message_codec.dictionary_ids()[-1])
    return [compressor.compress(b"".join(bodies[at : at + size])) for at in range(0, len(bodies), size)]


def _read_one_us(frames: list[bytes]) -> float:
    decompressor = message_codec._decompressor(message_codec.dictionary_ids()[-1])
    sample = frames[: min(len(frames), 200)]
    started = time.perf_counter()
    for frame in sample:
        decompressor.decompress(frame)
    return round((time.perf_counter() - started) / len(sample) * 1e6, 1)


def run_flow(db: Database, *, mpans: int) -> None:
    """benchmarks/message_log.py's flow: ``mpans`` appointments through the per-message lane."""
    cores = [str(MpanCore.from_stem(f"20{i:010d}")) for i in range(1, mpans + 1)]
    with db.begin() as connection:
        isd = files("openmhhs.data").joinpath("market_isd.json").read_bytes()
        import_isd(connection, read_json(isd), mode=ImportMode.REPLACE)
        store = MarketStore(connection)
        since = Period(date(2025, 5, 1))
        store.add_mpans(
            [
                MpanRecord(MpanCore(c), LDSO, GspGroup("_H"), suppliers=(SupplierPeriod(SUPPLIER, since),))
                for c in cores
            ]
        )
        store.add_contract(
            Contract(
                sds=SDS, supplier=SUPPLIER, reference="C-1", supported_mdrs=frozenset({SDS}), default_mdr=SDS
            )
        )
    market = Market(db, today=TODAY, batch_size=500)
    factory = MessageFactory(Sender(SUPPLIER, DipRole.SUP))
    for offset in range(0, len(cores), 2_000):
        market.send(
            [
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
                for core in cores[offset : offset + 2_000]
            ]
        )
        market.run()


def measure(*, mpans: int) -> dict[str, Any]:
    with fresh_database(None) as db:
        run_flow(db, mpans=mpans)
        with db.read() as connection:
            rows = connection.execute(
                sa.select(message.c.id, message.c.mpan, message.c.received_at, message.c.body).order_by(
                    message.c.id
                )
            ).all()
            finished = connection.execute(
                sa.select(
                    delivery.c.message_id,
                    delivery.c.state,
                    delivery.c.processed_at,
                    delivery.c.outcome_code,
                    delivery.c.outcome_detail,
                )
            ).all()
            delivery_pages = connection.exec_driver_sql(
                "SELECT sum(d.pgsize) FROM dbstat AS d JOIN sqlite_schema AS s ON s.name = d.name "
                "WHERE s.tbl_name = 'delivery'"
            ).scalar_one()
    bodies = [bytes(r.body) for r in rows]
    one_by_one = sum(len(message_codec.compress(b)) for b in bodies)
    by_mpan: dict[str | None, list[bytes]] = defaultdict(list)
    for r in rows:
        by_mpan[r.mpan].append(bytes(r.body))
    compressor = message_codec._compressor(message_codec.dictionary_ids()[-1])
    per_mpan = sum(len(compressor.compress(b"".join(group))) + 1 for group in by_mpan.values())
    framed = {}
    for size in FRAMES:
        frames = _frames(bodies, size)
        framed[str(size)] = {
            "bytes_per_appointment": round((sum(map(len, frames)) + len(frames)) / mpans),
            "read_one_frame_us": _read_one_us(frames),
        }
    received = {r.id: to_micros(r.received_at) for r in rows}
    folded = len(rows)  # a count byte per message
    for d in finished:
        folded += 5 + 1
        folded += 0 if d.processed_at is None else _varint(to_micros(d.processed_at) - received[d.message_id])
        folded += 0 if d.outcome_code is None else len(d.outcome_code) + 1
        folded += 0 if d.outcome_detail is None else len(d.outcome_detail.encode()) + 1
    return {
        "appointments": mpans,
        "messages": len(rows),
        "bodies_one_by_one_bytes_per_appointment": round(one_by_one / mpans),
        "bodies_per_mpan_frame_bytes_per_appointment": round(per_mpan / mpans),
        "bodies_in_frames_of": framed,
        "delivery_table_bytes_per_appointment": round(int(delivery_pages) / mpans),
        "deliveries_folded_bytes_per_appointment": round(folded / mpans),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mpans", type=int, default=2000)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    text = json.dumps(measure(mpans=args.mpans), indent=2)
    print(text)
    if args.out is not None:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
