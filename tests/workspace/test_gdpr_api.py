"""GDPR over the REST API: a user downloads all their data without a secret in it,
deletes their account (nothing of theirs left, the audit chain intact), and an
administrator finds and erases a data subject's e-mail address everywhere."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import httpx

from cells.models import ScenarioDocument
from engine.service import Cellwright

TOKEN = "hdr-TOKEN-7c2f-RECOGNISABLE"
CONN_SECRET = "conn-SECRET-91b3-RECOGNISABLE"
SUBJECT = "grace.hopper@example.org"


def flow(url: str, name: str = "Export me") -> dict[str, Any]:
    return {
        "name": name,
        "cells": [
            {"id": "start", "kind": "trigger", "app": "manual", "operation": "run_manually"},
            {
                "id": "call",
                "kind": "action",
                "app": "http",
                "operation": "request",
                "inputs": {
                    "method": "POST",
                    "url": url,
                    "headers": {"Authorization": f"Bearer {TOKEN}"},
                    "body_type": "json",
                    "body": {"to": "{{ trigger.email }}"},
                },
            },
        ],
    }


def doc(data: dict[str, Any]) -> ScenarioDocument:
    return ScenarioDocument.model_validate(data)


def archive_text(data: bytes) -> dict[str, str]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name).decode() for name in archive.namelist()}


async def test_a_user_downloads_all_their_data_without_secrets(
    svc: Cellwright, user: Any, client: httpx.AsyncClient, sink: Any
) -> None:
    url = sink.plan("/export")
    created = (await client.post("/api/v1/scenarios", json=flow(url))).json()
    await client.put(f"/api/v1/scenarios/{created['id']}", json=flow(url, "Export me v2"))
    result = await svc.run_now(user.id, created["id"], {"email": SUBJECT})
    assert result["status"] == "completed", result
    svc.store.create_connection(user.id, "http", "Vendor", {"api_key": CONN_SECRET})
    data = svc.data_stores.create(user.id, "crm")
    svc.data_stores.put_record(user.id, data.id, "grace", {"email": SUBJECT})
    svc.accounts.add_alert_rule(user.id, scenario_id=created["id"])
    other = svc.accounts.create_user("bob@example.com")
    svc.import_scenario(other.id, doc(flow("http://127.0.0.1:9/", "Bob's secret plan")))

    answer = await client.get("/api/v1/account/export")

    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/zip"
    assert "attachment" in answer.headers["content-disposition"]
    files = archive_text(answer.content)
    everything = "".join(files.values())
    for secret in (TOKEN, CONN_SECRET):
        assert secret not in everything and secret.encode() not in answer.content
    assert "Bob's secret plan" not in everything
    assert {"README.md", "manifest.json", "executions.jsonl", "connections.json"} <= set(files)
    manifest = json.loads(files["manifest.json"])
    assert manifest["user"]["email"] == user.email
    assert manifest["counts"]["executions"] == 1 and manifest["counts"]["scenario_versions"] == 2
    scenario = json.loads(files[f"scenarios/{created['id']}.json"])
    assert [v["document"]["name"] for v in scenario["versions"]] == ["Export me", "Export me v2"]
    [execution] = [json.loads(line) for line in files["executions.jsonl"].splitlines()]
    call = next(c for c in execution["cells"] if c["cell_id"] == "call")
    assert call["input"]["body"] == {"to": SUBJECT}  # the record is there, the header masked
    [connection] = json.loads(files["connections.json"])
    assert connection["name"] == "Vendor" and connection["app"] == "http"
    assert connection["auth_kind"] == svc.apps.get("http").auth.type
    [key] = json.loads(files["api_keys.json"])
    assert key["prefix"] and "key_hash" not in key
    [store] = json.loads(files["data_stores.json"])
    assert store["records"][0]["value"] == {"email": SUBJECT}
    assert len(json.loads(files["alert_rules.json"])) == 1
    actions = {json.loads(line)["action"] for line in files["audit.jsonl"].splitlines()}
    assert {"scenario.save", "alert_rule.create"} <= actions
    [audited] = svc.accounts.audit_entries(user.id, action="account.export")
    assert audited.details is not None and audited.details["executions"] == 1


async def test_a_user_deletes_their_account_and_the_audit_chain_stays_intact(
    svc: Cellwright, user: Any, client: httpx.AsyncClient, sink: Any
) -> None:
    other = svc.accounts.create_user("bob@example.com")
    bob_scenario = svc.import_scenario(other.id, doc(flow("http://127.0.0.1:9/", "Bob's")))
    created = (await client.post("/api/v1/scenarios", json=flow(sink.plan("/d")))).json()
    await svc.run_now(user.id, created["id"], {"email": SUBJECT})

    wrong = await client.request("DELETE", "/api/v1/account", json={"confirm": "someone@else.org"})
    assert wrong.status_code == 422 and "confirm" in wrong.text
    answer = await client.request("DELETE", "/api/v1/account", json={"confirm": user.email.upper()})

    assert answer.status_code == 200, answer.text
    assert answer.json()["deleted"]["scenario_executions"] == 1
    assert svc.accounts.get_user(user.id) is None
    assert (await client.get("/api/v1/me")).status_code == 401  # the key went too
    assert svc.scenarios.get(other.id, bob_scenario.id).name == "Bob's"
    verdict = svc.accounts.verify_audit_chain()
    assert verdict.intact, verdict
    [entry] = svc.accounts.audit_entries(user.id, action="account.delete")
    assert entry.actor_id == user.id and user.email not in json.dumps(entry.details)


async def test_the_last_administrator_cannot_delete_themselves(
    svc: Cellwright, user: Any, client: httpx.AsyncClient
) -> None:
    svc.accounts.update_user(user.id, is_admin=True)
    answer = await client.request("DELETE", "/api/v1/account", json={"confirm": user.email})
    assert answer.status_code == 409
    assert "last administrator" in answer.json()["message"]
    assert svc.accounts.get_user(user.id) is not None
    second = svc.accounts.create_user("second@example.com", is_admin=True)
    assert (await client.delete(f"/api/v1/users/{second.id}")).status_code == 200
    assert svc.accounts.get_user(second.id) is None


async def test_only_administrators_delete_others_search_and_erase(
    svc: Cellwright, user: Any, client: httpx.AsyncClient
) -> None:
    other = svc.accounts.create_user("bob@example.com")
    assert (await client.delete(f"/api/v1/users/{other.id}")).status_code == 403
    assert (await client.post("/api/v1/privacy/search", json={"value": SUBJECT})).status_code == 403
    assert (await client.post("/api/v1/privacy/erase", json={"value": SUBJECT})).status_code == 403
    assert svc.accounts.get_user(other.id) is not None


async def test_an_admin_finds_and_erases_a_subjects_address_in_every_users_records(
    svc: Cellwright, user: Any, client: httpx.AsyncClient, sink: Any
) -> None:
    svc.accounts.update_user(user.id, is_admin=True)
    other = svc.accounts.create_user("bob@example.com")
    mine = (await client.post("/api/v1/scenarios", json=flow(sink.plan("/e")))).json()
    theirs = svc.import_scenario(other.id, doc(flow(sink.plan("/e2"))))
    first = await svc.run_now(user.id, mine["id"], {"email": SUBJECT})
    second = await svc.run_now(other.id, theirs.id, {"email": SUBJECT.upper()})
    await svc.run_now(user.id, mine["id"], {"email": "someone@else.org"})

    found = await client.post("/api/v1/privacy/search", json={"value": SUBJECT})
    assert found.status_code == 200
    assert found.json()["count"] == 2
    assert {e["id"] for e in found.json()["executions"]} == {first["id"], second["id"]}
    short = await client.post("/api/v1/privacy/search", json={"value": "gr"})
    assert short.status_code == 422

    erased = await client.post("/api/v1/privacy/erase", json={"value": SUBJECT})

    assert erased.status_code == 200, erased.text
    assert erased.json()["executions"] == 2 and erased.json()["cells"] >= 2
    again = await client.post("/api/v1/privacy/search", json={"value": SUBJECT})
    assert again.json()["count"] == 0
    record = svc.execution(None, first["id"])
    assert record["trigger"] == {"email": "[erased]"}
    call = next(c for c in record["cells"] if c["cell_id"] == "call")
    assert call["input"]["body"] == {"to": "[erased]"}
    [entry] = svc.accounts.audit_entries(None, action="privacy.erase")
    assert SUBJECT not in json.dumps(entry.details) and SUBJECT.upper() not in json.dumps(
        entry.details
    )
    assert entry.details is not None and entry.details["executions"] == 2
    assert svc.accounts.verify_audit_chain().intact


async def test_retention_policy_is_shown_and_set_by_an_administrator(
    svc: Cellwright, user: Any, client: httpx.AsyncClient
) -> None:
    shown = (await client.get("/api/v1/retention")).json()
    assert shown == {
        "retention_days": svc.settings.retention_days,
        "retention_failed_days": svc.settings.retention_days,
        "own": False,
        "last_run": None,
    }
    body = {"retention_days": 7, "retention_failed_days": 60}
    assert (await client.put(f"/api/v1/users/{user.id}/retention", json=body)).status_code == 403
    svc.accounts.update_user(user.id, is_admin=True)
    answer = await client.put(f"/api/v1/users/{user.id}/retention", json=body)
    assert answer.status_code == 200, answer.text
    svc.retention_sweep(user.id)
    shown = (await client.get("/api/v1/retention")).json()
    assert (shown["retention_days"], shown["retention_failed_days"], shown["own"]) == (7, 60, True)
    assert shown["last_run"]["deleted"] == 0
