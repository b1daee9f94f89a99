"""Train the message log's zstd dictionary on the simulator's own DIP messages.

Runs ``openmhhs demo`` (the hybrid model: every appointment flow, rejections, MDR changes,
de-appointments, IF-001 registrations and two days of meter data) on a temporary SQLite
file, in this process, with its random tokens (``secrets.token_hex``, unseeded
``random.Random()``) drawn from a seeded generator so that the same code trains the same
dictionary; then trains a dictionary on every logged body (fixed COVER parameters) and
writes ``src/openmhhs/data/message_zstd_<id>.dict``.

A shipped dictionary is never changed (old rows name it): train a new one under the next id
(``--id``); store/message_codec.py compresses new bodies with the highest id it finds.

    .venv/bin/python tools/train_zstd_dict.py --id 1
"""

from __future__ import annotations

import argparse
import contextlib
import io
import random
import secrets
import sys
import tempfile
from pathlib import Path
from unittest import mock

import zstandard

DATA = Path(__file__).resolve().parents[1] / "src" / "openmhhs" / "data"
SEED = 2025


def simulated_bodies(mpans: int) -> list[bytes]:
    """Every message body ``openmhhs demo --mpans N --seed 2025`` logs, in log order."""
    from openmhhs.cli.main import app  # noqa: PLC0415 - after the environment is set
    from openmhhs.store.database import Database  # noqa: PLC0415
    from openmhhs.store.market_repo import MarketStore  # noqa: PLC0415

    rng = random.Random(SEED)
    unseeded = random.Random

    def token_hex(nbytes: int | None = None) -> str:
        return rng.randbytes(32 if nbytes is None else nbytes).hex()

    def seeded(seed: object = None) -> random.Random:
        return unseeded(SEED if seed is None else seed)  # type: ignore[arg-type]

    with tempfile.TemporaryDirectory(prefix="openmhhs-dict-") as folder:
        out = Path(folder) / "demo"
        with (
            mock.patch.object(secrets, "token_hex", token_hex),
            mock.patch.object(random, "Random", seeded),
            mock.patch.dict("os.environ", clear=False) as env,
        ):
            env.pop("OPENMHHS_DB", None)
            env["OPENMHHS_TODAY"] = "2025-07-01"
            try:
                with contextlib.redirect_stdout(io.TextIOWrapper(io.BytesIO())):  # its summary
                    app(
                        [
                            "demo",
                            "--fresh",
                            "--mpans",
                            str(mpans),
                            "--seed",
                            str(SEED),
                            "-o",
                            str(out),
                            "--json",
                        ],
                        standalone_mode=False,
                    )
            except SystemExit as done:
                if done.code not in (0, None):
                    raise
        db = Database(f"sqlite:///{out / 'openmhhs.db'}")
        try:
            with db.read() as connection:
                return [m.body for m in MarketStore(connection).messages()]
        finally:
            db.dispose()


def train(bodies: list[bytes], *, size: int, dictionary_id: int) -> bytes:
    """A zstd dictionary of ``size`` bytes (fixed COVER parameters: deterministic)."""
    trained = zstandard.train_dictionary(size, bodies, k=1024, d=8, dict_id=dictionary_id, threads=1)
    return trained.as_bytes()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--id", type=int, required=True, help="dictionary id, 1-255, never one shipped")
    parser.add_argument("--mpans", type=int, default=400, help="MPANs in the demo run")
    parser.add_argument("--size", type=int, default=16384, help="dictionary size in bytes")
    parser.add_argument("--out", type=Path, default=DATA, help="folder to write it to")
    args = parser.parse_args(argv)
    if not 1 <= args.id <= 255:
        parser.error("--id must be 1 to 255 (stored as one byte)")
    target = args.out / f"message_zstd_{args.id}.dict"
    if target.exists():
        parser.error(f"{target} exists: a shipped dictionary is never changed; train a new id")
    bodies = simulated_bodies(args.mpans)
    target.write_bytes(train(bodies, size=args.size, dictionary_id=args.id))
    print(f"{target}: {args.size} bytes from {len(bodies)} messages")
    return 0


if __name__ == "__main__":
    sys.exit(main())
