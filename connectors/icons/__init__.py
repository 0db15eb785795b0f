"""App logos and the icons of built-ins, as SVG files beside this module.

An app names its icon (``App.icon``): the name of a file here (``"slack"`` →
``slack.svg``), or, for an app installed beside Cellwright, an SVG document of its own
(``"<svg …>…</svg>"``). The brand logos and the built-ins' icons are copied from pinned
npm packages by ``scripts/vendor_icons.py``; their sources and licences are in
``NOTICE.md`` here. Nothing here is fetched at run time.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

ICONS_DIR = Path(__file__).resolve().parent
GENERIC = "plug"
"""The neutral icon of an app that declares none (a plug)."""

APP_ICON_PATH = "/static/icons/apps/{key}.svg"
"""Where the server serves an app's logo (shipped or inline alike)."""

_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")


def is_inline(icon: str) -> bool:
    """True when ``icon`` is an SVG document rather than the name of a shipped icon."""
    return icon.lstrip().startswith("<svg")


@lru_cache(maxsize=64)
def shipped(name: str) -> str | None:
    """The SVG text of the shipped icon ``name``, or None when there is none."""
    if not _NAME.match(name):
        return None  # never a path: only plain names reach the file system
    path = ICONS_DIR / f"{name}.svg"
    return path.read_text(encoding="utf-8") if path.is_file() else None


def icon_svg(icon: str) -> str | None:
    """The SVG text ``icon`` stands for (a shipped name or an inline document), or None."""
    if is_inline(icon):
        return icon if icon.rstrip().endswith("</svg>") else None
    return shipped(icon)


def icon_url(app_key: str) -> str:
    """The server path of an app's logo."""
    return APP_ICON_PATH.format(key=app_key)


def icon_problem(icon: str) -> str | None:
    """Why ``icon`` cannot be shown, as a sentence for the conformance report; None if it can."""
    if icon_svg(icon) is not None:
        return None
    known = ", ".join(sorted(p.stem for p in ICONS_DIR.glob("*.svg")))
    return (
        f"its icon '{icon[:40]}' is neither a shipped icon ({known}) nor an SVG "
        "document ('<svg …>…</svg>')"
    )


__all__ = [
    "APP_ICON_PATH",
    "GENERIC",
    "ICONS_DIR",
    "icon_url",
    "icon_problem",
    "icon_svg",
    "is_inline",
    "shipped",
]
