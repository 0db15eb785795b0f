"""Google Calendar: create and update events; notice new events and events starting soon.

"New event" follows Google's incremental sync
(https://developers.google.com/workspace/calendar/api/guides/sync): a full list once for
a ``nextSyncToken``, then ``events.list?syncToken=…`` returns only what changed. The
token is the trigger's cursor, with the list's ``updated`` (the calendar's last change,
on Google's clock): an event created after it is new, an older one that changed is not.
When Google answers 410 (the token expired) the trigger lists everything again — and
still fires only for events created since the last check.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import quote

from connectors.google_workspace.api import CALENDAR, call, pages
from connectors.google_workspace.schemas import (
    CalendarInput,
    CreateEventInput,
    StartingSoonInput,
    UpdateEventInput,
)
from connectors.sdk import InvalidInputError, OperationContext, Polled, UpstreamError

PAGE = 250
MAX_EVENTS = 25_000
"""Events read by a full sync (100 pages)."""
SAMPLES = 3


def events_url(calendar_id: str, event_id: str = "") -> str:
    base = f"{CALENDAR}/calendars/{quote(calendar_id, safe='@')}/events"
    return f"{base}/{quote(event_id, safe='')}" if event_id else base


def _point(value: Any) -> str:
    value = value or {}
    return str(value.get("dateTime") or value.get("date") or "")


def event_output(event: Mapping[str, Any], calendar_id: str) -> dict[str, Any]:
    return {
        "id": event["id"],
        "calendar_id": calendar_id,
        "status": event.get("status", "confirmed"),
        "summary": event.get("summary", ""),
        "description": event.get("description", ""),
        "location": event.get("location", ""),
        "start": _point(event.get("start")),
        "end": _point(event.get("end")),
        "all_day": bool((event.get("start") or {}).get("date")),
        "attendees": [str(a.get("email")) for a in event.get("attendees") or [] if a.get("email")],
        "organizer": str((event.get("organizer") or {}).get("email", "")),
        "html_link": event.get("htmlLink", ""),
        "created": event.get("created", ""),
        "updated": event.get("updated", ""),
    }


# -- writing ------------------------------------------------------------------------------------


def _parse(value: str, field: str) -> datetime | date:
    text = value.strip()
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInputError(
            f"{field} '{value}' is not a date (2026-05-04) or a date and time "
            "(2026-05-04T10:00:00+02:00).",
            errors=[{"field": field, "message": "not a date or date-time"}],
        ) from None
    return parsed


def _time(value: datetime | date, time_zone: str | None, field: str) -> dict[str, str]:
    if not isinstance(value, datetime):
        return {"date": value.isoformat()}
    if value.tzinfo is None and not time_zone:
        raise InvalidInputError(
            f"{field} has no UTC offset: add one (2026-05-04T10:00:00+02:00) or give time_zone.",
            errors=[{"field": field, "message": "no UTC offset and no time_zone"}],
        )
    point = {"dateTime": value.isoformat()}
    if time_zone:
        point["timeZone"] = time_zone
    return point


def _body(
    inputs: CreateEventInput | UpdateEventInput, duration: timedelta | None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        k: v
        for k, v in (
            ("summary", inputs.summary),
            ("description", inputs.description),
            ("location", inputs.location),
        )
        if v is not None
    }
    if inputs.start:
        start = _parse(inputs.start, "start")
        body["start"] = _time(start, inputs.time_zone, "start")
        if inputs.end:
            end = _parse(inputs.end, "end")
        elif duration is not None:
            end = start + (timedelta(days=1) if not isinstance(start, datetime) else duration)
        else:
            end = None
        if end is not None:
            if type(end) is not type(start):
                raise InvalidInputError(
                    "start and end must both be dates or both be date-times.",
                    errors=[{"field": "end", "message": "mixed date and date-time"}],
                )
            body["end"] = _time(end, inputs.time_zone, "end")
    elif inputs.end:
        body["end"] = _time(_parse(inputs.end, "end"), inputs.time_zone, "end")
    if inputs.attendees is not None:
        body["attendees"] = [{"email": a} for a in inputs.attendees]
    return body


async def create_event(ctx: OperationContext, inputs: CreateEventInput) -> dict[str, Any]:
    """``events.insert`` (the end defaults to start + duration; all day: one day)."""
    body = _body(inputs, timedelta(minutes=inputs.duration_minutes))
    event = await call(
        ctx,
        "POST",
        events_url(inputs.calendar_id),
        params={"sendUpdates": inputs.send_updates},
        json=body,
    )
    return event_output(event, inputs.calendar_id)


async def update_event(ctx: OperationContext, inputs: UpdateEventInput) -> dict[str, Any]:
    """``events.patch``: only the fields given change."""
    body = _body(inputs, None)
    event = await call(
        ctx,
        "PATCH",
        events_url(inputs.calendar_id, inputs.event_id),
        params={"sendUpdates": inputs.send_updates},
        json=body,
    )
    return event_output(event, inputs.calendar_id)


# -- triggers -----------------------------------------------------------------------------------


def _moment(value: Any) -> datetime:
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


async def sync_events(
    ctx: OperationContext, calendar_id: str, token: str | None
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    params: dict[str, Any] = {"maxResults": PAGE, "singleEvents": "true"}
    if token:
        params["syncToken"] = token
    events, last = await pages(
        ctx, events_url(calendar_id), params, "items", limit=MAX_EVENTS, max_pages=100
    )
    return events, last


async def fetch_new_events(ctx: OperationContext, inputs: CalendarInput, since: Any) -> Polled:
    """Events created since the last check, from the changes behind the sync token."""
    state = (
        since if isinstance(since, Mapping) and since.get("calendar") == inputs.calendar_id else {}
    )
    token = state.get("sync_token")
    try:
        events, last = await sync_events(ctx, inputs.calendar_id, token)
    except UpstreamError as error:
        if error.status != 410 or not token:
            raise
        events, last = await sync_events(
            ctx, inputs.calendar_id, None
        )  # 410 Gone: a full sync again
    live = [e for e in events if e.get("status") != "cancelled" and e.get("created")]
    if not state.get("watermark"):
        fresh = sorted(live, key=lambda e: _moment(e["created"]))[
            -SAMPLES:
        ]  # the first check: samples only
    else:
        after = _moment(state["watermark"])
        fresh = [e for e in live if _moment(e["created"]) > after]
    watermark = last.get("updated") or state.get("watermark") or datetime.now(UTC).isoformat()
    cursor = {
        "calendar": inputs.calendar_id,
        "sync_token": last.get("nextSyncToken"),
        "watermark": watermark,
    }
    return Polled([event_output(e, inputs.calendar_id) for e in fresh], cursor=cursor)


async def fetch_starting_soon(
    ctx: OperationContext, inputs: StartingSoonInput, since: Any
) -> list[Mapping[str, Any]]:
    """Events starting within ``minutes_before`` from now (``singleEvents``: each occurrence)."""
    now = datetime.now(UTC)
    events, _ = await pages(
        ctx,
        events_url(inputs.calendar_id),
        {
            "timeMin": now.isoformat(),
            "timeMax": (now + timedelta(minutes=inputs.minutes_before)).isoformat(),
            "singleEvents": "true",
            "orderBy": "startTime",
            "maxResults": PAGE,
        },
        "items",
        limit=1000,
    )
    soon: list[Mapping[str, Any]] = []
    for event in events:
        start = (event.get("start") or {}).get("dateTime")
        if (
            start and datetime.fromisoformat(str(start).replace("Z", "+00:00")) >= now
        ):  # not the ones already running
            soon.append(event_output(event, inputs.calendar_id))
    return soon


def starting_key(item: Mapping[str, Any]) -> str:
    """An event moved to another time fires again for its new start."""
    return f"{item['id']}@{item['start']}"
