"""The Jinja2 environment shared by the dashboard's pages and the main job's report, and the
assets both ship (htmx, Chart.js and our chart script, all inside the package)."""

from __future__ import annotations

from importlib.resources import files
from typing import Any

import orjson
from jinja2 import Environment, PackageLoader, select_autoescape

from openmhhs import __version__

__all__ = ["STATIC", "asset", "render"]

STATIC = {
    "htmx.min.js": ("htmx-2.0.11.min.js", "text/javascript"),
    "chart.umd.min.js": ("chart-4.6.1.umd.min.js", "text/javascript"),
    "dashboard.js": ("dashboard.js", "text/javascript"),
    "dashboard.css": ("dashboard.css", "text/css"),
}
"""The assets a page may load, by the name it uses: all inside the package."""


def _json(value: Any) -> str:
    """JSON safe inside a <script> element."""
    return orjson.dumps(value, default=str).decode().replace("</", "<\\/")


_env = Environment(
    loader=PackageLoader("openmhhs.web", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters["json"] = _json


def asset(name: str) -> bytes:
    """An asset's bytes, by the name pages use (``STATIC``)."""
    return files("openmhhs.web").joinpath("static", STATIC[name][0]).read_bytes()


def render(template: str, **context: Any) -> str:
    return _env.get_template(template).render(version=__version__, **context)
