"""The simulator's Gmail v1 and Calendar v3 routes (shared/specs/google/gmail.v1.subset.json,
calendar.v3.subset.json).

Gmail threads a sent message into ``threadId`` only as Gmail does
(https://developers.google.com/workspace/gmail/api/guides/threads): the message names an
earlier message of the thread in ``In-Reply-To``/``References`` and its subject matches;
otherwise it starts a new thread. Calendar keeps a change number per event: a list's last
page carries ``nextSyncToken``, a list with ``syncToken`` returns what changed since
(cancelled events included), and a stale token answers 410 ``fullSyncRequired``.
"""

from __future__ import annotations

import base64
import binascii
import email
import email.policy
import email.utils
import re
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from connectors.google_workspace import sandbox_channels
from connectors.google_workspace.sandbox import (
    AUTH,
    EMAIL,
    Account,
    GoogleError,
    api,
    body_json,
    invalid,
    new_id,
    not_found,
    page_size,
    paginate,
)

MAIL = "https://mail.google.com/"
READ_MAIL = (MAIL, *(AUTH + s for s in ("gmail.metadata", "gmail.modify", "gmail.readonly")))
GET_MAIL = (
    *READ_MAIL,
    *(
        AUTH + s
        for s in (
            "gmail.addons.current.message.action",
            "gmail.addons.current.message.metadata",
            "gmail.addons.current.message.readonly",
        )
    ),
)
SEND_MAIL = (
    MAIL,
    *(
        AUTH + s
        for s in (
            "gmail.addons.current.action.compose",
            "gmail.compose",
            "gmail.modify",
            "gmail.send",
        )
    ),
)
DRAFT_MAIL = (
    MAIL,
    *(AUTH + s for s in ("gmail.addons.current.action.compose", "gmail.compose", "gmail.modify")),
)
LABELS = (
    MAIL,
    *(AUTH + s for s in ("gmail.labels", "gmail.metadata", "gmail.modify", "gmail.readonly")),
)
CALENDAR_LIST = tuple(
    AUTH + s
    for s in (
        "calendar",
        "calendar.calendarlist",
        "calendar.calendarlist.readonly",
        "calendar.readonly",
    )
)
READ_EVENTS = tuple(
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
WRITE_EVENTS = tuple(
    AUTH + s
    for s in ("calendar", "calendar.app.created", "calendar.events", "calendar.events.owned")
)

# -- Gmail --------------------------------------------------------------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _subject_key(subject: str) -> str:
    return re.sub(r"^(\s*(re|fwd?)\s*:\s*)+", "", subject, flags=re.IGNORECASE).strip().lower()


def store_message(
    acct: Account, raw: bytes, labels: list[str], thread_id: str | None = None
) -> dict[str, Any]:
    """Keep an RFC 2822 message as Gmail would: id, thread, labels, parsed payload."""
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    if parsed["From"] is None:  # Gmail sends as the account
        parsed["From"] = EMAIL
        raw = parsed.as_bytes()
    if parsed["Message-ID"] is None:
        parsed["Message-ID"] = email.utils.make_msgid(domain="mail.gmail.com")
        raw = parsed.as_bytes()
    thread = _thread_for(acct, parsed, thread_id)
    acct.history_id += 1
    text = parsed.get_body(preferencelist=("plain",))
    snippet = (text.get_content() if text is not None else "").strip().replace("\n", " ")[:200]
    message = {
        "id": new_id(16),
        "threadId": thread,
        "labelIds": labels,
        "snippet": snippet,
        "historyId": str(acct.history_id),
        "internalDate": str(int(datetime.now(UTC).timestamp() * 1000)),
        "sizeEstimate": len(raw),
        "payload": _payload(parsed, ""),
        "_raw": raw,
    }
    acct.messages.insert(0, message)
    return message


def _thread_for(acct: Account, parsed: Any, thread_id: str | None) -> str:
    if not thread_id:
        return new_id(16)
    earlier = [m for m in acct.messages if m["threadId"] == thread_id]
    if not earlier:
        raise not_found()
    ids = {_header(m, "Message-ID") for m in earlier}
    refs = set(str(parsed.get("References") or "").split()) | {
        str(parsed.get("In-Reply-To") or "").strip()
    }
    subject_ok = _subject_key(str(parsed["Subject"] or "")) == _subject_key(
        _header(earlier[-1], "Subject")
    )
    return thread_id if (ids & refs and subject_ok) else new_id(16)


def _payload(part: Any, part_id: str) -> dict[str, Any]:
    headers = [{"name": k, "value": str(v)} for k, v in part.items()]
    if part.is_multipart():
        children = [
            _payload(p, f"{part_id}.{i}" if part_id else str(i))
            for i, p in enumerate(part.iter_parts())
        ]
        return {
            "partId": part_id,
            "mimeType": part.get_content_type(),
            "filename": "",
            "headers": headers,
            "body": {"size": 0},
            "parts": children,
        }
    data = part.get_payload(decode=True) or b""
    filename = part.get_filename() or ""
    body: dict[str, Any] = {"size": len(data)}
    if filename:
        body["attachmentId"] = "ANGjdJ" + new_id(24)
    else:
        body["data"] = b64url(data)
    return {
        "partId": part_id,
        "mimeType": part.get_content_type(),
        "filename": filename,
        "headers": headers,
        "body": body,
    }


def _header(message: dict[str, Any], name: str) -> str:
    return next(
        (h["value"] for h in message["payload"]["headers"] if h["name"].lower() == name.lower()), ""
    )


def _has_attachment(message: dict[str, Any]) -> bool:
    stack = [message["payload"]]
    while stack:
        part = stack.pop()
        if part.get("filename"):
            return True
        stack.extend(part.get("parts") or [])
    return False


def _search(acct: Account, message: dict[str, Any], q: str) -> bool:
    """A subset of Gmail's search operators: from: to: subject: label:
    has:attachment is:unread, words."""
    for term in re.findall(r'(\w+:"[^"]*"|\w+:\S+|"[^"]*"|\S+)', q):
        key, _, value = term.partition(":") if re.match(r"^\w+:", term) else ("", "", term)
        value = value.strip('"').lower()
        if key == "from" and value not in _header(message, "From").lower():
            return False
        if key == "to" and value not in _header(message, "To").lower():
            return False
        if key == "subject" and value not in _header(message, "Subject").lower():
            return False
        if key == "label":
            ids = {
                label["id"]
                for label in acct.labels
                if label["name"].lower().replace(" ", "-") == value.replace(" ", "-")
            }
            if not ids & set(message["labelIds"]):
                return False
        if key == "has" and value == "attachment" and not _has_attachment(message):
            return False
        if key == "is" and value.upper() not in message["labelIds"]:
            return False
        if not key:
            text = " ".join(
                (_header(message, "Subject"), _header(message, "From"), message["snippet"])
            ).lower()
            if value not in text:
                return False
    return True


def _shown(
    message: dict[str, Any], fmt: str = "full", headers: list[str] | None = None
) -> dict[str, Any]:
    shown = {k: v for k, v in message.items() if not k.startswith("_")}
    if fmt == "minimal":
        shown.pop("payload")
    elif fmt == "raw":
        shown.pop("payload")
        shown["raw"] = b64url(message["_raw"])
    elif fmt == "metadata":
        wanted = {h.lower() for h in headers or []}
        shown["payload"] = {
            "mimeType": message["payload"]["mimeType"],
            "headers": [
                h
                for h in message["payload"]["headers"]
                if not wanted or h["name"].lower() in wanted
            ],
        }
    return shown


async def messages_list(request: Request, acct: Account) -> dict[str, Any]:
    """``gmail.users.messages.list`` (``q``, ``labelIds``, newest first)."""
    labels = request.query_params.getlist("labelIds")
    q = request.query_params.get("q", "")
    spam_trash = request.query_params.get("includeSpamTrash") == "true"
    found = [
        m
        for m in acct.messages
        if set(labels) <= set(m["labelIds"])
        and _search(acct, m, q)
        and (spam_trash or not {"SPAM", "TRASH"} & set(m["labelIds"]))
    ]
    size = page_size(request, "maxResults", 100, 500)
    page, token = paginate(acct, found, size, request.query_params.get("pageToken"))
    answer: dict[str, Any] = {"resultSizeEstimate": len(found)}
    if page:
        answer["messages"] = [{"id": m["id"], "threadId": m["threadId"]} for m in page]
    if token:
        answer["nextPageToken"] = token
    return answer


def _message(acct: Account, message_id: str) -> dict[str, Any]:
    found = next((m for m in acct.messages if m["id"] == message_id), None)
    if found is None:
        raise not_found()
    return found


async def messages_get(request: Request, acct: Account) -> dict[str, Any]:
    """``gmail.users.messages.get`` (``format``: full, metadata, minimal, raw)."""
    fmt = request.query_params.get("format", "full")
    if fmt not in ("full", "metadata", "minimal", "raw"):
        raise invalid(f"Invalid value at 'format' ({fmt})", "format")
    message = _message(acct, request.path_params["id"])
    return _shown(message, fmt, request.query_params.getlist("metadataHeaders"))


def _raw(data: dict[str, Any]) -> bytes:
    raw = data.get("raw")
    if not isinstance(raw, str) or not raw:
        raise invalid("Invalid value at 'message.raw'", "raw")
    try:
        decoded = base64.b64decode(raw + "=" * (-len(raw) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise invalid(
            "Invalid value at 'message.raw' (TYPE_BYTES), Base64 decoding failed", "raw"
        ) from None
    parsed = email.message_from_bytes(decoded, policy=email.policy.default)
    if not (parsed["To"] or parsed["Cc"] or parsed["Bcc"]):
        raise invalid("Recipient address required", "raw")
    return decoded


async def messages_send(request: Request, acct: Account) -> dict[str, Any]:
    """``gmail.users.messages.send`` with ``raw`` (and ``threadId`` for a reply)."""
    data = await body_json(request)
    message = store_message(acct, _raw(data), ["SENT"], data.get("threadId"))
    return {"id": message["id"], "threadId": message["threadId"], "labelIds": message["labelIds"]}


async def drafts_create(request: Request, acct: Account) -> dict[str, Any]:
    """``gmail.users.drafts.create`` with ``message.raw``."""
    data = await body_json(request)
    message = data.get("message")
    if not isinstance(message, dict):
        raise invalid("Invalid value at 'draft.message'", "message")
    stored = store_message(acct, _raw(message), ["DRAFT"], message.get("threadId"))
    draft: dict[str, Any] = {
        "id": "r" + str(int(new_id(16), 16) % 10**19),
        "message": {k: stored[k] for k in ("id", "threadId", "labelIds")},
    }
    acct.drafts[draft["id"]] = draft
    return draft


async def labels_list(request: Request, acct: Account) -> dict[str, Any]:
    """``gmail.users.labels.list``."""
    return {"labels": acct.labels}


def new_message(
    acct: Account,
    sender: str,
    subject: str,
    text: str,
    labels: list[str],
    attachment: tuple[str, bytes] | None = None,
) -> dict[str, Any]:
    """A message arriving in the inbox (what tests and the seed use)."""
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = sender, EMAIL, subject
    mail["Date"] = email.utils.formatdate(localtime=False)
    mail.set_content(text)
    if attachment:
        mail.add_attachment(
            attachment[1], maintype="application", subtype="pdf", filename=attachment[0]
        )
    return store_message(acct, mail.as_bytes(), labels)


# -- Calendar -----------------------------------------------------------------------------------


def _calendar(acct: Account, calendar_id: str) -> str:
    key = EMAIL if calendar_id == "primary" else calendar_id
    if key not in acct.calendars:
        raise not_found("Not Found")
    return key


def when(point: dict[str, Any] | None) -> datetime:
    """An event's start or end as an aware datetime (all-day dates at midnight UTC)."""
    point = point or {}
    if point.get("dateTime"):
        return datetime.fromisoformat(str(point["dateTime"]).replace("Z", "+00:00"))
    if point.get("date"):
        return datetime.fromisoformat(str(point["date"])).replace(tzinfo=UTC)
    raise invalid("Missing time.", "start")


def _time_param(request: Request, name: str) -> datetime | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise invalid("Bad Request", name) from None
    if value.tzinfo is None:
        raise invalid("Bad Request", name)
    return value


def _event_view(event: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in event.items() if not k.startswith("_")}


SYNC_EXCLUSIVE = (
    "iCalUID",
    "orderBy",
    "privateExtendedProperty",
    "q",
    "sharedExtendedProperty",
    "timeMin",
    "timeMax",
    "updatedMin",
)


async def events_list(request: Request, acct: Account) -> dict[str, Any]:
    """``calendar.events.list``: time window, ``orderBy``, ``q``, ``syncToken`` (410 when stale)."""
    key = _calendar(acct, request.path_params["calendarId"])
    params = request.query_params
    events = list(acct.events.get(key, {}).values())
    sync = params.get("syncToken")
    if sync is not None:
        clash = [p for p in SYNC_EXCLUSIVE if p in params]
        if clash:
            raise invalid(
                f"The parameter {clash[0]} cannot be used together with syncToken.", clash[0]
            )
        issued = re.fullmatch(r"sync(\d+)-(\d+)", sync)
        if issued is None or int(issued[1]) != acct.sync_epoch:
            raise GoogleError(
                410,
                "Sync token is no longer valid, a full sync is required.",
                status="GONE",
                reason="fullSyncRequired",
            )
        events = [e for e in events if e["_seq"] > int(issued[2])]
    else:
        if params.get("showDeleted") != "true":
            events = [e for e in events if e["status"] != "cancelled"]
        low, high = _time_param(request, "timeMin"), _time_param(request, "timeMax")
        events = [
            e
            for e in events
            if (low is None or when(e["end"]) > low) and (high is None or when(e["start"]) < high)
        ]
        if params.get("q"):
            events = [
                e
                for e in events
                if params["q"].lower() in (e.get("summary", "") + e.get("description", "")).lower()
            ]
        order = params.get("orderBy")
        if order == "startTime":
            if params.get("singleEvents") != "true":
                raise invalid(
                    "The requested ordering is not available for the particular query.", "orderBy"
                )
            events.sort(key=lambda e: when(e["start"]))
        elif order == "updated":
            events.sort(key=lambda e: e["updated"])
    size = page_size(request, "maxResults", 250, 2500)
    page, token = paginate(acct, events, size, params.get("pageToken"))
    answer: dict[str, Any] = {
        "kind": "calendar#events",
        "summary": acct.calendars[key]["summary"],
        "updated": acct.now(),
        "timeZone": acct.calendars[key]["timeZone"],
        "accessRole": "owner",
        "items": [_event_view(e) for e in page],
    }
    if token:
        answer["nextPageToken"] = token
    else:
        answer["nextSyncToken"] = f"sync{acct.sync_epoch}-{acct.change_seq}"
    return answer


def _check_times(event: dict[str, Any]) -> None:
    for name in ("start", "end"):
        if not isinstance(event.get(name), dict) or not (
            event[name].get("dateTime") or event[name].get("date")
        ):
            raise GoogleError(
                400, f"Missing {name} time.", status="INVALID_ARGUMENT", reason="required"
            )
    if when(event["end"]) <= when(event["start"]):
        raise GoogleError(
            400,
            "The specified time range is empty.",
            status="INVALID_ARGUMENT",
            reason="timeRangeEmpty",
        )


def save_event(acct: Account, key: str, event: dict[str, Any]) -> dict[str, Any]:
    event["_seq"] = acct.next_change()
    event["updated"] = acct.now()
    event["etag"] = f'"{event["_seq"]}000"'
    acct.events.setdefault(key, {})[event["id"]] = event
    sandbox_channels.notify(acct, ("events", key), "exists")
    return event


def new_event(
    acct: Account, key: str, data: dict[str, Any], event_id: str | None = None
) -> dict[str, Any]:
    _check_times(data)
    event_id = event_id or new_id(26)
    created = acct.now()
    event = {
        "kind": "calendar#event",
        "id": event_id,
        "status": "confirmed",
        "htmlLink": f"https://www.google.com/calendar/event?eid={event_id}",
        "created": created,
        "summary": data.get("summary", ""),
        "creator": {"email": EMAIL, "self": True},
        "organizer": {"email": key, "self": True},
        "iCalUID": f"{event_id}@google.com",
        "sequence": 0,
        "reminders": {"useDefault": True},
        "eventType": "default",
        **{
            k: v
            for k, v in data.items()
            if k in ("description", "location", "start", "end", "attendees", "colorId")
        },
    }
    return save_event(acct, key, event)


async def events_insert(request: Request, acct: Account) -> dict[str, Any]:
    """``calendar.events.insert``."""
    key = _calendar(acct, request.path_params["calendarId"])
    return _event_view(new_event(acct, key, await body_json(request)))


async def events_patch(request: Request, acct: Account) -> dict[str, Any]:
    """``calendar.events.patch``: only the fields sent change."""
    key = _calendar(acct, request.path_params["calendarId"])
    event = acct.events.get(key, {}).get(request.path_params["eventId"])
    if event is None:
        raise not_found("Not Found")
    data = await body_json(request)
    updated = {
        **event,
        **{
            k: v
            for k, v in data.items()
            if k
            in (
                "summary",
                "description",
                "location",
                "start",
                "end",
                "attendees",
                "status",
                "colorId",
            )
        },
    }
    _check_times(updated)
    updated["sequence"] = event["sequence"] + 1
    return _event_view(save_event(acct, key, updated))


async def calendar_list(request: Request, acct: Account) -> dict[str, Any]:
    """``calendar.calendarList.list``."""
    size = page_size(request, "maxResults", 100, 250)
    entries = [
        {
            "kind": "calendar#calendarListEntry",
            "id": cid,
            "summary": c["summary"],
            "timeZone": c["timeZone"],
            "accessRole": "owner",
            **({"primary": True} if cid == EMAIL else {}),
        }
        for cid, c in acct.calendars.items()
    ]
    page, token = paginate(acct, entries, size, request.query_params.get("pageToken"))
    answer: dict[str, Any] = {"kind": "calendar#calendarList", "items": page}
    if token:
        answer["nextPageToken"] = token
    return answer


ROUTES = [
    Route("/gmail/v1/users/{userId}/messages", api(READ_MAIL, messages_list), methods=["GET"]),
    Route(
        "/gmail/v1/users/{userId}/messages/send", api(SEND_MAIL, messages_send), methods=["POST"]
    ),
    Route("/gmail/v1/users/{userId}/messages/{id}", api(GET_MAIL, messages_get), methods=["GET"]),
    Route("/gmail/v1/users/{userId}/drafts", api(DRAFT_MAIL, drafts_create), methods=["POST"]),
    Route("/gmail/v1/users/{userId}/labels", api(LABELS, labels_list), methods=["GET"]),
    Route("/calendar/v3/users/me/calendarList", api(CALENDAR_LIST, calendar_list), methods=["GET"]),
    Route(
        "/calendar/v3/calendars/{calendarId}/events", api(READ_EVENTS, events_list), methods=["GET"]
    ),
    Route(
        "/calendar/v3/calendars/{calendarId}/events",
        api(WRITE_EVENTS, events_insert),
        methods=["POST"],
    ),
    Route(
        "/calendar/v3/calendars/{calendarId}/events/{eventId}",
        api(WRITE_EVENTS, events_patch),
        methods=["PATCH"],
    ),
]
