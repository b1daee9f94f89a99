"""Benchmark: read and store an M16 table of N rows (default 100,000) on SQLite.

    python benchmarks/isd_load.py [--rows 100000] [--db URL] [--out bench-results/isd_load.json]

Prints and writes: seconds to parse the JSON file, to parse the CSV file, and to import
(validate + replace the table) into the database; rows per second for each.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from openmhhs.identity.m16_format import dump_csv, dump_json, read_csv, read_json
from openmhhs.identity.synthetic import synthetic_isd
from openmhhs.store.database import Database
from openmhhs.store.identity_repo import ImportMode, import_isd, load_isd


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--db", default=None, help="database URL (default: temporary SQLite)")
    parser.add_argument("--out", type=Path, default=Path("bench-results/isd_load.json"))
    args = parser.parse_args()

    entries = list(synthetic_isd(args.rows))
    json_bytes = dump_json(entries)
    csv_text = dump_csv(entries)
    with tempfile.TemporaryDirectory() as folder:
        url = args.db or f"sqlite:///{Path(folder) / 'bench.db'}"
        db = Database(url)
        db.migrate()
        t0 = time.perf_counter()
        parsed = read_json(json_bytes)
        t1 = time.perf_counter()
        read_csv(csv_text)
        t2 = time.perf_counter()
        with db.begin() as connection:
            import_isd(connection, parsed, mode=ImportMode.REPLACE)
        t3 = time.perf_counter()
        with db.begin() as connection:
            loaded = load_isd(connection)
        t4 = time.perf_counter()
        db.dispose()
    assert len(loaded) == args.rows
    result = {
        "rows": args.rows,
        "backend": db.backend,
        "json_parse_s": round(t1 - t0, 3),
        "csv_parse_s": round(t2 - t1, 3),
        "import_s": round(t3 - t2, 3),
        "json_file_to_db_s": round((t1 - t0) + (t3 - t2), 3),
        "load_table_s": round(t4 - t3, 3),
        "rows_per_s_json_to_db": round(args.rows / ((t1 - t0) + (t3 - t2))),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    for key, value in result.items():
        print(f"{key:24} {value}")


if __name__ == "__main__":
    main()
