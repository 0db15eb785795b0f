"""HubSpot contract: every request the connector sends, checked against HubSpot's documented
endpoints.

HubSpot's machine-readable specs are proprietary and not copied here
(tests/specs/SOURCES.md), so the contract is written out below from HubSpot's public
documentation: one entry per endpoint the connector calls — method, path, the query
parameters and the JSON body fields the page documents — each citing its page. Every
request recorded while running every action, trigger and dropdown against the sandbox
must match an entry and its fields; every entry must be used (so the table cannot go
stale); CRM calls carry the token as ``Authorization: Bearer``.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import httpx
import jsonschema
import pytest

from connectors.hubspot import app, sandbox
from connectors.hubspot.auth import SANDBOX_CREDENTIALS
from connectors.sdk import OperationContext, build_http
from connectors.sdk.options import fetch_options
from connectors.sdk.sandboxing import SANDBOX_BASE, RecordingTransport

V = "2026-03"
OBJECT = r"(contacts|companies|deals|tickets|notes|tasks)"
ID = r"[^/]+"
TEXT_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
STRINGS = {"type": "array", "items": {"type": "string"}}
ASSOCIATIONS = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["to", "types"],
        "additionalProperties": False,
        "properties": {
            "to": {
                "type": "object",
                "required": ["id"],
                "additionalProperties": False,
                "properties": {"id": {"type": "string"}},
            },
            "types": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "required": ["associationCategory", "associationTypeId"],
                    "additionalProperties": False,
                    "properties": {
                        "associationCategory": {
                            "enum": ["HUBSPOT_DEFINED", "USER_DEFINED", "INTEGRATOR_DEFINED"]
                        },
                        "associationTypeId": {"type": "integer"},
                    },
                },
            },
        },
    },
}
FILTER = {
    "type": "object",
    "required": ["propertyName", "operator"],
    "additionalProperties": False,
    "properties": {
        "propertyName": {"type": "string"},
        "operator": {
            "enum": [
                "EQ",
                "NEQ",
                "LT",
                "LTE",
                "GT",
                "GTE",
                "BETWEEN",
                "IN",
                "NOT_IN",
                "HAS_PROPERTY",
                "NOT_HAS_PROPERTY",
                "CONTAINS_TOKEN",
                "NOT_CONTAINS_TOKEN",
            ]
        },
        "value": {"type": "string"},
        "highValue": {"type": "string"},
        "values": STRINGS,
    },
}


def obj(required: list[str], **fields: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "required": required,
        "additionalProperties": False,
        "properties": fields,
    }


@dataclass(frozen=True)
class Documented:
    method: str
    path: str
    doc: str
    query: frozenset[str] = frozenset()
    body: dict[str, Any] | None = None
    form: frozenset[str] | None = None

    def matches(self, request: httpx.Request) -> bool:
        return (
            request.method == self.method and re.fullmatch(self.path, request.url.path) is not None
        )


CONTRACT = (
    Documented(
        "GET",
        f"/account-info/{V}/details",
        "https://developers.hubspot.com/docs/api-reference/latest/settings/account-information-api",
    ),
    Documented(
        "POST",
        f"/crm/objects/{V}/{OBJECT}",
        "https://developers.hubspot.com/docs/api-reference/latest/crm/objects/guide",
        body=obj(["properties"], properties=TEXT_MAP, associations=ASSOCIATIONS),
    ),
    Documented(
        "PATCH",
        f"/crm/objects/{V}/{OBJECT}/{ID}",
        "https://developers.hubspot.com/docs/api-reference/latest/crm/objects/contacts/guide#update-contacts",
        query=frozenset({"idProperty"}),
        body=obj(["properties"], properties=TEXT_MAP),
    ),
    Documented(
        "POST",
        f"/crm/objects/{V}/{OBJECT}/search",
        "https://developers.hubspot.com/docs/api-reference/latest/crm/search/guide",
        body=obj(
            [],
            filterGroups={
                "type": "array",
                "maxItems": 5,
                "items": obj(
                    ["filters"], filters={"type": "array", "maxItems": 25, "items": FILTER}
                ),
            },
            sorts={
                "type": "array",
                "items": obj(
                    ["propertyName"],
                    propertyName={"type": "string"},
                    direction={"enum": ["ASCENDING", "DESCENDING"]},
                ),
            },
            properties=STRINGS,
            limit={"type": "integer", "minimum": 1, "maximum": 200},
            after={"type": "string"},
            query={"type": "string"},
        ),
    ),
    Documented(
        "POST",
        f"/crm/objects/{V}/{OBJECT}/batch/read",
        "https://developers.hubspot.com/docs/api-reference/latest/crm/objects/guide#retrieve-records",
        body=obj(
            ["inputs"],
            inputs={"type": "array", "maxItems": 100, "items": obj(["id"], id={"type": "string"})},
            properties=STRINGS,
            propertiesWithHistory=STRINGS,
            idProperty={"type": "string"},
            archived={"type": "boolean"},
        ),
    ),
    Documented(
        "POST",
        f"/crm/objects/{V}/contacts/batch/upsert",
        "https://developers.hubspot.com/docs/api-reference/latest/crm/objects/contacts/guide#create-or-update-contacts",
        body=obj(
            ["inputs"],
            inputs={
                "type": "array",
                "maxItems": 100,
                "items": obj(
                    ["id", "properties"],
                    id={"type": "string"},
                    idProperty={"const": "email"},
                    properties=TEXT_MAP,
                ),
            },
        ),
    ),
    Documented(
        "PUT",
        f"/crm/objects/{V}/{OBJECT}/{ID}/associations/default/{OBJECT}/{ID}",
        "https://developers.hubspot.com/docs/api-reference/latest/crm/associations/associations-v4/guide#associate-records-without-a-label",
    ),
    Documented(
        "GET",
        f"/crm/owners/{V}",
        "https://developers.hubspot.com/docs/api-reference/latest/crm/owners/guide.md",
        query=frozenset({"limit", "after", "email", "archived"}),
    ),
    Documented(
        "GET",
        f"/crm/pipelines/{V}/deals",
        "https://developers.hubspot.com/docs/api-reference/latest/crm/pipelines/guide",
    ),
    Documented(
        "GET",
        f"/crm/pipelines/{V}/deals/{ID}/stages",
        "https://developers.hubspot.com/docs/api-reference/latest/crm/pipelines/guide",
    ),
    Documented(
        "POST",
        f"/oauth/{V}/token",
        "https://developers.hubspot.com/docs/api-reference/latest/authentication/manage-oauth-tokens.md",
        form=frozenset(
            {"grant_type", "client_id", "client_secret", "redirect_uri", "refresh_token", "code"}
        ),
    ),
)


def problems(request: httpx.Request) -> list[str]:
    """What in ``request`` the documentation does not describe (empty: it conforms)."""
    where = f"{request.method} {request.url.path}"
    entry = next((e for e in CONTRACT if e.matches(request)), None)
    if entry is None:
        return [f"{where}: no documented endpoint"]
    found = [
        f"{where}: undocumented query parameter {name!r}"
        for name in request.url.params
        if name not in entry.query
    ]
    if entry.form is not None:
        fields = dict(parse_qsl(request.content.decode()))
        found += [
            f"{where}: undocumented form field {name!r}"
            for name in fields
            if name not in entry.form
        ]
        return found
    if not request.headers.get("authorization", "").startswith("Bearer "):
        found.append(f"{where}: no Bearer token")
    if entry.body is None:
        return found + ([f"{where}: a body where none is documented"] if request.content else [])
    try:
        jsonschema.validate(httpx.Response(200, content=request.content).json(), entry.body)
    except jsonschema.ValidationError as error:
        found.append(f"{where}: {error.message} at {'/'.join(map(str, error.absolute_path))}")
    return found


def test_the_contract_refuses_what_the_docs_do_not_describe() -> None:
    def req(method: str, path: str, body: Any = None, **params: str) -> httpx.Request:
        return httpx.Request(
            method,
            f"https://api.hubapi.com{path}",
            params=params,
            json=body,
            headers={"Authorization": "Bearer t"},
        )

    assert (
        problems(req("POST", f"/crm/objects/{V}/contacts", {"properties": {"email": "a@b.c"}}))
        == []
    )
    assert problems(req("POST", "/crm/v3/objects/contacts", {"properties": {}}))[0].endswith(
        "no documented endpoint"
    )
    assert (
        "'properties' is a required property"
        in problems(req("POST", f"/crm/objects/{V}/contacts", {"email": "a@b.c"}))[0]
    )
    assert (
        "is not of type 'string'"
        in problems(req("POST", f"/crm/objects/{V}/deals", {"properties": {"amount": 5}}))[0]
    )
    assert (
        "undocumented query parameter 'hapikey'"
        in problems(req("GET", f"/crm/owners/{V}", hapikey="x"))[0]
    )
    assert (
        "is not one of"
        in problems(
            req(
                "POST",
                f"/crm/objects/{V}/contacts/search",
                {
                    "filterGroups": [
                        {"filters": [{"propertyName": "email", "operator": "LIKE", "value": "x"}]}
                    ]
                },
            )
        )[0]
    )


async def test_every_request_the_connector_sends_is_documented() -> None:
    hubspot = sandbox.create_app()
    transport = RecordingTransport(httpx.ASGITransport(app=hubspot))

    def context(credentials: dict[str, Any], auth_type: str | None = None) -> OperationContext:
        http = build_http(
            app_key=app.key,
            base_url=SANDBOX_BASE,
            auth=app.auth_for(auth_type).httpx_auth(credentials),
            error_parser=app.error_parser,
            transport=transport,
        )
        return OperationContext(http=http, credentials=credentials)

    ctx = context(SANDBOX_CREDENTIALS)
    await app.auth.test(ctx)  # type: ignore[misc]
    since = sandbox.iso(hubspot.state.hubspot.now())
    extra = {
        "update_contact": [
            {"contact_id": "alan@example.com", "properties": {"hs_lead_status": "NEW"}}
        ],
        "create_task": [
            {
                "subject": "All links",
                "body": "b",
                "due_at": "2026-10-01T09:00:00Z",
                "owner_id": "5001",
                "contact_id": "1001",
                "deal_id": "2001",
                "company_id": "3001",
            }
        ],
        "create_deal": [
            {
                "dealname": "Full",
                "dealstage": "closedwon",
                "closedate": "2026-12-31",
                "owner_id": "5002",
                "company_id": "3001",
                "properties": {"dealtype": "newbusiness"},
            }
        ],
        "create_note": [
            {"body": "On all", "contact_id": "1002", "deal_id": "2001", "company_id": "3001"}
        ],
    }
    for action in app.actions:
        for example in (dict(action.example or {}), *extra.get(action.key, [])):
            await action.perform(ctx, action.input.model_validate(example))
    for trigger in app.triggers:
        fetch = getattr(trigger, "fetch", None)
        if fetch is not None:
            for cursor in (None, since):
                await fetch(ctx, trigger.input.model_validate(dict(trigger.example or {})), cursor)
    for source in app.options:
        await fetch_options(source, ctx, dict(source.example))
    hubspot.state.hubspot.refresh_tokens.add("na1-contract")
    oauth = context(
        {
            "access_token": "old",
            "refresh_token": "na1-contract",
            "expires_at": time.time() - 1,
            "client_id": sandbox.CLIENT_ID,
            "client_secret": SANDBOX_CREDENTIALS["client_secret"],
        },
        auth_type="oauth2",
    )
    await app.auth_for("oauth2").test(oauth)  # type: ignore[misc]

    assert [
        (req.method, req.url.path, resp.status_code)
        for req, resp in transport.calls
        if resp.status_code >= 400
    ] == []
    found = [problem for request in transport.requests for problem in problems(request)]
    assert found == []
    unused = [
        f"{e.method} {e.path}"
        for e in CONTRACT
        if not any(e.matches(r) for r in transport.requests)
    ]
    assert unused == [], "documented endpoints the connector never calls: drop them from the table"


@pytest.mark.parametrize("entry", CONTRACT, ids=[f"{e.method} {e.path}" for e in CONTRACT])
def test_every_entry_cites_hubspots_documentation(entry: Documented) -> None:
    assert entry.doc.startswith("https://developers.hubspot.com/docs/")
