"""Figures: database bytes per appointment, per table, with the message log's share
(docs/scaling.md "The message log").

Runs the flow of ``openmhhs bench``'s appointment stage (per MPAN: IF-031 from the Supplier,
the RS's IF-032/IF-033, the SDS's IF-034, IF-035 x3, IF-036, IF-061/IF-062: ten messages and
thirteen deliveries) on a fresh database, then measures the bytes each table grew by with
``store.footprint`` (SQLite ``dbstat``; PostgreSQL ``pg_total_relation_size``).

    python benchmarks/message_log.py [--mpans 2000] [--database postgresql://…] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from importlib.resources import files
from pathlib import Path
from typing import Any

import psycopg

from openmhhs.dataservice.contracts import Contract
from openmhhs.dip.build import MessageFactory, Sender, Site
from openmhhs.dip.vocabulary import Scenario
from openmhhs.identity.m16_format import read_json
from openmhhs.ids import DipId, DipRole, GspGroup, MpanCore, Mpid
from openmhhs.market.bus import Market
from openmhhs.periods import Period
from openmhhs.registration.model import MpanRecord, SupplierPeriod
from openmhhs.store.database import Database
from openmhhs.store.footprint import footprint, table_bytes
from openmhhs.store.identity_repo import ImportMode, import_isd
from openmhhs.store.market_repo import MarketStore
from openmhhs.supplier.requests import request_data_service

TODAY = date(2025, 7, 1)
SUPPLIER, SDS, RS, LDSO = DipId("1111111111"), DipId("2222222222"), DipId("9000000001"), DipId("9000000020")


@contextmanager
def fresh_database(server: str | None) -> Iterator[Database]:
    if server is None:
        with tempfile.TemporaryDirectory(prefix="openmhhs-msglog-") as folder:
            db = Database(f"sqlite:///{Path(folder) / 'log.db'}")
            try:
                yield db
            finally:
                db.dispose()
        return
    admin = server.replace("postgresql+psycopg://", "postgresql://")
    name = f"openmhhs_msglog_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    db = Database(f"{admin.rpartition('/')[0]}/{name}")
    try:
        yield db
    finally:
        db.dispose()
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def measure(*, server: str | None, mpans: int) -> dict[str, Any]:
    cores = [str(MpanCore.from_stem(f"20{i:010d}")) for i in range(1, mpans + 1)]
    with fresh_database(server) as db:
        with db.begin() as connection:
            isd = files("openmhhs.data").joinpath("market_isd.json").read_bytes()
            import_isd(connection, read_json(isd), mode=ImportMode.REPLACE)
            store = MarketStore(connection)
            since = Period(date(2025, 5, 1))
            store.add_mpans(
                [
                    MpanRecord(
                        MpanCore(c), LDSO, GspGroup("_H"), suppliers=(SupplierPeriod(SUPPLIER, since),)
                    )
                    for c in cores
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
        with db.read() as connection:
            before = table_bytes(connection)
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
        with db.read() as connection:
            found = footprint(connection, appointments=mpans, before=before)
        return {"backend": db.backend, **found.as_json()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mpans", type=int, default=2000)
    parser.add_argument("--database", default=None, help="a PostgreSQL server URL (default: SQLite)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    figures = measure(server=args.database, mpans=args.mpans)
    text = json.dumps(figures, indent=2)
    print(text)
    if args.out is not None:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
