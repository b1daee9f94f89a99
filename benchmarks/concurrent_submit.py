"""Figures: several `openmhhs submit` processes at once on one database (issue 12, finding 2).

Each of ``--processes`` submitters sends ``--messages`` IF-031 [DSApp] for MPANs of its own,
and every other one also asks for ``--shared`` MPANs that another submitter asks for too.
When all have finished it counts, from the database: IF-031 accepted, IF-032 answers (and
requests answered other than once), deliveries failed or left pending, DCC notices doubled
for an MPAN asked for once, and whether any process failed (e.g. "database is locked").

    python benchmarks/concurrent_submit.py [--database postgresql://…] [--processes 4]
                                           [--messages 50] [--shared 20] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa
from tests.conftest import CliHarness
from tests.market_harness import AURORA, DAWN, TODAY, Market

from openmhhs.dip.parse import encode
from openmhhs.store.database import Database
from openmhhs.store.tables import dcc_mdr_notice, delivery, message


def measure(*, url: str, folder: Path, processes: int, messages: int, shared: int) -> dict[str, Any]:
    os.environ["OPENMHHS_DB"] = url
    os.environ["OPENMHHS_TODAY"] = TODAY.isoformat()
    market = Market(CliHarness(), folder)
    market.contract()
    market.contract("C-DAWN-1", supplier=DAWN)
    common = [market.mpan() for _ in range(shared)]
    files = []
    for index in range(processes):
        supplier = AURORA if index % 2 == 0 else DAWN
        ref = "C-AURORA-1" if supplier == AURORA else "C-DAWN-1"
        batch = [
            market.dsapp(market.mpan(supplier=supplier), supplier=supplier, ref=ref) for _ in range(messages)
        ]
        if supplier == AURORA:
            batch += [market.dsapp(core) for core in common]
        path = folder / f"submitter-{index}.json"
        path.write_bytes(encode(batch))
        files.append(path)
    started = time.perf_counter()
    running = [
        subprocess.Popen(
            [sys.executable, "-m", "openmhhs", "submit", str(path)],
            env=os.environ.copy(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for path in files
    ]
    errors = [p.communicate()[1].decode(errors="replace") for p in running]
    seconds = time.perf_counter() - started
    db = Database(url)
    with db.read() as connection:
        states = Counter(connection.execute(sa.select(delivery.c.state)).scalars().all())
        asked = (
            connection.execute(sa.select(message.c.correlation_id).where(message.c.interface_id == "IF-031"))
            .scalars()
            .all()
        )
        answers = Counter(
            connection.execute(
                sa.select(message.c.correlation_id).where(message.c.event_code == "[DSAppInitialResp]")
            )
            .scalars()
            .all()
        )
        notices = Counter(
            connection.execute(
                sa.select(dcc_mdr_notice.c.mpan, dcc_mdr_notice.c.mdr, dcc_mdr_notice.c.valid_from)
            ).all()
        )
    db.dispose()
    return {
        "backend": url.split(":", 1)[0],
        "processes": processes,
        "if031_accepted": len(asked),
        "if032_answers": sum(answers[c] for c in asked),
        "requests_not_answered_once": sum(answers[c] != 1 for c in asked),
        "deliveries_failed": states.get("failed", 0),
        "deliveries_pending": states.get("pending", 0),
        "dcc_notices_doubled": sum(n - 1 for key, n in notices.items() if key[0] not in set(common)),
        "processes_failed": sum(p.returncode != 0 for p in running),
        "database_is_locked": sum("database is locked" in e for e in errors),
        "seconds": round(seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database", default=None, help="a database URL (default: a fresh SQLite file)")
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--messages", type=int, default=50)
    parser.add_argument("--shared", type=int, default=20)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.database or f"sqlite:///{Path(folder) / 'concurrent.db'}"
        figures = measure(
            url=url, folder=Path(folder), processes=args.processes, messages=args.messages, shared=args.shared
        )
    print(json.dumps(figures, indent=2))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
