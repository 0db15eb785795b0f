"""/api/v1/data-stores: a user's data stores and records over REST, 404 for another
user's, limits as 409 limit_exceeded naming the store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from engine.service import Cellwright


@pytest.fixture
async def eve(svc: Cellwright, asgi_app: Any) -> AsyncIterator[httpx.AsyncClient]:
    other = svc.store.create_user("eve@example.com", name="Eve")
    key, _ = svc.store.create_api_key(other.id, "eve")
    transport = httpx.ASGITransport(app=asgi_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", headers={"X-API-Key": key}
    ) as c:
        yield c


async def test_stores_and_records_round_trip(client: httpx.AsyncClient) -> None:
    created = await client.post("/api/v1/data-stores", json={"name": "orders"})
    assert created.status_code == 201, created.text
    store = created.json()
    assert (store["name"], store["records"]) == ("orders", 0)
    base = f"/api/v1/data-stores/{store['id']}"

    put = await client.put(f"{base}/records/last_order_id", json={"value": {"id": "o1"}})
    assert put.status_code == 200 and put.json()["value"] == {"id": "o1"}
    await client.put(f"{base}/records/customer:1", json={"value": 1})
    await client.put(f"{base}/records/customer:2", json={"value": None})
    await client.put(f"{base}/records/path/with/slashes", json={"value": "ok"})

    assert (await client.get(f"{base}/records/path/with/slashes")).json()["value"] == "ok"
    assert (await client.get(f"{base}/records/customer:2")).json()["value"] is None
    page = (await client.get(f"{base}/records", params={"prefix": "customer:", "limit": 1})).json()
    assert [r["key"] for r in page["items"]] == ["customer:1"] and page["total"] == 2
    listed = (await client.get("/api/v1/data-stores")).json()
    assert [(s["name"], s["records"]) for s in listed] == [("orders", 4)]

    assert (await client.delete(f"{base}/records/customer:1")).status_code == 204
    gone = await client.get(f"{base}/records/customer:1")
    assert gone.status_code == 404 and gone.json()["error"] == "not_found"
    assert (await client.delete(f"{base}/records/customer:1")).status_code == 404

    export = (await client.get("/api/v1/data-stores/export")).json()
    assert [r["key"] for r in export[0]["records"]] == [
        "customer:2",
        "last_order_id",
        "path/with/slashes",
    ]
    assert (await client.delete(base)).status_code == 204
    assert (await client.get(base)).status_code == 404
    assert (await client.get("/api/v1/data-stores")).json() == []


async def test_another_users_store_is_404_everywhere(
    client: httpx.AsyncClient, eve: httpx.AsyncClient
) -> None:
    store = (await client.post("/api/v1/data-stores", json={"name": "private"})).json()
    base = f"/api/v1/data-stores/{store['id']}"
    await client.put(f"{base}/records/pin", json={"value": 1234})
    for method, path, body in (
        ("GET", base, None),
        ("DELETE", base, None),
        ("GET", f"{base}/records", None),
        ("GET", f"{base}/records/pin", None),
        ("PUT", f"{base}/records/pin", {"value": 0}),
        ("DELETE", f"{base}/records/pin", None),
    ):
        answer = await eve.request(method, path, json=body)
        assert answer.status_code == 404, (method, path, answer.text)
    assert (await eve.get("/api/v1/data-stores")).json() == []
    assert (await eve.get("/api/v1/data-stores/export")).json() == []
    assert (await client.get(f"{base}/records/pin")).json()["value"] == 1234


async def test_limits_and_bad_input_are_clear(
    svc: Cellwright, client: httpx.AsyncClient, anon: httpx.AsyncClient
) -> None:
    assert (await anon.get("/api/v1/data-stores")).status_code == 401
    svc.settings.data_store_max_stores = 1
    svc.settings.data_store_max_value_bytes = 32
    store = (await client.post("/api/v1/data-stores", json={"name": "only"})).json()
    again = await client.post("/api/v1/data-stores", json={"name": "only"})
    assert again.status_code == 409 and again.json()["error"] == "conflict"
    second = await client.post("/api/v1/data-stores", json={"name": "second"})
    assert second.status_code == 409
    assert second.json()["error"] == "limit_exceeded"
    assert "CELLWRIGHT_DATA_STORE_MAX_STORES" in second.json()["message"]

    big = await client.put(
        f"/api/v1/data-stores/{store['id']}/records/k", json={"value": "x" * 100}
    )
    assert big.status_code == 409 and big.json()["error"] == "limit_exceeded"
    assert "data store 'only'" in big.json()["message"]

    missing = await client.put(f"/api/v1/data-stores/{store['id']}/records/k", json={})
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "value"
    blank = await client.post("/api/v1/data-stores", json={"name": "  "})
    assert blank.status_code == 422 and blank.json()["errors"][0]["field"] == "name"
