"""Serves the logos and icons the workspace shows, and the favicon.

- ``/static/icons/apps/{app}.svg`` — an app's logo: its shipped icon, or the SVG document
  an installed app brings; a planned app (named by templates) has its shipped logo; any
  other key gets the neutral plug, so a page never shows a broken image.
- ``/static/icons/{name}.svg`` — one of the shipped icons (the router, the filter…).
- ``/favicon.svg`` and ``/favicon.ico`` — the Cellwright mark (Panel's page asks for
  ``favicon.ico``; browsers read the SVG it answers with).

Everything is served from files in the package: nothing comes from a CDN. Registered
before the workspace mounts Bokeh's own ``/static``, so these routes win.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import Response

from connectors.icons import GENERIC, icon_svg, shipped
from connectors.planned import PLANNED

FAVICON = Path(__file__).resolve().parent / "static" / "favicon.svg"

SVG_HEADERS = {
    "Cache-Control": "public, max-age=86400",
    # an SVG opened on its own is a document: it may draw, never run scripts or load anything
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    "X-Content-Type-Options": "nosniff",
}


def _svg(text: str) -> Response:
    return Response(text, media_type="image/svg+xml", headers=SVG_HEADERS)


def app_icon(apps: Any, key: str) -> str:
    """The SVG of app ``key``'s logo (installed, else planned, else the neutral plug)."""
    svg = icon_svg(apps.get(key).icon) if key in apps else None
    if svg is None and key in PLANNED:
        svg = shipped(key)
    return svg or shipped(GENERIC) or ""


def add_icon_routes(app: FastAPI, apps: Any) -> None:
    """Add the icon and favicon routes for the registry ``apps``."""

    @app.get("/static/icons/apps/{key}.svg", include_in_schema=False)
    async def app_logo(key: str) -> Response:
        return _svg(app_icon(apps, key))

    @app.get("/static/icons/{name}.svg", include_in_schema=False)
    async def icon(name: str) -> Response:
        svg = shipped(name)
        if svg is None:
            return Response(status_code=404)
        return _svg(svg)

    favicon = FAVICON.read_text(encoding="utf-8")
    for path in ("/favicon.svg", "/favicon.ico"):
        app.add_api_route(path, lambda: _svg(favicon), methods=["GET"], include_in_schema=False)


__all__ = ["add_icon_routes", "app_icon"]
