"""The WordPress triggers. WordPress core sends no webhooks, so all of them poll.

Each asks a collection for items after the stored cursor (a GMT timestamp), oldest
first, following ``X-WP-TotalPages`` up to ``MAX_PAGES``: when more arrived than
that, the cursor moves to the last one returned and the next poll continues from
there, so nothing is skipped. The first poll (no cursor) returns the newest few.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel

from connectors.sdk import OperationContext, PollingTrigger, load_sample
from connectors.wordpress.api import get_page
from connectors.wordpress.schemas import (
    Comment,
    Media,
    NewCommentInput,
    NewMediaInput,
    NewPostInput,
    Post,
    UpdatedPostInput,
)

PER_PAGE = 100
MAX_PAGES = 5
FIRST_POLL = 10


def _after(since: str) -> str:
    """The ``after``/``modified_after`` value for a GMT cursor like ``2026-05-01T09:00:00``.

    The ``Z`` makes WordPress (≥ 5.3) convert it to the site's time zone before
    comparing with its local-time columns. One second earlier, because ``after`` is
    exclusive and timestamps have one-second resolution: an item from the cursor's
    own second comes again and the engine's seen-ids drop it.
    """
    moment = datetime.fromisoformat(str(since).removesuffix("Z")) - timedelta(seconds=1)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + "Z"


async def poll(
    ctx: OperationContext, route: str, since: Any, *, after: str, orderby: str, **params: Any
) -> list[dict[str, Any]]:
    """New items of ``route`` since the cursor (see the module docstring)."""
    if since is None:
        items, _, _ = await get_page(
            ctx, route, orderby=orderby, order="desc", per_page=FIRST_POLL, **params
        )
        return items
    found: list[dict[str, Any]] = []
    for page in range(1, MAX_PAGES + 1):
        window = {
            after: _after(since),
            "orderby": orderby,
            "order": "asc",
            "per_page": PER_PAGE,
            "page": page,
        }
        items, _, pages = await get_page(ctx, route, **window, **params)
        found.extend(items)
        if page >= pages:
            break
    return found


async def fetch_new_posts(
    ctx: OperationContext, inputs: NewPostInput, since: Any
) -> list[dict[str, Any]]:
    """Fires when a post is published (or gets one of the chosen statuses)."""
    # "future" is not offered: a scheduled post's date lies ahead and would move the
    # cursor past posts published before it; it fires once it is published.
    return await poll(
        ctx, "wp/v2/posts", since, after="after", orderby="date", status=inputs.status
    )


async def fetch_changed_posts(
    ctx: OperationContext, inputs: UpdatedPostInput, since: Any
) -> list[dict[str, Any]]:
    """Fires when a post is created or edited; every saved edit fires once."""
    return await poll(
        ctx, "wp/v2/posts", since, after="modified_after", orderby="modified", status=inputs.status
    )


async def fetch_new_comments(
    ctx: OperationContext, inputs: NewCommentInput, since: Any
) -> list[dict[str, Any]]:
    """Fires for each new comment (approved ones, or those awaiting moderation)."""
    return await poll(
        ctx,
        "wp/v2/comments",
        since,
        after="after",
        orderby="date_gmt",
        post=inputs.post,
        status=inputs.status,
    )


async def fetch_new_media(
    ctx: OperationContext, inputs: NewMediaInput, since: Any
) -> list[dict[str, Any]]:
    """Fires when a file is added to the media library."""
    return await poll(
        ctx, "wp/v2/media", since, after="after", orderby="date", media_type=inputs.media_type
    )


def post_version(item: Mapping[str, Any]) -> str:
    """An edit fires again (new ``modified_gmt``); the same version never does."""
    return f"{item['id']}:{item['modified_gmt']}"


def _trigger(
    key: str, name: str, fetch: Any, input: type[BaseModel], output: type[BaseModel], **kw: Any
) -> PollingTrigger:
    description = (fetch.__doc__ or "").strip()
    return PollingTrigger(
        key=key,
        name=name,
        description=description,
        input=input,
        output=output,
        fetch=fetch,
        sample=load_sample(__file__, key),
        **kw,
    )


TRIGGERS: tuple[PollingTrigger, ...] = (
    _trigger(
        "new_post",
        "New post",
        fetch_new_posts,
        NewPostInput,
        Post,
        dedupe_key="id",
        cursor_field="date_gmt",
        example={"status": ["publish"]},
    ),
    _trigger(
        "new_or_updated_post",
        "New or updated post",
        fetch_changed_posts,
        UpdatedPostInput,
        Post,
        dedupe_key=post_version,
        cursor_field="modified_gmt",
        example={"status": ["publish", "draft"]},
    ),
    _trigger(
        "new_comment",
        "New comment",
        fetch_new_comments,
        NewCommentInput,
        Comment,
        dedupe_key="id",
        cursor_field="date_gmt",
        example={"status": "approve"},
    ),
    _trigger(
        "new_media",
        "New media item",
        fetch_new_media,
        NewMediaInput,
        Media,
        dedupe_key="id",
        cursor_field="date_gmt",
        example={"media_type": "image"},
    ),
)
