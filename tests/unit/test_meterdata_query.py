"""The dataset's queries read each MPAN-day as last submitted: an amendment (version 2, in a
``-late-`` file of a later run) replaces the first submission in ``data show``, the completeness
and the summary; other MPAN-days keep their first."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa

from openmhhs.meterdata.dataset import write_block
from openmhhs.meterdata.pipeline import CONSUMPTION
from openmhhs.meterdata.query import completeness, day_values, summary

DAY = date(2025, 7, 1)
MPANS = ["1000000000011", "1000000000022"]


def _rows(mpans: list[str], *, estimated: bool, version: int) -> pa.Table:
    n = 48
    count = len(mpans) * n
    return pa.table(
        {
            "mpan": pa.array(np.repeat(mpans, n).tolist()).dictionary_encode(),
            "sds": pa.array(["a1a1a1a1a1"] * count).dictionary_encode(),
            "period": np.tile(np.arange(1, n + 1, dtype=np.int8), len(mpans)),
            "value_wh": np.full(count, 100 + version, dtype=np.int32),
            "estimated": np.full(count, estimated),
            "quality": pa.array(["E7" if estimated else "A"] * count)
            .dictionary_encode()
            .cast(pa.dictionary(pa.int8(), pa.string())),
            "reason": np.full(count, 4 if estimated else 0, dtype=np.int8),
            "mdr": pa.array(
                [None if estimated else "b2b2b2b2b2"] * count, type=pa.string()
            ).dictionary_encode(),
            "version": np.full(count, version, dtype=np.int8),
        },
        schema=CONSUMPTION,
    )


def test_an_amendment_replaces_the_first_submission_in_every_query(tmp_path: Path) -> None:
    write_block(tmp_path, "consumption", DAY, 0, _rows(MPANS, estimated=True, version=1), split=("value_wh",))
    write_block(
        tmp_path,
        "consumption",
        DAY,
        0,
        _rows(MPANS[:1], estimated=False, version=2),
        suffix="-late-2025-07-03",
    )
    amended = day_values(tmp_path, MPANS[0], DAY)
    first = day_values(tmp_path, MPANS[1], DAY)
    assert amended is not None and first is not None
    assert len(amended) == len(first) == 48
    assert {(p["value"], p["estimated"], p["mdr"]) for p in amended} == {(0.102, False, "b2b2b2b2b2")}
    assert {(p["value"], p["estimated"], p["mdr"]) for p in first} == {(0.101, True, None)}
    assert completeness(tmp_path) == [(DAY, 2, 48, 48)]
    found = summary(tmp_path, DAY, DAY)
    assert (found["values"], found["actual"]) == (96, 48)
