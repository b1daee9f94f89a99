"""The consumption dataset: Parquet (zstd) files partitioned by settlement day and MPAN block.

    DATASET/consumption/day=2025-07-01/block=00000.parquet   per MPAN, SDS and period
    DATASET/decisions/day=2025-07-01/block=00000.parquet     the DCC gate's decisions
    DATASET/submissions/day=2025-07-01/block=00000.parquet   the IF-021 per MPAN-day
    DATASET/*/day=2025-07-01/block=00000-late-2025-07-04.parquet
        what the run of 2025-07-04 retrieved late for 2025-07-01 (the retries' decisions, the
        amending IF-021s and their consumption rows, version 2)

Writing a (day, block) is idempotent: each file is written under a temporary name in its
folder and renamed into place (atomic on one filesystem), so a re-run replaces it whole and a
killed writer leaves at most a temporary file, which readers never match (``*.parquet``).
"""

from __future__ import annotations

import uuid
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

__all__ = ["KINDS", "block_path", "write_block"]

KINDS = ("consumption", "decisions", "submissions")


def block_path(dataset: Path, kind: str, day: date, block: int, suffix: str = "") -> Path:
    return dataset / kind / f"day={day.isoformat()}" / f"block={block:05d}{suffix}.parquet"


def write_block(
    dataset: Path,
    kind: str,
    day: date,
    block: int,
    table: pa.Table,
    *,
    split: tuple[str, ...] = (),
    delta: tuple[str, ...] = (),
    suffix: str = "",
) -> int:
    """Write one (day, block) file atomically; returns its size in bytes. Columns in ``split``
    (noisy numbers such as half-hourly values) are stored byte-stream-split rather than
    dictionary-encoded, which zstd compresses better; string columns in ``delta`` (sorted, mostly
    unique: MPANs, references) are stored as shared prefixes and suffixes (DELTA_BYTE_ARRAY)."""
    final = block_path(dataset, kind, day, block, suffix)
    final.parent.mkdir(parents=True, exist_ok=True)
    temporary = final.parent / f".{final.name}.{uuid.uuid4().hex}.tmp"
    try:
        pq.write_table(
            table,
            temporary,
            compression="zstd",
            compression_level=6,
            use_dictionary=[name for name in table.column_names if name not in split + delta],
            column_encoding={
                **dict.fromkeys(split, "BYTE_STREAM_SPLIT"),
                **dict.fromkeys(delta, "DELTA_BYTE_ARRAY"),
            },
            write_statistics=True,
        )
        temporary.replace(final)
    finally:
        temporary.unlink(missing_ok=True)
    return final.stat().st_size
