"""A Stripe simulator for tests and sandbox connections.

Paths, parameters and error shapes follow the stored OpenAPI description
(shared/specs/stripe/openapi-subset.json, API 2023-08-16); objects are shaped on the
current fixtures (fixtures-subset.json, 2026). Only what the connector uses is here.

Stripe behaviour it reproduces:
- keys: ``Authorization: Bearer sk_test_…``/``rk_test_…`` (or Basic with the key as user
  name); anything else is answered 401 like Stripe. A restricted key (``rk_``) is refused
  (403, naming the ``rak_<resource>_<read|write>`` permission it lacks) what its permissions
  do not allow; one the sandbox was not told about may do everything but read the Account.
- ``Stripe-Version``: an unknown version is refused (400 ``Invalid Stripe API version``).
- the sandbox-mode rate limit, 25 requests a second (https://docs.stripe.com/rate-limits):
  more is answered 429 with Stripe's ``rate_limit`` error.
- lists newest first (objects of the same second: the later made first); ``created`` is the
  real Unix second, so objects made together share it.
- form bodies with bracket notation; unknown, missing and invalid parameters answer 400
  ``invalid_request_error`` naming ``param``; missing objects answer 404 (path) or 400
  ``resource_missing`` (parameter).
- idempotency (https://docs.stripe.com/api/idempotent_requests): a POST with an
  ``Idempotency-Key`` seen before with the same parameters replays the saved answer and
  changes nothing; with other parameters it answers 400 ``idempotency_error``. Only
  requests that ran are saved (not validation errors or injected failures).
- events for what happens (``customer.created``, ``refund.created``…), each POSTed, signed,
  to every webhook endpoint created through the API that wants it, after the call that
  caused it (``Account.outbox``: to Cellwright's own ``/hooks/…`` when the server hosts the
  sandbox, else kept for tests: ``deliveries``, ``deliver``).

Test-only controls, not Stripe: ``POST /__sandbox__/fail`` with JSON
``{"path": "/v1/customers", "method": "POST", "status": 429, "times": 1,
"headers": {"Retry-After": "2"}, "error": {...}}`` makes the next matching requests fail;
``POST /__sandbox__/settings`` sets the rate limit, a page cap (short pages that still say
``has_more``), a frozen clock and restricted keys' permissions (see ``settings``).
Helpers for tests: ``emit(app, type, object)`` records an event as Stripe would.
Routing is relative, so it works mounted under ``/sandbox/stripe``.
"""

from __future__ import annotations

import base64
import copy
import json
import re
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from connectors.sdk import hmac_hex
from connectors.sdk.sandboxing import Delivery, WebhookOutbox

API_VERSION = "2026-07-29.dahlia"
KNOWN_VERSIONS = frozenset({"2023-08-16", "2026-07-29.dahlia", "2026-09-30.endive"})
"""Versions this simulator answers: the stored OpenAPI file's, the stored fixtures' (the
connector's pin) and the current one named in VENDORS.md §6.1. Any other ``Stripe-Version``
is refused as Stripe refuses a version it does not know."""
RATE_LIMIT_PER_SECOND = 25
"""Stripe's sandbox-mode limit (https://docs.stripe.com/rate-limits): 25 requests a second."""
PERMISSIONS = {"GET": "read", "DELETE": "write", "POST": "write"}
RESOURCES = {
    "account": "account",
    "balance": "balance",
    "customers": "customer",
    "products": "product",
    "prices": "price",
    "payment_links": "payment_link",
    "refunds": "refund",
    "webhook_endpoints": "webhook",
}
KEY = re.compile(r"^(sk|rk)_test_[A-Za-z0-9]+$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
EVENT_NAME = re.compile(r"^(\*|[a-z_]+(\.[a-z_]+)+)$")

Params = dict[str, Any]


class StripeError(Exception):
    """Stripe's error object (``components.schemas.error``)."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        type: str = "invalid_request_error",
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body: dict[str, Any] = {"error": {"type": type, "message": message}}
        if param:
            self.body["error"]["param"] = param
        if code:
            self.body["error"]["code"] = code
            self.body["error"]["doc_url"] = (
                f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}"
            )


@dataclass
class Failure:
    path: str
    method: str = "POST"
    status: int = 500
    times: int = 1
    headers: dict[str, str] = field(default_factory=dict)
    error: dict[str, Any] | None = None


ERRORS = {
    429: {
        "type": "invalid_request_error",
        "code": "rate_limit",
        "message": "Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.",
    },
    500: {"type": "api_error", "message": "An unknown error occurred"},
}


@dataclass
class Account:
    """Everything one sandbox account holds."""

    objects: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    delivered: set[tuple[str, str]] = field(default_factory=set)
    idempotency: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    account_id: str = "acct_1SandboxCellwrt"
    outbox: WebhookOutbox = field(default_factory=WebhookOutbox)
    rate_limit: tuple[int, float] = (RATE_LIMIT_PER_SECOND, 1.0)
    recent: deque[float] = field(default_factory=deque)
    restricted: dict[str, set[str]] = field(default_factory=dict)
    page_cap: int | None = None
    frozen_at: int | None = None

    def now(self) -> int:
        """Unix seconds, as Stripe stamps ``created``: objects made in the same second share
        it (``frozen_at`` holds the clock, so tests make that happen on purpose)."""
        return self.frozen_at if self.frozen_at is not None else int(time.time())

    def newest_first(self, objects: Any) -> list[dict[str, Any]]:
        """Stripe's list order: newest first; objects of the same second, the later made first."""
        return [
            o
            for _, o in sorted(
                enumerate(objects), key=lambda p: (p[1]["created"], p[0]), reverse=True
            )
        ]

    def over_rate_limit(self) -> bool:
        """A sliding window: more than ``rate_limit`` requests in its seconds are refused."""
        allowed, seconds = self.rate_limit
        now = time.monotonic()
        while self.recent and self.recent[0] <= now - seconds:
            self.recent.popleft()
        if len(self.recent) >= allowed:
            return True
        self.recent.append(now)
        return False

    def kind(self, name: str) -> dict[str, dict[str, Any]]:
        return self.objects.setdefault(name, {})

    def add(self, obj: dict[str, Any]) -> dict[str, Any]:
        self.kind(obj["object"])[obj["id"]] = obj
        return obj

    def get(self, kind: str, obj_id: Any, *, param: str | None = None) -> dict[str, Any]:
        found = self.kind(kind).get(str(obj_id))
        if found is None:
            label = kind.replace("_", " ")
            if param:
                raise StripeError(
                    400, f"No such {label}: '{obj_id}'", param=param, code="resource_missing"
                )
            raise StripeError(
                404, f"No such {label}: '{obj_id}'", param="id", code="resource_missing"
            )
        return found

    def emit(
        self, type: str, obj: Mapping[str, Any], idempotency_key: str | None = None
    ) -> dict[str, Any]:
        event = {
            "id": new_id("evt"),
            "object": "event",
            "api_version": API_VERSION,
            "created": self.now(),
            "data": {"object": copy.deepcopy(dict(obj))},
            "livemode": False,
            "pending_webhooks": 0,
            "request": {"id": new_id("req"), "idempotency_key": idempotency_key},
            "type": type,
        }
        self.events.append(event)
        for endpoint in self.kind("webhook_endpoint").values():
            wanted = endpoint["enabled_events"]
            if "*" in wanted or type in wanted:
                self.outbox.post(signed_delivery(event, endpoint))
        return event


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(7)}"


# -- objects (shaped on fixtures-subset.json) ----------------------------------------------


def customer_object(account: Account, params: Params) -> dict[str, Any]:
    return {
        "id": new_id("cus"),
        "object": "customer",
        "address": None,
        "balance": 0,
        "created": account.now(),
        "currency": None,
        "default_source": None,
        "delinquent": False,
        "description": params.get("description"),
        "discount": None,
        "email": params.get("email"),
        "invoice_prefix": secrets.token_hex(4).upper(),
        "invoice_settings": {
            "custom_fields": None,
            "default_payment_method": None,
            "footer": None,
            "rendering_options": None,
        },
        "livemode": False,
        "metadata": _metadata({}, params),
        "name": params.get("name"),
        "next_invoice_sequence": 1,
        "phone": params.get("phone"),
        "preferred_locales": [],
        "shipping": None,
        "tax_exempt": "none",
        "test_clock": None,
    }


def payment_intent_object(
    account: Account, amount: int = 2000, status: str = "succeeded"
) -> dict[str, Any]:
    pi_id, charge_id = new_id("pi"), new_id("ch")
    return {
        "id": pi_id,
        "object": "payment_intent",
        "amount": amount,
        "amount_capturable": 0,
        "amount_received": amount if status == "succeeded" else 0,
        "automatic_payment_methods": {"enabled": True},
        "canceled_at": None,
        "capture_method": "automatic",
        "client_secret": f"{pi_id}_secret_{secrets.token_hex(8)}",
        "created": account.now(),
        "currency": "usd",
        "customer": None,
        "description": "Sandbox payment",
        "latest_charge": charge_id,
        "livemode": False,
        "metadata": {},
        "payment_method_types": ["card"],
        "receipt_email": "ada@example.com",
        "status": status,
    }


def charge_object(account: Account, intent: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": intent["latest_charge"],
        "object": "charge",
        "amount": intent["amount"],
        "amount_refunded": 0,
        "created": intent["created"],
        "currency": intent["currency"],
        "livemode": False,
        "metadata": {},
        "paid": True,
        "payment_intent": intent["id"],
        "refunded": False,
        "status": "succeeded",
    }


def checkout_session_object(account: Account, intent: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": f"cs_test_{secrets.token_hex(16)}",
        "object": "checkout.session",
        "amount_subtotal": intent["amount"],
        "amount_total": intent["amount"],
        "client_reference_id": None,
        "created": account.now(),
        "currency": "usd",
        "customer": None,
        "customer_details": {"email": "ada@example.com", "name": "Ada Lovelace", "phone": None},
        "livemode": False,
        "metadata": {},
        "mode": "payment",
        "payment_intent": intent["id"],
        "payment_status": "paid",
        "status": "complete",
        "url": None,
    }


def invoice_object(account: Account, customer: Mapping[str, Any]) -> dict[str, Any]:
    inv_id = new_id("in")
    return {
        "id": inv_id,
        "object": "invoice",
        "account_country": "US",
        "amount_due": 1000,
        "amount_paid": 1000,
        "amount_remaining": 0,
        "attempt_count": 1,
        "attempted": True,
        "billing_reason": "manual",
        "collection_method": "charge_automatically",
        "created": account.now(),
        "currency": "usd",
        "customer": customer["id"],
        "customer_email": customer.get("email"),
        "customer_name": customer.get("name"),
        "hosted_invoice_url": f"https://invoice.stripe.com/i/{inv_id}",
        "invoice_pdf": f"https://pay.stripe.com/invoice/{inv_id}/pdf",
        "livemode": False,
        "metadata": {},
        "number": f"{customer.get('invoice_prefix', 'SANDBOX')}-0001",
        "status": "paid",
    }


ACCOUNT_TEMPLATE: dict[str, Any] = {
    "object": "account",
    "business_profile": {"name": "Cellwright Sandbox Shop", "url": None, "support_email": None},
    "business_type": None,
    "capabilities": {"card_payments": "active", "transfers": "active"},
    "charges_enabled": True,
    "country": "US",
    "created": 1700000000,
    "default_currency": "usd",
    "details_submitted": True,
    "email": "owner@sandbox.example",
    "metadata": {},
    "payouts_enabled": True,
    "settings": {
        "branding": {"icon": None, "logo": None, "primary_color": None, "secondary_color": None},
        "card_payments": {
            "decline_on": {"avs_failure": True, "cvc_failure": True},
            "statement_descriptor_prefix": None,
        },
        "dashboard": {"display_name": "Cellwright Sandbox Shop", "timezone": "Etc/UTC"},
        "payments": {"statement_descriptor": "CELLWRIGHT"},
    },
    "type": "standard",
}


SEEDED_AT = 1767225600  # 2026-01-01T00:00:00Z


def seeded() -> Account:
    """A little demo data with stable ids (operation examples use them): two customers,
    a product with a price, and a paid payment."""
    account = Account(frozen_at=SEEDED_AT)  # made a while ago, a minute apart
    for cus_id, email, name in (
        ("cus_SandboxGrace", "grace@example.com", "Grace Hopper"),
        ("cus_SandboxAda", "ada@example.com", "Ada Lovelace"),
    ):
        account.add({**customer_object(account, {"email": email, "name": name}), "id": cus_id})
        account.frozen_at = account.now() + 60
    product = account.add(
        {
            **_product(
                account, {"name": "T-shirt", "description": "Comfortable gray cotton t-shirt"}
            ),
            "id": "prod_SandboxTshirt",
        }
    )
    price = account.add(
        {
            **_price(account, {"product": product["id"], "currency": "usd", "unit_amount": "2000"}),
            "id": "price_SandboxTshirt",
        }
    )
    product["default_price"] = price["id"]
    intent = account.add(
        {
            **payment_intent_object(account),
            "id": "pi_SandboxPaid",
            "latest_charge": "ch_SandboxPaid",
        }
    )
    account.add(charge_object(account, intent))
    account.frozen_at = None
    return account


# -- parameters ----------------------------------------------------------------------------


def decode_form(pairs: list[tuple[str, str]]) -> Params:
    """Bracket notation back into nested data: ``a[b][0]=x`` → ``{"a": {"b": ["x"]}}``."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        tokens = [key.split("[", 1)[0], *re.findall(r"\[([^\]]*)\]", key)]
        node = root
        for token in tokens[:-1]:
            node = node.setdefault(token or str(len(node)), {})
        node[tokens[-1] or str(len(node))] = value
    return {key: _listify(value) for key, value in root.items()}


def _listify(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    items = {k: _listify(v) for k, v in value.items()}
    if items and all(k.isdigit() for k in items):
        return [items[k] for k in sorted(items, key=int)]
    return items


def _allow(params: Params, allowed: set[str], required: tuple[str, ...] = ()) -> None:
    for name in params:
        if name not in allowed:
            raise StripeError(
                400, f"Received unknown parameter: {name}", param=name, code="parameter_unknown"
            )
    for name in required:
        if params.get(name) in (None, "", [], {}):
            raise StripeError(
                400, f"Missing required param: {name}.", param=name, code="parameter_missing"
            )


def _int(params: Params, name: str, minimum: int = 0) -> int | None:
    raw = params.get(name)
    if raw is None:
        return None
    if not isinstance(raw, str) or not re.fullmatch(r"-?\d+", raw) or int(raw) < minimum:
        raise StripeError(
            400, f"Invalid integer: {raw}", param=name, code="parameter_invalid_integer"
        )
    return int(raw)


def _metadata(current: Mapping[str, str], params: Params) -> dict[str, str]:
    given = params.get("metadata")
    if given is None:
        return dict(current)
    if given == "":
        return {}
    if not isinstance(given, dict):
        raise StripeError(400, "Invalid metadata: must be a hash", param="metadata")
    merged = {**current, **given}
    return {k: v for k, v in merged.items() if v != ""}


def _email(params: Params) -> None:
    email = params.get("email")
    if email and not EMAIL.match(email):
        raise StripeError(
            400, f"Invalid email address: {email}", param="email", code="email_invalid"
        )


# -- handlers: (account, params, path params, idempotency key) -> body -------------------


def get_account(account: Account, params: Params, path: Params, key: str | None) -> Any:
    return {**copy.deepcopy(ACCOUNT_TEMPLATE), "id": account.account_id}


def get_balance(account: Account, params: Params, path: Params, key: str | None) -> Any:
    return {
        "object": "balance",
        "livemode": False,
        "available": [{"amount": 2000, "currency": "usd", "source_types": {"card": 2000}}],
        "pending": [{"amount": 0, "currency": "usd", "source_types": {"card": 0}}],
        "connect_reserved": [{"amount": 0, "currency": "usd"}],
    }


def list_customers(account: Account, params: Params, path: Params, key: str | None) -> Any:
    _allow(params, {"email", "limit", "starting_after", "ending_before", "created"})
    limit = _int(params, "limit", 1) or 10
    if limit > 100:
        raise StripeError(400, "Invalid limit: must be at most 100", param="limit")
    items = account.newest_first(account.kind("customer").values())
    if params.get("email"):
        items = [c for c in items if c["email"] == params["email"]]
    created = params.get("created")
    if isinstance(created, dict):
        ops = {"gt": int.__gt__, "gte": int.__ge__, "lt": int.__lt__, "lte": int.__le__}
        for op in created:
            if op not in ops:
                raise StripeError(
                    400, f"Received unknown parameter: created[{op}]", param=f"created[{op}]"
                )
            bound = _int(created, op) or 0
            items = [c for c in items if ops[op](c["created"], bound)]
    elif created is not None:
        items = [c for c in items if c["created"] == _int(params, "created")]
    if params.get("starting_after"):
        after = account.get("customer", params["starting_after"], param="starting_after")
        items = items[items.index(after) + 1 :] if after in items else []
    return _list(account, "/v1/customers", items, limit)


def _page(
    account: Account, kind: str, params: Params, url: str, keep: Callable[[dict[str, Any]], bool]
) -> Any:
    """A list answer: newest first, ``limit`` (1-100, default 10) after ``starting_after``."""
    limit = _int(params, "limit", 1) or 10
    if limit > 100:
        raise StripeError(400, "Invalid limit: must be at most 100", param="limit")
    items = account.newest_first(o for o in account.kind(kind).values() if keep(o))
    if params.get("starting_after"):
        after = account.get(kind, params["starting_after"], param="starting_after")
        items = items[items.index(after) + 1 :] if after in items else []
    return _list(account, url, items, limit)


def _list(account: Account, url: str, items: list[dict[str, Any]], limit: int) -> dict[str, Any]:
    """A list object. Stripe may answer fewer than ``limit`` objects and still say
    ``has_more`` (``page_cap`` makes it so): clients follow ``has_more``, never the count."""
    size = min(limit, account.page_cap) if account.page_cap else limit
    return {"object": "list", "url": url, "has_more": len(items) > size, "data": items[:size]}


def _active(params: Params) -> bool | None:
    if params.get("active") is None:
        return None
    if params["active"] not in ("true", "false"):
        raise StripeError(400, "Invalid boolean: " + str(params["active"]), param="active")
    return bool(params["active"] == "true")


def list_products(account: Account, params: Params, path: Params, key: str | None) -> Any:
    _allow(params, {"active", "limit", "starting_after"})
    active = _active(params)
    return _page(
        account,
        "product",
        params,
        "/v1/products",
        lambda p: active is None or p["active"] == active,
    )


def list_prices(account: Account, params: Params, path: Params, key: str | None) -> Any:
    _allow(params, {"active", "currency", "product", "type", "limit", "starting_after"})
    active = _active(params)

    def keep(price: dict[str, Any]) -> bool:
        return (active is None or price["active"] == active) and all(
            params.get(name) in (None, price[name]) for name in ("currency", "product", "type")
        )

    return _page(account, "price", params, "/v1/prices", keep)


CUSTOMER_FIELDS = {"email", "name", "phone", "description", "metadata"}


def create_customer(account: Account, params: Params, path: Params, key: str | None) -> Any:
    _allow(params, CUSTOMER_FIELDS)
    _email(params)
    customer = account.add(customer_object(account, params))
    account.emit("customer.created", customer, key)
    return customer


def update_customer(account: Account, params: Params, path: Params, key: str | None) -> Any:
    customer = account.get("customer", path["customer"])
    _allow(params, CUSTOMER_FIELDS)
    _email(params)
    previous = {name: copy.deepcopy(customer[name]) for name in params}
    customer.update({k: (v or None) for k, v in params.items() if k != "metadata"})
    customer["metadata"] = _metadata(customer["metadata"], params)
    event = account.emit("customer.updated", customer, key)
    event["data"]["previous_attributes"] = previous
    return customer


def _product(account: Account, params: Params) -> dict[str, Any]:
    now = account.now()
    return {
        "id": new_id("prod"),
        "object": "product",
        "active": params.get("active", "true") == "true",
        "created": now,
        "default_price": None,
        "description": params.get("description"),
        "images": [],
        "livemode": False,
        "marketing_features": [],
        "metadata": _metadata({}, params),
        "name": params["name"],
        "package_dimensions": None,
        "shippable": None,
        "statement_descriptor": None,
        "tax_code": None,
        "type": "service",
        "unit_label": None,
        "updated": now,
        "url": None,
    }


def create_product(account: Account, params: Params, path: Params, key: str | None) -> Any:
    _allow(params, {"name", "description", "active", "metadata"}, required=("name",))
    if params.get("active", "true") not in ("true", "false"):
        raise StripeError(400, "Invalid boolean: " + str(params["active"]), param="active")
    product = account.add(_product(account, params))
    account.emit("product.created", product, key)
    return product


def _price(account: Account, params: Params) -> dict[str, Any]:
    recurring = params.get("recurring")
    if recurring is not None:
        if not isinstance(recurring, dict) or recurring.get("interval") not in (
            "day",
            "week",
            "month",
            "year",
        ):
            raise StripeError(
                400,
                "Invalid recurring[interval]: must be one of day, month, week, or year",
                param="recurring[interval]",
            )
        count = _int(recurring, "interval_count", 1) or 1
        recurring = {
            "interval": recurring["interval"],
            "interval_count": count,
            "meter": None,
            "trial_period_days": None,
            "usage_type": "licensed",
        }
    amount = _int(params, "unit_amount")
    return {
        "id": new_id("price"),
        "object": "price",
        "active": True,
        "billing_scheme": "per_unit",
        "created": account.now(),
        "currency": params["currency"].lower(),
        "custom_unit_amount": None,
        "livemode": False,
        "lookup_key": None,
        "metadata": _metadata({}, params),
        "nickname": params.get("nickname"),
        "product": params["product"],
        "recurring": recurring,
        "tax_behavior": "unspecified",
        "tiers_mode": None,
        "transform_quantity": None,
        "type": "recurring" if recurring else "one_time",
        "unit_amount": amount,
        "unit_amount_decimal": str(amount),
    }


def create_price(account: Account, params: Params, path: Params, key: str | None) -> Any:
    _allow(
        params,
        {"product", "currency", "unit_amount", "recurring", "nickname", "metadata"},
        required=("currency", "product", "unit_amount"),
    )
    if not re.fullmatch(r"[a-zA-Z]{3}", params["currency"]):
        raise StripeError(400, f"Invalid currency: {params['currency']}", param="currency")
    product = account.get("product", params["product"], param="product")
    price = account.add(_price(account, params))
    if product["default_price"] is None:
        product["default_price"] = price["id"]
    account.emit("price.created", price, key)
    return price


def create_payment_link(account: Account, params: Params, path: Params, key: str | None) -> Any:
    _allow(params, {"line_items", "metadata"}, required=("line_items",))
    items = params["line_items"]
    if not isinstance(items, list):
        raise StripeError(400, "Invalid array", param="line_items")
    currencies = set()
    for i, item in enumerate(items):
        for name in ("price", "quantity"):
            if not isinstance(item, dict) or not item.get(name):
                raise StripeError(
                    400,
                    f"Missing required param: line_items[{i}][{name}].",
                    param=f"line_items[{i}][{name}]",
                    code="parameter_missing",
                )
        currencies.add(
            account.get("price", item["price"], param=f"line_items[{i}][price]")["currency"]
        )
        _int(item, "quantity", 1)
    if len(currencies) > 1:
        raise StripeError(
            400, "All prices on a payment link must have the same currency.", param="line_items"
        )
    link = account.add(
        {
            "id": new_id("plink"),
            "object": "payment_link",
            "active": True,
            "after_completion": {
                "hosted_confirmation": {"custom_message": None},
                "type": "hosted_confirmation",
            },
            "allow_promotion_codes": False,
            "automatic_tax": {"enabled": False, "liability": None},
            "billing_address_collection": "auto",
            "currency": currencies.pop(),
            "custom_fields": [],
            "custom_text": {
                "after_submit": None,
                "shipping_address": None,
                "submit": None,
                "terms_of_service_acceptance": None,
            },
            "customer_creation": "if_required",
            "livemode": False,
            "metadata": _metadata({}, params),
            "payment_method_collection": "always",
            "payment_method_types": None,
            "phone_number_collection": {"enabled": False},
            "shipping_options": [],
            "submit_type": "auto",
            "tax_id_collection": {"enabled": False, "required": "never"},
            "url": f"https://buy.stripe.com/test_{secrets.token_urlsafe(12)}",
        }
    )
    account.emit("payment_link.created", link, key)
    return link


def create_refund(account: Account, params: Params, path: Params, key: str | None) -> Any:
    _allow(params, {"payment_intent", "charge", "amount", "reason", "metadata"})
    if bool(params.get("payment_intent")) == bool(params.get("charge")):
        raise StripeError(
            400, "You must pass either `charge` or `payment_intent`, but not both.", param="charge"
        )
    if params.get("payment_intent"):
        intent = account.get("payment_intent", params["payment_intent"], param="payment_intent")
        charge = account.get("charge", intent["latest_charge"])
    else:
        charge = account.get("charge", params["charge"], param="charge")
    left = charge["amount"] - charge["amount_refunded"]
    if left <= 0:
        raise StripeError(
            400, f"Charge {charge['id']} has already been refunded.", code="charge_already_refunded"
        )
    amount = _int(params, "amount", 1) or left
    if amount > left:
        raise StripeError(
            400,
            f"Refund amount ({amount}) is greater than unrefunded amount on charge ({left})",
            param="amount",
            code="amount_too_large",
        )
    if params.get("reason") not in (None, "duplicate", "fraudulent", "requested_by_customer"):
        raise StripeError(
            400,
            "Invalid reason: must be one of duplicate, fraudulent, or requested_by_customer",
            param="reason",
        )
    charge["amount_refunded"] += amount
    charge["refunded"] = charge["amount_refunded"] == charge["amount"]
    refund = account.add(
        {
            "id": new_id("re"),
            "object": "refund",
            "amount": amount,
            "balance_transaction": None,
            "charge": charge["id"],
            "created": account.now(),
            "currency": charge["currency"],
            "metadata": _metadata({}, params),
            "payment_intent": charge["payment_intent"],
            "reason": params.get("reason"),
            "receipt_number": None,
            "status": "succeeded",
        }
    )
    account.emit("refund.created", refund, key)
    account.emit("charge.refunded", charge, key)
    return refund


def create_webhook_endpoint(account: Account, params: Params, path: Params, key: str | None) -> Any:
    _allow(
        params,
        {"url", "enabled_events", "api_version", "description", "metadata"},
        required=("url", "enabled_events"),
    )
    events = params["enabled_events"]
    if not isinstance(events, list) or not all(
        isinstance(e, str) and EVENT_NAME.match(e) for e in events
    ):
        raise StripeError(
            400, "Invalid enabled_events: must be a list of event types", param="enabled_events"
        )
    if not str(params["url"]).startswith(("https://", "http://")):
        raise StripeError(
            400, "Invalid URL: URL must be publicly accessible.", param="url", code="url_invalid"
        )
    endpoint = account.add(
        {
            "id": new_id("we"),
            "object": "webhook_endpoint",
            "api_version": params.get("api_version"),
            "application": None,
            "created": account.now(),
            "description": params.get("description"),
            "enabled_events": events,
            "livemode": False,
            "metadata": _metadata({}, params),
            "secret": f"whsec_{secrets.token_hex(16)}",
            "status": "enabled",
            "url": params["url"],
        }
    )
    return endpoint


def delete_webhook_endpoint(account: Account, params: Params, path: Params, key: str | None) -> Any:
    endpoint = account.get("webhook_endpoint", path["webhook_endpoint"])
    del account.kind("webhook_endpoint")[endpoint["id"]]
    return {"id": endpoint["id"], "object": "webhook_endpoint", "deleted": True}


# -- the HTTP layer ------------------------------------------------------------------------

Handler = Callable[[Account, Params, Params, "str | None"], Any]


def _masked(key: str) -> str:
    return key[:8] + "*" * max(0, len(key) - 12) + key[-4:]


def _check_key(request: Request, path: str) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    key = value.strip()
    if scheme.lower() == "basic":
        key = base64.b64decode(value).decode(errors="replace").split(":", 1)[0]
    if not key:
        raise StripeError(
            401,
            "You did not provide an API key. You need to provide your API key "
            "in the Authorization header, using Bearer auth (e.g. 'Authorization: "
            "Bearer YOUR_SECRET_KEY').",
        )
    if not KEY.match(key):
        raise StripeError(401, f"Invalid API Key provided: {_masked(key)}")
    return key


def _check_permission(account: Account, key: str, method: str, path: str) -> None:
    """A restricted key may do what its permissions allow (https://docs.stripe.com/keys#limit-access).
    One the sandbox was not told about may do everything but read the Account, as a minimal
    restricted key would."""
    if not key.startswith("rk_"):
        return
    found = re.search(r"/v1/([a-z_]+)", path)
    resource = RESOURCES.get(found.group(1), "") if found else ""
    needed = f"{resource}_{PERMISSIONS.get(method, 'write')}"
    granted = account.restricted.get(key)
    if granted is None:
        allowed = resource != "account"
    else:  # write permission includes read, as in the Dashboard
        allowed = needed in granted or f"{resource}_write" in granted
    if not allowed:
        raise StripeError(
            403,
            f"The provided key '{_masked(key)}' does not have the required permissions for this "
            f"endpoint on account '{account.account_id}'. Having the 'rak_{needed}' permission "
            "would allow this request to continue.",
        )


def _check_version(request: Request) -> None:
    version = request.headers.get("stripe-version")
    if version is not None and version not in KNOWN_VERSIONS:
        raise StripeError(400, f"Invalid Stripe API version: {version}")


def api(handler: Handler) -> Callable[[Request], Awaitable[JSONResponse]]:
    async def endpoint(request: Request) -> JSONResponse:
        account: Account = request.app.state.stripe
        try:
            key = _check_key(request, request.url.path)
            if account.over_rate_limit():
                return JSONResponse({"error": ERRORS[429]}, status_code=429)
            _check_version(request)
            _check_permission(account, key, request.method, request.url.path)
            failure = _take_failure(account, request)
            if failure is not None:
                return failure
            if request.method == "GET":
                params = decode_form(list(request.query_params.multi_items()))
            else:
                params = decode_form(
                    parse_qsl((await request.body()).decode(), keep_blank_values=True)
                )
            idem = request.headers.get("idempotency-key") if request.method == "POST" else None
            slot = str(idem)  # Stripe keeps keys per account; the sandbox is one account
            fingerprint = json.dumps([request.url.path, params], sort_keys=True)
            if idem and slot in account.idempotency:
                seen, saved = account.idempotency[slot]
                if seen != fingerprint:
                    raise StripeError(
                        400,
                        "Keys for idempotent requests can only be used with the same parameters "
                        f"they were first used with. Try using a key other than '{idem}' if you "
                        "meant to execute a different request.",
                        type="idempotency_error",
                    )
                return JSONResponse(saved)
            body = handler(account, params, dict(request.path_params), idem)
            if idem:
                account.idempotency[slot] = (fingerprint, body)
            return JSONResponse(body)
        except StripeError as error:
            return JSONResponse(error.body, status_code=error.status)

    return endpoint


def _take_failure(account: Account, request: Request) -> JSONResponse | None:
    for failure in account.failures:
        if (
            request.method == failure.method
            and request.url.path.endswith(failure.path)
            and failure.times > 0
        ):
            failure.times -= 1
            body = {"error": failure.error or ERRORS.get(failure.status, ERRORS[500])}
            return JSONResponse(body, status_code=failure.status, headers=failure.headers)
    return None


async def settings(request: Request) -> JSONResponse:
    """Test-only (not Stripe): how the account behaves. JSON with any of
    ``rate_limit: [requests, seconds]``, ``page_cap: n`` (lists answer at most n objects),
    ``frozen_at: unix`` (every new object is created in that second; ``null`` lets the
    clock run), ``restricted_key: {"key": "rk_test_…", "permissions": ["customer_read", …]}``."""
    account: Account = request.app.state.stripe
    given = await request.json()
    if "rate_limit" in given:
        requests, seconds = given["rate_limit"]
        account.rate_limit, account.recent = (int(requests), float(seconds)), deque()
    if "page_cap" in given:
        account.page_cap = given["page_cap"]
    if "frozen_at" in given:
        account.frozen_at = given["frozen_at"]
    if "restricted_key" in given:
        account.restricted[given["restricted_key"]["key"]] = set(
            given["restricted_key"]["permissions"]
        )
    return JSONResponse({"ok": True})


async def add_failure(request: Request) -> JSONResponse:
    """Test-only (not Stripe): make the next matching requests fail."""
    request.app.state.stripe.failures.append(Failure(**await request.json()))
    return JSONResponse({"ok": True})


def create_app() -> Starlette:
    app = Starlette(
        routes=[
            Route("/v1/account", api(get_account), methods=["GET"]),
            Route("/v1/balance", api(get_balance), methods=["GET"]),
            Route("/v1/customers", api(list_customers), methods=["GET"]),
            Route("/v1/customers", api(create_customer), methods=["POST"]),
            Route("/v1/customers/{customer}", api(update_customer), methods=["POST"]),
            Route("/v1/products", api(list_products), methods=["GET"]),
            Route("/v1/products", api(create_product), methods=["POST"]),
            Route("/v1/prices", api(list_prices), methods=["GET"]),
            Route("/v1/prices", api(create_price), methods=["POST"]),
            Route("/v1/payment_links", api(create_payment_link), methods=["POST"]),
            Route("/v1/refunds", api(create_refund), methods=["POST"]),
            Route("/v1/webhook_endpoints", api(create_webhook_endpoint), methods=["POST"]),
            Route(
                "/v1/webhook_endpoints/{webhook_endpoint}",
                api(delete_webhook_endpoint),
                methods=["DELETE"],
            ),
            Route("/__sandbox__/fail", add_failure, methods=["POST"]),
            Route("/__sandbox__/settings", settings, methods=["POST"]),
        ]
    )
    app.state.stripe = seeded()
    return app


# -- webhooks, the way Stripe sends them --------------------------------------------------


def sign(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """``Stripe-Signature`` for ``payload``: ``t=<unix>,v1=<hex HMAC-SHA256 of "t.payload">``."""
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},v1={hmac_hex(secret, f'{t}.'.encode() + payload)}"


def emit(app: Starlette, type: str, obj: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Record an event as Stripe would; without ``obj`` a fitting demo object is made."""
    account: Account = app.state.stripe
    if obj is None:
        intent = account.add(payment_intent_object(account))
        customer = next(iter(account.kind("customer").values()))
        defaults = {
            "payment_intent.succeeded": intent,
            "checkout.session.completed": checkout_session_object(account, intent),
            "invoice.paid": invoice_object(account, customer),
            "customer.created": customer,
        }
        obj = defaults[type]
    return account.emit(type, obj)


def signed_delivery(event: Mapping[str, Any], endpoint: Mapping[str, Any]) -> Delivery:
    """The POST Stripe makes to ``endpoint`` for ``event``: the event rendered in the
    endpoint's API version, ``Stripe-Signature`` over the exact bytes
    (https://docs.stripe.com/webhooks#verify-manually)."""
    body = json.dumps(
        {**event, "api_version": endpoint["api_version"] or API_VERSION}, indent=2
    ).encode()
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        "Stripe-Signature": sign(body, endpoint["secret"]),
    }
    return Delivery(endpoint["url"], headers, body)


def deliveries(app: Starlette) -> list[Delivery]:
    """The deliveries that had nowhere to go (no server, no test transport), taken."""
    account: Account = app.state.stripe
    return account.outbox.take()


async def deliver(app: Starlette, client: httpx.AsyncClient) -> list[httpx.Response]:
    """POST the pending deliveries with ``client`` (the caller decides where it may connect)."""
    return [await client.post(d.url, content=d.body, headers=d.headers) for d in deliveries(app)]
