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
Routing is relative, so it works mounted under ``/sandbox/hubspot``.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import secrets
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, unquote

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connectors.hubspot.auth import SANDBOX_CLIENT_SECRET, SANDBOX_TOKEN

VERSIONS = ("2026-03",)
PORTAL_ID = 24681357
APP_ID = 1234567
CLIENT_ID = "sandbox-hubspot-client-id"
DEVELOPER_KEY = "sandbox-developer-hapikey"
READ_ONLY_TOKEN = "pat-na1-5a7d0000-0000-4000-8000-0000000read0"  # noqa: S105 - sandbox demo token
WINDOW_SECONDS = 10.0
ACCESS_TOKEN_SECONDS = 1800

READ = ("crm.objects.contacts.read", "crm.objects.companies.read", "crm.objects.deals.read", "crm.objects.owners.read")
ALL_SCOPES = (*READ, "crm.objects.contacts.write", "crm.objects.companies.write", "crm.objects.deals.write", "oauth")
SCOPE_OF = {"contacts": "contacts", "companies": "companies", "deals": "deals", "notes": "contacts", "tasks": "contacts"}
"""Whose scope an object type needs (notes and tasks: the contacts scopes, as HubSpot's engagement docs list)."""

# Properties a write may set (https://knowledge.hubspot.com/properties/hubspots-default-contact-properties and
# the objects' API guides: https://developers.hubspot.com/docs/api-reference/latest/crm/objects/{contacts,deals,tasks,notes}/guide).
WRITABLE = {
    "contacts": {"email", "firstname", "lastname", "phone", "company", "jobtitle", "website", "lifecyclestage", "hubspot_owner_id", "hs_lead_status", "city", "country"},
    "companies": {"name", "domain", "industry", "phone", "city", "country", "hubspot_owner_id"},
    "deals": {"dealname", "pipeline", "dealstage", "amount", "closedate", "hubspot_owner_id", "dealtype", "description"},
    "tasks": {"hs_task_subject", "hs_task_body", "hs_timestamp", "hs_task_status", "hs_task_priority", "hs_task_type", "hubspot_owner_id"},
    "notes": {"hs_note_body", "hs_timestamp", "hubspot_owner_id"},
}
OPTIONS = {
    "lifecyclestage": {"subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity", "customer", "evangelist", "other"},
    "hs_task_status": {"NOT_STARTED", "IN_PROGRESS", "WAITING", "COMPLETED", "DEFERRED"},
    "hs_task_priority": {"NONE", "LOW", "MEDIUM", "HIGH"},
    "hs_task_type": {"CALL", "EMAIL", "TODO"},
}
REQUIRED = {"deals": ("dealname", "dealstage"), "tasks": ("hs_timestamp",), "notes": ("hs_timestamp",)}
DEFAULT_PROPERTIES = {
    "contacts": ("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"),
    "deals": ("amount", "closedate", "createdate", "dealname", "dealstage", "hs_lastmodifieddate", "hs_object_id", "pipeline"),
}
DATES = {"createdate", "lastmodifieddate", "hs_lastmodifieddate", "closedate", "hs_timestamp"}
ASSOCIATION_TYPES = {
    ("deals", "contacts"): 3, ("contacts", "deals"): 4, ("deals", "companies"): 341, ("companies", "deals"): 342,
    ("contacts", "companies"): 279, ("companies", "contacts"): 280, ("tasks", "contacts"): 204, ("contacts", "tasks"): 203,
    ("tasks", "companies"): 192, ("companies", "tasks"): 191, ("tasks", "deals"): 216, ("deals", "tasks"): 215,
    ("notes", "contacts"): 202, ("contacts", "notes"): 201, ("notes", "companies"): 190, ("companies", "notes"): 189,
    ("notes", "deals"): 214, ("deals", "notes"): 213,
}
"""HUBSPOT_DEFINED default types, both directions: https://developers.hubspot.com/docs/api-reference/latest/crm/associations/associations-v4/guide"""
PIPELINES = [
    {"id": "default", "label": "Sales Pipeline", "displayOrder": 0, "stages": [
        ("appointmentscheduled", "Appointment Scheduled"), ("qualifiedtobuy", "Qualified To Buy"),
        ("presentationscheduled", "Presentation Scheduled"), ("decisionmakerboughtin", "Decision Maker Bought-In"),
        ("contractsent", "Contract Sent"), ("closedwon", "Closed Won"), ("closedlost", "Closed Lost")]},
    {"id": "7654321", "label": "Renewals", "displayOrder": 1, "stages": [("7654322", "Renewal due"), ("7654323", "Renewed")]},
]
OWNERS = [
    {"id": "5001", "email": "sam@sandbox.example", "firstName": "Sam", "lastName": "Seller", "userId": 9001},
    {"id": "5002", "email": "kim@sandbox.example", "firstName": "Kim", "lastName": "Closer", "userId": 9002},
]


class HubSpotError(Exception):
    """HubSpot's error body (https://developers.hubspot.com/docs/api-reference/latest/error-handling)."""

    def __init__(self, status: int, category: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"status": "error", "message": message, "correlationId": str(uuid.uuid4()), "category": category, **extra}


def _validation(message: str, name: str, code: str = "PROPERTY_DOESNT_EXIST") -> HubSpotError:
    return HubSpotError(400, "VALIDATION_ERROR", message, errors=[{"message": message, "code": code, "context": {"propertyName": [name]}}])


@dataclass
class Rec:
    """One CRM record with its property history (newest last)."""

    id: str
    kind: str
    history: dict[str, list[tuple[str | None, int, str]]] = field(default_factory=dict)
    created: int = 0
    updated: int = 0

    def value(self, name: str) -> str | None:
        if name == "hs_object_id":
            return self.id
        if name == "createdate":
            return iso(self.created)
        if name in ("lastmodifieddate", "hs_lastmodifieddate"):
            return iso(self.updated)
        entries = self.history.get(name)
        return entries[-1][0] if entries else None

    def props(self, names: list[str] | tuple[str, ...] | None = None) -> dict[str, str | None]:
        wanted = list(names or DEFAULT_PROPERTIES.get(self.kind) or sorted({*self.history, "createdate", "hs_object_id"}))
        return {name: self.value(name) for name in dict.fromkeys([*wanted, "createdate", "hs_object_id"])}

    def json(self, names: list[str] | tuple[str, ...] | None = None) -> dict[str, Any]:
        return {"id": self.id, "properties": self.props(names), "createdAt": iso(self.created), "updatedAt": iso(self.updated), "archived": False}


@dataclass
class Portal:
    """Everything the sandbox portal and its HubSpot app hold."""

    records: dict[str, dict[str, Rec]] = field(default_factory=dict)
    associations: set[tuple[str, str, str, str]] = field(default_factory=set)
    tokens: dict[str, tuple[tuple[str, ...], float | None]] = field(default_factory=dict)
    refresh_tokens: set[str] = field(default_factory=set)
    limit: int = 100
    calls: deque[float] = field(default_factory=deque)
    page_size: int | None = None
    empty_pages: bool = False
    target_url: str | None = None
    subscriptions: list[dict[str, Any]] = field(default_factory=list)
    pending: list[dict[str, Any]] = field(default_factory=list)
    next_id: int = 10001
    next_event: int = 100
    _clock: int = 0

    def now(self) -> int:
        """Milliseconds, strictly increasing (so every change has its own timestamp)."""
        self._clock = max(self._clock + 1, int(time.time() * 1000))
        return self._clock

    def kind(self, name: str) -> dict[str, Rec]:
        return self.records.setdefault(name, {})

    def get(self, kind: str, record_id: str) -> Rec:
        found = self.kind(kind).get(record_id)
        if found is None:
            raise HubSpotError(404, "OBJECT_NOT_FOUND", f"resource not found: no {kind} record with ID {record_id}")
        return found

    def by_email(self, email: str) -> Rec | None:
        return next((r for r in self.kind("contacts").values() if (r.value("email") or "").lower() == email.lower()), None)

    def create(self, kind: str, props: Mapping[str, str], source: str = "API", at: int | None = None) -> Rec:
        moment = at or self.now()
        record = Rec(id=str(self.next_id), kind=kind, created=moment, updated=moment)
        self.next_id += 1
        for name, value in props.items():
            record.history[name] = [(value, moment, source)]
        self.kind(kind)[record.id] = record
        self.emit(kind, "creation", record)
        return record

    def change(self, record: Rec, props: Mapping[str, str], source: str = "API") -> Rec:
        moment = self.now()
        for name, value in props.items():
            if record.value(name) != value:
                record.history.setdefault(name, []).append((value, moment, source))
                self.emit(record.kind, "propertyChange", record, name, value)
        record.updated = moment
        return record

    def emit(self, kind: str, change: str, record: Rec, name: str | None = None, value: str | None = None) -> None:
        """Record a webhook event for each active subscription it matches."""
        event_type = f"{kind.rstrip('s')}.{change}"
        for sub in self.subscriptions:
            if not sub["active"] or sub["eventType"] != event_type or (name is not None and sub.get("propertyName") != name):
                continue
            self.next_event += 1
            event: dict[str, Any] = {
                "eventId": self.next_event, "subscriptionId": sub["id"], "portalId": PORTAL_ID, "appId": APP_ID,
                "occurredAt": record.updated if name else record.created, "subscriptionType": event_type, "attemptNumber": 0,
                "objectId": int(record.id), "changeSource": "API",
            }
            event |= {"propertyName": name, "propertyValue": value} if name else {"changeFlag": "NEW"}
            self.pending.append(event)


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def as_ms(value: Any) -> int | None:
    """A date filter value: milliseconds or ISO 8601 (HubSpot takes both)."""
    text = str(value)
    if text.lstrip("-").isdigit():
        return int(text)
    try:
        return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return None


def seeded() -> Portal:
    portal = Portal(tokens={SANDBOX_TOKEN: (ALL_SCOPES, None), READ_ONLY_TOKEN: (READ, None)})
    jan = int(datetime(2026, 1, 5, 9, tzinfo=UTC).timestamp() * 1000)
    people = [("1001", "ada@example.com", "Ada", "Lovelace", "lead"), ("1002", "alan@example.com", "Alan", "Turing", "customer")]
    for n, (rid, email, first, last, stage) in enumerate(people):
        portal.next_id = int(rid)
        portal.create("contacts", {"email": email, "firstname": first, "lastname": last, "lifecyclestage": stage}, "CRM_UI", jan + n * 60_000)
    portal.next_id = 2001
    deal = {"dealname": "Analytical engine maintenance", "pipeline": "default", "dealstage": "qualifiedtobuy", "amount": "4800"}
    portal.create("deals", deal, "CRM_UI", jan + 3_600_000)
    portal.next_id = 3001
    portal.create("companies", {"name": "Analytical Engines Ltd", "domain": "engines.example"}, "CRM_UI", jan + 7_200_000)
    portal.associations |= {("deals", "2001", "contacts", "1001"), ("contacts", "1001", "deals", "2001")}
    portal.next_id = 10001
    return portal


# -- requests ------------------------------------------------------------------------------


def _authorize(portal: Portal, request: Request, scope: str | None) -> None:
    header = request.headers.get("authorization", "")
    token = header[7:] if header.lower().startswith("bearer ") else ""
    known = portal.tokens.get(token)
    if known is None:
        raise HubSpotError(401, "INVALID_AUTHENTICATION", "Authentication credentials not found. This API supports OAuth 2.0 authentication "
                           "and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview")
    scopes, expires = known
    if expires is not None and expires < time.time():
        ago = max(1, int((time.time() - expires) // 60))
        raise HubSpotError(401, "EXPIRED_AUTHENTICATION", f"The OAuth token used to make this call expired {ago} minute(s) ago.")
    if scope and scope not in scopes:
        raise HubSpotError(
            403, "MISSING_SCOPES", "This app hasn't been granted all required scopes to make this call. Read more about required "
            "scopes here: https://developers.hubspot.com/scopes.",
            errors=[{"message": "One or more of the following scopes are required.", "context": {"requiredGranularScopes": [scope]}}],
            links={"scopes": "https://developers.hubspot.com/scopes"},
        )


def _rate_headers(portal: Portal) -> dict[str, str]:
    return {
        "X-HubSpot-RateLimit-Max": str(portal.limit), "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(WINDOW_SECONDS * 1000)),
        "X-HubSpot-RateLimit-Remaining": str(max(0, portal.limit - len(portal.calls))),
    }


def _throttle(portal: Portal) -> None:
    """The rolling ten-second window (https://developers.hubspot.com/docs/developer-tooling/platform/usage-guidelines)."""
    now = time.monotonic()
    while portal.calls and portal.calls[0] <= now - WINDOW_SECONDS:
        portal.calls.popleft()
    if len(portal.calls) >= portal.limit:
        raise HubSpotError(429, "RATE_LIMITS", "You have reached your ten_secondly_rolling limit.", errorType="RATE_LIMIT",
                           policyName="TEN_SECONDLY_ROLLING", groupName=f"publicapi:private-app:{PORTAL_ID}")
    portal.calls.append(now)


Handler = Callable[[Portal, Request, dict[str, Any]], Awaitable[Any]]


def api(handler: Handler, scope: Callable[[Mapping[str, Any]], str | None] | None = None) -> Callable[[Request], Awaitable[Response]]:
    """Version check, auth and scopes, rate limit, then the handler; errors in HubSpot's shape."""

    async def endpoint(request: Request) -> Response:
        portal: Portal = request.app.state.hubspot
        try:
            version = request.path_params.get("version")
            if version is not None and version not in VERSIONS:
                raise HubSpotError(404, "OBJECT_NOT_FOUND", f"Unknown API version '{version}' for this endpoint. Supported: {', '.join(VERSIONS)}.")
            _authorize(portal, request, scope(request.path_params) if scope else None)
            _throttle(portal)
            try:
                body = json.loads(await request.body() or b"null")
            except ValueError:
                raise HubSpotError(400, "VALIDATION_ERROR", "Invalid input JSON on line 1") from None
            answer = await handler(portal, request, body if body is not None else {})
            if answer is None:
                return Response(status_code=204, headers=_rate_headers(portal))
            status, data = answer if isinstance(answer, tuple) else (200, answer)
            return JSONResponse(data, status_code=status, headers=_rate_headers(portal))
        except HubSpotError as error:
            return JSONResponse(error.body, status_code=error.status, headers=_rate_headers(portal))

    return endpoint


def _objects_scope(access: str) -> Callable[[Mapping[str, Any]], str | None]:
    return lambda params: f"crm.objects.{SCOPE_OF.get(str(params.get('object_type')), 'contacts')}.{access}"


def _kind(request: Request) -> str:
    kind = str(request.path_params["object_type"])
    if kind not in WRITABLE:
        raise HubSpotError(400, "VALIDATION_ERROR", f"Unable to infer object type from: {kind}")
    return kind


def _clean(kind: str, props: Any, *, creating: bool) -> dict[str, str]:
    if not isinstance(props, Mapping):
        raise HubSpotError(400, "VALIDATION_ERROR", "Invalid input JSON: 'properties' must be an object")
    out: dict[str, str] = {}
    for name, value in props.items():
        if name not in WRITABLE[kind]:
            raise _validation(f'Property values were not valid: Property "{name}" does not exist', name)
        text = "" if value is None else str(value)
        allowed = OPTIONS.get(name)
        if allowed and text and text not in allowed:
            raise _validation(f'Property values were not valid: {text} was not one of the allowed options for "{name}"', name, "INVALID_OPTION")
        if name in DATES and text and as_ms(text) is None:
            raise _validation(f'Property values were not valid: "{text}" is not a valid date for "{name}"', name, "INVALID_DATE")
        out[name] = text
    for name in REQUIRED.get(kind, ()) if creating else ():
        if not out.get(name):
            raise _validation(f"Property values were not valid: the required property \"{name}\" is missing", name, "REQUIRED_PROPERTY")
    if kind == "deals" and "dealstage" in out:
        pipeline = next((p for p in PIPELINES if p["id"] == out.get("pipeline", "default")), None)
        if pipeline is None or out["dealstage"] not in {sid for sid, _ in pipeline["stages"]}:
            raise _validation(f'Property values were not valid: {out["dealstage"]} is not a stage of pipeline {out.get("pipeline", "default")}', "dealstage", "INVALID_OPTION")
    return out


def _links(portal: Portal, kind: str, wanted: Any) -> list[tuple[str, str]]:
    """The (type, id) records a create names in ``associations``, checked before anything is stored."""
    links: list[tuple[str, str]] = []
    for link in wanted or []:
        target_id = str((link.get("to") or {}).get("id"))
        for spec in link.get("types") or []:
            target_kind = next((to for (frm, to), tid in ASSOCIATION_TYPES.items() if frm == kind and tid == spec.get("associationTypeId")), None)
            if spec.get("associationCategory") != "HUBSPOT_DEFINED" or target_kind is None:
                raise HubSpotError(400, "VALIDATION_ERROR", f"{spec.get('associationTypeId')} is not a valid association type from {kind}")
            if target_id not in portal.kind(target_kind):
                raise HubSpotError(400, "VALIDATION_ERROR", f"One or more associations are invalid: {target_kind} {target_id} does not exist")
            links.append((target_kind, target_id))
    return links


async def create_record(portal: Portal, request: Request, body: dict[str, Any]) -> Any:
    """POST /crm/objects/2026-03/{objectType} (https://developers.hubspot.com/docs/api-reference/latest/crm/objects/guide)."""
    kind = _kind(request)
    props = _clean(kind, body.get("properties", {}), creating=True)
    if kind == "contacts" and props.get("email"):
        existing = portal.by_email(props["email"])
        if existing is not None:
            raise HubSpotError(409, "CONFLICT", f"Contact already exists. Existing ID: {existing.id}")
    links = _links(portal, kind, body.get("associations"))
    record = portal.create(kind, props)
    for target_kind, target_id in links:
        portal.associations |= {(kind, record.id, target_kind, target_id), (target_kind, target_id, kind, record.id)}
    return 201, record.json(sorted({*props, *DEFAULT_PROPERTIES.get(kind, ())}))


async def update_record(portal: Portal, request: Request, body: dict[str, Any]) -> Any:
    """PATCH /crm/objects/2026-03/{objectType}/{objectId}[?idProperty=email]."""
    kind = _kind(request)
    key = unquote(str(request.path_params["record_id"]))
    if request.query_params.get("idProperty") == "email" and kind == "contacts":
        found = portal.by_email(key)
        if found is None:
            raise HubSpotError(404, "OBJECT_NOT_FOUND", f"resource not found: no contact with email {key}")
        record = found
    else:
        record = portal.get(kind, key)
    props = _clean(kind, body.get("properties", {}), creating=False)
    portal.change(record, props)
    return record.json(sorted({*props, *DEFAULT_PROPERTIES.get(kind, ())}))


def _matches(record: Rec, flt: Mapping[str, Any]) -> bool:
    name, op = str(flt.get("propertyName")), str(flt.get("operator", "EQ"))
    have = record.value(name)
    if op == "HAS_PROPERTY":
        return have not in (None, "")
    if op == "NOT_HAS_PROPERTY":
        return have in (None, "")
    if op == "IN":
        return have is not None and have.lower() in {str(v).lower() for v in flt.get("values") or []}
    if have is None:
        return op == "NEQ"
    want: Any = flt.get("value")
    if name in DATES or name == "hs_object_id" or name == "amount":
        left, right = (as_ms(have), as_ms(want)) if name in DATES else (float(have), float(want))
    else:
        left, right = have.lower(), str(want).lower()
    if left is None or right is None:
        return False
    checks = {"EQ": left == right, "NEQ": left != right, "GT": left > right, "GTE": left >= right, "LT": left < right, "LTE": left <= right}
    if op not in checks:
        raise HubSpotError(400, "VALIDATION_ERROR", f"Unsupported operator: {op}")
    return checks[op]


async def search_records(portal: Portal, request: Request, body: dict[str, Any]) -> Any:
    """POST /crm/objects/2026-03/{objectType}/search (https://developers.hubspot.com/docs/api-reference/latest/crm/search/guide):
    at most 5 filter groups and 25 filters, 200 results a page, ``after`` cursors."""
    kind = _kind(request)
    groups = body.get("filterGroups") or []
    if len(groups) > 5 or sum(len(g.get("filters") or []) for g in groups) > 25:
        raise HubSpotError(400, "VALIDATION_ERROR", "Too many filters: at most 5 filterGroups and 25 filters in total")
    limit = int(body.get("limit", 10))
    if not 1 <= limit <= 200:
        raise HubSpotError(400, "VALIDATION_ERROR", "limit must be between 1 and 200", errors=[{"message": "limit out of range", "in": "limit"}])
    found = [r for r in portal.kind(kind).values() if not groups or any(all(_matches(r, f) for f in g.get("filters") or []) for g in groups)]
    for sort in reversed(body.get("sorts") or [{"propertyName": "hs_object_id"}]):
        name = sort.get("propertyName") if isinstance(sort, Mapping) else str(sort).lstrip("-")
        descending = sort.get("direction") == "DESCENDING" if isinstance(sort, Mapping) else str(sort).startswith("-")
        found.sort(key=lambda r, n=name: (as_ms(r.value(n)) or 0) if n in DATES else int(r.id) if n == "hs_object_id" else (r.value(n) or ""), reverse=descending)
    after = str(body.get("after") or "0")
    offset = int(after.lstrip("e") or 0)
    if portal.empty_pages and not after.startswith("e") and offset < len(found):
        return {"total": len(found), "results": [], "paging": {"next": {"after": f"e{offset}"}}}
    size = min(limit, portal.page_size or limit)
    page = found[offset:offset + size]
    answer: dict[str, Any] = {"total": len(found), "results": [r.json(body.get("properties")) for r in page]}
    if offset + size < len(found):
        answer["paging"] = {"next": {"after": str(offset + size)}}
    return answer


async def batch_read(portal: Portal, request: Request, body: dict[str, Any]) -> Any:
    """POST /crm/objects/2026-03/{objectType}/batch/read, with ``propertiesWithHistory``."""
    kind = _kind(request)
    results = []
    for item in body.get("inputs") or []:
        record = portal.kind(kind).get(str(item.get("id")))
        if record is None:
            continue
        data = record.json(body.get("properties"))
        wanted = body.get("propertiesWithHistory") or []
        if wanted:
            data["propertiesWithHistory"] = {
                name: [{"value": v, "timestamp": iso(at), "sourceType": src} for v, at, src in reversed(record.history.get(name, []))]
                for name in wanted
            }
        results.append(data)
    return {"status": "COMPLETE", "results": results, "startedAt": iso(portal.now()), "completedAt": iso(portal.now())}


async def batch_upsert(portal: Portal, request: Request, body: dict[str, Any]) -> Any:
    """POST /crm/objects/2026-03/contacts/batch/upsert with ``idProperty: email``
    (https://developers.hubspot.com/docs/api-reference/latest/crm/objects/contacts/guide#create-or-update-contacts)."""
    kind = _kind(request)
    results = []
    for item in body.get("inputs") or []:
        if item.get("idProperty") != "email" or kind != "contacts":
            raise HubSpotError(400, "VALIDATION_ERROR", "idProperty must be a unique property (email for contacts)")
        email = str(item.get("id") or "")
        props = _clean(kind, {**(item.get("properties") or {}), "email": email}, creating=False)
        existing = portal.by_email(email)
        record = portal.change(existing, props) if existing else portal.create(kind, props)
        results.append({**record.json(sorted({*props, *DEFAULT_PROPERTIES[kind]})), "new": existing is None})
    return {"status": "COMPLETE", "results": results, "startedAt": iso(portal.now()), "completedAt": iso(portal.now())}


async def associate_default(portal: Portal, request: Request, body: dict[str, Any]) -> Any:
    """PUT /crm/objects/2026-03/{fromObjectType}/{fromObjectId}/associations/default/{toObjectType}/{toObjectId}
    (https://developers.hubspot.com/docs/api-reference/latest/crm/associations/associations-v4/guide#associate-records-without-a-label)."""
    p = request.path_params
    frm, to = str(p["object_type"]), str(p["to_type"])
    portal.get(frm, str(p["record_id"]))
    portal.get(to, str(p["to_id"]))
    if (frm, to) not in ASSOCIATION_TYPES:
        raise HubSpotError(400, "VALIDATION_ERROR", f"No default association between {frm} and {to}")
    portal.associations |= {(frm, str(p["record_id"]), to, str(p["to_id"])), (to, str(p["to_id"]), frm, str(p["record_id"]))}
    results = [
        {"from": {"id": a}, "to": {"id": b}, "associationSpec": {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": ASSOCIATION_TYPES[(x, y)]}}
        for x, a, y, b in ((frm, p["record_id"], to, p["to_id"]), (to, p["to_id"], frm, p["record_id"]))
    ]
    return {"status": "COMPLETE", "results": results, "startedAt": iso(portal.now()), "completedAt": iso(portal.now())}


async def account_details(portal: Portal, request: Request, body: dict[str, Any]) -> Any:
    """GET /account-info/2026-03/details (https://developers.hubspot.com/docs/api-reference/latest/settings/account-information-api)."""
    return {"portalId": PORTAL_ID, "accountType": "STANDARD", "timeZone": "Europe/London", "companyCurrency": "GBP",
            "additionalCurrencies": [], "utcOffset": "+00:00", "utcOffsetMilliseconds": 0, "uiDomain": "app-eu1.hubspot.com",
            "dataHostingLocation": "eu1"}


async def list_owners(portal: Portal, request: Request, body: dict[str, Any]) -> Any:
    """GET /crm/owners/2026-03 (https://developers.hubspot.com/docs/api-reference/latest/crm/owners/guide.md)."""
    offset, limit = int(request.query_params.get("after") or 0), int(request.query_params.get("limit") or 100)
    page = [{**o, "type": "PERSON", "createdAt": "2025-11-03T09:00:00.000Z", "updatedAt": "2025-11-03T09:00:00.000Z", "archived": False}
            for o in OWNERS[offset:offset + limit]]
    answer: dict[str, Any] = {"results": page}
    if offset + limit < len(OWNERS):
        answer["paging"] = {"next": {"after": str(offset + limit)}}
    return answer


def _stage(sid: str, label: str, order: int) -> dict[str, Any]:
    return {"id": sid, "label": label, "displayOrder": order, "metadata": {"isClosed": str(sid in ("closedwon", "closedlost")).lower()},
            "archived": False, "createdAt": "2025-11-03T09:00:00.000Z", "updatedAt": "2025-11-03T09:00:00.000Z"}


async def list_pipelines(portal: Portal, request: Request, body: dict[str, Any]) -> Any:
    """GET /crm/pipelines/2026-03/{objectType} (https://developers.hubspot.com/docs/api-reference/latest/crm/pipelines/guide)."""
    if request.path_params["object_type"] != "deals":
        return {"results": []}
    return {"results": [{"id": p["id"], "label": p["label"], "displayOrder": p["displayOrder"], "archived": False,
                         "stages": [_stage(sid, label, n) for n, (sid, label) in enumerate(p["stages"])]} for p in PIPELINES]}


async def list_stages(portal: Portal, request: Request, body: dict[str, Any]) -> Any:
    """GET /crm/pipelines/2026-03/{objectType}/{pipelineId}/stages."""
    pipeline = next((p for p in PIPELINES if p["id"] == request.path_params["pipeline_id"]), None)
    if pipeline is None or request.path_params["object_type"] != "deals":
        raise HubSpotError(404, "OBJECT_NOT_FOUND", f"resource not found: pipeline {request.path_params['pipeline_id']}")
    return {"results": [_stage(sid, label, n) for n, (sid, label) in enumerate(pipeline["stages"])]}


# -- OAuth and the app's webhook settings (not per-portal token auth) -------------------------


async def token(request: Request) -> Response:
    """POST /oauth/2026-03/token, form parameters in the body only
    (https://developers.hubspot.com/docs/api-reference/latest/authentication/manage-oauth-tokens.md)."""
    portal: Portal = request.app.state.hubspot
    form = dict(parse_qsl((await request.body()).decode()))
    if form.get("client_id") != CLIENT_ID or form.get("client_secret") != SANDBOX_CLIENT_SECRET:
        return JSONResponse({"status": "BAD_CLIENT_ID", "message": "missing or unknown client id"}, status_code=400)
    grant = form.get("grant_type")
    if grant == "refresh_token" and form.get("refresh_token") in portal.refresh_tokens:
        refresh = str(form["refresh_token"])
    elif grant == "authorization_code" and form.get("code") == "sandbox-code":
        refresh = f"na1-{secrets.token_hex(8)}"
        portal.refresh_tokens.add(refresh)
    else:
        return JSONResponse({"status": "BAD_REFRESH_TOKEN" if grant == "refresh_token" else "BAD_AUTH_CODE", "message": "invalid grant"}, status_code=400)
    access = f"CO{secrets.token_hex(16)}"
    portal.tokens[access] = (ALL_SCOPES, time.time() + ACCESS_TOKEN_SECONDS)
    return JSONResponse({"token_type": "bearer", "access_token": access, "refresh_token": refresh, "expires_in": ACCESS_TOKEN_SECONDS, "hub_id": PORTAL_ID})


def _developer(request: Request) -> JSONResponse | None:
    if request.query_params.get("hapikey") != DEVELOPER_KEY or request.path_params.get("app_id") != str(APP_ID):
        return JSONResponse(HubSpotError(401, "INVALID_AUTHENTICATION", "The developer API key is missing or not for this app.").body, status_code=401)
    if request.path_params.get("version") not in VERSIONS:
        return JSONResponse(HubSpotError(404, "OBJECT_NOT_FOUND", f"Unknown API version '{request.path_params.get('version')}'.").body, status_code=404)
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
        return JSONResponse(HubSpotError(400, "VALIDATION_ERROR", "targetUrl must be an absolute URL").body, status_code=400)
    portal.target_url = target
    return JSONResponse({"targetUrl": target, "throttling": data.get("throttling") or {"maxConcurrentRequests": 10},
                         "createdAt": iso(portal.now()), "updatedAt": iso(portal.now())})


async def webhook_subscribe(request: Request) -> Response:
    """POST /webhooks/2026-03/{appId}/subscriptions ``{eventType, propertyName?, active}``."""
    refused = _developer(request)
    if refused is not None:
        return refused
    portal: Portal = request.app.state.hubspot
    data = await request.json()
    kinds = {"contact.creation", "contact.propertyChange", "deal.creation", "deal.propertyChange", "company.creation", "company.propertyChange"}
    if data.get("eventType") not in kinds or (data["eventType"].endswith("propertyChange") and not data.get("propertyName")):
        return JSONResponse(HubSpotError(400, "VALIDATION_ERROR", "eventType unknown, or propertyName missing for a propertyChange").body, status_code=400)
    sub = {"id": len(portal.subscriptions) + 1, "eventType": data["eventType"], "propertyName": data.get("propertyName"),
           "active": bool(data.get("active", True)), "createdAt": iso(portal.now())}
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
    portal.page_size, portal.empty_pages = data.get("page_size"), bool(data.get("empty_pages", False))
    return JSONResponse({"ok": True})


def create_app() -> Starlette:
    """A fresh sandbox portal (new state per call)."""
    obj = "/crm/objects/{version}/{object_type}"
    routes = [
        Route("/account-info/{version}/details", api(account_details), methods=["GET"]),
        Route(f"{obj}/search", api(search_records, _objects_scope("read")), methods=["POST"]),
        Route(f"{obj}/batch/read", api(batch_read, _objects_scope("read")), methods=["POST"]),
        Route(f"{obj}/batch/upsert", api(batch_upsert, _objects_scope("write")), methods=["POST"]),
        Route(f"{obj}/{{record_id}}/associations/default/{{to_type}}/{{to_id}}", api(associate_default, _objects_scope("write")), methods=["PUT"]),
        Route(f"{obj}/{{record_id}}", api(update_record, _objects_scope("write")), methods=["PATCH"]),
        Route(obj, api(create_record, _objects_scope("write")), methods=["POST"]),
        Route("/crm/owners/{version}", api(list_owners, lambda p: "crm.objects.owners.read"), methods=["GET"]),
        Route("/crm/pipelines/{version}/{object_type}", api(list_pipelines, lambda p: "crm.objects.deals.read"), methods=["GET"]),
        Route("/crm/pipelines/{version}/{object_type}/{pipeline_id}/stages", api(list_stages, lambda p: "crm.objects.deals.read"), methods=["GET"]),
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


def signed(url: str, events: list[dict[str, Any]], *, secret: str = SANDBOX_CLIENT_SECRET, timestamp_ms: int | None = None) -> Delivery:
    """A delivery of ``events`` to ``url`` as HubSpot sends it: a JSON array, signed v3 (and v1)."""
    body = json.dumps(events).encode()
    ts = int(time.time() * 1000) if timestamp_ms is None else timestamp_ms
    headers = {
        "Content-Type": "application/json", "User-Agent": "HubSpot Connect 2.0 (http://dev.hubspot.com/)",
        "X-HubSpot-Signature-v3": sign_v3(secret, "POST", url, body, ts), "X-HubSpot-Request-Timestamp": str(ts),
        "X-HubSpot-Signature": hashlib.sha256(secret.encode() + body).hexdigest(), "X-HubSpot-Signature-Version": "v1",
    }
    return Delivery(url, headers, body)


def event(subscription_type: str, object_id: int, *, portal_id: int = PORTAL_ID, event_id: int = 1, **more: Any) -> dict[str, Any]:
    """One webhook event in HubSpot's shape (for tests building their own deliveries)."""
    return {"eventId": event_id, "subscriptionId": 1, "portalId": portal_id, "appId": APP_ID, "occurredAt": int(time.time() * 1000),
            "subscriptionType": subscription_type, "attemptNumber": 0, "objectId": object_id, "changeSource": "CRM_UI", **more}


def deliveries(app: Starlette, *, timestamp_ms: int | None = None) -> list[Delivery]:
    """The pending events, in batches of up to 100, for the app's target URL (none without one)."""
    portal: Portal = app.state.hubspot
    if portal.target_url is None or not portal.pending:
        return []
    events, portal.pending = copy.deepcopy(portal.pending), []
    return [signed(portal.target_url, events[i:i + 100], timestamp_ms=timestamp_ms) for i in range(0, len(events), 100)]


async def deliver(app: Starlette, client: httpx.AsyncClient) -> list[httpx.Response]:
    """POST the pending deliveries with ``client`` (the caller decides where it may connect)."""
    return [await client.post(d.url, content=d.body, headers=d.headers) for d in deliveries(app)]
