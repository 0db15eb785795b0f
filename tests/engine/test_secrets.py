"""Secrets typed into cell inputs live in the vault, never in documents, answers or records.

A user types a bearer token into an HTTP cell and a signing secret into a webhook
trigger. The database file, the REST answers, the exports and the execution records
must not hold either, while the HTTP request still carries the token (a real local
server sees it) and the webhook still verifies signatures.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from cells import document as documents
from cells.secrets import MASK, REF_KEY
from connectors.registry import Registry
from connectors.sdk import InvalidInputError
from engine.service import Cellwright
from engine.settings import Settings

TOKEN = "sk-BEARER-7f3a-RECOGNISABLE"
HOOK_SECRET = "whsec-SIGNING-91c2-RECOGNISABLE"


def flow(url: str, *, token: str = TOKEN, hook_secret: str = HOOK_SECRET) -> dict[str, Any]:
    return {
        "name": "Signed orders",
        "cells": [
            {
                "id": "hook",
                "kind": "trigger",
                "app": "webhook",
                "operation": "catch_hook",
                "inputs": {
                    "verification": "hmac_sha256",
                    "secret": hook_secret,
                    "header": "X-Signature",
                },
            },
            {
                "id": "call",
                "kind": "action",
                "app": "http",
                "operation": "request",
                "inputs": {
                    "method": "POST",
                    "url": url,
                    "body_type": "json",
                    "body": {"n": "{{ trigger.body.n }}"},
                    "bearer_token": token,
                },
            },
        ],
    }


def signed(body: bytes, secret: str = HOOK_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def inputs_of(document: dict[str, Any], cell_id: str) -> dict[str, Any]:
    return next(c for c in document["cells"] if c["id"] == cell_id).get("inputs", {})


def database_bytes(data_dir: Path) -> bytes:
    """The SQLite database as it is on disk: the file, its WAL and shared memory."""
    return b"".join(f.read_bytes() for f in sorted(data_dir.glob("cellwright.db*")))


async def post_signed(
    anon: httpx.AsyncClient, token: str, n: int, secret: str = HOOK_SECRET
) -> httpx.Response:
    body = json.dumps({"n": n}).encode()
    return await anon.post(
        f"/hooks/{token}",
        content=body,
        headers={"content-type": "application/json", "x-signature": signed(body, secret)},
    )


async def test_typed_secrets_appear_nowhere_and_the_run_still_authenticates(
    svc: Cellwright,
    user: Any,
    client: httpx.AsyncClient,
    anon: httpx.AsyncClient,
    sink: Any,
    helpers: Any,
    settings: Settings,
) -> None:
    url = sink.plan("/orders", helpers.Reply(body={"ok": True}))
    created = await client.post("/api/v1/scenarios", json=flow(url))
    assert created.status_code == 201, created.text
    scenario_id = created.json()["id"]
    call, hook = (
        inputs_of(created.json()["document"], "call"),
        inputs_of(created.json()["document"], "hook"),
    )
    assert set(call["bearer_token"]) == {REF_KEY} and set(hook["secret"]) == {REF_KEY}
    assert hook["verification"] == "hmac_sha256"  # other inputs are kept as typed

    enabled = await client.post(f"/api/v1/scenarios/{scenario_id}/enable")
    assert enabled.status_code == 200, enabled.text
    webhook_token = svc.scenario(user.id, scenario_id).webhook_token
    assert (await post_signed(anon, webhook_token, 1, secret="a-guess")).status_code == 401
    answer = await post_signed(anon, webhook_token, 2)
    assert answer.status_code == 202, answer.text
    execution = await helpers.finished(svc, answer.json()["execution_id"])
    assert execution["status"] == "completed", execution
    [seen] = sink.hits("/orders")
    assert seen.headers["authorization"] == f"Bearer {TOKEN}" and seen.body == {"n": 2}
    assert execution["cells"][1]["input"]["bearer_token"] == MASK

    answers = [
        created.text,
        enabled.text,
        (await client.get(f"/api/v1/scenarios/{scenario_id}")).text,
        (await client.get("/api/v1/scenarios")).text,
        (await client.get(f"/api/v1/scenarios/{scenario_id}/export")).text,
        (await client.get(f"/api/v1/scenarios/{scenario_id}/export?format=json")).text,
        (await client.get(f"/api/v1/executions/{execution['id']}")).text,
        (await client.get("/api/v1/executions")).text,
        svc.export_scenario(user.id, scenario_id),
        json.dumps(svc.store.list_nodes(scenario_id), default=str),
        json.dumps([e.to_dict() for e in svc.store.audit_entries(user.id)], default=str),
    ]
    for text in answers:
        assert TOKEN not in text and HOOK_SECRET not in text
    data = database_bytes(settings.data_dir)
    assert b"Signed orders" in data  # plaintext would be found
    assert TOKEN.encode() not in data and HOOK_SECRET.encode() not in data


async def test_a_new_version_keeps_unchanged_secrets_and_replaces_typed_ones(
    svc: Cellwright, user: Any, client: httpx.AsyncClient, sink: Any, helpers: Any
) -> None:
    url = sink.plan("/orders", helpers.Reply(body={"ok": True}))
    first = (await client.post("/api/v1/scenarios", json=flow(url))).json()
    stored_ref = inputs_of(first["document"], "call")["bearer_token"]
    # the document as the API returned it, sent back: the reference stays
    again = (await client.put(f"/api/v1/scenarios/{first['id']}", json=first["document"])).json()
    assert (
        inputs_of(again["document"], "call")["bearer_token"] == stored_ref and again["version"] == 2
    )
    # a mask, or the same text typed again, keeps it too
    masked = flow(url, token=MASK, hook_secret=HOOK_SECRET)
    third = (await client.put(f"/api/v1/scenarios/{first['id']}", json=masked)).json()
    assert inputs_of(third["document"], "call")["bearer_token"] == stored_ref
    assert (
        inputs_of(third["document"], "hook")["secret"]
        == inputs_of(first["document"], "hook")["secret"]
    )
    # a mapping is a mapping, not a secret
    mapped = (
        await client.put(
            f"/api/v1/scenarios/{first['id']}", json=flow(url, token="{{ trigger.body.token }}")
        )
    ).json()
    assert inputs_of(mapped["document"], "call")["bearer_token"] == "{{ trigger.body.token }}"
    # a new value makes a new secret; the older version keeps running with its own
    fourth = (
        await client.put(
            f"/api/v1/scenarios/{first['id']}", json=flow(url, token="sk-ROTATED-TOKEN")
        )
    ).json()
    assert inputs_of(fourth["document"], "call")["bearer_token"] != stored_ref
    latest = await svc.run_now(
        user.id, first["id"], {"method": "POST", "headers": {}, "query": {}, "body": {"n": 4}}
    )
    assert latest["status"] == "completed"
    svc.store.publish_scenario(user.id, first["id"], 1)
    old, _ = await svc.trigger(
        svc.scenario(user.id, first["id"]),
        {"method": "POST", "headers": {}, "query": {}, "body": {"n": 1}},
        wait=10,
    )
    assert (await helpers.finished(svc, old.id))["status"] == "completed"
    tokens = [seen.headers["authorization"] for seen in sink.hits("/orders")]
    assert tokens == ["Bearer sk-ROTATED-TOKEN", f"Bearer {TOKEN}"]
    # a mask where nothing is stored is refused with what to do
    bare = await client.post("/api/v1/scenarios", json=flow(url, token=MASK))
    assert bare.status_code == 422 and "Type the secret again" in bare.text


async def test_a_reference_imports_only_into_its_owners_account(
    svc: Cellwright, user: Any, client: httpx.AsyncClient, sink: Any
) -> None:
    created = (await client.post("/api/v1/scenarios", json=flow(sink.url + "/orders"))).json()
    exported = (await client.get(f"/api/v1/scenarios/{created['id']}/export")).text
    doc = documents.loads(exported)
    # the owner: a copy keeps working with the same stored secret
    copy = svc.import_scenario(user.id, doc)
    assert (
        inputs_of(copy.document, "call")["bearer_token"]
        == inputs_of(created["document"], "call")["bearer_token"]
    )
    # anyone else: refused, nothing stored, asked to type it again
    eve = svc.store.create_user("eve@example.com")
    with pytest.raises(InvalidInputError) as info:
        svc.import_scenario(eve.id, doc)
    assert (
        "Type the secret again" in info.value.message
        and "'bearer_token'" in info.value.message
        and "'secret'" in info.value.message
    )
    assert svc.store.list_scenarios(eve.id) == []
    # "Run cell" with another account's reference: not found, nothing sent
    result = await svc.run_cell(eve.id, doc, "call", {"trigger": {"body": {"n": 1}}, "steps": {}})
    assert result.status == "failed" and "was not found" in result.error["message"]
    assert sink.hits("/orders") == []


async def test_plaintext_from_an_older_install_moves_into_the_vault_on_startup(
    settings: Settings, registry: Registry, sink: Any, helpers: Any
) -> None:
    url = sink.plan("/orders", helpers.Reply(body={"ok": True}))
    old = Cellwright(settings, apps=registry)
    user = old.store.create_user("ada@example.com")
    doc = documents.parse(flow(url))
    # as an older version stored it: the document as typed, and its node rows
    first = old.store.save_scenario(user.id, doc.to_data(), nodes=documents.node_rows(doc))
    old.store.save_scenario(
        user.id, doc.to_data(), scenario_id=first.id, nodes=documents.node_rows(doc)
    )
    old.close()

    svc = Cellwright(settings, apps=registry)  # startup moves them
    try:
        documents_stored = [
            svc.store.scenario_document(first.id),
            svc.store.scenario_document(first.id, 1),
            svc.store.scenario_document(first.id, 2),
        ]
        nodes = svc.store.list_nodes(first.id)
        for text in [
            *map(json.dumps, documents_stored),
            json.dumps([n.input_mappings for n in nodes]),
        ]:
            assert TOKEN not in text and HOOK_SECRET not in text and REF_KEY in text
        refs = {json.dumps(inputs_of(d, "call")["bearer_token"]) for d in documents_stored}
        assert len(refs) == 1  # one secret for the value, shared by the versions
        restarted = Cellwright(settings, apps=registry)
        assert (
            restarted.store.scenario_document(first.id) == documents_stored[0]
        )  # nothing moves twice
        restarted.close()
        await svc.start(scheduler=False)
        result = await svc.run_now(
            user.id, first.id, {"method": "POST", "headers": {}, "query": {}, "body": {"n": 3}}
        )
        assert result["status"] == "completed"
        assert sink.hits("/orders")[0].headers["authorization"] == f"Bearer {TOKEN}"
        await svc.stop()
    finally:
        svc.close()


async def test_a_cell_that_fails_validation_records_its_secret_masked(
    svc: Cellwright, user: Any
) -> None:
    """The recorded input of a failed cell is the rendered input: a secret mapped in from
    the trigger shows as the mask there too."""
    doc = flow("https://example.invalid/x", token="{{ trigger.body.token }}")
    doc["cells"][1]["inputs"]["timeout_seconds"] = 0  # invalid: the cell fails before any call
    saved = svc.import_scenario(user.id, documents.parse(doc))
    result = await svc.run_now(
        user.id,
        saved.id,
        {"method": "POST", "headers": {}, "query": {}, "body": {"n": 1, "token": TOKEN}},
    )
    assert result["status"] == "failed" and result["error"]["code"] == "invalid_input"
    failed = result["cells"][1]
    assert failed["input"]["bearer_token"] == MASK and failed["input"]["timeout_seconds"] == 0
    assert TOKEN not in json.dumps(failed)
