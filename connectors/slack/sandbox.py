"""A small, stateful Slack workspace speaking the Web API methods the connector uses.

Shapes follow the official Web API description (``shared/specs/slack/web-api-subset.json``,
slackapi/slack-api-specs, 2021): method paths, GET/POST per method, argument names, the
``{"ok": false, "error": ...}`` failures, cursor pagination. Two methods are newer than
that file and follow Slack's method pages instead:
``files.getUploadURLExternal`` (https://api.slack.com/methods/files.getUploadURLExternal)
and ``files.completeUploadExternal`` (https://api.slack.com/methods/files.completeUploadExternal);
the upload URL the first one hands out (``/upload/v1/{id}``, on files.slack.com at Slack)
takes the raw bytes and answers ``OK - <length>``.

Demo credentials (``auth.SANDBOX_CREDENTIALS``): bot token ``SANDBOX_TOKEN``, signing secret
``SANDBOX_SIGNING_SECRET``. Seeded: 5 channels, 3 users, a human message and one the app
posted (``BOT_MESSAGE_TS`` in #general).

Slack behaviour it reproduces besides the methods: each method's rate-limit tier (and
``chat.postMessage``'s one message a second per channel), answered 429 ``ratelimited`` with
``Retry-After``; ``missing_scope`` with ``needed`` and ``provided`` when the token lacks a
method's scope; ``conversations.list`` pages that are short or empty and still carry a
``next_cursor`` (Slack filters after paging); and, once the app has a Request URL, the
Events API deliveries for what happens (a message posted, a reaction added), signed,
through ``Workspace.outbox`` (to Cellwright's own ``/hooks/…`` when the server hosts the
sandbox). ``POST /__sandbox__/settings`` sets scopes, limits, a page cap and the Request URL.

Test-only hook: ``POST /__sandbox__/fail`` with ``{"method": "chat.postMessage",
"error": "ratelimited", "status": 429, "retry_after": 7, "times": 1}`` makes the next
``times`` calls of that method (``"upload"`` for the upload URL) fail that way. Events:
``event_callback(...)``, ``url_verification(...)`` and ``signed_request(...)`` build
deliveries signed the way Slack signs them; ``deliver(url, …)`` POSTs one to a Request URL
(a connection's ``/hooks/apps/slack/<token>`` or a scenario's ``/hooks/<token>``) as Slack
does, retries included.
"""

from __future__ import annotations

import base64
import itertools
import json
import math
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from connectors.sdk import IncomingRequest, hmac_hex
from connectors.sdk.sandboxing import Delivery, WebhookOutbox
from connectors.slack.auth import SANDBOX_CREDENTIALS

SANDBOX_TOKEN = SANDBOX_CREDENTIALS["access_token"]
SANDBOX_SIGNING_SECRET = SANDBOX_CREDENTIALS["signing_secret"]
BOT_MESSAGE_TS = "1700000000.000200"  # a message the app posted, for examples
TEAM_ID, TEAM_NAME = "T0SANDBOX1", "Sandbox Workspace"
BOT_USER_ID, BOT_ID = "U0SANDBOT01", "B0SANDBOX1"
TOKENS = {SANDBOX_TOKEN: BOT_USER_ID}

PER_MINUTE = {1: 1, 2: 20, 3: 50, 4: 100}
"""Slack's rate-limit tiers, calls a minute per method, workspace and app
(https://docs.slack.dev/apis/web-api/rate-limits)."""
TIERS = {
    "auth.test": 4,
    "chat.update": 3,
    "chat.delete": 3,
    "reactions.add": 3,
    "conversations.list": 2,
    "users.lookupByEmail": 3,
    "users.info": 4,
    "files.getUploadURLExternal": 4,
    "files.completeUploadExternal": 4,
}
"""Each method's tier, from its page
(https://docs.slack.dev/reference/methods/<method>). ``chat.postMessage``
is "Special": about one message a second per channel (https://docs.slack.dev/reference/methods/chat.postMessage)."""
SCOPES = {
    "chat.postMessage": "chat:write",
    "chat.update": "chat:write",
    "chat.delete": "chat:write",
    "reactions.add": "reactions:write",
    "conversations.list": "channels:read",
    "users.lookupByEmail": "users:read.email",
    "users.info": "users:read",
    "files.getUploadURLExternal": "files:write",
    "files.completeUploadExternal": "files:write",
}
"""The bot scope each method requires (its page's "Required scopes")."""


class SlackFailure(Exception):
    """An ``{"ok": false}`` answer."""

    def __init__(
        self, error: str, status: int = 200, headers: Mapping[str, str] | None = None, **extra: Any
    ) -> None:
        super().__init__(error)
        self.error, self.status, self.headers, self.extra = (
            error,
            status,
            dict(headers or {}),
            extra,
        )


def _channel(
    cid: str,
    name: str,
    *,
    private: bool = False,
    member: bool = True,
    general: bool = False,
    archived: bool = False,
    topic: str = "",
    created: int = 1700000000,
) -> dict[str, Any]:
    about = {"creator": "U0SANDBOX01", "last_set": created}
    return {
        "id": cid,
        "name": name,
        "name_normalized": name,
        "created": created,
        "creator": "U0SANDBOX01",
        "is_channel": not private,
        "is_group": private,
        "is_im": False,
        "is_mpim": False,
        "is_private": private,
        "is_archived": archived,
        "is_general": general,
        "is_shared": False,
        "is_org_shared": False,
        "is_ext_shared": False,
        "is_member": member,
        "num_members": 3,
        "topic": {**about, "value": topic},
        "purpose": {**about, "value": ""},
    }


def _user(uid: str, name: str, real_name: str, email: str, *, bot: bool = False) -> dict[str, Any]:
    return {
        "id": uid,
        "team_id": TEAM_ID,
        "name": name,
        "real_name": real_name,
        "deleted": False,
        "is_bot": bot,
        "is_app_user": False,
        "is_admin": False,
        "tz": "Europe/Paris",
        "updated": 1700000000,
        "profile": {
            "real_name": real_name,
            "real_name_normalized": real_name,
            "display_name": name,
            "display_name_normalized": name,
            "email": email,
            "avatar_hash": "g0sandbox",
            "title": "",
            "phone": "",
            "skype": "",
            "status_text": "",
            "status_emoji": "",
            "fields": {},
            "team": TEAM_ID,
        },
    }


@dataclass
class Workspace:
    """The simulated workspace's state."""

    channels: dict[str, dict[str, Any]] = field(default_factory=dict)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    messages: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    uploads: dict[str, dict[str, Any]] = field(default_factory=dict)
    failures: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    scopes: set[str] | None = None
    """The bot token's scopes; ``None``: every scope a method here needs."""
    limits: dict[str, tuple[int, float]] = field(default_factory=dict)
    recent: dict[str, deque[float]] = field(default_factory=dict)
    page_cap: int | None = None
    request_url: str | None = None
    """The app's Events API Request URL (Slack app settings → Event Subscriptions)."""
    outbox: WebhookOutbox = field(default_factory=WebhookOutbox)

    def limit(self, method: str, args: Args) -> tuple[str, int, float]:
        """The window a call counts in: (bucket, calls allowed, seconds)."""
        if method in self.limits:
            return method, *self.limits[method]
        if (
            method == "chat.postMessage"
        ):  # one a second per channel, short bursts allowed: 60 a minute
            return f"{method}:{args.get('channel', '')}", 60, 60.0
        return method, PER_MINUTE[TIERS.get(method, 4)], 60.0

    def throttle(self, method: str, args: Args) -> None:
        """Count the call; over the limit, Slack's 429 with ``Retry-After`` (seconds)."""
        bucket, allowed, seconds = self.limit(method, args)
        calls = self.recent.setdefault(bucket, deque())
        now = time.monotonic()
        while calls and calls[0] <= now - seconds:
            calls.popleft()
        if len(calls) >= allowed:
            wait = max(1, math.ceil(calls[0] + seconds - now))
            raise SlackFailure("ratelimited", 429, {"Retry-After": str(wait)})
        calls.append(now)

    def check_scope(self, method: str, args: Args) -> None:
        needed = SCOPES.get(method)
        if method == "conversations.list" and "private_channel" in (args.get("types") or ""):
            needed = "channels:read,groups:read"
        if needed is None or self.scopes is None:
            return
        if not set(needed.split(",")) <= self.scopes:
            raise SlackFailure(
                "missing_scope", needed=needed, provided=",".join(sorted(self.scopes))
            )

    def send_event(self, event: dict[str, Any]) -> None:
        """Slack's Events API delivery of ``event`` to the app's Request URL, if it has one."""
        if self.request_url:
            body = json.dumps(event_callback(event)).encode()
            self.outbox.post(Delivery(self.request_url, sign(body), body))

    @classmethod
    def seeded(cls) -> Workspace:
        ws = cls()
        for channel in (
            _channel("C0SANDBOX01", "general", general=True, topic="Company-wide announcements"),
            _channel("C0SANDBOX02", "random"),
            _channel("C0SANDBOX03", "design", member=False),
            _channel("G0SANDBOX04", "leadership", private=True),
            _channel("C0SANDBOX05", "old-project", archived=True),
        ):
            ws.channels[channel["id"]] = channel
        for user in (
            _user("U0SANDBOX01", "ada", "Ada Lovelace", "ada@example.com"),
            _user("U0SANDBOX02", "grace", "Grace Hopper", "grace@example.com"),
            _user(BOT_USER_ID, "cellwright", "Cellwright", "", bot=True),
        ):
            ws.users[user["id"]] = user
        for ts, message in (
            (
                "1700000000.000100",
                {"type": "message", "user": "U0SANDBOX01", "text": "Welcome to the sandbox!"},
            ),
            (
                BOT_MESSAGE_TS,
                {
                    "type": "message",
                    "subtype": "bot_message",
                    "bot_id": BOT_ID,
                    "text": "Deploy finished",
                },
            ),
            # the new_message trigger's sample (samples/new_message.json): a test run that
            # replies in its thread finds it, as a real event's message would be found
            (
                "1764061200.000200",
                {
                    "type": "message",
                    "user": "U0SANDBOX01",
                    "text": "Can someone review the launch post?",
                },
            ),
        ):
            ws.messages[("C0SANDBOX01", ts)] = {**message, "ts": ts}
        return ws

    def ts(self) -> str:
        return f"{int(time.time())}.{next(self.counter):06d}"

    def channel(self, ref: str | None, *, writable: bool = False) -> dict[str, Any]:
        ref = (ref or "").lstrip("#")
        found = self.channels.get(ref) or next(
            (c for c in self.channels.values() if c["name"] == ref), None
        )
        if found is None:
            raise SlackFailure("channel_not_found")
        if writable and found["is_archived"]:
            raise SlackFailure("is_archived")
        if writable and not found["is_member"]:
            raise SlackFailure("not_in_channel")
        return found

    def post(self, channel: str, message: dict[str, Any]) -> dict[str, Any]:
        message = {**message, "ts": self.ts()}
        self.messages[(channel, message["ts"])] = message
        return message

    def message(self, channel: str, ts: str | None) -> dict[str, Any]:
        found = self.messages.get((channel, ts or ""))
        if found is None:
            raise SlackFailure("message_not_found")
        return found


Args = dict[str, str]
Handler = Callable[[Workspace, Args, Request], Any]


def _required(args: Args, *names: str) -> None:
    missing = [name for name in names if not args.get(name)]
    if missing:
        raise SlackFailure(
            "invalid_arguments", messages=[f"[ERROR] missing required field: {n}" for n in missing]
        )


def _json_arg(args: Args, name: str) -> Any:
    try:
        return json.loads(args[name])
    except (KeyError, ValueError):
        raise SlackFailure("invalid_arguments", messages=[f"[ERROR] {name} must be JSON"]) from None


def auth_test(ws: Workspace, args: Args, request: Request) -> dict[str, Any]:
    return {
        "url": "https://sandbox-workspace.slack.com/",
        "team": TEAM_NAME,
        "user": "cellwright",
        "team_id": TEAM_ID,
        "user_id": BOT_USER_ID,
        "bot_id": BOT_ID,
    }


def _bot_message(args: Args) -> dict[str, Any]:
    if not args.get("text") and not args.get("blocks"):
        raise SlackFailure("no_text")
    message: dict[str, Any] = {
        "type": "message",
        "subtype": "bot_message",
        "text": args.get("text", ""),
        "bot_id": BOT_ID,
        "username": "cellwright",
    }
    if args.get("blocks"):
        message["blocks"] = _json_arg(args, "blocks")
    if args.get("thread_ts"):
        message["thread_ts"] = args["thread_ts"]
    return message


def chat_post_message(ws: Workspace, args: Args, request: Request) -> dict[str, Any]:
    channel = ws.channel(args.get("channel"), writable=True)
    if len(args.get("text", "")) > 40000:
        raise SlackFailure("msg_too_long")
    message = _bot_message(args)
    if message.get("thread_ts"):
        ws.message(channel["id"], message["thread_ts"])
    posted = ws.post(channel["id"], message)
    ws.send_event(
        {
            **posted,
            "channel": channel["id"],
            "channel_type": "group" if channel["is_private"] else "channel",
        }
    )
    return {"channel": channel["id"], "ts": posted["ts"], "message": posted}


def chat_update(ws: Workspace, args: Args, request: Request) -> dict[str, Any]:
    channel = ws.channel(args.get("channel"))
    message = ws.message(channel["id"], args.get("ts"))
    if message.get("bot_id") != BOT_ID:
        raise SlackFailure("cant_update_message")
    message.update({k: v for k, v in _bot_message(args).items() if k in ("text", "blocks")})
    return {
        "channel": channel["id"],
        "ts": message["ts"],
        "text": message["text"],
        "message": {"text": message["text"]},
    }


def chat_delete(ws: Workspace, args: Args, request: Request) -> dict[str, Any]:
    channel = ws.channel(args.get("channel"))
    message = ws.message(channel["id"], args.get("ts"))
    if message.get("bot_id") != BOT_ID:
        raise SlackFailure("cant_delete_message")
    del ws.messages[(channel["id"], message["ts"])]
    return {"channel": channel["id"], "ts": message["ts"]}


def reactions_add(ws: Workspace, args: Args, request: Request) -> dict[str, Any]:
    if not args.get("name"):
        raise SlackFailure("invalid_name")
    channel = ws.channel(args.get("channel"))
    if not args.get("timestamp"):
        raise SlackFailure("no_item_specified")
    message = ws.message(channel["id"], args["timestamp"])
    name = args["name"]
    if ":" in name or " " in name:
        raise SlackFailure("invalid_name")
    reactions = message.setdefault("reactions", [])
    for reaction in reactions:
        if reaction["name"] == name:
            if BOT_USER_ID in reaction["users"]:
                raise SlackFailure("already_reacted")
            reaction["users"].append(BOT_USER_ID)
            reaction["count"] += 1
            break
    else:
        reactions.append({"name": name, "users": [BOT_USER_ID], "count": 1})
    ws.send_event(
        {
            "type": "reaction_added",
            "user": BOT_USER_ID,
            "reaction": name,
            "item_user": message.get("user"),
            "item": {"type": "message", "channel": channel["id"], "ts": message["ts"]},
        }
    )
    return {}


def conversations_list(ws: Workspace, args: Args, request: Request) -> dict[str, Any]:
    types = set((args.get("types") or "public_channel").split(","))
    exclude_archived = args.get("exclude_archived") in ("true", "1")
    limit = int(args.get("limit") or 100)
    if ws.page_cap:
        limit = min(limit, ws.page_cap)
    every = list(ws.channels.values())
    start = 0
    if args.get("cursor"):
        try:
            after = base64.b64decode(args["cursor"]).decode().removeprefix("team:")
            start = [c["id"] for c in every].index(after)
        except ValueError:
            raise SlackFailure("invalid_cursor") from None
    # Slack pages first and filters after, so a page can be short or empty and still
    # carry a next_cursor (https://docs.slack.dev/apis/web-api/pagination)
    page = [
        c
        for c in every[start : start + limit]
        if ("private_channel" if c["is_private"] else "public_channel") in types
        and not (exclude_archived and c["is_archived"])
    ]
    rest = every[start + limit :]
    cursor = base64.b64encode(f"team:{rest[0]['id']}".encode()).decode() if rest else ""
    return {"channels": page, "response_metadata": {"next_cursor": cursor}}


def users_lookup_by_email(ws: Workspace, args: Args, request: Request) -> dict[str, Any]:
    email = args.get("email", "").lower()
    for user in ws.users.values():
        if email and user["profile"]["email"].lower() == email:
            return {"user": user}
    raise SlackFailure("users_not_found")


def users_info(ws: Workspace, args: Args, request: Request) -> dict[str, Any]:
    user = ws.users.get(args.get("user", ""))
    if user is None:
        raise SlackFailure("user_not_found")
    return {"user": user}


def files_get_upload_url_external(ws: Workspace, args: Args, request: Request) -> dict[str, Any]:
    _required(args, "filename", "length")
    if not args["length"].isdigit() or int(args["length"]) == 0:
        raise SlackFailure(
            "invalid_arguments", messages=["[ERROR] length must be a positive integer"]
        )
    file_id = f"F0{uuid.uuid4().hex[:9].upper()}"
    ws.uploads[file_id] = {
        "filename": args["filename"],
        "length": int(args["length"]),
        "content": None,
    }
    return {"upload_url": str(request.url_for("upload", file_id=file_id)), "file_id": file_id}


def files_complete_upload_external(ws: Workspace, args: Args, request: Request) -> dict[str, Any]:
    _required(args, "files")
    files = _json_arg(args, "files")
    if (
        not isinstance(files, list)
        or not files
        or not all(isinstance(f, dict) and f.get("id") for f in files)
    ):
        raise SlackFailure(
            "invalid_arguments", messages=["[ERROR] files must be a list of {id, title}"]
        )
    channel = ws.channel(args["channel_id"], writable=True) if args.get("channel_id") else None
    done = []
    for entry in files:
        upload = ws.uploads.get(entry["id"])
        if upload is None or upload["content"] is None:
            raise SlackFailure("file_not_found")
        upload["title"] = entry.get("title") or upload["filename"]
        done.append({"id": entry["id"], "title": upload["title"]})
    if channel is not None:
        ws.post(
            channel["id"],
            {
                "type": "message",
                "text": args.get("initial_comment", ""),
                "bot_id": BOT_ID,
                "files": done,
                "thread_ts": args.get("thread_ts"),
            },
        )
    return {"files": done}


# method name -> (HTTP methods the official description declares, handler)
METHODS: dict[str, tuple[tuple[str, ...], Handler]] = {
    "auth.test": (("GET",), auth_test),
    "chat.postMessage": (("POST",), chat_post_message),
    "chat.update": (("POST",), chat_update),
    "chat.delete": (("POST",), chat_delete),
    "reactions.add": (("POST",), reactions_add),
    "conversations.list": (("GET",), conversations_list),
    "users.lookupByEmail": (("GET",), users_lookup_by_email),
    "users.info": (("GET",), users_info),
    "files.getUploadURLExternal": (("GET", "POST"), files_get_upload_url_external),
    "files.completeUploadExternal": (("POST",), files_complete_upload_external),
}


def _failure_response(failure: SlackFailure) -> JSONResponse:
    body: dict[str, Any] = {"ok": False, "error": failure.error}
    for name in ("needed", "provided"):
        if failure.extra.get(name) is not None:
            body[name] = failure.extra[name]
    if failure.extra.get("messages"):
        body["response_metadata"] = {"messages": failure.extra["messages"]}
    return JSONResponse(body, failure.status, headers=failure.headers)


def _injected(ws: Workspace, method: str) -> SlackFailure | None:
    queue = ws.failures.get(method) or []
    if not queue:
        return None
    spec = queue.pop(0)
    headers = (
        {"Retry-After": str(spec["retry_after"])} if spec.get("retry_after") is not None else {}
    )
    extra = {key: spec[key] for key in ("needed", "provided", "messages") if key in spec}
    return SlackFailure(
        spec.get("error", "fatal_error"), int(spec.get("status", 200)), headers, **extra
    )


async def _args(request: Request) -> Args:
    args = dict(request.query_params)
    content_type = request.headers.get("content-type", "")
    if "application/json" in content_type:
        body = await request.json()
        args.update({k: v if isinstance(v, str) else json.dumps(v) for k, v in body.items()})
    elif request.method == "POST":
        form = await request.form()
        args.update({k: v for k, v in form.items() if isinstance(v, str)})
    return args


async def api(request: Request) -> Response:
    ws: Workspace = request.app.state.workspace
    method = request.path_params["method"]
    if method not in METHODS:
        return JSONResponse({"ok": False, "error": "unknown_method", "req_method": method}, 404)
    http_methods, handler = METHODS[method]
    args = await _args(request)
    authorization = request.headers.get("authorization", "")
    token = (
        authorization.removeprefix("Bearer ").strip()
        if authorization.startswith("Bearer ")
        else args.get("token")
    )
    try:
        if not token:
            raise SlackFailure("not_authed")
        if token not in TOKENS:
            raise SlackFailure("invalid_auth")
        if request.method not in http_methods:
            raise SlackFailure(
                "invalid_post_type" if request.method == "POST" else "method_not_supported"
            )
        ws.throttle(method, args)
        failure = _injected(ws, method)
        if failure is not None:
            raise failure
        ws.check_scope(method, args)
        result = handler(ws, args, request)
    except SlackFailure as failure:
        return _failure_response(failure)
    return JSONResponse({"ok": True, **result})


async def upload(request: Request) -> Response:
    """The upload URL: raw bytes (or multipart) in, ``OK - <length>`` out."""
    ws: Workspace = request.app.state.workspace
    failure = _injected(ws, "upload")
    if failure is not None:
        return PlainTextResponse(failure.error, failure.status, headers=failure.headers)
    pending = ws.uploads.get(request.path_params["file_id"])
    if pending is None:
        return PlainTextResponse("upload not found", 404)
    content = await request.body()
    pending["content"] = content
    pending["authorization"] = request.headers.get("authorization")  # slack_sdk sends none here
    return PlainTextResponse(f"OK - {len(content)}")


async def fail(request: Request) -> Response:
    """Test-only: queue failures for a method (see the module docstring)."""
    spec = await request.json()
    queue = request.app.state.workspace.failures.setdefault(spec["method"], [])
    queue.extend([spec] * int(spec.get("times", 1)))
    return JSONResponse({"ok": True, "queued": len(queue)})


async def settings(request: Request) -> Response:
    """Test-only: how the workspace behaves. JSON with any of ``scopes`` (the bot token's,
    a list; ``null``: all), ``rate_limits`` (``{"method": [calls, seconds]}``, replacing the
    method's tier), ``page_cap`` (at most that many conversations a page) and
    ``request_url`` (the app's Events API Request URL)."""
    ws: Workspace = request.app.state.workspace
    given = await request.json()
    if "scopes" in given:
        ws.scopes = None if given["scopes"] is None else set(given["scopes"])
    for method, (calls, seconds) in (given.get("rate_limits") or {}).items():
        ws.limits[method] = (int(calls), float(seconds))
        ws.recent.pop(method, None)
    if "page_cap" in given:
        ws.page_cap = given["page_cap"]
    if "request_url" in given:
        ws.request_url = given["request_url"]
    return JSONResponse({"ok": True})


def create_app() -> Starlette:
    """A fresh sandbox workspace (new state per call)."""
    routes = [
        Route("/__sandbox__/fail", fail, methods=["POST"]),
        Route("/__sandbox__/settings", settings, methods=["POST"]),
        Route("/upload/v1/{file_id}", upload, methods=["POST"], name="upload"),
        Route("/{method}", api, methods=["GET", "POST"]),
    ]
    app = Starlette(routes=routes)
    app.state.workspace = Workspace.seeded()
    return app


# -- events, signed the way Slack signs them ----------------------------------------------


def event_callback(
    event: Mapping[str, Any],
    *,
    team_id: str = TEAM_ID,
    event_id: str | None = None,
    event_time: int | None = None,
) -> dict[str, Any]:
    """An Events API delivery wrapping ``event`` (shape: the event wrapper schema)."""
    now = int(time.time())
    return {
        "token": "sandbox-verification-token",
        "team_id": team_id,
        "api_app_id": "A0SANDBOX1",
        "event": {"event_ts": f"{now}.000100", **event},
        "type": "event_callback",
        "event_id": event_id or f"Ev{uuid.uuid4().hex[:10].upper()}",
        "event_time": event_time or now,
        "authed_users": [BOT_USER_ID],
    }


def url_verification(challenge: str) -> dict[str, Any]:
    """The handshake Slack sends when a Request URL is saved."""
    return {
        "token": "sandbox-verification-token",
        "challenge": challenge,
        "type": "url_verification",
    }


def sign(
    body: bytes, secret: str = SANDBOX_SIGNING_SECRET, timestamp: int | None = None
) -> dict[str, str]:
    """Slack's signature headers for ``body``."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = "v0=" + hmac_hex(secret, f"v0:{ts}:".encode() + body)
    return {
        "x-slack-request-timestamp": ts,
        "x-slack-signature": signature,
        "content-type": "application/json",
    }


def signed_request(
    payload: Mapping[str, Any], secret: str = SANDBOX_SIGNING_SECRET, timestamp: int | None = None
) -> IncomingRequest:
    """A delivery as the webhook endpoint receives it."""
    body = json.dumps(payload).encode()
    return IncomingRequest(
        method="POST", headers=sign(body, secret, timestamp), query={}, body=body
    )


async def deliver(
    url: str,
    payload: Mapping[str, Any],
    *,
    secret: str = SANDBOX_SIGNING_SECRET,
    retry: int = 0,
    client: httpx.AsyncClient | None = None,
) -> httpx.Response:
    """POST ``payload`` to a Request URL the way Slack's Events API does: JSON, signed with
    ``secret``. ``retry`` > 0 is Slack's redelivery of the same body (same ``event_id``) with
    a fresh signature and ``X-Slack-Retry-Num`` / ``X-Slack-Retry-Reason``. ``client``: one
    to reuse (e.g. over an ASGI transport); by default a new one."""
    body = json.dumps(payload).encode()
    headers = sign(body, secret)
    if retry:
        headers |= {"x-slack-retry-num": str(retry), "x-slack-retry-reason": "http_timeout"}
    if client is not None:
        return await client.post(url, content=body, headers=headers)
    async with httpx.AsyncClient(timeout=10) as own:
        return await own.post(url, content=body, headers=headers)
