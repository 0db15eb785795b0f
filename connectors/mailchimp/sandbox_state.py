"""The Mailchimp sandbox's account: audiences, members, tags, webhooks, campaigns.

Objects follow the stored description (shared/specs/mailchimp/marketing-openapi.subset.json)
and, for members (whose schema that conversion lost), Mailchimp's reference:
https://mailchimp.com/developer/marketing/api/list-members/. The routes are in ``sandbox``.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import re
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse

from connectors.sdk.sandboxing import Delivery, WebhookOutbox

KEY = re.compile(r"^[0-9a-f]{32}-(?P<dc>[a-z]+[0-9]+)$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
DC = "us21"
PROBLEM = "https://mailchimp.com/developer/marketing/docs/errors/"
STATUSES = ("subscribed", "unsubscribed", "cleaned", "pending", "transactional")
MERGE_TAGS = ("FNAME", "LNAME", "ADDRESS", "PHONE", "BIRTHDAY")
"""The merge fields of a new Mailchimp audience."""


class Problem(Exception):
    def __init__(
        self, status: int, title: str, detail: str, errors: list[dict[str, str]] | None = None
    ) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail, self.errors = status, title, detail, errors

    def response(self, headers: Mapping[str, str] | None = None) -> JSONResponse:
        body: dict[str, Any] = {
            "type": PROBLEM,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "instance": str(uuid.uuid4()),
        }
        if self.errors is not None:
            body["errors"] = self.errors
        return JSONResponse(
            body,
            status_code=self.status,
            headers=dict(headers or {}),
            media_type="application/problem+json",
        )


def not_found() -> Problem:
    return Problem(404, "Resource Not Found", "The requested resource could not be found.")


def invalid(field_name: str, message: str) -> Problem:
    return Problem(
        400,
        "Invalid Resource",
        "The resource submitted could not be validated. For field-specific details, "
        "see the 'errors' array.",
        [{"field": field_name, "message": message}],
    )


@dataclass
class Failure:
    path: str
    method: str = "POST"
    status: int = 500
    times: int = 1
    headers: dict[str, str] = field(default_factory=dict)
    title: str = "Internal Server Error"
    detail: str = (
        "An unexpected internal error has occurred. Please contact Support for more information."
    )


@dataclass
class Account:
    """Everything one sandbox account holds."""

    lists: dict[str, dict[str, Any]] = field(default_factory=dict)
    members: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    list_tags: dict[str, dict[str, int]] = field(default_factory=dict)
    webhooks: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    campaigns: dict[str, dict[str, Any]] = field(default_factory=dict)
    templates: list[dict[str, Any]] = field(default_factory=list)
    outbox: WebhookOutbox = field(default_factory=WebhookOutbox)
    """Webhook requests, sent after the call that caused them: to Cellwright's own
    ``/hooks/…`` when the server hosts the sandbox, else kept for tests (``deliveries``)."""
    failures: list[Failure] = field(default_factory=list)
    viewer_keys: set[str] = field(default_factory=set)
    """Keys of users with the Viewer role: they may read, not write (403)."""
    max_connections: int = 10
    in_flight: dict[str, int] = field(default_factory=dict)
    peak: int = 0
    page_cap: int | None = None
    gate: asyncio.Event | None = None
    _clock: datetime = field(default_factory=lambda: datetime(2026, 3, 1, 9, 0, tzinfo=UTC))
    _ids: int = 100

    def now(self) -> str:
        """ISO 8601 seconds, strictly increasing, so orders and ``since_*`` filters are stable."""
        self._clock = max(
            self._clock + timedelta(seconds=1), datetime.now(UTC).replace(microsecond=0)
        )
        return self._clock.isoformat()

    def next_id(self) -> int:
        self._ids += 1
        return self._ids

    def audience(self, list_id: str) -> dict[str, Any]:
        if list_id not in self.lists:
            raise not_found()
        return self.lists[list_id]

    def member(self, list_id: str, key: str) -> dict[str, Any]:
        self.audience(list_id)
        found = self.members[list_id].get(member_hash(key))
        if found is None:
            raise not_found()
        return found

    def emit(self, list_id: str, kind: str, data: Mapping[str, Any], source: str = "api") -> None:
        """Queue the form POST of an event for each webhook of the audience that wants it."""
        for hook in self.webhooks.get(list_id, {}).values():
            if hook["events"].get(kind) and hook["sources"].get(source):
                pairs = [
                    ("type", kind),
                    ("fired_at", self._clock.strftime("%Y-%m-%d %H:%M:%S")),
                    *form_pairs(dict(data), "data"),
                ]
                headers = {
                    "Content-Type": "application/x-www-form-urlencoded",
                    "User-Agent": "MailChimp",
                }
                self.outbox.post(Delivery(hook["url"], headers, urlencode(pairs).encode()))


def member_hash(key: str) -> str:
    """A member's path segment: the MD5 of the lower-cased address, or the address itself."""
    if "@" in key:
        return hashlib.md5(key.strip().lower().encode(), usedforsecurity=False).hexdigest()
    return key


def form_pairs(data: Mapping[str, Any], prefix: str) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for key, value in data.items():
        name = f"{prefix}[{key}]"
        if isinstance(value, Mapping):
            pairs += form_pairs(value, name)
        elif value is not None:
            pairs.append((name, str(value)))
    return pairs


# -- objects ---------------------------------------------------------------------------------


def list_object(account: Account, list_id: str, name: str) -> dict[str, Any]:
    return {
        "id": list_id,
        "web_id": account.next_id(),
        "name": name,
        "permission_reminder": "You signed up on our website.",
        "use_archive_bar": True,
        "notify_on_subscribe": "",
        "notify_on_unsubscribe": "",
        "date_created": account.now(),
        "list_rating": 0,
        "email_type_option": False,
        "subscribe_url_short": f"http://eepurl.com/{list_id[:6]}",
        "subscribe_url_long": f"https://sandbox.{DC}.list-manage.com/subscribe?u=0&id={list_id}",
        "beamer_address": "",
        "visibility": "prv",
        "double_optin": False,
        "has_welcome": False,
        "marketing_permissions": False,
        "modules": [],
        "contact": {
            "company": "Cellwright Sandbox",
            "address1": "1 Main St",
            "city": "Springfield",
            "state": "",
            "zip": "00000",
            "country": "US",
        },
        "campaign_defaults": {
            "from_name": "Cellwright",
            "from_email": "news@example.com",
            "subject": "",
            "language": "en",
        },
        "stats": {"member_count": 0, "unsubscribe_count": 0, "cleaned_count": 0},
    }


def member_object(
    account: Account, list_id: str, email: str, status: str, merge: Mapping[str, Any]
) -> dict[str, Any]:
    now = account.now()
    merge_fields = {tag: "" for tag in MERGE_TAGS} | dict(merge)
    return {
        "id": member_hash(email),
        "email_address": email,
        "unique_email_id": secrets.token_hex(5),
        "contact_id": secrets.token_hex(16),
        "full_name": " ".join(str(merge_fields[t]) for t in ("FNAME", "LNAME") if merge_fields[t]),
        "web_id": account.next_id(),
        "email_type": "html",
        "status": status,
        "consents_to_one_to_one_messaging": True,
        "merge_fields": merge_fields,
        "interests": {},
        "stats": {"avg_open_rate": 0, "avg_click_rate": 0},
        "ip_signup": "",
        "timestamp_signup": "",
        "ip_opt": "",
        "timestamp_opt": now if status == "subscribed" else "",
        "member_rating": 2,
        "last_changed": now,
        "language": "",
        "vip": False,
        "email_client": "",
        "location": {
            "latitude": 0,
            "longitude": 0,
            "gmtoff": 0,
            "dstoff": 0,
            "country_code": "",
            "timezone": "",
            "region": "",
        },
        "source": "API - Generic",
        "tags_count": 0,
        "tags": [],
        "list_id": list_id,
    }


def campaign_object(
    account: Account, campaign_id: str, list_id: str, settings: Mapping[str, Any]
) -> dict[str, Any]:
    audience = account.lists[list_id]
    return {
        "id": campaign_id,
        "web_id": account.next_id(),
        "type": "regular",
        "create_time": account.now(),
        "archive_url": f"http://eepurl.com/{campaign_id[:6]}",
        "long_archive_url": f"https://us21.campaign-archive.com/?u=0&id={campaign_id}",
        "status": "save",
        "emails_sent": 0,
        "send_time": "",
        "content_type": "template",
        "needs_block_refresh": False,
        "resendable": False,
        "recipients": {
            "list_id": list_id,
            "list_is_active": True,
            "list_name": audience["name"],
            "segment_text": "",
            "recipient_count": sum(
                m["status"] == "subscribed" for m in account.members[list_id].values()
            ),
        },
        "settings": {
            "subject_line": "",
            "preview_text": "",
            "title": "",
            "from_name": "",
            "reply_to": "",
            "use_conversation": False,
            "to_name": "",
            "folder_id": "",
            "authenticate": True,
            "auto_footer": False,
            "inline_css": False,
            "auto_tweet": False,
            "fb_comments": True,
            "timewarp": False,
            "template_id": 0,
            "drag_and_drop": False,
            **settings,
        },
        "tracking": {"opens": True, "html_clicks": True, "text_clicks": False},
        "delivery_status": {"enabled": False},
        "_content": None,
    }


def seeded() -> Account:
    """Two audiences with stable ids (operation examples use them), three members, a draft
    campaign ready to send, a sent one, and a saved template."""
    account = Account()
    for list_id, name in (
        ("a1b2c3d4e5", "Cellwright Newsletter"),
        ("f6e5d4c3b2", "Product updates"),
    ):
        account.lists[list_id] = list_object(account, list_id, name)
        account.members[list_id] = {}
        account.list_tags[list_id] = {}
        account.webhooks[list_id] = {}
    for email, first, last, tags in (
        ("grace@example.com", "Grace", "Hopper", ["customer"]),
        ("alan@example.com", "Alan", "Turing", []),
        ("katherine@example.com", "Katherine", "Johnson", ["customer", "vip"]),
    ):
        member = add_member(
            account, "a1b2c3d4e5", email, "subscribed", {"FNAME": first, "LNAME": last}
        )
        tag_member(account, "a1b2c3d4e5", member, [{"name": t, "status": "active"} for t in tags])
    account.outbox.take()
    sent = campaign_object(
        account,
        "c0ffee0000",
        "a1b2c3d4e5",
        {
            "subject_line": "Welcome to the newsletter",
            "title": "Welcome",
            "from_name": "Cellwright",
            "reply_to": "news@example.com",
        },
    )
    sent.update(status="sent", send_time=account.now(), emails_sent=3, _content="<p>Welcome!</p>")
    draft = campaign_object(
        account,
        "c0ffee0001",
        "a1b2c3d4e5",
        {
            "subject_line": "March news",
            "title": "March news",
            "from_name": "Cellwright",
            "reply_to": "news@example.com",
        },
    )
    draft["_content"] = "<p>What happened in March</p>"
    account.campaigns = {c["id"]: c for c in (sent, draft)}
    account.templates = [
        {
            "id": 2000001,
            "type": "user",
            "name": "Monthly newsletter",
            "drag_and_drop": True,
            "responsive": True,
            "category": "",
            "date_created": account.now(),
            "date_edited": "",
            "created_by": "Sandbox Owner",
            "active": True,
            "folder_id": "",
            "thumbnail": "",
            "share_url": "",
        }
    ]
    return account


def add_member(
    account: Account,
    list_id: str,
    email: str,
    status: str,
    merge: Mapping[str, Any],
    source: str = "api",
) -> dict[str, Any]:
    member = member_object(account, list_id, email, status, merge)
    account.members[list_id][member["id"]] = member
    account.lists[list_id]["stats"]["member_count"] += status == "subscribed"
    if status == "subscribed":
        account.emit(list_id, "subscribe", event_data(member) | {"ip_signup": ""}, source)
    return member


def event_data(member: Mapping[str, Any]) -> dict[str, Any]:
    """The ``data[…]`` of subscribe / profile / unsubscribe deliveries."""
    return {
        "id": member["id"],
        "email": member["email_address"],
        "email_type": member["email_type"],
        "list_id": member["list_id"],
        "web_id": member["web_id"],
        "ip_opt": member["ip_opt"],
        "merges": {"EMAIL": member["email_address"], **member["merge_fields"]},
    }


def tag_member(
    account: Account, list_id: str, member: dict[str, Any], tags: list[Mapping[str, Any]]
) -> None:
    known = account.list_tags[list_id]
    for tag in tags:
        name = str(tag["name"])
        current = [t for t in member["tags"] if t["name"] != name]
        if tag["status"] == "active":
            tag_id = known.setdefault(name, account.next_id())
            current.append({"id": tag_id, "name": name})
        member["tags"] = current
    member["tags_count"] = len(member["tags"])
    member["last_changed"] = account.now()


# -- reading requests ---------------------------------------------------------------------

Body = dict[str, Any]
Path = dict[str, Any]


def query(request: Request, allowed: set[str]) -> dict[str, str]:
    params = dict(request.query_params)
    for name in params:
        if name not in allowed | {"fields", "exclude_fields"}:
            raise invalid(name, f"Unknown query parameter '{name}'.")
    return params


def page_of(
    request: Request, account: Account, items: list[dict[str, Any]], allowed: set[str]
) -> tuple[list[dict[str, Any]], int]:
    """``count`` (1-1000, default 10) items from ``offset``; shorter with ``page_cap``."""
    params = query(request, allowed | {"count", "offset"})
    try:
        count, offset = int(params.get("count", 10)), int(params.get("offset", 0))
    except ValueError:
        raise invalid("count", "count and offset must be integers.") from None
    if not 1 <= count <= 1000 or offset < 0:
        raise invalid("count", "count must be between 1 and 1000, offset at least 0.")
    if account.page_cap is not None:
        count = min(count, account.page_cap)
    return [public(i) for i in items[offset : offset + count]], len(items)


def public(obj: Mapping[str, Any]) -> dict[str, Any]:
    return {k: copy.deepcopy(v) for k, v in obj.items() if not k.startswith("_")} | {"_links": []}


async def read_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise Problem(
            400, "JSON Parse Exception", "We encountered an unspecified JSON parsing error."
        ) from None
    if not isinstance(body, dict):
        raise Problem(400, "JSON Parse Exception", "The request body must be a JSON object.")
    return body


def allow(body: Body, allowed: set[str], required: tuple[str, ...] = ()) -> None:
    for name in body:
        if name not in allowed:
            raise invalid(name, f"Unknown field '{name}'.")
    for name in required:
        if body.get(name) in (None, ""):
            raise invalid(name, "This value should not be blank.")
