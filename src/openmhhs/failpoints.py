"""Crash points for testing recovery: a process dies (SIGKILL, no clean-up) exactly where a
real crash would hurt most, e.g. after the hub stored a batch but before it answered.

Inactive unless ``OPENMHHS_FAILPOINTS`` names a folder. A point fires once: when the file
``<folder>/<name>`` exists, it is removed and the process kills itself. Tests arm a point by
creating that file while the services run.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

__all__ = ["FAILPOINTS_VAR", "arm", "failpoint"]

FAILPOINTS_VAR = "OPENMHHS_FAILPOINTS"
_folder = os.environ.get(FAILPOINTS_VAR, "").strip()


def failpoint(name: str) -> None:
    """Die here if the point ``name`` is armed."""
    if not _folder:
        return
    armed = Path(_folder) / name
    try:
        armed.unlink()
    except FileNotFoundError:
        return
    os.kill(os.getpid(), signal.SIGKILL)


def arm(folder: Path, name: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).touch()
