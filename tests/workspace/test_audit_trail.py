"""The audit trail as users meet it: every audited action leaves an entry with the
right actor, source (API, workspace, CLI) and address; the REST API keeps a user to
their own entries, filters them and exports them as CSV and JSON; ``cellwright audit
verify`` finds a row changed behind the store's back; no entry holds a secret."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result
from fastapi import FastAPI
from sqlalchemy import create_engine, text

from engine.service import Cellwright
from storage import audit_origin
from storage.audit_chain import current_origin
from workspace import sessions as s
from workspace.auth import hash_password
from workspace.cli import main
from workspace.guards import AuditOrigins

SCENARIO = {
    "name": "Audited",
    "cells": [
        {"id": "start", "kind": "trigger", "app": "manual", "operation": "run_manually"},
        {
            "id": "a",
            "kind": "action",
            "app": "probe",
            "operation": "count",
            "inputs": {"value": "{{ trigger.n }}"},
        },
    ],
}
CONNECTION_SECRET = "good-Audit-Connection-Key-7731"


async def trail(client: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    response = await client.get("/api/v1/audit", params={"limit": 1000, **params})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_rest_actions_are_audited_with_actor_source_and_address(
    client: httpx.AsyncClient, svc: Cellwright, user: Any, probe: Any
) -> None:
    created = await client.post(
        "/api/v1/connections",
        json={"app": "keyed", "credentials": {"api_key": CONNECTION_SECRET}, "sandbox": True},
    )
    assert created.status_code == 201, created.text
    connection = created.json()["id"]
    patched = await client.patch(
        f"/api/v1/connections/{connection}",
        json={"name": "Renamed", "credentials": {"api_key": CONNECTION_SECRET + "-2"}},
    )
    assert patched.status_code == 200, patched.text
    assert (await client.delete(f"/api/v1/connections/{connection}")).status_code == 204

    scenario = (await client.post("/api/v1/scenarios", json=SCENARIO)).json()["id"]
    assert (await client.put(f"/api/v1/scenarios/{scenario}", json=SCENARIO)).status_code == 200
    assert (await client.post(f"/api/v1/scenarios/{scenario}/publish")).status_code == 200
    assert (await client.post(f"/api/v1/scenarios/{scenario}/enable")).status_code == 200
    assert (await client.post(f"/api/v1/scenarios/{scenario}/disable")).status_code == 200
    assert (await client.get(f"/api/v1/scenarios/{scenario}/export")).status_code == 200
    probe.fail("a", RuntimeError("boom"))
    run = await client.post(
        f"/api/v1/scenarios/{scenario}/run", json={"trigger_data": {"n": 1}, "wait": True}
    )
    assert run.json()["status"] == "failed"
    rerun = await client.post(f"/api/v1/executions/{run.json()['id']}/rerun", json={})
    assert rerun.status_code == 202, rerun.text
    assert (await client.delete(f"/api/v1/scenarios/{scenario}")).status_code == 204

    entries = await trail(client)
    actions = [e["action"] for e in reversed(entries)]  # oldest first
    assert actions == [
        "connection.create",
        "connection.update",
        "connection.delete",
        "scenario.import",
        "scenario.save",
        "scenario.publish",
        "scenario.enable",
        "scenario.disable",
        "scenario.export",
        "execution.rerun",
        "scenario.delete",
    ]
    for entry in entries:
        assert (entry["source"], entry["ip"], entry["actor_id"], entry["user_id"]) == (
            "api",
            "127.0.0.1",
            user.id,
            user.id,
        ), entry
    by_action = {e["action"]: e for e in entries}
    assert by_action["connection.delete"]["object_id"] == connection
    assert by_action["scenario.delete"]["details"] == {"name": "Audited"}
    assert CONNECTION_SECRET not in json.dumps(entries)
    assert svc.accounts.verify_audit_chain().intact


@pytest.fixture
async def web(svc: Cellwright) -> AsyncIterator[httpx.AsyncClient]:
    """The sign-in routes behind the server's ``AuditOrigins``."""
    app = FastAPI()
    s.add_routes(app, svc)
    transport = httpx.ASGITransport(app=AuditOrigins(app), client=("198.51.100.7", 5000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def test_sign_in_failure_success_and_sign_out(
    web: httpx.AsyncClient, svc: Cellwright
) -> None:
    ada = svc.accounts.create_user("ada@example.com", password_hash=hash_password("right-pass-1"))
    typed = "Wrong-Password-Typed-4411"
    r = await web.post("/login", data={"email": "ada@example.com", "password": typed})
    assert r.status_code == 401
    r = await web.post("/login", data={"email": "nobody@example.com", "password": typed})
    assert r.status_code == 401
    r = await web.post("/login", data={"email": "ada@example.com", "password": "right-pass-1"})
    assert r.status_code == 303
    session = s.Sessions(svc.settings.data_dir, svc.accounts).parse(web.cookies[s.COOKIE])[0]
    assert (await web.post("/logout", data={"csrf": session.csrf})).status_code == 303

    entries = svc.accounts.audit_entries(None, action="auth")
    assert [(e.action, e.user_id) for e in reversed(entries)] == [
        ("auth.sign_in_failed", ada.id),
        ("auth.sign_in_failed", None),  # an unknown address: the account is nobody's
        ("auth.sign_in", ada.id),
        ("auth.sign_out", ada.id),
    ]
    failed, unknown = entries[3], entries[2]
    assert failed.details == {"reason": "wrong_password", "email": "ada@example.com"}
    assert unknown.details == {"reason": "wrong_password"}  # the typed address is not kept
    assert failed.actor_id is None and entries[1].actor_id == ada.id
    assert {(e.source, e.ip) for e in entries} == {("workspace", "198.51.100.7")}
    assert typed not in json.dumps([e.to_dict() for e in svc.accounts.audit_entries(None)])


async def test_throttled_sign_ins_are_audited(web: httpx.AsyncClient, svc: Cellwright) -> None:
    svc.accounts.create_user("bob@example.com", password_hash=hash_password("right-pass-1"))
    for _ in range(s.MAX_FAILURES + 1):
        await web.post("/login", data={"email": "bob@example.com", "password": "nope"})
    reasons = [e.details["reason"] for e in svc.accounts.audit_entries(None, action="auth")]
    assert reasons[0] == "throttled" and reasons.count("wrong_password") == s.MAX_FAILURES


def test_account_changes_are_audited_with_the_acting_admin(svc: Cellwright) -> None:
    admin = svc.accounts.create_user("root@example.com", is_admin=True)
    with audit_origin("workspace", ip="192.0.2.1", actor_id=admin.id):
        bob = svc.accounts.create_user("bob@example.com", password_hash=hash_password("x" * 12))
        svc.accounts.update_user(bob.id, name="Robert", is_admin=False)
        s.set_password(svc.accounts, bob.id, "Secret-New-Password-99")
        plaintext, key = svc.accounts.create_api_key(admin.id, "ci")
        svc.accounts.revoke_api_key(admin.id, key.id)
        rule = svc.accounts.add_alert_rule(admin.id, webhook_url="https://hooks.example/x")
        svc.accounts.delete_alert_rule(admin.id, rule.id)
        svc.retention_sweep(admin.id)
    entries = list(reversed(svc.accounts.audit_entries(None)))[1:]  # after root's creation
    assert [(e.action, e.user_id) for e in entries] == [
        ("user.create", bob.id),
        ("user.update", bob.id),
        ("user.password_change", bob.id),
        ("api_key.create", admin.id),
        ("api_key.revoke", admin.id),
        ("alert_rule.create", admin.id),
        ("alert_rule.delete", admin.id),
        ("retention.run", admin.id),
    ]
    assert {(e.actor_id, e.source, e.ip) for e in entries} == {(admin.id, "workspace", "192.0.2.1")}
    assert entries[1].details == {"name": "Robert", "is_admin": False}
    assert entries[-1].details == {
        "older_than_days": 30,
        "failed_older_than_days": 30,
        "users_with_own_policy": 0,
        "deleted": 0,
        "batches": 1,
    }
    text_of_all = json.dumps([e.to_dict() for e in entries])
    for secret in (plaintext, "Secret-New-Password-99", "https://hooks.example/x"):
        assert secret not in text_of_all


async def test_a_user_reads_only_their_own_entries_and_an_admin_reads_all(
    client: httpx.AsyncClient, asgi_app: Any, svc: Cellwright, user: Any
) -> None:
    eve = svc.accounts.create_user("eve@example.com")
    root = svc.accounts.create_user("root@example.com", is_admin=True)
    await client.post("/api/v1/scenarios", json=SCENARIO)
    svc.accounts.create_api_key(eve.id, "eve's")
    eve_key, _ = svc.accounts.create_api_key(eve.id, "eve")
    root_key, _ = svc.accounts.create_api_key(root.id, "root")
    transport = httpx.ASGITransport(app=asgi_app)
    async with (
        httpx.AsyncClient(
            transport=transport, base_url="http://t", headers={"X-API-Key": eve_key}
        ) as as_eve,
        httpx.AsyncClient(
            transport=transport, base_url="http://t", headers={"X-API-Key": root_key}
        ) as as_root,
    ):
        mine = await trail(client)
        assert mine and {e["user_id"] for e in mine} == {user.id}
        hers = await trail(as_eve)
        assert {e["user_id"] for e in hers} == {eve.id}
        # a filter naming someone else's objects or actor finds nothing, never their entries
        assert await trail(as_eve, actor=user.id) == []
        assert await trail(as_eve, object_type="scenario") == []
        everyone = await trail(as_root)
        assert {user.id, eve.id, root.id} <= {e["user_id"] for e in everyone}
        # (the fixtures made ada and her key in the store directly: no entries)
        assert [e["action"] for e in await trail(as_root, actor=user.id)] == ["scenario.import"]
        exported = await as_eve.get("/api/v1/audit/export", params={"format": "json"})
        assert {e["user_id"] for e in exported.json()} == {eve.id}


async def test_filters_and_exports(client: httpx.AsyncClient, user: Any) -> None:
    scenario = (await client.post("/api/v1/scenarios", json=SCENARIO)).json()["id"]
    await client.post(f"/api/v1/scenarios/{scenario}/publish")
    other = (await client.post("/api/v1/scenarios", json=SCENARIO)).json()["id"]
    assert [e["action"] for e in await trail(client, action="scenario")] == [
        "scenario.import",
        "scenario.publish",
        "scenario.import",
    ]
    assert [e["action"] for e in await trail(client, object_id=scenario)] == [
        "scenario.publish",
        "scenario.import",
    ]
    everything = await trail(client)
    middle = everything[1]["at"]
    assert [e["object_id"] for e in await trail(client, since=middle)] == [other, scenario]
    assert [e["object_id"] for e in await trail(client, until=middle)] == [
        e["object_id"] for e in everything[2:]
    ]
    bad = await client.get("/api/v1/audit", params={"since": "1714560000"})
    assert bad.status_code == 422 and "since" in bad.text

    as_json = await client.get("/api/v1/audit/export", params={"format": "json"})
    assert as_json.status_code == 200
    assert as_json.headers["content-type"].startswith("application/json")
    assert "attachment" in as_json.headers["content-disposition"]

    def same_time(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [e | {"at": datetime.fromisoformat(e["at"])} for e in entries]

    assert same_time(as_json.json()) == same_time(everything)
    as_csv = await client.get("/api/v1/audit/export", params={"action": "scenario"})
    assert as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [r["action"] for r in rows] == [
        "scenario.import",
        "scenario.publish",
        "scenario.import",
    ]
    assert rows[1]["object_id"] == scenario and rows[1]["source"] == "api"
    assert json.loads(rows[0]["details"])["name"] == "Audited"
    assert rows[0]["hash"] == everything[0]["hash"]


async def test_a_csv_cell_that_looks_like_a_formula_is_defused(
    client: httpx.AsyncClient,
) -> None:
    await client.post("/api/v1/scenarios", json={**SCENARIO, "name": "=HYPERLINK(1)"})
    exported = await client.get("/api/v1/audit/export", params={"action": "scenario"})
    [row] = list(csv.DictReader(io.StringIO(exported.text)))
    assert row["details"].startswith("{")  # JSON: not a formula
    from workspace.audit_export import to_csv

    class Entry:
        def to_dict(self) -> dict[str, Any]:
            return {"seq": 1, "action": "=cmd|' /C calc'!A0", "object_id": "+1", "ip": "@x"}

    [parsed] = list(csv.DictReader(io.StringIO(to_csv([Entry()]))))
    assert (parsed["action"], parsed["object_id"], parsed["ip"]) == (
        "'=cmd|' /C calc'!A0",
        "'+1",
        "'@x",
    )


async def test_the_workspace_page_acts_as_its_signed_in_user(svc: Cellwright) -> None:
    """``BrowserSession`` (the Panel page and its WebSocket) runs within an origin that
    names the signed-in user, behind ``AuditOrigins``'s source and address."""
    from workspace.app import BrowserSession

    ada = svc.accounts.create_user("ada@example.com", password_hash=hash_password("p" * 12))
    sessions = s.Sessions(svc.settings.data_dir, svc.accounts)
    seen: list[Any] = []

    async def panel(scope: Any, receive: Any, send: Any) -> None:
        seen.append(current_origin())
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    app = AuditOrigins(BrowserSession(panel, svc, sessions))
    transport = httpx.ASGITransport(app=app, client=("192.0.2.44", 1))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        client.cookies.set(s.COOKIE, sessions.issue(ada))
        await client.get("/")
        client.cookies.clear()
        await client.get("/")
    assert [(o.source, o.ip, o.actor_id) for o in seen] == [
        ("workspace", "192.0.2.44", ada.id),
        ("workspace", "192.0.2.44", None),
    ]


# -- the CLI ------------------------------------------------------------------------------------


@pytest.fixture
def cli(tmp_path: Path) -> Any:
    runner = CliRunner()
    env = {"CELLWRIGHT_DATA_DIR": str(tmp_path / "data")}

    def invoke(*args: str) -> Result:
        return runner.invoke(main, list(args), env=env, catch_exceptions=False)

    return invoke


def test_cli_actions_verify_and_export(cli: Any, tmp_path: Path) -> None:
    flow = tmp_path / "flow.yaml"
    flow.write_text(json.dumps(SCENARIO | {"cells": SCENARIO["cells"][:1]}), encoding="utf-8")
    scenario_id = cli("import", str(flow)).stdout.strip()
    assert cli("export", scenario_id).exit_code == 0
    exported = cli("audit", "export", "--format", "json", "--action", "scenario")
    entries = json.loads(exported.stdout)
    assert [(e["action"], e["source"], e["ip"]) for e in entries] == [
        ("scenario.export", "cli", None),
        ("scenario.import", "cli", None),
    ]
    out = tmp_path / "audit.csv"
    assert cli("audit", "export", "--format", "csv", "-o", str(out)).exit_code == 0
    assert out.read_text().splitlines()[0].startswith("seq,at,action")

    ok = cli("audit", "verify")
    assert ok.exit_code == 0 and "intact: 3 entries" in ok.stdout  # + the local admin
    assert entries[0]["hash"] in ok.stdout  # the head hash, to note down

    engine = create_engine(f"sqlite:///{tmp_path / 'data' / 'cellwright.db'}")
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET source = 'api' WHERE seq = 2"))
    engine.dispose()
    broken = cli("audit", "verify")
    assert broken.exit_code == 1
    assert "BROKEN at entry #2" in broken.stderr and "was changed" in broken.stderr
