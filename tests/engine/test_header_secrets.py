"""Credential headers typed into a cell (``Authorization``, ``X-Api-Key``, ``Cookie``…
in any case) are secrets like a ``SecretStr`` field: moved into the vault on save,
kept when sent back unchanged or masked, replaced when retyped, refused in another
account, moved out of documents stored by older versions, and resolved for the call."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from cells import document as documents
from cells.secrets import MASK, REF_KEY
from connectors.registry import Registry
from connectors.sdk import InvalidInputError
from engine.service import Cellwright
from engine.settings import Settings

TOKEN = "hdr-TOKEN-5d1e-RECOGNISABLE"
KEY = "hdr-KEY-88aa-RECOGNISABLE"


def flow(url: str, auth: Any = f"Bearer {TOKEN}", key: Any = KEY) -> dict[str, Any]:
    return {
        "name": "Header secrets",
        "cells": [
            {"id": "start", "kind": "trigger", "app": "manual", "operation": "run_manually"},
            {
                "id": "call",
                "kind": "action",
                "app": "http",
                "operation": "request",
                "inputs": {
                    "method": "GET",
                    "url": url,
                    "headers": {"authorization": auth, "X-API-KEY": key, "Accept": "text/plain"},
                },
            },
        ],
    }


def headers_of(document: dict[str, Any]) -> dict[str, Any]:
    call = next(c for c in document["cells"] if c["id"] == "call")
    headers: dict[str, Any] = call["inputs"]["headers"]
    return headers


async def test_typed_headers_are_sealed_kept_and_replaced(
    svc: Cellwright, user: Any, client: httpx.AsyncClient, sink: Any
) -> None:
    url = sink.plan("/h")
    first = (await client.post("/api/v1/scenarios", json=flow(url))).json()
    sealed = headers_of(first["document"])
    assert set(sealed["authorization"]) == {REF_KEY} and set(sealed["X-API-KEY"]) == {REF_KEY}
    assert sealed["Accept"] == "text/plain"
    stored = json.dumps(svc.store.scenario_document(first["id"]))
    assert TOKEN not in stored and KEY not in stored
    # sent back as the API gave it, masked, or typed again unchanged: kept
    for auth, key in ((sealed["authorization"], sealed["X-API-KEY"]), (MASK, f"{KEY}")):
        again = (
            await client.put(f"/api/v1/scenarios/{first['id']}", json=flow(url, auth, key))
        ).json()
        assert headers_of(again["document"]) == sealed
    # a mapping stays a mapping; a new value is a new secret
    mapped = (
        await client.put(
            f"/api/v1/scenarios/{first['id']}", json=flow(url, "{{ trigger.auth }}", "new-KEY-1")
        )
    ).json()
    assert headers_of(mapped["document"])["authorization"] == "{{ trigger.auth }}"
    assert headers_of(mapped["document"])["X-API-KEY"] not in (sealed["X-API-KEY"], "new-KEY-1")
    # the call carries the real values
    result = await svc.run_now(user.id, first["id"], {"auth": "Bearer from-trigger"})
    assert result["status"] == "completed", result
    [seen] = sink.hits("/h")
    assert (seen.headers["authorization"], seen.headers["x-api-key"]) == (
        "Bearer from-trigger",
        "new-KEY-1",
    )
    call = next(c for c in result["cells"] if c["cell_id"] == "call")
    assert call["input"]["headers"]["authorization"] == MASK  # even a mapped one
    # a mask where nothing is stored: refused, naming the header
    bare = await client.post("/api/v1/scenarios", json=flow(url, auth=MASK))
    assert bare.status_code == 422 and "'headers.authorization'" in bare.text


async def test_another_accounts_header_reference_is_refused(
    svc: Cellwright, user: Any, client: httpx.AsyncClient, sink: Any
) -> None:
    created = (await client.post("/api/v1/scenarios", json=flow(sink.url + "/h"))).json()
    doc = documents.loads((await client.get(f"/api/v1/scenarios/{created['id']}/export")).text)
    eve = svc.store.create_user("eve@example.com")
    with pytest.raises(InvalidInputError) as info:
        svc.import_scenario(eve.id, doc)
    assert "'headers.authorization'" in info.value.message
    assert "Type the secret again" in info.value.message
    result = await svc.run_cell(eve.id, doc, "call", {"trigger": {}, "steps": {}})
    assert result.status == "failed" and "headers.authorization" in result.error["message"]
    assert sink.hits("/h") == []


async def test_headers_stored_by_an_older_version_move_into_the_vault(
    settings: Settings, registry: Registry, sink: Any
) -> None:
    url = sink.plan("/h")
    old = Cellwright(settings, apps=registry)
    user = old.store.create_user("ada@example.com")
    doc = documents.parse(flow(url))
    first = old.store.save_scenario(user.id, doc.to_data(), nodes=documents.node_rows(doc))
    old.close()
    svc = Cellwright(settings, apps=registry)
    try:
        stored = svc.store.scenario_document(first.id)
        assert stored is not None
        text = json.dumps([stored, [n.input_mappings for n in svc.store.list_nodes(first.id)]])
        assert TOKEN not in text and KEY not in text
        await svc.start(scheduler=False)
        result = await svc.run_now(user.id, first.id, {})
        assert result["status"] == "completed"
        assert sink.hits("/h")[0].headers["authorization"] == f"Bearer {TOKEN}"
        await svc.stop()
    finally:
        svc.close()
