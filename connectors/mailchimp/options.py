"""Where Mailchimp fields' choices come from: audiences, an audience's tags, saved templates."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.mailchimp.api import list_all
from connectors.sdk import OperationContext, Option, OptionSource

LIMIT = 1000  # a dropdown of more helps nobody


async def audiences(ctx: OperationContext, values: Mapping[str, Any]) -> list[Option]:
    """``GET /lists``: the account's audiences, with their member counts."""
    lists = await list_all(ctx, "/lists", "lists", limit=LIMIT)
    return [
        Option(
            value=str(item["id"]),
            label=f"{item.get('name') or '(no name)'} "
            f"({(item.get('stats') or {}).get('member_count', 0)} members)",
        )
        for item in lists
    ]


async def tags(ctx: OperationContext, values: Mapping[str, Any]) -> list[Option]:
    """``GET /lists/{list_id}/tag-search``: the audience's tags (the value is the tag's name,
    which is what the tag fields take). Not in the stored description; documented at
    https://mailchimp.com/developer/marketing/api/list-tags/search-for-tags-on-a-list-by-name/."""
    found = await list_all(ctx, f"/lists/{values['list_id']}/tag-search", "tags", limit=LIMIT)
    return [Option(value=str(tag["name"]), label=str(tag["name"])) for tag in found]


async def templates(ctx: OperationContext, values: Mapping[str, Any]) -> list[Option]:
    """``GET /templates?type=user``: the templates the account saved. Not in the stored
    description; documented at https://mailchimp.com/developer/marketing/api/templates/list-templates/."""
    found = await list_all(ctx, "/templates", "templates", {"type": "user"}, limit=LIMIT)
    return [
        Option(value=int(t["id"]), label=f"{t.get('name') or '(no name)'} ({t['id']})")
        for t in found
    ]


OPTIONS: tuple[OptionSource, ...] = (
    OptionSource(key="audiences", name="Mailchimp audiences", fetch=audiences),
    OptionSource(
        key="tags",
        name="tags of the audience",
        fetch=tags,
        needs=("list_id",),
        example={"list_id": "a1b2c3d4e5"},
    ),
    OptionSource(key="templates", name="Mailchimp templates", fetch=templates),
)
