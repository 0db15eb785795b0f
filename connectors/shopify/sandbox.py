"""A small Shopify shop behind the Admin GraphQL API, its OAuth endpoints and its webhooks.

``POST /admin/api/{version}/graphql.json`` runs queries for real (graphql-core) against
``sandbox_schema.graphql``: the part of Shopify's Admin schema the connector reads, checked
to be a faithful subset of Shopify's own by the contract test. As Shopify does:

- Versions (https://shopify.dev/docs/api/usage/versioning): the supported ones (and
  ``unstable``) answer; a retired quarterly version "falls forward" to the oldest supported
  one (``X-Shopify-API-Version`` says which); anything else is ``404 {"errors": "Not Found"}``.
- Auth: ``X-Shopify-Access-Token``; a wrong or expired token is ``401`` with the REST-style
  ``{"errors": "[API] Invalid API key or access token …"}``. Each token has scopes; a field
  outside them is ``ACCESS_DENIED`` (HTTP 200).
- Cost (https://shopify.dev/docs/apps/build/apis/graphql-admin/rate-limits): objects cost 1,
  connections 2 + ``first`` × their nodes, mutations 10, scalars 0; one query may cost at most
  1,000 (``MAX_COST_EXCEEDED``); the bucket holds 2,000 points and refills 100 a second. A
  query the bucket cannot pay for answers ``THROTTLED`` with ``extensions.cost.throttleStatus``.
  (Shopify refunds unused connection slots into ``actualQueryCost``; the sandbox charges
  the requested cost.)
- OAuth (https://shopify.dev/docs/apps/build/authentication-authorization/access-tokens/authorization-code-grant):
  ``GET /admin/oauth/authorize`` consents at once and redirects back with ``code``, ``shop``,
  ``state``, ``timestamp`` and ``hmac``; ``POST /admin/oauth/access_token`` exchanges it
  (``expiring=1``: a 3,600 s token plus a refresh token) and refreshes
  (``grant_type=refresh_token``), rotating the refresh token. The replaced refresh token
  keeps working until the new access token is first used
  (https://shopify.dev/changelog/more-resilient-refreshes-for-expiring-offline-access-tokens).
- Webhooks (https://shopify.dev/docs/apps/build/webhooks): ``webhookSubscriptionCreate``
  records a subscription; orders, customers and products created afterwards queue
  deliveries, POSTed by ``deliver`` with ``X-Shopify-Topic``, ``X-Shopify-Hmac-Sha256``
  (base64 HMAC-SHA256 of the body with the subscribing app's client secret),
  ``X-Shopify-Shop-Domain``, ``X-Shopify-API-Version``, ``X-Shopify-Webhook-Id``,
  ``X-Shopify-Triggered-At`` and ``X-Shopify-Event-Id``.

Test-only controls (not Shopify's): ``POST /__sandbox__/bucket`` ``{"available": 0,
"maximum": 2000, "restore_rate": 100}``; ``POST /__sandbox__/short_pages`` ``{"sizes": [1, 0]}``
(the next connection pages hold at most that many nodes); ``POST /__sandbox__/checkout``
``{"email", "variant_id", "quantity", "paid"}`` places an order as the storefront would.
``Sandbox.clock`` is the time the bucket and tokens use (tests move it forward).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    build_schema,
    get_named_type,
    graphql_sync,
    is_leaf_type,
    parse,
    validate,
)
from graphql.language import VariableNode
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from connectors.shopify.auth import SANDBOX_CREDENTIALS
from connectors.shopify.sandbox_resolvers import Resolvers
from connectors.shopify.sandbox_shop import SHOP_DOMAIN, Shop, event_id, now_iso

SANDBOX_TOKEN = SANDBOX_CREDENTIALS["access_token"]
WEBHOOK_SECRET = SANDBOX_CREDENTIALS["client_secret"]
READ_ONLY_TOKEN = "shpat_sandbox_read_only_000000000000"  # noqa: S105 (a published demo token)
ALL_SCOPES = frozenset(
    {
        "read_products",
        "write_products",
        "read_customers",
        "write_customers",
        "read_orders",
        "write_orders",
        "read_draft_orders",
        "write_draft_orders",
        "read_inventory",
        "write_inventory",
        "read_locations",
        "read_merchant_managed_fulfillment_orders",
        "write_merchant_managed_fulfillment_orders",
    }
)
OAUTH_CLIENT_ID = "sandbox-shopify-client"
OAUTH_CLIENT_SECRET = "shpss_sandbox_oauth_client_secret_01"  # noqa: S105 (the sandbox app's published secret)
SUPPORTED_VERSIONS = ("2026-01", "2026-04", "2026-07", "2026-10", "2027-01", "unstable")
"""2027-01 is the release candidate; 2025-10 and older are retired by December 2026."""
MAX_QUERY_COST = 1000
ACCESS_TOKEN_SECONDS = 3600
REFRESH_TOKEN_SECONDS = 90 * 24 * 3600


@lru_cache(maxsize=1)
def schema() -> GraphQLSchema:
    return build_schema((Path(__file__).parent / "sandbox_schema.graphql").read_text())


@dataclass
class Token:
    """An access token: its scopes, the client secret that signs its webhooks, its expiry."""

    scopes: frozenset[str]
    signing_secret: str
    expires_at: float | None = None
    refresh_token: str | None = None


@dataclass
class Sandbox:
    """Everything the sandbox remembers."""

    shop: Shop = field(default_factory=Shop.seeded)
    clock: Callable[[], float] = time.monotonic
    tokens: dict[str, Token] = field(default_factory=dict)
    refresh_tokens: dict[str, tuple[str, float]] = field(default_factory=dict)
    """refresh token → (the access token it belongs to, expiry)."""
    retiring: dict[str, str] = field(default_factory=dict)
    """new access token → the refresh token it replaced (valid until the new token is used)."""
    codes: dict[str, str] = field(default_factory=dict)
    maximum: float = 2000.0
    restore_rate: float = 100.0
    available: float = 2000.0
    refilled_at: float | None = None
    short_pages: list[int] = field(default_factory=list)
    delivered: int = 0

    def refill(self) -> None:
        now = self.clock()
        if self.refilled_at is not None:
            self.available = min(
                self.maximum, self.available + (now - self.refilled_at) * self.restore_rate
            )
        self.refilled_at = now

    def throttle_status(self) -> dict[str, float]:
        return {
            "maximumAvailable": self.maximum,
            "currentlyAvailable": round(self.available, 2),
            "restoreRate": self.restore_rate,
        }


def state(app: Starlette) -> Sandbox:
    sandbox: Sandbox = app.state.sandbox
    return sandbox


# -- query cost ---------------------------------------------------------------------------------


def _argument(node: FieldNode, name: str, variables: Mapping[str, Any]) -> Any:
    for argument in node.arguments or ():
        if argument.name.value == name:
            value = argument.value
            if isinstance(value, VariableNode):
                return variables.get(value.name.value)
            return int(getattr(value, "value", 0))
    return None


def query_cost(document: Any, variables: Mapping[str, Any]) -> int:
    """Shopify's requested cost of the document's operation (see the module docstring)."""
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
    sdl = schema()

    def cost(selection_set: SelectionSetNode | None, parent: Any) -> int:
        total = 0
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FragmentSpreadNode):
                fragment = fragments[selection.name.value]
                total += cost(
                    fragment.selection_set, sdl.get_type(fragment.type_condition.name.value)
                )
                continue
            if isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                total += cost(
                    selection.selection_set,
                    sdl.get_type(condition.name.value) if condition else parent,
                )
                continue
            assert isinstance(selection, FieldNode)
            definition = (
                parent.fields.get(selection.name.value)
                if isinstance(parent, GraphQLObjectType)
                else None
            )
            if definition is None:
                continue
            named = get_named_type(definition.type)
            if is_leaf_type(named):
                continue
            if named.name.endswith("Connection"):
                size = (
                    _argument(selection, "first", variables)
                    or _argument(selection, "last", variables)
                    or 0
                )
                per_node = 1  # each node is an object; what it selects adds to it
                for child in selection.selection_set.selections if selection.selection_set else ():
                    if isinstance(child, FieldNode) and child.name.value == "nodes":
                        per_node = max(
                            per_node,
                            1
                            + cost(child.selection_set, get_named_type(named.fields["nodes"].type)),
                        )
                    if (
                        isinstance(child, FieldNode) and child.name.value == "edges"
                    ):  # edges { node { … } }
                        per_node = max(
                            per_node,
                            cost(child.selection_set, get_named_type(named.fields["edges"].type)),
                        )
                total += 2 + int(size) * per_node
            else:
                total += 1 + cost(selection.selection_set, named)
        return total

    if operation.operation.value == "mutation":
        return 10 * len(operation.selection_set.selections)
    return cost(operation.selection_set, sdl.query_type)


# -- the GraphQL endpoint ------------------------------------------------------------------------


def _rest_error(
    status: int, message: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"errors": message}, status, headers=dict(headers or {}))


def served_version(asked: str) -> str | None:
    """The version that answers ``asked`` (fall forward), or None
    for a version Shopify never had."""
    if asked in SUPPORTED_VERSIONS:
        return asked
    match = re.fullmatch(r"(\d{4})-(01|04|07|10)", asked)
    if match and asked < SUPPORTED_VERSIONS[0]:
        return SUPPORTED_VERSIONS[0]
    return None


def _token(sandbox: Sandbox, request: Request) -> Token | None:
    value = request.headers.get("x-shopify-access-token", "")
    token = sandbox.tokens.get(value)
    if token is None or (token.expires_at is not None and token.expires_at <= sandbox.clock()):
        return None
    replaced = sandbox.retiring.pop(value, None)
    if replaced is not None:  # the new token is in use: its predecessor's refresh token is done
        sandbox.refresh_tokens.pop(replaced, None)
    return token


async def graphql_endpoint(request: Request) -> Response:
    sandbox = state(request.app)
    version = served_version(request.path_params["version"])
    if version is None:
        return _rest_error(404, "Not Found")
    token = _token(sandbox, request)
    if token is None:
        return _rest_error(
            401, "[API] Invalid API key or access token (unrecognized login or wrong password)"
        )
    try:
        payload = json.loads(await request.body())
        document = parse(str(payload.get("query") or ""))
    except (ValueError, GraphQLError) as exc:
        return JSONResponse(
            {"errors": [{"message": str(exc), "extensions": {"code": "BAD_REQUEST"}}]}, 400
        )
    variables = payload.get("variables") or {}
    headers = {"X-Shopify-API-Version": version}
    problems = validate(schema(), document)
    if problems:
        return JSONResponse({"errors": [e.formatted for e in problems]}, headers=headers)
    requested = query_cost(document, variables)
    sandbox.refill()
    if requested > MAX_QUERY_COST:
        message = (
            f"Query cost is {requested}, which exceeds the single query max cost "
            f"limit ({MAX_QUERY_COST})."
        )
        body = {
            "errors": [
                {
                    "message": message,
                    "extensions": {
                        "code": "MAX_COST_EXCEEDED",
                        "cost": requested,
                        "maxCost": MAX_QUERY_COST,
                    },
                }
            ]
        }
        return JSONResponse(body, headers=headers)
    if requested > sandbox.available + 1e-6:  # (float refills)
        cost = {
            "requestedQueryCost": requested,
            "actualQueryCost": None,
            "throttleStatus": sandbox.throttle_status(),
        }
        body = {
            "errors": [
                {
                    "message": "Throttled",
                    "extensions": {
                        "code": "THROTTLED",
                        "documentation": "https://shopify.dev/api/usage/rate-limits",
                    },
                }
            ],
            "extensions": {"cost": cost},
        }
        return JSONResponse(body, headers=headers)
    sandbox.available = max(0.0, sandbox.available - requested)
    resolvers = Resolvers(sandbox.shop, token.scopes, sandbox.short_pages, token.signing_secret)
    result = graphql_sync(
        schema(),
        str(payload["query"]),
        root_value=resolvers.root(),
        variable_values=variables or None,
        operation_name=payload.get("operationName"),
    )
    body: dict[str, Any] = {}
    if result.errors:
        body["errors"] = [error.formatted for error in result.errors]
    body["data"] = result.data
    body["extensions"] = {
        "cost": {
            "requestedQueryCost": requested,
            "actualQueryCost": requested,
            "throttleStatus": sandbox.throttle_status(),
        }
    }
    return JSONResponse(body, headers=headers)


# -- OAuth ----------------------------------------------------------------------------------------


def _signed_query(params: Mapping[str, str]) -> str:
    """Shopify's callback ``hmac``: hex HMAC-SHA256 of the sorted other parameters, as the
    guide's "Verify the installation request" step spells it out (``k=v`` joined by ``&``;
    signed here on its own, not with the connector's code, so the test can disagree)."""
    message = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
    digest = hmac.new(OAUTH_CLIENT_SECRET.encode(), message.encode(), hashlib.sha256).hexdigest()
    return urlencode({**params, "hmac": digest})


async def authorize(request: Request) -> Response:
    """The merchant approves at once: back to ``redirect_uri`` with a code."""
    query = request.query_params
    if query.get("client_id") != OAUTH_CLIENT_ID:
        return JSONResponse({"errors": "Invalid client_id"}, 400)
    code = secrets.token_hex(16)
    state(request.app).codes[code] = query.get("scope", "")
    back = {
        "code": code,
        "shop": request.url.hostname
        or SHOP_DOMAIN,  # the shop whose admin the merchant approved in
        "state": query.get("state", ""),
        "timestamp": str(int(time.time())),
    }
    return RedirectResponse(f"{query['redirect_uri']}?{_signed_query(back)}", status_code=302)


def _issue(sandbox: Sandbox, scopes: frozenset[str], expiring: bool) -> dict[str, Any]:
    access = f"shpat_{secrets.token_hex(16)}"
    token = Token(scopes=scopes, signing_secret=OAUTH_CLIENT_SECRET)
    answer: dict[str, Any] = {"access_token": access, "scope": ",".join(sorted(scopes))}
    if expiring:
        refresh = f"shprt_{secrets.token_hex(16)}"
        token.expires_at, token.refresh_token = sandbox.clock() + ACCESS_TOKEN_SECONDS, refresh
        sandbox.refresh_tokens[refresh] = (access, sandbox.clock() + REFRESH_TOKEN_SECONDS)
        answer |= {
            "expires_in": ACCESS_TOKEN_SECONDS,
            "refresh_token": refresh,
            "refresh_token_expires_in": REFRESH_TOKEN_SECONDS,
        }
    sandbox.tokens[access] = token
    return answer


async def access_token(request: Request) -> Response:
    """Exchange a code, or refresh (rotating the refresh token)."""
    sandbox = state(request.app)
    raw = (await request.body()).decode()
    form = (
        json.loads(raw)
        if request.headers.get("content-type", "").startswith("application/json")
        else dict(parse_qsl(raw))
    )
    if form.get("client_id") != OAUTH_CLIENT_ID or form.get("client_secret") != OAUTH_CLIENT_SECRET:
        return JSONResponse(
            {"error": "invalid_client", "error_description": "Client authentication failed."}, 401
        )
    if form.get("grant_type") == "refresh_token":
        old = str(form.get("refresh_token") or "")
        found = sandbox.refresh_tokens.pop(old, None)
        if found is None or found[1] <= sandbox.clock():
            return JSONResponse(
                {
                    "error": "invalid_grant",
                    "error_description": "The refresh token is invalid or expired.",
                },
                400,
            )
        previous = sandbox.tokens.pop(found[0], None)
        answer = _issue(sandbox, previous.scopes if previous else ALL_SCOPES, expiring=True)
        sandbox.refresh_tokens[old] = found  # kept until the new access token is used
        sandbox.retiring[answer["access_token"]] = old
        return JSONResponse(answer)
    scope = sandbox.codes.pop(str(form.get("code") or ""), None)
    if scope is None:
        return JSONResponse(
            {
                "error": "invalid_request",
                "error_description": "The authorization code was not found or was already used.",
            },
            400,
        )
    scopes = frozenset(s for s in scope.split(",") if s) or ALL_SCOPES
    return JSONResponse(_issue(sandbox, scopes, expiring=str(form.get("expiring")) == "1"))


# -- webhooks -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    url: str
    headers: dict[str, str]
    body: bytes


def sign(body: bytes, secret: str) -> str:
    """``X-Shopify-Hmac-Sha256``: base64 of the body's HMAC-SHA256 with the app's client secret."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def deliveries(app: Starlette) -> list[Delivery]:
    """Signed POSTs for every event not yet sent, to each subscription of its topic."""
    sandbox = state(app)
    out: list[Delivery] = []
    for index, (topic, payload) in enumerate(
        sandbox.shop.events[sandbox.delivered :], start=sandbox.delivered
    ):
        for hook in sandbox.shop.webhooks.values():
            if (
                hook["restTopic"] != topic or index < hook["since"]
            ):  # only what happened after subscribing
                continue
            body = json.dumps(payload).encode()
            headers = {
                "Content-Type": "application/json",
                "X-Shopify-Topic": topic,
                "X-Shopify-Hmac-Sha256": sign(body, hook["secret"]),
                "X-Shopify-Shop-Domain": SHOP_DOMAIN,
                "X-Shopify-API-Version": hook["apiVersion"],
                "X-Shopify-Webhook-Id": event_id(),
                "X-Shopify-Triggered-At": now_iso(),
                "X-Shopify-Event-Id": event_id(),
            }
            out.append(Delivery(hook["uri"], headers, body))
    sandbox.delivered = len(sandbox.shop.events)
    return out


async def deliver(app: Starlette, client: httpx.AsyncClient) -> list[httpx.Response]:
    """POST the pending deliveries with ``client`` (the caller decides where it may connect)."""
    return [await client.post(d.url, content=d.body, headers=d.headers) for d in deliveries(app)]


# -- test controls and the app --------------------------------------------------------------------


async def set_bucket(request: Request) -> Response:
    sandbox = state(request.app)
    spec = await request.json()
    sandbox.refill()
    sandbox.maximum = float(spec.get("maximum", sandbox.maximum))
    sandbox.restore_rate = float(spec.get("restore_rate", sandbox.restore_rate))
    sandbox.available = float(spec.get("available", sandbox.available))
    return JSONResponse(sandbox.throttle_status())


async def set_short_pages(request: Request) -> Response:
    sandbox = state(request.app)
    sandbox.short_pages[:] = [int(n) for n in (await request.json())["sizes"]]
    return JSONResponse({"sizes": sandbox.short_pages})


async def checkout(request: Request) -> Response:
    """A storefront checkout: an order (queues orders/create, and orders/paid when paid)."""
    spec = await request.json()
    shop = state(request.app).shop
    variant = shop.variants[spec.get("variant_id", "gid://shopify/ProductVariant/8001")]
    line = {
        "variantId": variant["id"],
        "title": shop.products[variant["productId"]]["title"],
        "quantity": int(spec.get("quantity", 1)),
        "sku": variant["sku"],
        "price": variant["price"],
    }
    order = shop.add_order(
        email=spec.get("email"),
        customer_id=spec.get("customer_id"),
        lines=[line],
        paid=bool(spec.get("paid", True)),
    )
    return JSONResponse({"id": order["id"], "name": order["name"]})


def create_app() -> Starlette:
    """A fresh sandbox shop (new state per call)."""
    app = Starlette(
        routes=[
            Route("/admin/api/{version}/graphql.json", graphql_endpoint, methods=["POST"]),
            Route("/admin/oauth/authorize", authorize, methods=["GET"]),
            Route("/admin/oauth/access_token", access_token, methods=["POST"]),
            Route("/__sandbox__/bucket", set_bucket, methods=["POST"]),
            Route("/__sandbox__/short_pages", set_short_pages, methods=["POST"]),
            Route("/__sandbox__/checkout", checkout, methods=["POST"]),
        ]
    )
    sandbox = Sandbox()
    sandbox.tokens[SANDBOX_TOKEN] = Token(scopes=ALL_SCOPES, signing_secret=WEBHOOK_SECRET)
    sandbox.tokens[READ_ONLY_TOKEN] = Token(
        scopes=frozenset(s for s in ALL_SCOPES if s.startswith("read_")),
        signing_secret=WEBHOOK_SECRET,
    )
    app.state.sandbox = sandbox
    return app


def callback_params(location: str) -> dict[str, str]:
    """The query of the redirect ``authorize`` answers (tests follow it by hand)."""
    return dict(parse_qsl(urlsplit(location).query))
