"""The simulator's push notification channels and Drive's change log.

Calendar ``events.watch`` and Drive ``changes.watch`` open a channel (the ``Channel``
schema and both ``channels.stop`` methods are in shared/specs/google/calendar.v3 and
drive.v3 subsets). Google then POSTs notifications to the channel's ``address``, as the
push guides describe (https://developers.google.com/workspace/calendar/api/guides/push,
https://developers.google.com/workspace/drive/api/guides/push):

- no body, and no signature: the headers ``X-Goog-Channel-ID``, ``X-Goog-Channel-Token``
  (the token given to ``watch``, when one was), ``X-Goog-Channel-Expiration`` (an
  RFC 1123 date), ``X-Goog-Resource-ID``, ``X-Goog-Resource-URI``,
  ``X-Goog-Resource-State`` and ``X-Goog-Message-Number`` (1, 2, … per channel);
- first a ``sync`` message right after the channel is made; then ``exists`` for any
  change to a watched calendar's events, ``change`` for any change in Drive;
- nothing once the channel is stopped or has expired.

A channel lives until the ``expiration`` asked for, at most ``MAX_LIFETIME`` (Drive's
guide: one week for ``changes``; Calendar's documents no maximum and returns the
expiration it chose, here a week too), and by default as long as that.

Drive's change log (``changes.getStartPageToken``, ``changes.list``) records each file
created or changed; a page token is a position in the log and never expires.
"""

from __future__ import annotations

import email.utils
import secrets
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from connectors.google_workspace.sandbox import (
    AUTH,
    EMAIL,
    Account,
    GoogleError,
    api,
    body_json,
    invalid,
    not_found,
    page_size,
)
from connectors.sdk.sandboxing import Delivery

MAX_LIFETIME = 7 * 24 * 3600.0
"""Seconds (Drive's push guide: 604800 for the changes resource)."""
WATCH_CALENDAR = tuple(
    AUTH + s
    for s in (
        "calendar",
        "calendar.app.created",
        "calendar.events",
        "calendar.events.freebusy",
        "calendar.events.owned",
        "calendar.events.owned.readonly",
        "calendar.events.public.readonly",
        "calendar.events.readonly",
        "calendar.readonly",
    )
)
STOP_CALENDAR = (
    *WATCH_CALENDAR,
    *(
        AUTH + s
        for s in (
            "calendar.acls",
            "calendar.acls.readonly",
            "calendar.calendarlist",
            "calendar.calendarlist.readonly",
            "calendar.settings.readonly",
        )
    ),
)
DRIVE_SCOPES = tuple(
    AUTH + s
    for s in (
        "drive",
        "drive.appdata",
        "drive.file",
        "drive.meet.readonly",
        "drive.metadata",
        "drive.metadata.readonly",
        "drive.photos.readonly",
        "drive.readonly",
    )
)


# -- channels -------------------------------------------------------------------------------


def open_channel(
    acct: Account, body: dict[str, Any], watched: tuple[str, str], resource_uri: str
) -> dict[str, Any]:
    """Check a ``watch`` request's ``Channel``, keep the channel, send its ``sync``."""
    channel_id = body.get("id")
    if not isinstance(channel_id, str) or not channel_id:
        raise GoogleError(
            400, "Required parameter: id", status="INVALID_ARGUMENT", reason="required"
        )
    if body.get("type") not in ("web_hook", "webhook"):
        raise invalid(f"Invalid value for channel type: {body.get('type')}", "type")
    address = body.get("address")
    if not isinstance(address, str) or not address.startswith(("https://", "http://")):
        raise GoogleError(
            400, "Required parameter: address", status="INVALID_ARGUMENT", reason="required"
        )
    if channel_id in acct.channels:
        raise GoogleError(
            400,
            f"Channel id {channel_id} not unique",
            status="INVALID_ARGUMENT",
            reason="channelIdNotUnique",
        )
    now = time.time()
    expires = now + MAX_LIFETIME
    if body.get("expiration") is not None:
        try:
            asked = int(str(body["expiration"])) / 1000
        except ValueError:
            raise invalid("Invalid value for expiration.", "expiration") from None
        expires = min(max(asked, now), expires)
    same = [c for c in acct.channels.values() if c["_watched"] == watched]
    channel: dict[str, Any] = {
        "kind": "api#channel",
        "id": channel_id,
        "resourceId": same[0]["resourceId"] if same else "r-" + secrets.token_hex(10),
        "resourceUri": resource_uri,
        "expiration": str(int(expires * 1000)),
        **({"token": body["token"]} if isinstance(body.get("token"), str) else {}),
    }
    acct.channels[channel_id] = {
        **channel,
        "_watched": watched,
        "_address": address,
        "_expires": expires,
        "_sent": 0,
    }
    _send(acct, acct.channels[channel_id], "sync")
    return channel


def _send(acct: Account, channel: dict[str, Any], state: str) -> None:
    channel["_sent"] += 1
    headers = {
        "X-Goog-Channel-ID": channel["id"],
        "X-Goog-Channel-Expiration": email.utils.formatdate(channel["_expires"], usegmt=True),
        "X-Goog-Resource-ID": channel["resourceId"],
        "X-Goog-Resource-URI": channel["resourceUri"],
        "X-Goog-Resource-State": state,
        "X-Goog-Message-Number": str(channel["_sent"]),
    }
    if "token" in channel:
        headers["X-Goog-Channel-Token"] = channel["token"]
    acct.outbox.post(Delivery(channel["_address"], headers, b""))


def notify(acct: Account, watched: tuple[str, str], state: str) -> None:
    """A watched resource changed: one notification to each live channel on it."""
    now = time.time()
    for channel in list(acct.channels.values()):
        if channel["_watched"] == watched and channel["_expires"] > now:
            _send(acct, channel, state)


def _calendar_key(acct: Account, calendar_id: str) -> str:
    key = EMAIL if calendar_id == "primary" else calendar_id
    if key not in acct.calendars:
        raise not_found("Not Found")
    return key


async def events_watch(request: Request, acct: Account) -> dict[str, Any]:
    """``calendar.events.watch``: a channel for changes to a calendar's events."""
    key = _calendar_key(acct, request.path_params["calendarId"])
    uri = f"https://www.googleapis.com/calendar/v3/calendars/{key}/events?alt=json"
    return open_channel(acct, await body_json(request), ("events", key), uri)


async def changes_watch(request: Request, acct: Account) -> dict[str, Any]:
    """``drive.changes.watch`` (``pageToken`` required, as for ``changes.list``)."""
    token = request.query_params.get("pageToken")
    if not token:
        raise GoogleError(
            400, "Required parameter: pageToken", status="INVALID_ARGUMENT", reason="required"
        )
    _position(acct, token)
    uri = f"https://www.googleapis.com/drive/v3/changes?alt=json&pageToken={token}"
    return open_channel(acct, await body_json(request), ("changes", "drive"), uri)


async def channels_stop(request: Request, acct: Account) -> Response:
    """``channels.stop`` (Calendar's and Drive's): no more notifications; 204."""
    body = await body_json(request)
    channel = acct.channels.get(str(body.get("id") or ""))
    if channel is None or channel["resourceId"] != body.get("resourceId"):
        raise not_found(f"Channel '{body.get('id')}' not found for project '000000000000'")
    del acct.channels[channel["id"]]
    return Response(status_code=204)


# -- Drive's change log -----------------------------------------------------------------------


def record_change(acct: Account, file_id: str) -> None:
    """A file was created or changed: a new entry in the log, a notification to watchers."""
    acct.drive_changes.append({"fileId": file_id, "time": acct.now()})
    notify(acct, ("changes", "drive"), "change")


def touch_file(acct: Account, file_id: str, **changes: Any) -> dict[str, Any]:
    """Change a file "in Drive's UI" (rename it, trash it…): a new ``modifiedTime``."""
    file = acct.files[file_id]
    file.update(changes, modifiedTime=acct.now())
    record_change(acct, file_id)
    return file


def _position(acct: Account, token: str) -> int:
    if not token.isdigit() or not 1 <= int(token) <= len(acct.drive_changes) + 1:
        raise invalid("Invalid pageToken.", "pageToken")
    return int(token)


async def start_page_token(request: Request, acct: Account) -> dict[str, Any]:
    """``drive.changes.getStartPageToken``: the log's next position."""
    return {"kind": "drive#startPageToken", "startPageToken": str(len(acct.drive_changes) + 1)}


async def changes_list(request: Request, acct: Account) -> dict[str, Any]:
    """``drive.changes.list``: the log from ``pageToken``; the last page carries
    ``newStartPageToken``, earlier (possibly short or empty) ones ``nextPageToken``."""
    from connectors.google_workspace.sandbox_sheets_drive import select

    token = request.query_params.get("pageToken")
    if not token:
        raise GoogleError(
            400, "Required parameter: pageToken", status="INVALID_ARGUMENT", reason="required"
        )
    start = _position(acct, token)
    size = page_size(request, "pageSize", 100, 1000)
    size = min(size, acct.page_cap) if acct.page_cap else size
    entries = acct.drive_changes[start - 1 : start - 1 + size]
    changes = []
    for entry in entries:
        file = acct.files.get(entry["fileId"])
        change: dict[str, Any] = {
            "kind": "drive#change",
            "changeType": "file",
            "time": entry["time"],
            "fileId": entry["fileId"],
            "removed": file is None,
        }
        if file is not None:
            change["file"] = {k: v for k, v in file.items() if not k.startswith("_")}
        changes.append(change)
    end = start + len(entries)
    answer: dict[str, Any] = {"kind": "drive#changeList", "changes": changes}
    if end <= len(acct.drive_changes):
        answer["nextPageToken"] = str(end)
    else:
        answer["newStartPageToken"] = str(end)
    return select(answer, request.query_params.get("fields"), tuple(answer))


ROUTES = [
    Route(
        "/calendar/v3/calendars/{calendarId}/events/watch",
        api(WATCH_CALENDAR, events_watch),
        methods=["POST"],
    ),
    Route("/calendar/v3/channels/stop", api(STOP_CALENDAR, channels_stop), methods=["POST"]),
    Route("/drive/v3/changes/startPageToken", api(DRIVE_SCOPES, start_page_token), methods=["GET"]),
    Route("/drive/v3/changes/watch", api(DRIVE_SCOPES, changes_watch), methods=["POST"]),
    Route("/drive/v3/changes", api(DRIVE_SCOPES, changes_list), methods=["GET"]),
    Route("/drive/v3/channels/stop", api(DRIVE_SCOPES, channels_stop), methods=["POST"]),
]
