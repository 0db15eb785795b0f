"""Where Stripe fields' choices come from: customers, products and prices (list endpoints)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from connectors.sdk import OperationContext, Option, OptionSource
from connectors.stripe.api import call

LIMIT = 100  # Stripe's maximum page size
MAX_PAGES = 5


async def _list(ctx: OperationContext, path: str, **query: Any) -> list[dict[str, Any]]:
    """Newest first, following ``starting_after`` while ``has_more``."""
    items: list[dict[str, Any]] = []
    for _ in range(MAX_PAGES):
        after = {"starting_after": items[-1]["id"]} if items else {}
        page = await call(ctx, "GET", path, query={"limit": LIMIT, **query, **after})
        items += page.get("data") or []
        if not page.get("has_more"):
            break
    return items


def _amount(price: Mapping[str, Any]) -> str:
    amount, currency = price.get("unit_amount"), str(price.get("currency") or "").upper()
    text = f"{amount / 100:.2f} {currency}" if isinstance(amount, int) else currency
    recurring = price.get("recurring") or {}
    return f"{text} / {recurring['interval']}" if recurring.get("interval") else text


def _source(path: str, label: Callable[[Mapping[str, Any]], str], **query: Any) -> Any:
    async def fetch(ctx: OperationContext, values: Mapping[str, Any]) -> list[Option]:
        return [
            Option(value=str(o["id"]), label=f"{label(o)} ({o['id']})")
            for o in await _list(ctx, path, **query)
        ]

    fetch.__doc__ = f"``GET {path}``, newest first."
    return fetch


OPTIONS: tuple[OptionSource, ...] = (
    OptionSource(
        key="customers",
        name="Stripe customers",
        fetch=_source(
            "/v1/customers", lambda c: str(c.get("name") or c.get("email") or "(no name)")
        ),
    ),
    OptionSource(
        key="products",
        name="Stripe products",
        fetch=_source("/v1/products", lambda p: str(p.get("name") or "(no name)"), active="true"),
    ),
    OptionSource(
        key="prices",
        name="Stripe prices",
        fetch=_source("/v1/prices", lambda p: str(p.get("nickname") or _amount(p)), active="true"),
    ),
)
