"""Mailchimp actions (VENDORS.md §8.3): members, tags, notes, campaigns.

A member's path is ``/lists/{list_id}/members/{subscriber_hash}``, the hash being the MD5
of the lower-cased address, so "add or update" is one idempotent ``PUT``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from connectors.mailchimp import schemas as s
from connectors.mailchimp.api import call, subscriber_hash
from connectors.sdk import ActionFactory, OperationContext


def member_path(list_id: str, email: str) -> str:
    return f"/lists/{list_id}/members/{subscriber_hash(email)}"


async def set_tags(
    ctx: OperationContext, list_id: str, email: str, tags: list[str], status: str
) -> None:
    """``POST …/tags``: tags not named stay as they are; unknown names are created."""
    body = {"tags": [{"name": tag, "status": status} for tag in tags]}
    await call(ctx, "POST", f"{member_path(list_id, email)}/tags", json=body)


async def add_or_update(ctx: OperationContext, inputs: s.AddOrUpdateSubscriberInput) -> Any:
    """``PUT`` the member (created with ``status_if_new``, else updated), then add its tags.

    The upsert's body takes no tags (spec ``Add_List_Members_2``), hence the second call;
    the member is read again only when tags were added, so the output shows them.
    """
    body: dict[str, Any] = {"email_address": inputs.email, "status_if_new": inputs.status_if_new}
    if inputs.status is not None:
        body["status"] = inputs.status
    if inputs.merge_fields:
        body["merge_fields"] = inputs.merge_fields
    for name in ("language", "vip"):
        if getattr(inputs, name) is not None:
            body[name] = getattr(inputs, name)
    member = await call(ctx, "PUT", member_path(inputs.list_id, inputs.email), json=body)
    if inputs.tags:
        await set_tags(ctx, inputs.list_id, inputs.email, inputs.tags, "active")
        member = await call(ctx, "GET", member_path(inputs.list_id, inputs.email))
    return member


async def add_subscriber_perform(ctx: OperationContext, inputs: s.AddSubscriberInput) -> Any:
    """``POST`` a new member; Mailchimp refuses an address already in
    the audience ("Member Exists")."""
    body: dict[str, Any] = {"email_address": inputs.email, "status": inputs.status}
    if inputs.merge_fields:
        body["merge_fields"] = inputs.merge_fields
    if inputs.tags:
        body["tags"] = inputs.tags
    return await call(ctx, "POST", f"/lists/{inputs.list_id}/members", json=body)


def tagging(status: str) -> Callable[[OperationContext, s.TagsInput], Awaitable[s.TagsOutput]]:
    async def perform(ctx: OperationContext, inputs: s.TagsInput) -> s.TagsOutput:
        await set_tags(ctx, inputs.list_id, inputs.email, inputs.tags, status)
        return s.TagsOutput(
            email=inputs.email, subscriber_hash=subscriber_hash(inputs.email), tags=inputs.tags
        )

    perform.__doc__ = f"Set the tags' status to {status}."
    return perform


async def unsubscribe_perform(ctx: OperationContext, inputs: s.UnsubscribeInput) -> Any:
    """``PATCH`` the member's status; an address not in the audience is Mailchimp's 404."""
    return await call(
        ctx, "PATCH", member_path(inputs.list_id, inputs.email), json={"status": "unsubscribed"}
    )


async def add_note_perform(ctx: OperationContext, inputs: s.AddNoteInput) -> Any:
    return await call(
        ctx,
        "POST",
        f"{member_path(inputs.list_id, inputs.email)}/notes",
        json={"note": inputs.note},
    )


async def find_subscriber_perform(
    ctx: OperationContext, inputs: s.FindSubscriberInput
) -> s.FindSubscriberOutput:
    """``GET /search-members``: exact matches of the address, in one audience or in all."""
    found = await call(
        ctx, "GET", "/search-members", params={"query": inputs.email, "list_id": inputs.list_id}
    )
    wanted = inputs.email.lower()
    members = [
        m
        for m in (found.get("exact_matches") or {}).get("members") or []
        if str(m.get("email_address", "")).lower() == wanted
    ]
    return s.FindSubscriberOutput(
        found=bool(members), member=members[0] if members else None, count=len(members)
    )


async def create_campaign_perform(ctx: OperationContext, inputs: s.CreateCampaignInput) -> Any:
    """``POST /campaigns``, ``PUT`` its content, and with ``send_now`` ``POST …/actions/send``."""
    settings: dict[str, Any] = {
        "subject_line": inputs.subject_line,
        "from_name": inputs.from_name,
        "reply_to": inputs.reply_to,
        "title": inputs.title or inputs.subject_line,
    }
    if inputs.preview_text:
        settings["preview_text"] = inputs.preview_text
    body = {"type": "regular", "recipients": {"list_id": inputs.list_id}, "settings": settings}
    campaign = await call(ctx, "POST", "/campaigns", json=body)
    content: dict[str, Any] = (
        {"html": inputs.html}
        if inputs.html is not None
        else {"template": {"id": inputs.template_id}}
    )
    if inputs.plain_text:
        content["plain_text"] = inputs.plain_text
    await call(ctx, "PUT", f"/campaigns/{campaign['id']}/content", json=content)
    if inputs.send_now:
        await call(ctx, "POST", f"/campaigns/{campaign['id']}/actions/send")
    return await call(
        ctx, "GET", f"/campaigns/{campaign['id']}"
    )  # with its content's template and status


async def send_campaign_perform(
    ctx: OperationContext, inputs: s.SendCampaignInput
) -> s.SendCampaignOutput:
    await call(ctx, "POST", f"/campaigns/{inputs.campaign_id}/actions/send")
    campaign = await call(
        ctx, "GET", f"/campaigns/{inputs.campaign_id}", params={"fields": "id,status"}
    )
    return s.SendCampaignOutput(campaign_id=campaign["id"], status=campaign["status"])


_action = ActionFactory(__file__)


AUDIENCE = "a1b2c3d4e5"  # the sandbox's "Cellwright Newsletter" audience

add_or_update_subscriber = _action(
    "add_or_update_subscriber",
    "Add or update subscriber",
    "Adds a contact to an audience, or updates the member with that e-mail address "
    "(merge fields, status, tags).",
    s.AddOrUpdateSubscriberInput,
    s.Member,
    add_or_update,
    {
        "list_id": AUDIENCE,
        "email": "ada@example.com",
        "merge_fields": {"FNAME": "Ada"},
        "tags": ["nurture"],
    },
    idempotent=True,
)
add_subscriber = _action(
    "add_subscriber",
    "Add new subscriber",
    "Adds a contact to an audience; fails if the address is already a member "
    "(use 'Add or update' to update).",
    s.AddSubscriberInput,
    s.Member,
    add_subscriber_perform,
    {"list_id": AUDIENCE, "email": "new.reader@example.com", "merge_fields": {"FNAME": "Lin"}},
)
unsubscribe_member = _action(
    "unsubscribe",
    "Unsubscribe",
    "Unsubscribes a member of an audience (the contact stays, with status 'unsubscribed').",
    s.UnsubscribeInput,
    s.Member,
    unsubscribe_perform,
    {"list_id": AUDIENCE, "email": "grace@example.com"},
    idempotent=True,
)
add_tags = _action(
    "add_tags",
    "Add tags to subscriber",
    "Adds tags to a member of an audience; tags that do not exist yet are created.",
    s.TagsInput,
    s.TagsOutput,
    tagging("active"),
    {"list_id": AUDIENCE, "email": "grace@example.com", "tags": ["vip"]},
    idempotent=True,
)
remove_tags = _action(
    "remove_tags",
    "Remove tags from subscriber",
    "Removes tags from a member of an audience (other tags stay).",
    s.TagsInput,
    s.TagsOutput,
    tagging("inactive"),
    {"list_id": AUDIENCE, "email": "grace@example.com", "tags": ["customer"]},
    idempotent=True,
)
add_note = _action(
    "add_note",
    "Add note to subscriber",
    "Adds a note to a member of an audience (shown on the contact's profile).",
    s.AddNoteInput,
    s.Note,
    add_note_perform,
    {"list_id": AUDIENCE, "email": "grace@example.com", "note": "Called about the annual plan."},
)
find_subscriber = _action(
    "find_subscriber",
    "Find subscriber",
    "Finds a member by e-mail address, in one audience or in all of them.",
    s.FindSubscriberInput,
    s.FindSubscriberOutput,
    find_subscriber_perform,
    {"email": "grace@example.com"},
    idempotent=True,
)
create_campaign = _action(
    "create_campaign",
    "Create campaign",
    "Creates an e-mail campaign to an audience from HTML or a saved template, "
    "and sends it if asked.",
    s.CreateCampaignInput,
    s.Campaign,
    create_campaign_perform,
    {
        "list_id": AUDIENCE,
        "subject_line": "Our spring news",
        "from_name": "Cellwright",
        "reply_to": "news@example.com",
        "template_id": 2000001,
    },
)
send_campaign = _action(
    "send_campaign",
    "Send campaign",
    "Sends a draft campaign now (it must be ready: audience, subject, sender and content).",
    s.SendCampaignInput,
    s.SendCampaignOutput,
    send_campaign_perform,
    {"campaign_id": "c0ffee0001"},
)
