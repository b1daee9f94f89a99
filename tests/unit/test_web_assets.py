"""The dashboard's and the report's assets ship inside the package, each vendored library
with its licence beside it, and every page names only assets the server has."""

from __future__ import annotations

import re
from importlib.resources import files

from openmhhs.web.templating import STATIC, asset


def test_every_asset_is_in_the_package() -> None:
    for name in STATIC:
        assert asset(name), name


def test_vendored_libraries_keep_their_licences() -> None:
    static = files("openmhhs.web").joinpath("static")
    for stem in ("htmx-2.0.11", "chart-4.6.1"):
        licences = [f.name for f in static.iterdir() if f.name.startswith(stem) and "LICENSE" in f.name]
        assert licences, stem


def test_templates_load_only_assets_the_server_has() -> None:
    templates = files("openmhhs.web").joinpath("templates")
    for template in templates.iterdir():
        text = template.read_text(encoding="utf-8")
        for address in re.findall(r"""(?:src|href)=["'](/static/[^"']+)["']""", text):
            assert address.removeprefix("/static/") in STATIC, (template.name, address)
        assert not re.findall(r"""(?:src|href|action)=["']https?://""", text), template.name
