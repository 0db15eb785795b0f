"""Where WordPress fields' choices come from: the site's categories, tags and posts."""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

from connectors.sdk import OperationContext, Option, OptionSource
from connectors.wordpress.api import get_page

PER_PAGE = 100  # WordPress's maximum per_page
MAX_PAGES = 10


async def _collection(ctx: OperationContext, route: str, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for page in range(1, MAX_PAGES + 1):
        batch, _, pages = await get_page(ctx, route, per_page=PER_PAGE, page=page, **params)
        items += batch
        if page >= pages:
            break
    return items


def _terms(route: str) -> Any:
    async def fetch(ctx: OperationContext, values: Mapping[str, Any]) -> list[Option]:
        # ids, not names: a post's categories and tags fields take both, and an id never
        # matches a second term the way a name can
        terms = await _collection(ctx, route, orderby="name", hide_empty=False)
        return [
            Option(value=int(t["id"]), label=html.unescape(str(t.get("name") or t["id"])))
            for t in terms
        ]

    fetch.__doc__ = f"Every term of ``{route}``, by name."
    return fetch


async def posts(ctx: OperationContext, values: Mapping[str, Any]) -> list[Option]:
    """The newest published posts (``wp/v2/posts``)."""
    found, _, _ = await get_page(
        ctx, "wp/v2/posts", per_page=PER_PAGE, orderby="date", order="desc"
    )
    return [
        Option(
            value=int(p["id"]),
            label=f"{html.unescape(str((p.get('title') or {}).get('rendered') or '(no title)'))} "
            f"({p['id']})",
        )
        for p in found
    ]


OPTIONS: tuple[OptionSource, ...] = (
    OptionSource(key="categories", name="WordPress categories", fetch=_terms("wp/v2/categories")),
    OptionSource(key="tags", name="WordPress tags", fetch=_terms("wp/v2/tags")),
    OptionSource(key="posts", name="WordPress posts", fetch=posts),
)
