from __future__ import annotations

from pathlib import Path

import pytest

from tests.official_spec import OfficialSpec

_CACHE: dict[Path, OfficialSpec] = {}


@pytest.fixture
def official(spec_dir: Path) -> OfficialSpec:
    """The official DIP schemas (skips with a reason when ../shared/dip-spec is absent)."""
    if spec_dir not in _CACHE:
        _CACHE[spec_dir] = OfficialSpec(spec_dir)
    return _CACHE[spec_dir]
