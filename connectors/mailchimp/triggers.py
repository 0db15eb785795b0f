"""Mailchimp triggers (VENDORS.md §8.2): audience webhooks, and polling.

Audience webhooks (``POST /lists/{list_id}/webhooks``) are made when a scenario is
enabled. Mailchimp then checks the URL with a ``GET`` (it must answer 200), and POSTs
each event as a form (``type=subscribe&data[email]=…&data[merges][FNAME]=…``) with no
signature (https://mailchimp.com/developer/marketing/guides/sync-audience-data-webhooks/).

Why a secret of our own in the URL, when ``/hooks/<token>`` is already random (192
bits): the scenario's token is shown in the workspace, returned by the API and kept for
the scenario's life, and anyone holding it may post to a *generic* webhook. The secret
we add (``?secret=…``) is made for each Mailchimp subscription, is given only to
Mailchimp, is stored encrypted with the subscription, and changes whenever the scenario
is enabled again — so a delivery is accepted only if it comes from the webhook we
registered, and a URL that leaked stops working once the scenario is re-armed.

Polling triggers read the members list (``since_timestamp_opt`` / ``since_last_changed``)
and the sent campaigns (``since_send_time``): they need no public URL.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

from pydantic import BaseModel

from connectors.mailchimp import schemas as s
from connectors.mailchimp.api import call, list_all
from connectors.sdk import (
    IncomingRequest,
    InstantTrigger,
    NoInput,
    OperationContext,
    PollingTrigger,
    UpstreamError,
    WebhookReply,
    WebhookVerificationError,
    constant_time_equals,
    load_sample,
)

EVENTS = ("subscribe", "unsubscribe", "profile", "cleaned", "upemail", "campaign")
SECRET_PARAM = "secret"  # noqa: S105 - a query parameter's name


# -- form bodies ---------------------------------------------------------------------------------


def decode_form(body: bytes) -> dict[str, Any]:
    """A form with bracket names into nested data: ``data[merges][FNAME]=Ada`` →
    ``{"data": {"merges": {"FNAME": "Ada"}}}``; keys ``0, 1, …`` become lists
    (``data[merges][GROUPINGS][0][name]``)."""
    root: dict[str, Any] = {}
    for key, value in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True):
        tokens = [key.split("[", 1)[0], *re.findall(r"\[([^\]]*)\]", key)]
        node = root
        for token in tokens[:-1]:
            child = node.setdefault(token or str(len(node)), {})
            if not isinstance(child, dict):  # "a=1&a[b]=2": the nested value wins
                child = node[token] = {}
            node = child
        node[tokens[-1] or str(len(node))] = value
    return {key: _listify(value) for key, value in root.items()}


def _listify(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    items = {k: _listify(v) for k, v in value.items()}
    if items and all(k.isdigit() for k in items):
        return [items[k] for k in sorted(items, key=int)]
    return items


def event_item(form: Mapping[str, Any]) -> dict[str, Any]:
    """A delivery's run data: ``type``, ``fired_at`` and the ``data[…]`` fields at the top.

    ``upemail`` names the member ``new_id`` / ``new_email``: they become ``id`` / ``email``
    (with ``old_email`` beside), so one mapping works for every event.
    """
    data = form.get("data")
    data = dict(data) if isinstance(data, Mapping) else {}
    if "new_email" in data:
        data["email"] = data.pop("new_email")
    if "new_id" in data:
        data["id"] = data.pop("new_id")
    merges = data.get("merges")
    data["merges"] = merges if isinstance(merges, Mapping) else {}
    kind, fired = str(form.get("type") or ""), str(form.get("fired_at") or "")
    return {
        **data,
        "type": kind,
        "fired_at": fired,
        "event_key": f"{kind}:{data.get('id') or data.get('email')}:{fired}",
    }


# -- audience webhooks ---------------------------------------------------------------------------


def with_secret(url: str, secret: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}{SECRET_PARAM}={secret}"


def verify(
    request: IncomingRequest, inputs: Any, state: Mapping[str, Any], credentials: Mapping[str, Any]
) -> None:
    """A delivery's secret must be the one given to Mailchimp.

    The GET check is answered without it: Mailchimp sends it while the webhook is being
    created, before our subscribe call has returned and its secret is stored; a GET
    carries no event and runs nothing.
    """
    if request.method == "GET":
        return
    expected = str(state.get("secret") or "")
    if not expected:
        raise WebhookVerificationError(
            "This Mailchimp trigger has no webhook secret: disable and enable the scenario again."
        )
    given = request.query.get(SECRET_PARAM) or ""
    if not given or not constant_time_equals(expected, given):
        raise WebhookVerificationError(
            "Missing or wrong secret in the URL: this is not the Mailchimp webhook "
            "this scenario registered."
        )


async def unsubscribe_webhook(ctx: OperationContext, inputs: Any, state: Mapping[str, Any]) -> None:
    try:
        await call(ctx, "DELETE", f"/lists/{state['list_id']}/webhooks/{state['id']}")
    except UpstreamError as exc:
        if exc.status != 404:  # already deleted in Mailchimp: nothing left to do
            raise


def audience_trigger(
    key: str, name: str, description: str, events: tuple[str, ...]
) -> InstantTrigger:
    """An instant trigger for some audience events of the chosen audience."""

    async def subscribe(
        ctx: OperationContext, inputs: s.AudienceInput, webhook_url: str
    ) -> dict[str, Any]:
        secret = secrets.token_urlsafe(24)
        body = {
            "url": with_secret(webhook_url, secret),
            "events": {event: event in events for event in EVENTS},
            # api too: contacts added by scenarios (and other tools) count as well
            "sources": {"user": True, "admin": True, "api": True},
        }
        hook = await call(ctx, "POST", f"/lists/{inputs.list_id}/webhooks", json=body)
        return {"id": hook["id"], "list_id": inputs.list_id, "secret": secret}

    async def parse(
        request: IncomingRequest, inputs: Any, state: Mapping[str, Any]
    ) -> WebhookReply:
        if request.method == "GET":  # Mailchimp's check of the URL when the webhook is saved
            return WebhookReply(response=(200, {"ok": True}, {}))
        form = decode_form(request.body)
        if form.get("type") not in events:
            return WebhookReply()  # another event of a shared URL: nothing to run
        return WebhookReply(events=[event_item(form)])

    return InstantTrigger(
        key=key,
        name=name,
        description=description,
        input=s.AudienceInput,
        output=s.SubscriberEvent,
        sample=load_sample(__file__, key),
        example={"list_id": "a1b2c3d4e5"},
        subscribe=subscribe,
        unsubscribe=unsubscribe_webhook,
        verify=verify,
        parse=parse,
        methods=("GET", "POST"),
        dedupe_key="event_key",
    )


new_subscriber = audience_trigger(
    "new_subscriber",
    "New subscriber",
    "Starts when someone subscribes to an audience (Mailchimp audience webhook).",
    ("subscribe",),
)
unsubscribed = audience_trigger(
    "unsubscribed",
    "Subscriber unsubscribed",
    "Starts when a member of an audience unsubscribes or is unsubscribed.",
    ("unsubscribe",),
)
subscriber_updated = audience_trigger(
    "subscriber_updated",
    "Subscriber updated",
    "Starts when a member's profile (merge fields, interests) or e-mail address "
    "changes in an audience.",
    ("profile", "upemail"),
)


# -- polling -------------------------------------------------------------------------------------


def _earlier(timestamp: str) -> str:
    """One second before an ISO time: Mailchimp's ``since_*`` filters may be exclusive, and an
    item changed in the same second as the last one seen must not be missed (the engine drops
    the ones it has seen)."""
    try:
        return (datetime.fromisoformat(timestamp) - timedelta(seconds=1)).isoformat()
    except ValueError:
        return timestamp


def member_poll(status: str | None, since_param: str, cursor: str) -> Any:
    async def fetch(
        ctx: OperationContext, inputs: s.AudienceInput, since: Any
    ) -> list[Mapping[str, Any]]:
        params: dict[str, Any] = {"sort_field": cursor, "sort_dir": "DESC", "status": status}
        path = f"/lists/{inputs.list_id}/members"
        if (
            since is None
        ):  # the first poll: the newest few, as a baseline and for the mapping picker
            return list(await list_all(ctx, path, "members", params, limit=10))
        return list(
            await list_all(ctx, path, "members", {**params, since_param: _earlier(str(since))})
        )

    return fetch


def _changed(item: Mapping[str, Any]) -> str:
    return f"{item['id']}:{item.get('last_changed')}"


def polling(
    key: str,
    name: str,
    description: str,
    output: type[BaseModel],
    fetch: Any,
    cursor: str,
    dedupe: Any,
    example: dict[str, Any],
) -> PollingTrigger:
    return PollingTrigger(
        key=key,
        name=name,
        description=description,
        input=s.AudienceInput if example else NoInput,
        output=output,
        sample=load_sample(__file__, key),
        example=example,
        fetch=fetch,
        dedupe_key=dedupe,
        cursor_field=cursor,
    )


AUDIENCE = {"list_id": "a1b2c3d4e5"}

new_subscriber_polling = polling(
    "new_subscriber_polling",
    "New subscriber (polling)",
    "Checks an audience for new subscribers every few minutes; needs no public URL.",
    s.Member,
    member_poll("subscribed", "since_timestamp_opt", "timestamp_opt"),
    "timestamp_opt",
    "id",
    AUDIENCE,
)
unsubscribed_polling = polling(
    "unsubscribed_polling",
    "Subscriber unsubscribed (polling)",
    "Checks an audience for members who unsubscribed, every few minutes; needs no public URL.",
    s.Member,
    member_poll("unsubscribed", "since_last_changed", "last_changed"),
    "last_changed",
    _changed,
    AUDIENCE,
)
subscriber_updated_polling = polling(
    "subscriber_updated_polling",
    "Subscriber updated (polling)",
    "Checks an audience for members changed in any way (profile, status, tags), every few minutes.",
    s.Member,
    member_poll(None, "since_last_changed", "last_changed"),
    "last_changed",
    _changed,
    AUDIENCE,
)


async def fetch_sent_campaigns(
    ctx: OperationContext, inputs: Any, since: Any
) -> list[Mapping[str, Any]]:
    params: dict[str, Any] = {"status": "sent", "sort_field": "send_time", "sort_dir": "DESC"}
    if since is None:
        return list(await list_all(ctx, "/campaigns", "campaigns", params, limit=10))
    since_param = {"since_send_time": _earlier(str(since))}
    return list(await list_all(ctx, "/campaigns", "campaigns", {**params, **since_param}))


new_campaign_sent = polling(
    "new_campaign_sent",
    "New campaign sent",
    "Starts when an e-mail campaign has been sent (checked every few minutes).",
    s.Campaign,
    fetch_sent_campaigns,
    "send_time",
    "id",
    {},
)
