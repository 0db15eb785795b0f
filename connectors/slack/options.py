"""Where Slack fields' choices come from: the channels the app can see."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.sdk import OperationContext, Option, OptionSource
from connectors.slack.actions import conversations


async def channels(ctx: OperationContext, values: Mapping[str, Any]) -> list[Option]:
    """Public and private channels that are not archived (``conversations.list``).

    Channels the app's bot user is in come first: posting elsewhere fails with
    ``not_in_channel`` until someone invites the app, which the label says.
    """
    member: list[Option] = []
    other: list[Option] = []
    async for raw in conversations(ctx, ["public_channel", "private_channel"], True):
        label = f"#{raw.get('name') or raw['id']}"
        if raw.get("is_member") is False:
            other.append(Option(value=str(raw["id"]), label=f"{label} (invite the app first)"))
        else:
            member.append(Option(value=str(raw["id"]), label=label))
    return member + other


OPTIONS: tuple[OptionSource, ...] = (
    OptionSource(key="channels", name="Slack channels", fetch=channels),
)
