"""A HubSpot simulator for tests and sandbox connections: one portal and one HubSpot app.

HubSpot's machine-readable descriptions are proprietary (shared/specs/SOURCES.md), so
this follows HubSpot's public documentation; each route cites its page. Only what the
connector uses is here.

HubSpot behaviour it reproduces:
- date-versioned paths (``/crm/objects/2026-03/…``); another version in the path is
  answered 404 in HubSpot's error shape.
- static tokens (``Authorization: Bearer pat-…``) with scopes: ``SANDBOX_TOKEN`` has
  them all, ``READ_ONLY_TOKEN`` only the read scopes, so a write answers 403
  ``MISSING_SCOPES`` naming the scope; an unknown token is 401 ``INVALID_AUTHENTICATION``.
  OAuth: ``POST /oauth/2026-03/token`` issues 30-minute access tokens; an expired one is
  401 ``EXPIRED_AUTHENTICATION``.
- the rolling 10-second rate limit: 429 with HubSpot's body (``policyName``
  ``TEN_SECONDLY_ROLLING``) and the ``X-HubSpot-RateLimit-*`` headers on every answer.
- search with filters, sorts and ``after`` cursors; a create with a known e-mail is 409
  ``CONFLICT`` naming the existing ID; unknown properties and options are 400
  ``VALIDATION_ERROR`` naming the property.
- webhooks: the app's target URL and subscriptions (``/webhooks/2026-03/{appId}/…``,
  developer key as ``hapikey``); creating and changing contacts and deals records events,
  and ``deliveries``/``deliver`` POST them in batches signed with v3
  (``X-HubSpot-Signature-v3``) to the target URL.

Test-only controls, not HubSpot: ``POST /__sandbox__/limits`` ``{"max": 2}`` (requests
per 10 s), ``POST /__sandbox__/paging`` ``{"page_size": 1, "empty_pages": true}``
(short search pages, and an empty page carrying a cursor before each real one).
Routing is relative, so it works mounted under ``/sandbox/hubspot``. The portal's state lives in
``sandbox_portal.py``, the CRM object routes in ``sandbox_crm.py``.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connectors.hubspot.auth import SANDBOX_CLIENT_SECRET
from connectors.hubspot.sandbox_crm import (
    associate_default,
    batch_read,
    batch_upsert,
    create_record,
    search_records,
    update_record,
)
from connectors.hubspot.sandbox_portal import (
    ACCESS_TOKEN_SECONDS,
    ALL_SCOPES,
    APP_ID,
    CLIENT_ID,
    DEVELOPER_KEY,
    OWNERS,
    PIPELINES,
    PORTAL_ID,
    READ_ONLY_TOKEN,
    SCOPE_OF,
    VERSIONS,
    WINDOW_SECONDS,
    HubSpotError,
    Portal,
    iso,
    seeded,
)

# -- requests ------------------------------------------------------------------------------


def _authorize(portal: Portal, request: Request, scope: str | None) -> None:
    header = request.headers.get("authorization", "")
    token = header[7:] if header.lower().startswith("bearer ") else ""
    known = portal.tokens.get(token)
    if known is None:
        raise HubSpotError(
            401,
            "INVALID_AUTHENTICATION",
            "Authentication credentials not found. This API supports OAuth 2.0 authentication "
            "and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
        )
    scopes, expires = known
    if expires is not None and expires < time.time():
        ago = max(1, int((time.time() - expires) // 60))
        raise HubSpotError(
            401,
            "EXPIRED_AUTHENTICATION",
            f"The OAuth token used to make this call expired {ago} minute(s) ago.",
        )
    if scope and scope not in scopes:
        raise HubSpotError(
            403,
            "MISSING_SCOPES",
            "This app hasn't been granted all required scopes to make this call. "
            "Read more about required scopes here: https://developers.hubspot.com/scopes.",
            errors=[
                {
                    "message": "One or more of the following scopes are required.",
                    "context": {"requiredGranularScopes": [scope]},
                }
            ],
            links={"scopes": "https://developers.hubspot.com/scopes"},
        )


def _rate_headers(portal: Portal) -> dict[str, str]:
    return {
        "X-HubSpot-RateLimit-Max": str(portal.limit),
        "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(WINDOW_SECONDS * 1000)),
        "X-HubSpot-RateLimit-Remaining": str(max(0, portal.limit - len(portal.calls))),
    }


def _throttle(portal: Portal) -> None:
    """The rolling ten-second window (https://developers.hubspot.com/docs/developer-tooling/platform/usage-guidelines)."""
    now = time.monotonic()
    while portal.calls and portal.calls[0] <= now - WINDOW_SECONDS:
        portal.calls.popleft()
    if len(portal.calls) >= portal.limit:
        raise HubSpotError(
            429,
            "RATE_LIMITS",
            "You have reached your ten_secondly_rolling limit.",
            errorType="RATE_LIMIT",
            policyName="TEN_SECONDLY_ROLLING",
            groupName=f"publicapi:private-app:{PORTAL_ID}",
        )
    portal.calls.append(now)


Handler = Callable[[Portal, Request, dict[str, Any]], Awaitable[Any]]


def api(
    handler: Handler, scope: Callable[[Mapping[str, Any]], str | None] | None = None
) -> Callable[[Request], Awaitable[Response]]:
    """Version check, auth and scopes, rate limit, then the handler; errors in HubSpot's shape."""

    async def endpoint(request: Request) -> Response:
        portal: Portal = request.app.state.hubspot
        try:
            version = request.path_params.get("version")
            if version is not None and version not in VERSIONS:
                raise HubSpotError(
                    404,
                    "OBJECT_NOT_FOUND",
                    f"Unknown API version '{version}' for this endpoint. "
                    f"Supported: {', '.join(VERSIONS)}.",
                )
            _authorize(portal, request, scope(request.path_params) if scope else None)
            _throttle(portal)
            try:
                body = json.loads(await request.body() or b"null")
            except ValueError:
                raise HubSpotError(
                    400, "VALIDATION_ERROR", "Invalid input JSON on line 1"
                ) from None
            answer = await handler(portal, request, body if body is not None else {})
            if answer is None:
                return Response(status_code=204, headers=_rate_headers(portal))
            status, data = answer if isinstance(answer, tuple) else (200, answer)
            return JSONResponse(data, status_code=status, headers=_rate_headers(portal))
        except HubSpotError as error:
            return JSONResponse(error.body, status_code=error.status, headers=_rate_headers(portal))

    return endpoint


def _objects_scope(access: str) -> Callable[[Mapping[str, Any]], str | None]:
    return lambda params: (
        f"crm.objects.{SCOPE_OF.get(str(params.get('object_type')), 'contacts')}.{access}"
    )


async def account_details(portal: Portal, request: Request, body: dict[str, Any]) -> Any:
    """GET /account-info/2026-03/details (https://developers.hubspot.com/docs/api-reference/latest/settings/account-information-api)."""
    return {
        "portalId": PORTAL_ID,
        "accountType": "STANDARD",
        "timeZone": "Europe/London",
        "companyCurrency": "GBP",
        "additionalCurrencies": [],
        "utcOffset": "+00:00",
        "utcOffsetMilliseconds": 0,
        "uiDomain": "app-eu1.hubspot.com",
        "dataHostingLocation": "eu1",
    }


async def list_owners(portal: Portal, request: Request, body: dict[str, Any]) -> Any:
    """GET /crm/owners/2026-03 (https://developers.hubspot.com/docs/api-reference/latest/crm/owners/guide.md)."""
    offset, limit = (
        int(request.query_params.get("after") or 0),
        int(request.query_params.get("limit") or 100),
    )
    page = [
        {
            **o,
            "type": "PERSON",
            "createdAt": "2025-11-03T09:00:00.000Z",
            "updatedAt": "2025-11-03T09:00:00.000Z",
            "archived": False,
        }
        for o in OWNERS[offset : offset + limit]
    ]
    answer: dict[str, Any] = {"results": page}
    if offset + limit < len(OWNERS):
        answer["paging"] = {"next": {"after": str(offset + limit)}}
    return answer


def _stage(sid: str, label: str, order: int) -> dict[str, Any]:
    return {
        "id": sid,
        "label": label,
        "displayOrder": order,
        "metadata": {"isClosed": str(sid in ("closedwon", "closedlost")).lower()},
        "archived": False,
        "createdAt": "2025-11-03T09:00:00.000Z",
        "updatedAt": "2025-11-03T09:00:00.000Z",
    }


async def list_pipelines(portal: Portal, request: Request, body: dict[str, Any]) -> Any:
    """GET /crm/pipelines/2026-03/{objectType} (https://developers.hubspot.com/docs/api-reference/latest/crm/pipelines/guide)."""
    if request.path_params["object_type"] != "deals":
        return {"results": []}
    return {
        "results": [
            {
                "id": p["id"],
                "label": p["label"],
                "displayOrder": p["displayOrder"],
                "archived": False,
                "stages": [_stage(sid, label, n) for n, (sid, label) in enumerate(p["stages"])],
            }
            for p in PIPELINES
        ]
    }


async def list_stages(portal: Portal, request: Request, body: dict[str, Any]) -> Any:
    """GET /crm/pipelines/2026-03/{objectType}/{pipelineId}/stages."""
    pipeline = next((p for p in PIPELINES if p["id"] == request.path_params["pipeline_id"]), None)
    if pipeline is None or request.path_params["object_type"] != "deals":
        raise HubSpotError(
            404,
            "OBJECT_NOT_FOUND",
            f"resource not found: pipeline {request.path_params['pipeline_id']}",
        )
    return {"results": [_stage(sid, label, n) for n, (sid, label) in enumerate(pipeline["stages"])]}


# -- OAuth and the app's webhook settings (not per-portal token auth) -------------------------


async def token(request: Request) -> Response:
    """POST /oauth/2026-03/token, form parameters in the body only
    (https://developers.hubspot.com/docs/api-reference/latest/authentication/manage-oauth-tokens.md)."""
    portal: Portal = request.app.state.hubspot
    form = dict(parse_qsl((await request.body()).decode()))
    if form.get("client_id") != CLIENT_ID or form.get("client_secret") != SANDBOX_CLIENT_SECRET:
        return JSONResponse(
            {"status": "BAD_CLIENT_ID", "message": "missing or unknown client id"}, status_code=400
        )
    grant = form.get("grant_type")
    if grant == "refresh_token" and form.get("refresh_token") in portal.refresh_tokens:
        refresh = str(form["refresh_token"])
    elif grant == "authorization_code" and form.get("code") == "sandbox-code":
        refresh = f"na1-{secrets.token_hex(8)}"
        portal.refresh_tokens.add(refresh)
    else:
        return JSONResponse(
            {
                "status": "BAD_REFRESH_TOKEN" if grant == "refresh_token" else "BAD_AUTH_CODE",
                "message": "invalid grant",
            },
            status_code=400,
        )
    access = f"CO{secrets.token_hex(16)}"
    portal.tokens[access] = (ALL_SCOPES, time.time() + ACCESS_TOKEN_SECONDS)
    return JSONResponse(
        {
            "token_type": "bearer",
            "access_token": access,
            "refresh_token": refresh,
            "expires_in": ACCESS_TOKEN_SECONDS,
            "hub_id": PORTAL_ID,
        }
    )


def _developer(request: Request) -> JSONResponse | None:
    if request.query_params.get("hapikey") != DEVELOPER_KEY or request.path_params.get(
        "app_id"
    ) != str(APP_ID):
        return JSONResponse(
            HubSpotError(
                401,
                "INVALID_AUTHENTICATION",
                "The developer API key is missing or not for this app.",
            ).body,
            status_code=401,
        )
    if request.path_params.get("version") not in VERSIONS:
        return JSONResponse(
            HubSpotError(
                404,
                "OBJECT_NOT_FOUND",
                f"Unknown API version '{request.path_params.get('version')}'.",
            ).body,
            status_code=404,
        )
    return None


async def webhook_settings(request: Request) -> Response:
    """PUT /webhooks/2026-03/{appId}/settings ``{targetUrl, throttling}`` with the developer key
    (https://developers.hubspot.com/docs/api-reference/latest/webhooks/guide.md)."""
    refused = _developer(request)
    if refused is not None:
        return refused
    portal: Portal = request.app.state.hubspot
    data = await request.json()
    target = str(data.get("targetUrl") or "")
    if not target.startswith(("https://", "http://")):
        return JSONResponse(
            HubSpotError(400, "VALIDATION_ERROR", "targetUrl must be an absolute URL").body,
            status_code=400,
        )
    portal.target_url = target
    return JSONResponse(
        {
            "targetUrl": target,
            "throttling": data.get("throttling") or {"maxConcurrentRequests": 10},
            "createdAt": iso(portal.now()),
            "updatedAt": iso(portal.now()),
        }
    )


async def webhook_subscribe(request: Request) -> Response:
    """POST /webhooks/2026-03/{appId}/subscriptions ``{eventType, propertyName?, active}``."""
    refused = _developer(request)
    if refused is not None:
        return refused
    portal: Portal = request.app.state.hubspot
    data = await request.json()
    kinds = {
        "contact.creation",
        "contact.propertyChange",
        "deal.creation",
        "deal.propertyChange",
        "company.creation",
        "company.propertyChange",
    }
    if data.get("eventType") not in kinds or (
        data["eventType"].endswith("propertyChange") and not data.get("propertyName")
    ):
        return JSONResponse(
            HubSpotError(
                400,
                "VALIDATION_ERROR",
                "eventType unknown, or propertyName missing for a propertyChange",
            ).body,
            status_code=400,
        )
    sub = {
        "id": len(portal.subscriptions) + 1,
        "eventType": data["eventType"],
        "propertyName": data.get("propertyName"),
        "active": bool(data.get("active", True)),
        "createdAt": iso(portal.now()),
    }
    portal.subscriptions.append(sub)
    return JSONResponse(sub, status_code=201)


async def set_limits(request: Request) -> Response:
    """Test-only (not HubSpot): requests allowed per 10 s."""
    portal: Portal = request.app.state.hubspot
    portal.limit = int((await request.json())["max"])
    portal.calls.clear()
    return JSONResponse({"ok": True})


async def set_paging(request: Request) -> Response:
    """Test-only (not HubSpot): short search pages and empty pages that carry a cursor."""
    portal: Portal = request.app.state.hubspot
    data = await request.json()
    portal.page_size, portal.empty_pages = (
        data.get("page_size"),
        bool(data.get("empty_pages", False)),
    )
    return JSONResponse({"ok": True})


def create_app() -> Starlette:
    """A fresh sandbox portal (new state per call)."""
    obj = "/crm/objects/{version}/{object_type}"
    routes = [
        Route("/account-info/{version}/details", api(account_details), methods=["GET"]),
        Route(f"{obj}/search", api(search_records, _objects_scope("read")), methods=["POST"]),
        Route(f"{obj}/batch/read", api(batch_read, _objects_scope("read")), methods=["POST"]),
        Route(f"{obj}/batch/upsert", api(batch_upsert, _objects_scope("write")), methods=["POST"]),
        Route(
            f"{obj}/{{record_id}}/associations/default/{{to_type}}/{{to_id}}",
            api(associate_default, _objects_scope("write")),
            methods=["PUT"],
        ),
        Route(
            f"{obj}/{{record_id}}", api(update_record, _objects_scope("write")), methods=["PATCH"]
        ),
        Route(obj, api(create_record, _objects_scope("write")), methods=["POST"]),
        Route(
            "/crm/owners/{version}",
            api(list_owners, lambda p: "crm.objects.owners.read"),
            methods=["GET"],
        ),
        Route(
            "/crm/pipelines/{version}/{object_type}",
            api(list_pipelines, lambda p: "crm.objects.deals.read"),
            methods=["GET"],
        ),
        Route(
            "/crm/pipelines/{version}/{object_type}/{pipeline_id}/stages",
            api(list_stages, lambda p: "crm.objects.deals.read"),
            methods=["GET"],
        ),
        Route("/oauth/{version}/token", token, methods=["POST"]),
        Route("/webhooks/{version}/{app_id}/settings", webhook_settings, methods=["PUT"]),
        Route("/webhooks/{version}/{app_id}/subscriptions", webhook_subscribe, methods=["POST"]),
        Route("/__sandbox__/limits", set_limits, methods=["POST"]),
        Route("/__sandbox__/paging", set_paging, methods=["POST"]),
    ]
    app = Starlette(routes=routes)
    app.state.hubspot = seeded()
    return app


# -- webhook deliveries, signed the way HubSpot signs them ---------------------------------------


def sign_v3(secret: str, method: str, uri: str, body: bytes, timestamp_ms: int) -> str:
    """``X-HubSpot-Signature-v3``: base64 HMAC-SHA256 of method + URI + body + timestamp
    (https://developers.hubspot.com/docs/apps/developer-platform/build-apps/authentication/request-validation)."""
    message = method.encode() + unquote(uri).encode() + body + str(timestamp_ms).encode()
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


@dataclass(frozen=True)
class Delivery:
    url: str
    headers: dict[str, str]
    body: bytes


def signed(
    url: str,
    events: list[dict[str, Any]],
    *,
    secret: str = SANDBOX_CLIENT_SECRET,
    timestamp_ms: int | None = None,
) -> Delivery:
    """A delivery of ``events`` to ``url`` as HubSpot sends it: a JSON array, signed v3 (and v1)."""
    body = json.dumps(events).encode()
    ts = int(time.time() * 1000) if timestamp_ms is None else timestamp_ms
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "HubSpot Connect 2.0 (http://dev.hubspot.com/)",
        "X-HubSpot-Signature-v3": sign_v3(secret, "POST", url, body, ts),
        "X-HubSpot-Request-Timestamp": str(ts),
        "X-HubSpot-Signature": hashlib.sha256(secret.encode() + body).hexdigest(),
        "X-HubSpot-Signature-Version": "v1",
    }
    return Delivery(url, headers, body)


def event(
    subscription_type: str,
    object_id: int,
    *,
    portal_id: int = PORTAL_ID,
    event_id: int = 1,
    **more: Any,
) -> dict[str, Any]:
    """One webhook event in HubSpot's shape (for tests building their own deliveries)."""
    return {
        "eventId": event_id,
        "subscriptionId": 1,
        "portalId": portal_id,
        "appId": APP_ID,
        "occurredAt": int(time.time() * 1000),
        "subscriptionType": subscription_type,
        "attemptNumber": 0,
        "objectId": object_id,
        "changeSource": "CRM_UI",
        **more,
    }


def deliveries(app: Starlette, *, timestamp_ms: int | None = None) -> list[Delivery]:
    """The pending events, in batches of up to 100, for the app's target URL (none without one)."""
    portal: Portal = app.state.hubspot
    if portal.target_url is None or not portal.pending:
        return []
    events, portal.pending = copy.deepcopy(portal.pending), []
    return [
        signed(portal.target_url, events[i : i + 100], timestamp_ms=timestamp_ms)
        for i in range(0, len(events), 100)
    ]


async def deliver(app: Starlette, client: httpx.AsyncClient) -> list[httpx.Response]:
    """POST the pending deliveries with ``client`` (the caller decides where it may connect)."""
    return [await client.post(d.url, content=d.body, headers=d.headers) for d in deliveries(app)]


__all__ = [
    "ALL_SCOPES",
    "APP_ID",
    "CLIENT_ID",
    "DEVELOPER_KEY",
    "PORTAL_ID",
    "READ_ONLY_TOKEN",
    "Delivery",
    "Portal",
    "create_app",
    "deliver",
    "deliveries",
    "event",
    "iso",
    "sign_v3",
    "signed",
]
