"""Benchmark: appointments per second through the full in-process flow on one database.

Each MPAN gets a Data Service appointment: IF-031 built and submitted, validated by the DIP
and the Registration Service (IF-032), the SDS asked (IF-033) and deciding (IF-034),
outcomes published (IF-035 accepted, [SDS-MDROutcome], [DCC-MDROutcome]) and the
appointment activated (IF-036): twelve deliveries and seven produced messages per appointment, every
produced message schema-validated, everything persisted.

    python benchmarks/appointments.py [--mpans 100000] [--db URL] [--out bench-results/appointments.json]
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from datetime import date
from importlib.resources import files
from pathlib import Path

from openmhhs.bulk import gc_paused
from openmhhs.dataservice.contracts import Contract
from openmhhs.dip.build import MessageFactory, Sender, Site
from openmhhs.dip.vocabulary import Scenario
from openmhhs.identity.m16_format import read_json
from openmhhs.ids import DipId, DipRole, GspGroup, MpanCore, Mpid
from openmhhs.market.bus import Market
from openmhhs.periods import Period
from openmhhs.registration.model import MpanRecord, SupplierPeriod
from openmhhs.store.database import Database
from openmhhs.store.identity_repo import ImportMode, import_isd
from openmhhs.store.market_repo import MarketStore
from openmhhs.supplier.requests import request_data_service

TODAY = date(2025, 7, 1)
SUPPLIER, SDS, RS, LDSO = DipId("1111111111"), DipId("2222222222"), DipId("9000000001"), DipId("9000000020")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mpans", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=5_000, help="IF-031s submitted per batch")
    parser.add_argument("--db", default=None, help="database URL (default: a temporary SQLite file)")
    parser.add_argument("--out", type=Path, default=Path("bench-results/appointments.json"))
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        db = Database(args.db or f"sqlite:///{Path(folder) / 'bench.db'}")
        cores = [MpanCore.from_stem(f"20{n:010d}") for n in range(1, args.mpans + 1)]
        t0 = time.perf_counter()
        with db.begin() as connection, gc_paused():
            isd = files("openmhhs.data").joinpath("market_isd.json").read_bytes()
            import_isd(connection, read_json(isd), mode=ImportMode.REPLACE)
            store = MarketStore(connection)
            store.add_mpans(
                [
                    MpanRecord(
                        mpan=core,
                        distributor=LDSO,
                        gsp_group=GspGroup("_H"),
                        suppliers=(SupplierPeriod(SUPPLIER, Period(date(2025, 5, 1))),),
                    )
                    for core in cores
                ]
            )
            store.add_contract(
                Contract(
                    sds=SDS,
                    supplier=SUPPLIER,
                    reference="C-1",
                    supported_mdrs=frozenset({SDS}),
                    default_mdr=SDS,
                )
            )
        setup = time.perf_counter() - t0
        market = Market(db, today=TODAY, batch_size=500)
        factory = MessageFactory(Sender(SUPPLIER, DipRole.SUP))
        started = time.perf_counter()
        delivered = produced = 0
        for offset in range(0, len(cores), args.batch):
            requests = [
                request_data_service(
                    factory,
                    site=Site(core, LDSO, GspGroup("_H")),
                    rs=RS,
                    sds=SDS,
                    sds_mpid=Mpid("SDSB"),
                    effective_from=TODAY,
                    scenario=Scenario.CSP,
                    contract_reference="C-1",
                    now=market.now,
                )
                for core in cores[offset : offset + args.batch]
            ]
            results = market.send(requests)
            assert all(r.accepted for r in results)
            stats = market.run()
            delivered += stats.delivered
            produced += stats.produced
            assert stats.failed == 0
        elapsed = time.perf_counter() - started
        with db.begin() as connection:
            store = MarketStore(connection)
            gaps = len([g for g in store.gaps_on(TODAY) if "DS" in g.missing])
            counts = store.arrangement_counts(TODAY)
        backend = db.backend
        db.dispose()
    appointed = sum(n for service, _, _, n in counts if service == "DS")
    assert appointed == args.mpans and gaps == 0
    result = {
        "mpans": args.mpans,
        "backend": backend,
        "setup_s": round(setup, 2),
        "flow_s": round(elapsed, 2),
        "appointments_per_s": round(args.mpans / elapsed),
        "deliveries": delivered,
        "messages_produced": produced,
        "deliveries_per_s": round(delivered / elapsed),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
