"""The HTTP API's documentation pages: Swagger UI at ``/docs`` and ReDoc at ``/redoc``, over
the app's ``/openapi.json``, with every asset served from this package (``api/static``,
vendored from the npm registry with their licences), so that the pages work with no internet.
The pages and their assets need no API key (they show only the public OpenAPI document)."""

from __future__ import annotations

from importlib.resources import files

from fastapi import APIRouter
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response

__all__ = ["DOCS_ASSETS", "docs_router"]

ASSET_PREFIX = "/docs/static"

DOCS_ASSETS = {
    "swagger-ui-bundle.js": ("swagger-ui-bundle-5.35.0.js", "text/javascript"),
    "swagger-ui.css": ("swagger-ui-5.35.0.css", "text/css"),
    "favicon.png": ("swagger-ui-favicon-32x32.png", "image/png"),
    "redoc.standalone.js": ("redoc.standalone-2.5.4.js", "text/javascript"),
}
"""The assets the two pages load, by the name they use: all inside the package."""


def docs_router(*, title: str, openapi_url: str = "/openapi.json") -> APIRouter:
    """``/docs``, ``/redoc`` and their assets (not in the OpenAPI document themselves)."""
    router = APIRouter(include_in_schema=False)

    @router.get("/docs", response_class=HTMLResponse)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{title} - Swagger UI",
            swagger_js_url=f"{ASSET_PREFIX}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSET_PREFIX}/swagger-ui.css",
            swagger_favicon_url=f"{ASSET_PREFIX}/favicon.png",
            # Swagger UI would otherwise load a badge from validator.swagger.io.
            swagger_ui_parameters={"validatorUrl": None},
        )

    @router.get("/redoc", response_class=HTMLResponse)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url,
            title=f"{title} - ReDoc",
            redoc_js_url=f"{ASSET_PREFIX}/redoc.standalone.js",
            redoc_favicon_url=f"{ASSET_PREFIX}/favicon.png",
            with_google_fonts=False,
        )

    @router.get(f"{ASSET_PREFIX}/{{name}}")
    async def asset(name: str) -> Response:
        found = DOCS_ASSETS.get(name)
        if found is None:
            return Response("not found", status_code=404, media_type="text/plain")
        body = files("openmhhs.api").joinpath("static", found[0]).read_bytes()
        return Response(body, media_type=found[1], headers={"Cache-Control": "max-age=86400"})

    return router
