"""Instant Calendar and Drive triggers through Google's push notification channels.

``events.watch`` (https://developers.google.com/workspace/calendar/api/guides/push) and
``changes.watch`` (https://developers.google.com/workspace/drive/api/guides/push) open a
*channel*: Google then POSTs a notification to the scenario's URL whenever the calendar's
events (or anything in the user's Drive) change. A notification has no body and no
signature, only ``X-Goog-…`` headers, so:

- **Authenticity**: ``subscribe`` gives the channel a random ``token`` (kept, encrypted,
  in the subscription state, like Mailchimp's URL secret) which Google repeats in
  ``X-Goog-Channel-Token``; ``verify`` compares it in constant time and checks that
  ``X-Goog-Channel-ID`` names our channel. The ``sync`` message Google sends when a
  channel is made may arrive before ``watch`` has returned and its state is stored
  (also when a channel is renewed): a ``sync`` for a channel we do not know yet is
  acknowledged and runs nothing; any other notification must match.
- **Content**: the trigger's ``fetch`` (the SDK calls it after an accepted notification,
  with the connection's context and the cursor the engine keeps) reads what changed:
  Calendar ``events.list`` with the ``nextSyncToken`` of the last read (a 410 means a full
  sync, of which only events updated since the last read fire); Drive ``changes.list``
  from the last ``newStartPageToken``. Arming takes the first cursor before the channel
  exists, so nothing made meanwhile is missed. Each event (file) fires once per version:
  the dedupe key is its id and ``updated`` (``modifiedTime``) — Google may send several
  notifications for one change, and two notifications may read the same change.
- **Expiry**: channels expire (Drive's ``changes`` at most a week; Calendar answers the
  expiration it chose). We ask for a week and keep the answer as ``expires_at``; the
  SDK's ``renew_before`` makes the scheduler open a new channel half a day before, then
  stop the old one (``channels.stop``, also on unsubscribe).

Google refuses a ``watch`` whose address is not HTTPS: the server's public URL must be.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.google_workspace.api import CALENDAR, DRIVE, call
from connectors.google_workspace.calendar_events import event_output, events_url, sync_events
from connectors.google_workspace.drive import FILE_FIELDS, file_output
from connectors.google_workspace.schemas import CalendarInput, DriveChangesInput
from connectors.sdk import (
    IncomingRequest,
    OperationContext,
    Polled,
    UpstreamError,
    WebhookReply,
    WebhookVerificationError,
    constant_time_equals,
)

LIFETIME = timedelta(days=7)
"""Asked of Google (Drive's maximum for ``changes``); Google may answer less."""
RENEW_BEFORE = timedelta(hours=12)
MAX_CHANGE_PAGES = 20
ACKNOWLEDGED = WebhookReply(response=(200, {"ok": True}, {}))
STOP_URLS = {"calendar": f"{CALENDAR}/channels/stop", "drive": f"{DRIVE}/channels/stop"}


# -- channels ----------------------------------------------------------------------------------


def channel_request(webhook_url: str) -> dict[str, Any]:
    """A ``Channel`` for ``watch``: our id, our URL, a fresh secret token, an expiration."""
    expires = datetime.now(UTC) + LIFETIME
    return {
        "id": str(uuid.uuid4()),
        "type": "web_hook",
        "address": webhook_url,
        "token": secrets.token_urlsafe(32),
        "expiration": str(int(expires.timestamp() * 1000)),
    }


def channel_state(api: str, sent: Mapping[str, Any], answer: Mapping[str, Any]) -> dict[str, Any]:
    """What the subscription keeps: the channel, its secret, when it expires."""
    expiration = answer.get("expiration") or sent["expiration"]
    expires = datetime.fromtimestamp(int(str(expiration)) / 1000, UTC)
    return {
        "id": sent["id"],
        "api": api,
        "resource_id": answer.get("resourceId"),
        "token": sent["token"],
        "expires_at": expires.isoformat(),
    }


async def watch_calendar(
    ctx: OperationContext, inputs: CalendarInput, webhook_url: str
) -> dict[str, Any]:
    """``events.watch`` on the calendar."""
    sent = channel_request(webhook_url)
    answer = await call(ctx, "POST", f"{events_url(inputs.calendar_id)}/watch", json=sent)
    return channel_state("calendar", sent, answer or {})


async def watch_drive(
    ctx: OperationContext, inputs: DriveChangesInput, webhook_url: str
) -> dict[str, Any]:
    """``changes.watch`` from the current position of the change log."""
    start = await call(ctx, "GET", f"{DRIVE}/changes/startPageToken")
    sent = channel_request(webhook_url)
    answer = await call(
        ctx,
        "POST",
        f"{DRIVE}/changes/watch",
        params={"pageToken": start["startPageToken"]},
        json=sent,
    )
    return channel_state("drive", sent, answer or {})


async def stop(ctx: OperationContext, inputs: Any, state: Mapping[str, Any]) -> None:
    """``channels.stop``; a channel Google no longer knows (expired) is already stopped."""
    try:
        await call(
            ctx,
            "POST",
            STOP_URLS[str(state.get("api") or "calendar")],
            json={"id": state["id"], "resourceId": state.get("resource_id")},
        )
    except UpstreamError as error:
        if error.status != 404:
            raise


# -- notifications -----------------------------------------------------------------------------


def verify(
    request: IncomingRequest, inputs: Any, state: Mapping[str, Any], credentials: Mapping[str, Any]
) -> None:
    """The notification names our channel and carries its token (see the module docstring)."""
    channel = request.header("x-goog-channel-id") or ""
    expected = str(state.get("id") or "")
    if not (expected and constant_time_equals(channel, expected)):
        if request.header("x-goog-resource-state") == "sync":
            return  # a channel being made or renewed announces itself; nothing runs
        raise WebhookVerificationError(
            "X-Goog-Channel-ID does not name the Google channel this scenario opened "
            "(an old or foreign channel)."
        )
    token = request.header("x-goog-channel-token") or ""
    if not token or not constant_time_equals(token, str(state.get("token") or "")):
        raise WebhookVerificationError(
            "Missing or wrong X-Goog-Channel-Token: "
            "this is not the Google channel this scenario opened."
        )


def parser(changed: frozenset[str]) -> Any:
    """``sync`` and states other than ``changed`` are acknowledged; a change becomes one
    notification event, which the engine replaces by what ``fetch`` reads."""

    async def parse(
        request: IncomingRequest, inputs: Any, state: Mapping[str, Any]
    ) -> WebhookReply:
        resource_state = request.header("x-goog-resource-state") or ""
        if resource_state not in changed:
            return ACKNOWLEDGED
        return WebhookReply(
            events=[
                {
                    "channel_id": request.header("x-goog-channel-id"),
                    "resource_state": resource_state,
                    "message_number": request.header("x-goog-message-number"),
                }
            ]
        )

    return parse


parse_calendar = parser(frozenset({"exists", "not_exists"}))
parse_drive = parser(frozenset({"change"}))


# -- what changed ------------------------------------------------------------------------------


def _after(value: Any, watermark: str) -> bool:
    return bool(value) and str(value) > watermark


async def fetch_calendar_changes(
    ctx: OperationContext, inputs: CalendarInput, since: Any
) -> Polled:
    """Events changed since the last read (cancelled ones too), from the sync token."""
    state = (
        since if isinstance(since, Mapping) and since.get("calendar") == inputs.calendar_id else {}
    )
    token = state.get("sync_token")
    resynced = False
    try:
        events, last = await sync_events(ctx, inputs.calendar_id, token)
    except UpstreamError as error:
        if error.status != 410 or not token:
            raise
        events, last = await sync_events(ctx, inputs.calendar_id, None)  # 410 Gone: a full sync
        resynced = True
    cursor = {
        "calendar": inputs.calendar_id,
        "sync_token": last.get("nextSyncToken"),
        "watermark": last.get("updated") or state.get("watermark") or "",
    }
    if not state:  # the baseline
        return Polled([], cursor=cursor)
    if resynced:
        events = [e for e in events if _after(e.get("updated"), str(state.get("watermark") or ""))]
    return Polled([event_output(e, inputs.calendar_id) for e in events], cursor=cursor)


def change_output(change: Mapping[str, Any]) -> dict[str, Any]:
    file = change.get("file")
    if isinstance(file, Mapping):
        shown = file_output(file)
    else:
        shown = {
            "id": change.get("fileId", ""),
            "name": "",
            "mime_type": "",
            "parents": [],
            "created_time": None,
            "modified_time": None,
            "web_view_link": None,
            "size": None,
        }
    trashed = bool(isinstance(file, Mapping) and file.get("trashed"))
    return {
        **shown,
        "removed": bool(change.get("removed")),
        "trashed": trashed,
        "change_time": change.get("time", ""),
    }


async def fetch_drive_changes(
    ctx: OperationContext, inputs: DriveChangesInput, since: Any
) -> Polled:
    """Files changed since the last read (``changes.list`` from the stored page token)."""
    token = since.get("page_token") if isinstance(since, Mapping) else None
    if not token:  # the baseline: where the log is now
        start = await call(ctx, "GET", f"{DRIVE}/changes/startPageToken")
        return Polled([], cursor={"page_token": start["startPageToken"]})
    changes: list[dict[str, Any]] = []
    for _ in range(MAX_CHANGE_PAGES):
        page = await call(
            ctx,
            "GET",
            f"{DRIVE}/changes",
            params={
                "pageToken": token,
                "pageSize": 100,
                "fields": (
                    "nextPageToken,newStartPageToken,"
                    f"changes(changeType,fileId,removed,time,file({FILE_FIELDS},trashed))"
                ),
            },
        )
        changes.extend(page.get("changes") or [])
        if page.get("newStartPageToken"):
            token = page["newStartPageToken"]
            break
        token = page.get("nextPageToken") or token  # more next time when the cap is reached
    found = [
        change_output(c)
        for c in changes
        if c.get("changeType", "file") == "file" and c.get("fileId")
    ]
    if inputs.folder_id:
        found = [f for f in found if inputs.folder_id in f["parents"]]
    if not inputs.include_removed:
        found = [f for f in found if not (f["removed"] or f["trashed"])]
    return Polled(found, cursor={"page_token": token})


def event_version(event: Mapping[str, Any]) -> str:
    return f"{event['id']}@{event['updated']}"


def file_version(file: Mapping[str, Any]) -> str:
    return f"{file['id']}@{file.get('modified_time') or file['change_time']}"
