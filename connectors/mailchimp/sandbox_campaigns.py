"""The Mailchimp sandbox's campaigns and templates (routes listed in ``sandbox``).

Campaigns follow the stored description (``/campaigns``, ``…/content``, ``…/actions/send``);
templates are not in it: https://mailchimp.com/developer/marketing/api/templates/list-templates/.
"""

from __future__ import annotations

import secrets
from typing import Any

from starlette.requests import Request

from connectors.mailchimp.sandbox_state import (
    EMAIL,
    Account,
    Path,
    Problem,
    allow,
    campaign_object,
    invalid,
    not_found,
    page_of,
    public,
    query,
    read_body,
)

CAMPAIGN_SORTS = {"create_time", "send_time"}


async def get_campaigns(account: Account, request: Request, path: Path) -> Any:
    allowed = {
        "status",
        "type",
        "list_id",
        "since_send_time",
        "since_create_time",
        "sort_field",
        "sort_dir",
    }
    params = query(request, allowed | {"count", "offset"})
    items = [
        c
        for c in account.campaigns.values()
        if all(params.get(k) in (None, c.get(k)) for k in ("status", "type"))
    ]
    if params.get("list_id"):
        items = [c for c in items if c["recipients"]["list_id"] == params["list_id"]]
    for param, key in (("since_send_time", "send_time"), ("since_create_time", "create_time")):
        if params.get(param):
            items = [c for c in items if c[key] and c[key] > params[param]]
    sort = params.get("sort_field") or "create_time"
    if sort not in CAMPAIGN_SORTS:
        raise invalid("sort_field", "sort_field must be create_time or send_time.")
    items.sort(key=lambda c: str(c[sort] or ""), reverse=params.get("sort_dir") == "DESC")
    page, total = page_of(request, account, items, allowed)
    return {"campaigns": page, "total_items": total, "_links": []}


SETTINGS = {
    "subject_line",
    "preview_text",
    "title",
    "from_name",
    "reply_to",
    "to_name",
    "template_id",
    "folder_id",
    "use_conversation",
    "authenticate",
    "auto_footer",
    "inline_css",
    "auto_tweet",
    "fb_comments",
}


async def post_campaign(account: Account, request: Request, path: Path) -> Any:
    body = await read_body(request)
    allow(body, {"type", "recipients", "settings", "tracking", "content_type"}, ("type",))
    if body["type"] not in ("regular", "plaintext", "absplit", "rss", "variate"):
        raise invalid(
            "type", "Campaign type must be one of regular, plaintext, absplit, rss, variate."
        )
    list_id = str((body.get("recipients") or {}).get("list_id") or "")
    if list_id not in account.lists:
        raise invalid("recipients.list_id", "The list_id does not match a list in this account.")
    settings = dict(body.get("settings") or {})
    for name in settings:
        if name not in SETTINGS:
            raise invalid(f"settings.{name}", f"Unknown field '{name}'.")
    if settings.get("reply_to") and not EMAIL.match(str(settings["reply_to"])):
        raise invalid("settings.reply_to", "This value should be a valid email.")
    campaign = campaign_object(account, secrets.token_hex(5), list_id, settings)
    account.campaigns[campaign["id"]] = campaign
    return public(campaign)


def _campaign(account: Account, campaign_id: str) -> dict[str, Any]:
    found = account.campaigns.get(campaign_id)
    if found is None:
        raise not_found()
    return found


async def get_campaign(account: Account, request: Request, path: Path) -> Any:
    query(request, set())
    return public(_campaign(account, path["campaign_id"]))


async def put_content(account: Account, request: Request, path: Path) -> Any:
    campaign = _campaign(account, path["campaign_id"])
    body = await read_body(request)
    allow(body, {"html", "plain_text", "template", "url", "archive"})
    if "template" in body:
        template_id = (body["template"] or {}).get("id")
        template = next((t for t in account.templates if t["id"] == template_id), None)
        if template is None:
            raise invalid("template.id", "The template does not exist.")
        campaign["_content"] = f"<!-- template {template_id} --><p>{template['name']}</p>"
        campaign["settings"]["template_id"] = template_id
    elif "html" in body:
        campaign["_content"] = str(body["html"])
    else:
        raise Problem(
            400, "Invalid Resource", "Please provide the content as html, template or url."
        )
    plain = str(body.get("plain_text") or campaign["_content"])
    return {
        "html": campaign["_content"],
        "plain_text": plain,
        "archive_html": campaign["_content"],
        "_links": [],
    }


async def send(account: Account, request: Request, path: Path) -> Any:
    """https://mailchimp.com/developer/marketing/api/campaigns/send-campaign/"""
    campaign = _campaign(account, path["campaign_id"])
    if campaign["status"] not in ("save", "paused"):
        raise Problem(400, "Bad Request", "Your Campaign has already been sent or is being sent.")
    settings = campaign["settings"]
    missing = [name for name in ("subject_line", "from_name", "reply_to") if not settings.get(name)]
    if missing or not campaign["_content"]:
        raise Problem(
            400,
            "Bad Request",
            "Your Campaign is not ready to send.",
            [
                {"field": f"settings.{m}", "message": "This value should not be blank."}
                for m in missing
            ]
            or None,
        )
    campaign.update(
        status="sent",
        send_time=account.now(),
        emails_sent=campaign["recipients"]["recipient_count"],
    )
    return None


async def get_templates(account: Account, request: Request, path: Path) -> Any:
    """https://mailchimp.com/developer/marketing/api/templates/list-templates/
    (not in the subset)."""
    params = query(request, {"type", "count", "offset"})
    items = [t for t in account.templates if params.get("type") in (None, t["type"])]
    page, total = page_of(request, account, items, {"type"})
    return {"templates": page, "total_items": total, "_links": []}
