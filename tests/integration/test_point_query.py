"""The point query reads the RS's current Data Service row of a day, with half-open periods: the
new MDR from its effective day, the old one up to the day before; retired rows and Metering
Service rows never count. The DCC's access list reads the DCC's own records (its
[DCC-MDROutcome] notices, a later one replacing from its day) and the ISD as of the day. Both
backends."""

from __future__ import annotations

from datetime import UTC, date, datetime
from importlib.resources import files
from pathlib import Path

import sqlalchemy as sa

from openmhhs.dcc.access_list import write_access_list
from openmhhs.identity.m16_format import read_json
from openmhhs.ids import DipId, GspGroup, MpanCore
from openmhhs.periods import Period
from openmhhs.registration.model import MpanRecord, SupplierPeriod
from openmhhs.store import queries
from openmhhs.store.database import Database
from openmhhs.store.dcc_repo import DccRepository
from openmhhs.store.identity_repo import ImportMode, import_isd
from openmhhs.store.market_repo import MarketStore
from openmhhs.store.tables import appointment

AT = datetime(2025, 6, 1, tzinfo=UTC)
A, B = "2000000000015", "2000000000024"
CHANGE = date(2025, 7, 8)


def _row(core: str, start: date, end: date | None, mdr: str, mpid: str, **extra: object) -> dict[str, object]:
    return {
        "mpan": core,
        "service": "DS",
        "provider": "2222222222",
        "provider_mpid": "SDSB",
        "mdr": mdr,
        "mdr_mpid": mpid,
        "valid_from": start,
        "valid_to": end,
        "supplier": "1111111111",
        "recorded_at": AT,
        "retired_at": None,
    } | extra


def test_the_day_decides_the_mdr(db: Database, tmp_path: Path) -> None:
    with db.begin() as connection:
        connection.execute(
            sa.insert(appointment),
            [
                _row(A, date(2025, 7, 1), CHANGE, "3333333333", "MDRC"),
                _row(A, CHANGE, None, "2222222222", "SDSB"),
                # a retired row that would overlap: ignored
                _row(A, date(2025, 7, 1), None, "5555555555", "MWMD", retired_at=AT),
                _row(B, date(2025, 7, 5), None, "3333333333", "MDRC"),
                {**_row(B, date(2025, 7, 1), None, "x", "x"), "service": "MS", "mdr": None, "mdr_mpid": None},
            ],
        )
    with db.read() as connection:
        store = MarketStore(connection)
        assert store.data_service_on(A, date(2025, 6, 30)) is None
        assert store.data_service_on(A, date(2025, 7, 7)) == ("2222222222", "SDSB", "3333333333", "MDRC")
        assert store.data_service_on(A, CHANGE) == ("2222222222", "SDSB", "2222222222", "SDSB")
        assert store.data_service_on(B, date(2025, 7, 4)) is None  # only a Metering Service that day
    with db.begin() as connection:
        isd = files("openmhhs.data").joinpath("market_isd.json").read_bytes()
        import_isd(connection, read_json(isd), mode=ImportMode.REPLACE)
        dcc = DccRepository(connection)
        for core, mdr, mpid, start in (
            (A, "5555555555", "MWMD", date(2025, 7, 1)),  # replaced by the next notice
            (A, "3333333333", "MDRC", date(2025, 7, 1)),
            (A, "2222222222", "SDSB", CHANGE),
            (B, "3333333333", "MDRC", date(2025, 7, 5)),
        ):
            dcc.record_mdr(
                core=core,
                mdr=mdr,
                mdr_mpid=mpid,
                valid_from=start,
                supplier="1111111111",
                at=AT,
                transaction_id="t",
            )
    lists = {}
    for day in (date(2025, 7, 4), date(2025, 7, 7), CHANGE):
        path = tmp_path / f"{day}.csv"
        count = write_access_list(db, day, path)
        lines = path.read_text().splitlines()
        assert lines[0] == "mpan,mdr_dip_id,mdr_id" and len(lines) == count + 1
        lists[day] = lines[1:]
    assert lists[date(2025, 7, 4)] == [f"{A},3333333333,MDRC"]
    assert lists[date(2025, 7, 7)] == [f"{A},3333333333,MDRC", f"{B},3333333333,MDRC"]
    assert lists[CHANGE] == [f"{A},2222222222,SDSB", f"{B},3333333333,MDRC"]


def named(scenario: str | None = None, correlation: str | None = None) -> dict[str, object]:
    return {"scenario": scenario, "correlation_id": correlation}


def test_served_on_answers_through_the_driver_cursor(db: Database) -> None:
    """The readers' point query (``store.queries.ServedOn``): the rows holding on the day, both
    services, in start order; () for a registered MPAN with none; None for an unknown MPAN."""
    with db.begin() as connection:
        MarketStore(connection).add_mpans(
            [
                MpanRecord(
                    mpan=MpanCore(core),
                    distributor=DipId("9000000020"),
                    gsp_group=GspGroup("_H"),
                    suppliers=(SupplierPeriod(DipId("1111111111"), Period(date(2025, 5, 1))),),
                )
                for core in (A, B)
            ]
        )
        connection.execute(
            sa.insert(appointment),
            [
                _row(A, date(2025, 7, 1), CHANGE, "3333333333", "MDRC", **named("CSP", "c1")),
                _row(A, CHANGE, None, "2222222222", "SDSB", **named()),
                _row(A, date(2025, 7, 1), None, "5555555555", "MWMD", retired_at=AT, **named()),
                {
                    **_row(A, date(2025, 7, 3), None, "x", "x", **named()),
                    "service": "MS",
                    "mdr": None,
                    "mdr_mpid": None,
                },
            ],
        )
    with db.read() as connection, queries.ServedOn(connection) as served:
        assert served.ask(A, date(2025, 6, 30)) == ()
        assert served.ask(B, CHANGE) == ()
        assert served.ask("2000000000033", CHANGE) is None
        first = served.ask(A, date(2025, 7, 3))
        assert first is not None
        assert [(r.service, r.mdr, r.start, r.end) for r in first] == [
            ("DS", "3333333333", date(2025, 7, 1), CHANGE),
            ("MS", None, date(2025, 7, 3), None),
        ]
        assert (first[0].scenario, first[0].correlation_id, first[0].supplier) == ("CSP", "c1", "1111111111")
        later = served.data_service(A, CHANGE)
        assert later is not None and (later.provider, later.mdr, later.mdr_mpid) == (
            "2222222222",
            "2222222222",
            "SDSB",
        )
        assert served.data_service(A, date(2025, 6, 30)) is None
        # the same answer as the whole timeline read through the store, filtered to the day
        line = queries.timeline(connection, A)
        assert line is not None
        for day in (date(2025, 7, 1), date(2025, 7, 3), CHANGE, date(2025, 12, 1)):
            assert served.ask(A, day) == tuple(queries.held(r) for r in line.on(day))
