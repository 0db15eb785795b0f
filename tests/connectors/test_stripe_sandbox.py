"""The Stripe sandbox on its own: raw requests, Stripe's error shapes, and a path prefix."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from connectors.sdk import UpstreamError
from connectors.sdk.sandboxing import sandbox_context
from connectors.stripe import app, sandbox

AUTH = {"Authorization": "Bearer sk_test_raw"}


async def send(
    asgi: Starlette, method: str, path: str, body: str = "", headers: dict[str, str] | None = None
) -> httpx.Response:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=asgi), base_url="http://sandbox.invalid"
    ) as http:
        return await http.request(
            method,
            path,
            content=body,
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                **AUTH,
                **(headers or {}),
            },
        )


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "param"),
    [
        ("POST", "/v1/customers", "colour=red", 400, "colour"),
        ("POST", "/v1/customers", "metadata=oops", 400, "metadata"),
        ("GET", "/v1/customers?limit=500", "", 400, "limit"),
        ("GET", "/v1/customers?limit=ten", "", 400, "limit"),
        ("GET", "/v1/customers?limit[max]=1", "", 400, "limit"),
        ("GET", "/v1/customers?created[since]=1", "", 400, "created[since]"),
        ("GET", "/v1/customers?starting_after=cus_nope", "", 400, "starting_after"),
        ("POST", "/v1/products", "name=Pro&active=maybe", 400, "active"),
        ("POST", "/v1/products", "description=no+name", 400, "name"),
        ("POST", "/v1/prices", "product=prod_x&currency=usd", 400, "unit_amount"),
        ("POST", "/v1/prices", "product=prod_x&currency=dollars&unit_amount=1", 400, "currency"),
        ("POST", "/v1/payment_links", "line_items=one", 400, "line_items"),
        ("POST", "/v1/payment_links", "line_items[0][price]=p", 400, "line_items[0][quantity]"),
        ("POST", "/v1/refunds", "amount=1", 400, "charge"),
        (
            "POST",
            "/v1/webhook_endpoints",
            "url=https://x.example&enabled_events[0]=Not+An+Event",
            400,
            "enabled_events",
        ),
        ("POST", "/v1/webhook_endpoints", "url=ftp://x.example&enabled_events[0]=*", 400, "url"),
        ("DELETE", "/v1/webhook_endpoints/we_nope", "", 404, "id"),
    ],
)
async def test_errors_have_stripes_shape(
    method: str, path: str, body: str, status: int, param: str
) -> None:
    response = await send(sandbox.create_app(), method, path, body)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == param and error["message"]


async def test_seeded_objects_and_more_validation() -> None:
    asgi = sandbox.create_app()
    acct: sandbox.Account = asgi.state.stripe
    price = next(iter(acct.kind("price").values()))
    charge = next(iter(acct.kind("charge").values()))
    product = (await send(asgi, "POST", "/v1/products", "name=Euro+thing")).json()
    euro = (
        await send(
            asgi, "POST", "/v1/prices", f"product={product['id']}&currency=eur&unit_amount=5"
        )
    ).json()
    assert product["default_price"] is None  # set on the product object, not in this earlier answer
    assert acct.kind("product")[product["id"]]["default_price"] == euro["id"]
    mixed = await send(
        asgi,
        "POST",
        "/v1/payment_links",
        f"line_items[0][price]={price['id']}&line_items[0][quantity]=1&line_items[1][price]={euro['id']}&line_items[1][quantity]=1",
    )
    assert (
        mixed.json()["error"]["message"]
        == "All prices on a payment link must have the same currency."
    )
    bad_interval = await send(
        asgi,
        "POST",
        "/v1/prices",
        f"product={product['id']}&currency=eur&unit_amount=5&recurring[interval]=decade",
    )
    assert bad_interval.json()["error"]["param"] == "recurring[interval]"
    bad_reason = await send(asgi, "POST", "/v1/refunds", f"charge={charge['id']}&reason=bored")
    assert bad_reason.json()["error"]["param"] == "reason"
    exact = await send(
        asgi,
        "GET",
        f"/v1/customers?created={next(iter(acct.kind('customer').values()))['created']}",
    )
    assert len(exact.json()["data"]) == 1
    everything = await send(
        asgi, "POST", "/v1/webhook_endpoints", "url=https://x.example/h&enabled_events[]=*"
    )
    assert everything.json()["enabled_events"] == ["*"]
    sandbox.emit(asgi, "customer.created")
    assert len(sandbox.deliveries(asgi)) == 1  # "*" gets every event


async def test_basic_auth_and_missing_key() -> None:
    asgi = sandbox.create_app()
    basic = base64.b64encode(b"sk_test_raw:").decode()
    assert (
        await send(asgi, "GET", "/v1/balance", headers={"Authorization": f"Basic {basic}"})
    ).status_code == 200
    missing = await send(asgi, "GET", "/v1/balance", headers={"Authorization": ""})
    assert (
        missing.status_code == 401
        and "did not provide an API key" in missing.json()["error"]["message"]
    )


async def test_works_under_a_path_prefix() -> None:
    asgi = sandbox.create_app()
    outer = Starlette(routes=[Mount("/sandbox/stripe", app=asgi)])
    response = await send(outer, "GET", "/sandbox/stripe/v1/customers?limit=1")
    assert response.status_code == 200 and response.json()["has_more"] is True


async def test_connection_test_reports_other_failures() -> None:
    asgi = sandbox.create_app()
    asgi.state.stripe.failures.append(sandbox.Failure(path="/v1/account", method="GET", status=500))
    assert app.auth.test is not None
    with pytest.raises(UpstreamError, match="An unknown error occurred"):
        await app.auth.test(sandbox_context(app, {"api_key": "sk_test_x"}, asgi_app=asgi))


def test_update_of_an_unset_field_records_previous_values() -> None:
    acct = sandbox.seeded()
    customer = next(iter(acct.kind("customer").values()))
    result: Any = sandbox.update_customer(
        acct, {"phone": "+1555"}, {"customer": customer["id"]}, None
    )
    assert result["phone"] == "+1555"
    assert acct.events[-1]["data"]["previous_attributes"] == {"phone": None}
    customer["metadata"] = {"a": "1"}
    assert (
        sandbox.update_customer(acct, {"metadata": ""}, {"customer": customer["id"]}, None)[
            "metadata"
        ]
        == {}
    )
