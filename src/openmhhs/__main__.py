"""``python -m openmhhs``."""

from openmhhs.cli.main import run

run()
