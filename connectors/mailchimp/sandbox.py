"""A Mailchimp Marketing API simulator for tests and sandbox connections.

Paths, parameters and bodies follow the stored description
(shared/specs/mailchimp/marketing-openapi.subset.json, Swagger v3.0.55 as OpenAPI 3.0.1);
the account's objects are in ``sandbox_state``, campaigns in ``sandbox_campaigns``. The two
list routes the option sources use (tags, templates) are not in the subset; each cites its
reference page.

Mailchimp behaviour it reproduces:
- the version in the path (``/3.0``); any other path answers Mailchimp's 404 problem;
- keys by HTTP Basic (any user name, the key as password) or ``Bearer``; OAuth tokens
  by ``Bearer``, and login.mailchimp.com's ``GET /oauth2/metadata`` with
  ``Authorization: OAuth <token>``; a refused key is 401 "API Key Invalid";
- errors as Problem Details (``application/problem+json``: type, title, status, detail,
  instance, and ``errors[]`` naming fields), https://mailchimp.com/developer/marketing/docs/errors/;
- "Member Exists" (400) when POSTing an address already in the audience;
- 403 "Forbidden" for a key whose user may not write (a Viewer: ``Account.viewer_keys``);
- at most 10 simultaneous connections per key: the 11th is answered 429
  "Too Many Requests" (Mailchimp sends no ``Retry-After``; VENDORS.md §8.1);
- pages of ``count`` from ``offset`` with ``total_items``;
- audience webhooks: a ``GET`` check of the URL when one is saved, then form-encoded
  POSTs when members change, through the SDK's ``WebhookOutbox`` (``Account.outbox``): to
  Cellwright's own ``/hooks/…`` when the server hosts the sandbox, else kept for tests
  (``deliveries`` / ``deliver``).

Test-only controls, not Mailchimp: ``POST /__sandbox__/fail`` with JSON ``{"path",
"method", "status", "times", "headers", "title", "detail"}`` fails the next matching
requests; ``Account.page_cap`` makes pages shorter than ``count`` (as Mailchimp may);
``Account.gate`` (an ``asyncio.Event``) holds requests open, to test concurrency.
Routing is relative, so it works mounted under ``/sandbox/mailchimp``.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connectors.mailchimp import sandbox_campaigns as campaigns
from connectors.mailchimp.sandbox_state import (
    DC,
    EMAIL,
    KEY,
    MERGE_TAGS,
    STATUSES,
    Account,
    Body,
    Failure,
    Path,
    Problem,
    add_member,
    allow,
    event_data,
    invalid,
    member_hash,
    not_found,
    page_of,
    public,
    query,
    read_body,
    seeded,
    tag_member,
)
from connectors.sdk.sandboxing import Delivery

V = "/3.0"
OAUTH_TOKEN = "sandbox-oauth-token-0001"  # noqa: S105 - the sandbox's published demo token

# -- requests -------------------------------------------------------------------------------


def _key_of(request: Request) -> str:
    """The key or token a request carries; 401 like Mailchimp when there is none that works."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic":
        try:
            key = base64.b64decode(value).decode().partition(":")[2]
        except ValueError:
            key = ""
        if KEY.match(key) and KEY.match(key)["dc"] == DC:  # type: ignore[index]
            return key
    elif scheme.lower() == "bearer" and (
        value == OAUTH_TOKEN or (KEY.match(value) and value.endswith(f"-{DC}"))
    ):
        return value
    if not value:
        raise Problem(401, "API Key Missing", "Your request did not include an API key.")
    raise Problem(
        401,
        "API Key Invalid",
        "Your API key may be invalid, or you've attempted to access the wrong datacenter.",
    )


def api(
    handler: Callable[[Account, Request, dict[str, Any]], Awaitable[Any]],
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        account: Account = request.app.state.mailchimp
        try:
            key = _key_of(request)
        except Problem as problem:
            return problem.response()
        busy = account.in_flight.get(key, 0)
        if busy >= account.max_connections:
            return Problem(
                429,
                "Too Many Requests",
                f"You have exceeded the limit of {account.max_connections} "
                "simultaneous connections.",
            ).response()
        account.in_flight[key] = busy + 1
        account.peak = max(account.peak, busy + 1)
        try:
            if account.gate is not None:
                await account.gate.wait()
            failure = _take_failure(account, request)
            if failure is not None:
                return failure
            if request.method != "GET" and key in account.viewer_keys:
                raise Problem(
                    403, "Forbidden", "You don't have permission to access this resource."
                )
            body = await handler(account, request, dict(request.path_params))
            return Response(status_code=204) if body is None else JSONResponse(body)
        except Problem as problem:
            return problem.response()
        finally:
            account.in_flight[key] -= 1

    return endpoint


def _take_failure(account: Account, request: Request) -> Response | None:
    for failure in account.failures:
        if (
            request.method == failure.method
            and request.url.path.endswith(failure.path)
            and failure.times > 0
        ):
            failure.times -= 1
            return Problem(failure.status, failure.title, failure.detail).response(failure.headers)
    return None


async def add_failure(request: Request) -> JSONResponse:
    """Test-only (not Mailchimp): make the next matching requests fail."""
    request.app.state.mailchimp.failures.append(Failure(**await request.json()))
    return JSONResponse({"ok": True})


async def unknown(request: Request) -> Response:
    """Any other path, another API version included (``/2.0/…``), is Mailchimp's 404."""
    return not_found().response()


async def oauth_metadata(request: Request) -> Response:
    """login.mailchimp.com's ``GET /oauth2/metadata`` (``Authorization: OAuth <token>``),
    https://mailchimp.com/developer/marketing/guides/access-user-data-oauth-2/."""
    if request.headers.get("authorization") != f"OAuth {OAUTH_TOKEN}":
        return JSONResponse(
            {"error": "invalid_token", "error_description": "Invalid token"}, status_code=401
        )
    return JSONResponse(
        {
            "dc": DC,
            "role": "owner",
            "accountname": "Cellwright Sandbox",
            "user_id": 4000001,
            "login_url": "https://login.mailchimp.com",
            "api_endpoint": f"https://{DC}.api.mailchimp.com",
            "login": {
                "email": "owner@sandbox.example",
                "avatar": None,
                "login_id": 4000001,
                "login_name": "sandbox",
                "login_email": "owner@sandbox.example",
            },
        }
    )


# -- handlers: (account, request, path params) -> body (None: 204) ---------------------------


def _status(body: Body, name: str) -> str | None:
    value = body.get(name)
    if value is not None and value not in STATUSES:
        raise invalid(name, f"Invalid status: must be one of {', '.join(STATUSES)}.")
    return value


def _merge(body: Body) -> dict[str, Any]:
    merge = body.get("merge_fields", {})
    if not isinstance(merge, dict):
        raise invalid("merge_fields", "Merge fields must be an object.")
    for tag, value in merge.items():
        if tag not in MERGE_TAGS:
            raise Problem(
                400,
                "Invalid Resource",
                f"Your merge fields were invalid: {tag} is not a merge field of this audience.",
                [{"field": f"merge_fields.{tag}", "message": "This merge field does not exist."}],
            )
        if isinstance(value, dict | list):
            raise invalid(f"merge_fields.{tag}", "A merge field's value must be text or a number.")
    return dict(merge)


async def get_root(account: Account, request: Request, path: Path) -> Any:
    query(request, set())
    return {
        "account_id": "8d3a3db4d97663a9074efcc16",
        "login_id": "4000001",
        "account_name": "Cellwright Sandbox",
        "email": "owner@sandbox.example",
        "first_name": "Sandbox",
        "last_name": "Owner",
        "username": "sandbox",
        "avatar_url": "",
        "role": "owner",
        "member_since": "2026-01-05T10:00:00+00:00",
        "pricing_plan_type": "forever_free",
        "first_payment": "",
        "account_timezone": "UTC",
        "account_industry": "Software",
        "pro_enabled": False,
        "last_login": "2026-03-01T09:00:00+00:00",
        "contact": {
            "company": "Cellwright Sandbox",
            "addr1": "1 Main St",
            "addr2": "",
            "city": "Springfield",
            "state": "",
            "zip": "00000",
            "country": "US",
        },
        "total_subscribers": sum(len(m) for m in account.members.values()),
        "industry_stats": {"open_rate": 0.21, "bounce_rate": 0.01, "click_rate": 0.03},
        "_links": [],
    }


async def ping(account: Account, request: Request, path: Path) -> Any:
    return {"health_status": "Everything's Chimpy!"}


async def get_lists(account: Account, request: Request, path: Path) -> Any:
    items, total = page_of(
        request, account, list(account.lists.values()), {"sort_field", "sort_dir"}
    )
    return {
        "lists": items,
        "total_items": total,
        "constraints": {
            "may_create": True,
            "max_instances": 1,
            "current_total_instances": len(account.lists),
        },
        "_links": [],
    }


async def get_list(account: Account, request: Request, path: Path) -> Any:
    return public(account.audience(path["list_id"]))


MEMBER_SORTS = {"timestamp_opt", "timestamp_signup", "last_changed"}


async def get_members(account: Account, request: Request, path: Path) -> Any:
    account.audience(path["list_id"])
    params = query(
        request,
        {
            "status",
            "since_timestamp_opt",
            "since_last_changed",
            "sort_field",
            "sort_dir",
            "count",
            "offset",
        },
    )
    items = list(account.members[path["list_id"]].values())
    if params.get("status"):
        items = [m for m in items if m["status"] == params["status"]]
    for param, key in (
        ("since_timestamp_opt", "timestamp_opt"),
        ("since_last_changed", "last_changed"),
    ):
        if params.get(param):
            items = [
                m for m in items if m[key] and m[key] > params[param]
            ]  # "after the set timeframe"
    sort = params.get("sort_field")
    if sort is not None and sort not in MEMBER_SORTS:
        raise invalid("sort_field", f"sort_field must be one of {', '.join(sorted(MEMBER_SORTS))}.")
    items.sort(
        key=lambda m: str(m.get(sort or "last_changed") or ""),
        reverse=params.get("sort_dir") == "DESC",
    )
    page, total = page_of(
        request,
        account,
        items,
        {"status", "since_timestamp_opt", "since_last_changed", "sort_field", "sort_dir"},
    )
    return {"members": page, "list_id": path["list_id"], "total_items": total, "_links": []}


MEMBER_FIELDS = {
    "email_address",
    "email_type",
    "status",
    "merge_fields",
    "interests",
    "language",
    "vip",
    "location",
    "marketing_permissions",
    "ip_signup",
    "timestamp_signup",
    "ip_opt",
    "timestamp_opt",
}


def _email(body: Body) -> str:
    email = str(body.get("email_address") or "").strip()
    if not EMAIL.match(email):
        raise invalid("email_address", "Please provide a valid email address.")
    return email


async def post_member(account: Account, request: Request, path: Path) -> Any:
    account.audience(path["list_id"])
    query(request, {"skip_merge_validation"})
    body = await read_body(request)
    allow(body, MEMBER_FIELDS | {"tags"}, ("email_address", "status"))
    email, status, merge = _email(body), _status(body, "status"), _merge(body)
    if member_hash(email) in account.members[path["list_id"]]:
        raise Problem(
            400,
            "Member Exists",
            f"{email} is already a list member. Use PUT to insert or update list members.",
        )
    member = add_member(account, path["list_id"], email, str(status), merge)
    _apply(member, body)
    tag_member(
        account,
        path["list_id"],
        member,
        [{"name": t, "status": "active"} for t in body.get("tags") or []],
    )
    return public(member)


def _apply(member: dict[str, Any], body: Body) -> None:
    for name in ("language", "vip", "email_type"):
        if name in body:
            member[name] = body[name]


def _update(account: Account, list_id: str, member: dict[str, Any], body: Body) -> dict[str, Any]:
    """Change a member; queue the webhook events the change makes."""
    merge = _merge(body)
    status = _status(body, "status")
    if merge and any(member["merge_fields"].get(k) != v for k, v in merge.items()):
        member["merge_fields"] |= merge
        member["full_name"] = " ".join(
            str(member["merge_fields"][t]) for t in ("FNAME", "LNAME") if member["merge_fields"][t]
        )
        account.emit(list_id, "profile", event_data(member))
    _apply(member, body)
    if status is not None and status != member["status"]:
        was, member["status"] = member["status"], status
        stats = account.lists[list_id]["stats"]
        stats["member_count"] += (status == "subscribed") - (was == "subscribed")
        if status == "subscribed":
            member["timestamp_opt"] = account.now()
            account.emit(list_id, "subscribe", event_data(member))
        elif status == "unsubscribed":
            stats["unsubscribe_count"] += 1
            account.emit(
                list_id, "unsubscribe", event_data(member) | {"action": "unsub", "reason": "manual"}
            )
    member["last_changed"] = account.now()
    return public(member)


async def get_member(account: Account, request: Request, path: Path) -> Any:
    query(request, set())
    return public(account.member(path["list_id"], path["subscriber_hash"]))


async def put_member(account: Account, request: Request, path: Path) -> Any:
    """Add or update (https://mailchimp.com/developer/marketing/api/list-members/add-or-update-list-member/)."""
    account.audience(path["list_id"])
    query(request, {"skip_merge_validation"})
    body = await read_body(request)
    allow(body, MEMBER_FIELDS | {"status_if_new"}, ("email_address", "status_if_new"))
    email = _email(body)
    if member_hash(email) != member_hash(path["subscriber_hash"]):
        raise invalid(
            "email_address", "The email address does not match the subscriber hash in the URL."
        )
    current = account.members[path["list_id"]].get(member_hash(email))
    if current is not None:
        return _update(account, path["list_id"], current, body)
    status = _status(body, "status") or _status(body, "status_if_new")
    member = add_member(account, path["list_id"], email, str(status), _merge(body))
    _apply(member, body)
    return public(member)


async def patch_member(account: Account, request: Request, path: Path) -> Any:
    member = account.member(path["list_id"], path["subscriber_hash"])
    query(request, {"skip_merge_validation"})
    body = await read_body(request)
    allow(body, MEMBER_FIELDS)
    if body.get("status") in ("transactional",):
        raise invalid("status", "A member's status cannot be changed to transactional.")
    return _update(account, path["list_id"], member, body)


async def post_tags(account: Account, request: Request, path: Path) -> Any:
    member = account.member(path["list_id"], path["subscriber_hash"])
    body = await read_body(request)
    allow(body, {"tags", "is_syncing"}, ("tags",))
    tags = body["tags"]
    if not isinstance(tags, list) or not all(
        isinstance(t, dict) and t.get("name") and t.get("status") in ("active", "inactive")
        for t in tags
    ):
        raise invalid("tags", "Each tag needs a name and a status (active or inactive).")
    tag_member(account, path["list_id"], member, tags)
    return None


async def post_note(account: Account, request: Request, path: Path) -> Any:
    member = account.member(path["list_id"], path["subscriber_hash"])
    body = await read_body(request)
    allow(body, {"note"}, ("note",))
    if len(str(body["note"])) > 1000:
        raise invalid("note", "A note is at most 1,000 characters.")
    now = account.now()
    note = {
        "id": account.next_id(),
        "created_at": now,
        "created_by": "Sandbox Owner",
        "updated_at": now,
        "note": body["note"],
        "list_id": path["list_id"],
        "email_id": member["id"],
        "contact_id": member["contact_id"],
    }
    member["last_note"] = {
        "note_id": note["id"],
        "created_at": now,
        "created_by": note["created_by"],
        "note": note["note"],
    }
    return note | {"_links": []}


async def get_webhooks(account: Account, request: Request, path: Path) -> Any:
    account.audience(path["list_id"])
    hooks = [public(h) for h in account.webhooks[path["list_id"]].values()]
    return {"webhooks": hooks, "list_id": path["list_id"], "total_items": len(hooks), "_links": []}


async def post_webhook(account: Account, request: Request, path: Path) -> Any:
    """Saving a webhook makes Mailchimp check its URL with a GET (queued as a delivery)."""
    account.audience(path["list_id"])
    body = await read_body(request)
    allow(body, {"url", "events", "sources"}, ("url",))
    url = str(body["url"])
    if not url.startswith(("http://", "https://")):
        raise invalid("url", "This value should be a valid URL.")
    if any(h["url"] == url for h in account.webhooks[path["list_id"]].values()):
        raise Problem(
            400, "Invalid Resource", "Sorry, you can't use the same webhook URL more than once."
        )
    events = {
        e: bool((body.get("events") or {}).get(e, False))
        for e in ("subscribe", "unsubscribe", "profile", "cleaned", "upemail", "campaign")
    }
    sources = {s: bool((body.get("sources") or {}).get(s, False)) for s in ("user", "admin", "api")}
    hook = {
        "id": secrets.token_hex(5),
        "url": url,
        "events": events,
        "sources": sources,
        "list_id": path["list_id"],
    }
    account.webhooks[path["list_id"]][hook["id"]] = hook
    # Mailchimp checks the URL while saving; here the check follows the call (it cannot
    # wait for a receiver that is only told its secret once this call has answered)
    account.outbox.post(
        Delivery(url, {"User-Agent": "MailChimp.com WebHook Validator"}, b"", method="GET")
    )
    return public(hook)


async def get_webhook(account: Account, request: Request, path: Path) -> Any:
    account.audience(path["list_id"])
    hook = account.webhooks[path["list_id"]].get(path["webhook_id"])
    if hook is None:
        raise not_found()
    return public(hook)


async def delete_webhook(account: Account, request: Request, path: Path) -> Any:
    account.audience(path["list_id"])
    if account.webhooks[path["list_id"]].pop(path["webhook_id"], None) is None:
        raise not_found()
    return None


async def tag_search(account: Account, request: Request, path: Path) -> Any:
    """https://mailchimp.com/developer/marketing/api/list-tags/search-for-tags-on-a-list-by-name/
    (not in the subset)."""
    account.audience(path["list_id"])
    name = query(request, {"name", "count", "offset"}).get("name", "").lower()
    tags = [
        {"id": i, "name": n}
        for n, i in account.list_tags[path["list_id"]].items()
        if name in n.lower()
    ]
    page, total = page_of(request, account, tags, {"name"})
    return {
        "tags": [{k: v for k, v in t.items() if k != "_links"} for t in page],
        "total_items": total,
    }


async def search_members(account: Account, request: Request, path: Path) -> Any:
    params = query(request, {"query", "list_id"})
    if not params.get("query"):
        raise invalid("query", "This value should not be blank.")
    lists = [params["list_id"]] if params.get("list_id") else list(account.members)
    if params.get("list_id"):
        account.audience(params["list_id"])
    wanted = params["query"].strip().lower()
    exact = [
        public(m)
        for lid in lists
        for m in account.members[lid].values()
        if m["email_address"].lower() == wanted
    ]
    return {
        "exact_matches": {"members": exact, "total_items": len(exact)},
        "full_search": {"members": [], "total_items": 0},
        "_links": [],
    }


ROUTES: list[tuple[str, str, Callable[[Account, Request, Path], Awaitable[Any]]]] = [
    ("GET", "/", get_root),
    ("GET", "/ping", ping),
    ("GET", "/lists", get_lists),
    ("GET", "/lists/{list_id}", get_list),
    ("GET", "/lists/{list_id}/members", get_members),
    ("POST", "/lists/{list_id}/members", post_member),
    ("GET", "/lists/{list_id}/members/{subscriber_hash}", get_member),
    ("PUT", "/lists/{list_id}/members/{subscriber_hash}", put_member),
    ("PATCH", "/lists/{list_id}/members/{subscriber_hash}", patch_member),
    ("POST", "/lists/{list_id}/members/{subscriber_hash}/tags", post_tags),
    ("POST", "/lists/{list_id}/members/{subscriber_hash}/notes", post_note),
    ("GET", "/lists/{list_id}/webhooks", get_webhooks),
    ("POST", "/lists/{list_id}/webhooks", post_webhook),
    ("GET", "/lists/{list_id}/webhooks/{webhook_id}", get_webhook),
    ("DELETE", "/lists/{list_id}/webhooks/{webhook_id}", delete_webhook),
    ("GET", "/lists/{list_id}/tag-search", tag_search),
    ("GET", "/search-members", search_members),
    ("GET", "/campaigns", campaigns.get_campaigns),
    ("POST", "/campaigns", campaigns.post_campaign),
    ("GET", "/campaigns/{campaign_id}", campaigns.get_campaign),
    ("PUT", "/campaigns/{campaign_id}/content", campaigns.put_content),
    ("POST", "/campaigns/{campaign_id}/actions/send", campaigns.send),
    ("GET", "/templates", campaigns.get_templates),
]


def create_app() -> Starlette:
    app = Starlette(
        routes=[
            *(
                Route(f"{V}{path}", api(handler), methods=[method])
                for method, path, handler in ROUTES
            ),
            Route("/oauth2/metadata", oauth_metadata, methods=["GET"]),
            Route("/__sandbox__/fail", add_failure, methods=["POST"]),
            Route("/{rest:path}", unknown, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
        ]
    )
    app.state.mailchimp = seeded()
    return app


# -- webhook deliveries, the way Mailchimp sends them ---------------------------------------


def deliveries(app: Starlette) -> list[Delivery]:
    """The requests that had nowhere to go (no server, no test transport), taken."""
    account: Account = app.state.mailchimp
    return account.outbox.take()


async def deliver(app: Starlette, client: httpx.AsyncClient) -> list[httpx.Response]:
    """Send the pending requests with ``client`` (the caller decides where it may connect)."""
    return [
        await client.request(d.method, d.url, content=d.body or None, headers=d.headers)
        for d in deliveries(app)
    ]


def signup(
    app: Starlette, list_id: str, email: str, merge: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Someone subscribes through the audience's signup form (source ``user``)."""
    account: Account = app.state.mailchimp
    return add_member(account, list_id, email, "subscribed", merge or {}, source="user")
