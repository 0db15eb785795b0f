"""The HTTP server: webhook ingress through the ASGI app, the demo, and the WebSocket guard."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from websockets.exceptions import InvalidStatus

from cells import document as documents
from engine.service import Cellwright
from workspace.demo import DEMO_EMAIL, ensure_demo
from workspace.server import WEBSOCKETS, create_app

ACTION = (
    "  - {id: a, kind: action, app: probe, operation: count, "
    "inputs: {value: '{{ trigger.body.n }}'}}\n"
)


async def hooked(
    svc: Cellwright, user: Any, inputs: str = "{}", cells: str = ACTION, *, enable: bool = True
) -> Any:
    text = (
        "name: Hooked\ncells:\n"
        "  - {id: hook, kind: trigger, app: webhook, "
        f"operation: catch_hook, inputs: {inputs}}}\n"
        f"{cells}"
    )
    scenario = svc.import_scenario(user.id, documents.loads(text))
    if enable:
        scenario = await svc.enable(user.id, scenario.id)
    return scenario


def stored(svc: Cellwright, user: Any) -> int:
    return svc.store.count_executions(user.id)


async def test_an_accepted_event_is_stored_before_the_answer(
    svc: Cellwright, user: Any, anon: httpx.AsyncClient, probe: Any, helpers: Any
) -> None:
    probe.sleeps["a"] = 0.3
    scenario = await hooked(svc, user)
    response = await anon.post(
        f"/hooks/{scenario.webhook_token}?src=test", json={"n": 7}, headers={"X-Extra": "yes"}
    )
    assert response.status_code == 202
    body = response.json()
    assert body["accepted"] == 1 and body["execution_ids"] == [body["execution_id"]]
    execution = svc.store.get_execution(user.id, body["execution_id"])
    assert execution is not None and execution.status in (
        "queued",
        "running",
    )  # stored, not yet run
    assert execution.trigger["body"] == {"n": 7} and execution.trigger["query"] == {"src": "test"}
    assert (
        execution.trigger["headers"]["x-extra"] == "yes" and execution.trigger["method"] == "POST"
    )
    result = await helpers.finished(svc, execution.id)
    assert result["status"] == "completed" and result["cells"][1]["output"]["value"] == 7


async def test_an_unknown_token_is_a_404(
    svc: Cellwright, user: Any, anon: httpx.AsyncClient
) -> None:
    response = await anon.post("/hooks/no-such-token", json={})
    assert response.status_code == 404
    assert response.json() == {"error": "not_found", "message": "No scenario listens at this URL."}
    assert stored(svc, user) == 0


async def test_a_disabled_scenario_is_a_409_with_a_message(
    svc: Cellwright, user: Any, anon: httpx.AsyncClient
) -> None:
    draft = await hooked(svc, user, enable=False)
    response = await anon.post(f"/hooks/{draft.webhook_token}", json={"n": 1})
    assert response.status_code == 409
    assert response.json() == {
        "error": "scenario_inactive",
        "message": "Scenario 'Hooked' is draft; enable it to accept events.",
    }
    await svc.enable(user.id, draft.id)
    await svc.disable(user.id, draft.id)
    paused = await anon.post(f"/hooks/{draft.webhook_token}", json={"n": 1})
    assert paused.status_code == 409 and "is paused" in paused.json()["message"]
    assert stored(svc, user) == 0


async def test_a_body_over_the_limit_is_a_413(
    svc: Cellwright, user: Any, anon: httpx.AsyncClient
) -> None:
    svc.settings.webhook_max_bytes = 1000
    scenario = await hooked(svc, user)
    declared = await anon.post(f"/hooks/{scenario.webhook_token}", content=b"x" * 1001)
    assert declared.status_code == 413 and declared.json()["error"] == "payload_too_large"

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the stream is counted
        for _ in range(5):
            yield b"y" * 300

    streamed = await anon.post(f"/hooks/{scenario.webhook_token}", content=chunks())
    assert streamed.status_code == 413
    fits = await anon.post(
        f"/hooks/{scenario.webhook_token}",
        content=json.dumps({"n": "z" * 900}),
        headers={"content-type": "application/json"},
    )
    assert fits.status_code == 202
    assert stored(svc, user) == 1


async def test_connection_urls_are_routed_with_the_same_limits(
    svc: Cellwright, user: Any, anon: httpx.AsyncClient
) -> None:
    """``/hooks/apps/{app}/{token}``: a connection's URL (Slack), beside ``/hooks/{token}``."""
    from connectors.slack import sandbox as sb

    connection = await svc.create_connection(user.id, "slack", credentials={}, sandbox=True)
    url = svc.connection_events_url(user.id, connection.id)
    assert url is not None
    path = url.removeprefix(svc.settings.resolved_public_url())
    check = await sb.deliver(path, sb.url_verification("c-1"), client=anon)
    assert check.status_code == 200 and check.json() == {"challenge": "c-1"}
    svc.settings.webhook_max_bytes = 1000
    too_big = await anon.post(path, content=b"x" * 1001)
    assert too_big.status_code == 413 and too_big.json()["error"] == "payload_too_large"
    get = await anon.get(path)
    assert get.status_code == 405 and get.headers["allow"] == "POST"
    token = path.rsplit("/", 1)[1]
    for wrong in (
        "/hooks/apps/slack",
        f"/hooks/apps//{token}",
        f"/hooks/apps/slack/{token}/x",
        f"/hooks/other/slack/{token}",
        "/hooks/",
    ):
        assert (await anon.post(wrong, json={})).status_code == 404, wrong
    assert stored(svc, user) == 0


def signed(body: bytes, secret: str = "s3cr3t-key") -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def test_hmac_verified_hooks_store_nothing_on_a_bad_signature(
    svc: Cellwright, user: Any, anon: httpx.AsyncClient, helpers: Any
) -> None:
    scenario = await hooked(
        svc, user, "{verification: hmac_sha256, secret: s3cr3t-key, header: X-Signature}"
    )
    url = f"/hooks/{scenario.webhook_token}"
    body = json.dumps({"n": 5}).encode()
    bad = await anon.post(
        url,
        content=body,
        headers={"content-type": "application/json", "x-signature": signed(body, "guess")},
    )
    assert bad.status_code == 401
    assert bad.json() == {
        "error": "webhook_unverified",
        "message": "The X-Signature header does not match.",
    }
    missing = await anon.post(url, content=body, headers={"content-type": "application/json"})
    assert missing.status_code == 401 and "Missing X-Signature" in missing.json()["message"]
    tampered = await anon.post(
        url,
        content=b'{"n": 6}',
        headers={"content-type": "application/json", "x-signature": signed(body)},
    )
    assert tampered.status_code == 401
    assert stored(svc, user) == 0
    good = await anon.post(
        url, content=body, headers={"content-type": "application/json", "x-signature": signed(body)}
    )
    assert good.status_code == 202
    execution = svc.store.get_execution(user.id, good.json()["execution_id"])
    assert "x-signature" not in execution.trigger["headers"]
    assert (await helpers.finished(svc, execution.id))["status"] == "completed"


async def test_shared_secret_hooks(svc: Cellwright, user: Any, anon: httpx.AsyncClient) -> None:
    scenario = await hooked(svc, user, "{verification: shared_secret, secret: open-sesame}")
    url = f"/hooks/{scenario.webhook_token}"
    assert (
        await anon.post(url, json={"n": 1}, headers={"X-Cellwright-Signature": "nope"})
    ).status_code == 401
    assert (
        await anon.post(url, json={"n": 1}, headers={"X-Cellwright-Signature": "open-sesame"})
    ).status_code == 202


async def test_sync_hooks_answer_with_the_respond_cell(
    svc: Cellwright, user: Any, anon: httpx.AsyncClient
) -> None:
    cells = (
        "  - {id: total, kind: transformer, app: formatter, operation: set_fields, "
        "inputs: {fields: {total: '{{ trigger.body.amount * 1.2 }}'}}}\n"
        "  - {id: reply, kind: transformer, app: webhook, operation: respond, "
        "inputs: {status: 201, body: {total: '{{ steps.total.total }}'}, "
        "headers: {X-Order: done}}}\n"
        "  - {id: tail, kind: action, app: probe, operation: count}\n"
    )
    scenario = await hooked(svc, user, "{response: sync}", cells)
    response = await anon.post(f"/hooks/{scenario.webhook_token}", json={"amount": 42})
    assert response.status_code == 201
    assert response.json() == {"total": 50.4}
    assert response.headers["x-order"] == "done"
    execution = svc.store.get_execution(user.id, response.headers["x-cellwright-execution"])
    assert execution.status == "completed"  # the answer came after the last cell


async def test_a_repeated_sync_delivery_gets_the_first_runs_answer(
    svc: Cellwright, user: Any, anon: httpx.AsyncClient, probe: Any
) -> None:
    cells = (
        "  - {id: work, kind: action, app: probe, operation: count}\n"
        "  - {id: reply, kind: transformer, app: webhook, operation: respond, "
        "inputs: {status: 201, body: {calls: '{{ steps.work.calls }}'}}}\n"
    )
    scenario = await hooked(svc, user, "{response: sync}", cells)
    url = f"/hooks/{scenario.webhook_token}"
    first = await anon.post(url, json={"n": 1}, headers={"Idempotency-Key": "order-7"})
    again = await anon.post(url, json={"n": 1}, headers={"Idempotency-Key": "order-7"})
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json() == {"calls": 1}
    assert first.headers["x-cellwright-execution"] == again.headers["x-cellwright-execution"]
    assert probe.calls["work"] == 1  # the repeat ran nothing


async def test_sync_hooks_without_a_respond_cell_answer_with_the_last_output(
    svc: Cellwright, user: Any, anon: httpx.AsyncClient
) -> None:
    scenario = await hooked(svc, user, "{response: sync}")
    response = await anon.post(f"/hooks/{scenario.webhook_token}", json={"n": 3})
    assert response.status_code == 200
    assert response.json() == {"value": 3, "calls": 1}


async def test_sync_hooks_report_a_failed_run(
    svc: Cellwright, user: Any, anon: httpx.AsyncClient
) -> None:
    cells = "  - {id: broken, kind: action, app: probe, operation: bad_output}\n"
    scenario = await hooked(svc, user, "{response: sync}", cells)
    response = await anon.post(f"/hooks/{scenario.webhook_token}", json={})
    assert response.status_code == 500
    body = response.json()
    assert body["error"] == "execution_failed" and body["detail"]["cell_id"] == "broken"
    assert "Traceback" not in response.text


async def test_the_idempotency_key_header_dedupes(
    svc: Cellwright, user: Any, anon: httpx.AsyncClient, probe: Any, helpers: Any
) -> None:
    scenario = await hooked(svc, user)
    url = f"/hooks/{scenario.webhook_token}"
    first = await anon.post(url, json={"n": 1}, headers={"Idempotency-Key": "delivery-1"})
    again = await anon.post(url, json={"n": 1}, headers={"Idempotency-Key": "delivery-1"})
    other = await anon.post(url, json={"n": 1}, headers={"Idempotency-Key": "delivery-2"})
    assert first.status_code == again.status_code == other.status_code == 202
    assert (
        first.json()["execution_id"] == again.json()["execution_id"] != other.json()["execution_id"]
    )
    assert stored(svc, user) == 2
    for response in (first, other):
        await helpers.finished(svc, response.json()["execution_id"])
    assert probe.calls["a"] == 2


async def test_get_and_put_when_configured(
    svc: Cellwright, user: Any, anon: httpx.AsyncClient, helpers: Any
) -> None:
    cells = (
        "  - {id: a, kind: action, app: probe, operation: count, "
        "inputs: {value: '{{ trigger.query.n }}'}}\n"
    )
    scenario = await hooked(svc, user, "{methods: [GET, PUT]}", cells)
    url = f"/hooks/{scenario.webhook_token}"
    got = await anon.get(url, params={"n": "4"})
    assert got.status_code == 202
    result = await helpers.finished(svc, got.json()["execution_id"])
    assert result["trigger"]["method"] == "GET" and result["cells"][1]["output"]["value"] == "4"
    assert (await anon.put(url, params={"n": "5"}, content=b"plain text")).status_code == 202
    refused = await anon.post(url, json={})
    assert refused.status_code == 405
    assert refused.headers["allow"] == "GET, PUT"
    assert refused.json()["error"] == "method_not_allowed"
    default = await hooked(svc, user)
    assert (await anon.get(f"/hooks/{default.webhook_token}")).status_code == 405
    assert (await anon.options(f"/hooks/{default.webhook_token}")).status_code == 405
    assert stored(svc, user) == 2


async def test_a_scenario_without_a_webhook_trigger_is_a_404(
    svc: Cellwright, user: Any, anon: httpx.AsyncClient
) -> None:
    manual = svc.import_scenario(
        user.id,
        documents.loads(
            "name: M\ncells:\n  - {id: s, kind: trigger, app: manual, operation: run_manually}\n"
        ),
    )
    response = await anon.post(f"/hooks/{manual.webhook_token}", json={})
    assert (
        response.status_code == 404
        and "does not start from a webhook" in response.json()["message"]
    )


async def test_a_body_that_is_not_json_is_a_400(
    svc: Cellwright, user: Any, anon: httpx.AsyncClient
) -> None:
    scenario = await hooked(svc, user)
    response = await anon.post(
        f"/hooks/{scenario.webhook_token}",
        content=b"{not json",
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400 and response.json()["error"] == "invalid_input"
    assert stored(svc, user) == 0


async def test_subscribed_hooks_verify_with_their_state_answer_challenges_and_split_events(
    svc: Cellwright, user: Any, anon: httpx.AsyncClient
) -> None:
    text = (
        "name: Sub\ncells:\n  - {id: hook, kind: trigger, app: probe, operation: hook}\n"
        + ACTION.replace("trigger.body.n", "trigger.n")
    )
    scenario = svc.import_scenario(user.id, documents.loads(text))
    await svc.enable(user.id, scenario.id)
    url = f"/hooks/{scenario.webhook_token}"
    assert (
        await anon.post(url, json={"n": 1}, headers={"x-probe-secret": "wrong"})
    ).status_code == 401
    challenge = await anon.post(
        url, json={"challenge": "abc"}, headers={"x-probe-secret": "probe-signing-secret"}
    )
    assert (
        challenge.status_code == 200
        and challenge.json() == {"challenge": "abc"}
        and challenge.headers["x-probe"] == "1"
    )
    assert stored(svc, user) == 0
    many = await anon.post(
        url,
        json={"events": [{"n": 1}, {"n": 2}]},
        headers={"x-probe-secret": "probe-signing-secret", "Idempotency-Key": "k"},
    )
    assert many.status_code == 202 and many.json()["accepted"] == 2
    keys = sorted(
        svc.store.get_execution(user.id, i).idempotency_key for i in many.json()["execution_ids"]
    )
    assert keys == ["k:0", "k:1"]


# -- other routes ----------------------------------------------------------------------


async def test_the_echo_endpoint_and_health(anon: httpx.AsyncClient) -> None:
    echoed = await anon.post("/demo/echo?x=1", json={"a": [1, 2]})
    assert echoed.json() == {
        "method": "POST",
        "query": {"x": "1"},
        "received": {"a": [1, 2]},
        "echo": True,
    }
    text = await anon.put("/demo/echo", content=b"plain")
    assert text.json()["received"] == "plain"
    assert (await anon.get("/demo/echo")).json()["received"] is None
    assert (await anon.get("/healthz")).json() == {"status": "ok"}


async def test_sandboxes_are_mounted(anon: httpx.AsyncClient) -> None:
    response = await anon.get("/sandbox/keyed/me", headers={"Authorization": "Bearer good-1"})
    assert response.json() == {"user": "sandbox-user"}


async def test_unexpected_errors_never_leak_a_traceback(
    asgi_app: Any, anon: httpx.AsyncClient
) -> None:
    async def boom() -> None:
        raise RuntimeError("secret internals: /etc/passwd")

    api = asgi_app
    while not hasattr(api, "add_api_route"):  # the FastAPI app inside the ASGI wrappers
        api = api.app
    api.add_api_route("/boom", boom)
    response = await anon.get("/boom")
    assert response.status_code == 500
    assert response.json() == {
        "error": "internal_error",
        "message": "Something went wrong on the server; the log has the details.",
    }
    assert "secret internals" not in response.text and "Traceback" not in response.text


async def test_the_lifespan_starts_and_stops_the_service(
    settings: Any, registry: Any, helpers: Any
) -> None:
    svc = Cellwright(settings, apps=registry)
    app = create_app(svc)
    with helpers.ThreadedServer(app, lifespan="on") as server:
        assert svc.started
        assert (await asyncio.to_thread(httpx.get, server.url + "/healthz")).status_code == 200
    assert not svc.started
    svc.close()


# -- demo data -----------------------------------------------------------------------


async def test_demo_data_runs_against_the_servers_own_echo_endpoint(
    settings: Any, registry: Any, helpers: Any
) -> None:
    svc = Cellwright(settings, apps=registry)
    try:
        with helpers.ThreadedServer(create_app(svc, start=False)) as server:
            svc.settings.public_url = server.url
            info = ensure_demo(svc)
            assert info is not None and DEMO_EMAIL in info and "Demo API key" in info
            assert ensure_demo(svc) is None  # only on an empty store
            demo = svc.store.get_user_by_email(DEMO_EMAIL)
            scenarios = svc.store.list_scenarios(demo.id)
            assert {
                "Demo: hourly heartbeat",
                "Demo: lead intake",
                "Demo: route orders by size",
            } <= {s.name for s in scenarios}
            assert {s.status for s in scenarios} == {"active"}
            queued = svc.store.list_executions(demo.id)
            assert len(queued) >= 4 and {e.status for e in queued} == {"queued"}
            await svc.start(scheduler=False)
            results = {e.id: await helpers.finished(svc, e.id, timeout=10) for e in queued}
            assert {r["status"] for r in results.values()} == {"completed"}, [
                r["error"] for r in results.values()
            ]
            cells = {c["cell_id"]: c for r in results.values() for c in r["cells"]}
            assert cells["notify"]["output"]["body"] == {
                "method": "POST",
                "query": {},
                "received": {"total": 50.4, "name_upper": "ALICE"},
                "echo": True,
            }
            assert cells["answer_big"]["output"]["body"]["echo"] is True
            assert cells["answer_small"]["output"]["body"] == {"total": 24.0, "name_upper": "BOB"}
            assert cells["forward"]["output"]["body"]["received"] == {
                "name": "Ada Lovelace",
                "email": "ada@example.com",
                "region": "EMEA",
            }
    finally:
        await svc.stop()
        svc.close()


# -- the WebSocket origin guard -------------------------------------------------------


@pytest.fixture(scope="module")
def workspace_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ws")


@pytest.fixture(scope="module")
def workspace_server(workspace_data: Path) -> Iterator[str]:
    from connectors.registry import APPS, Registry
    from engine.settings import Settings
    from tests.conftest import ThreadedServer, make_probe

    svc = Cellwright(
        Settings(_env_file=None, data_dir=workspace_data, analytics=False, demo_data=False),
        apps=Registry([*APPS, *make_probe().apps]),
    )  # type: ignore[call-arg]
    try:
        with ThreadedServer(create_app(svc, workspace=True, start=False), ws=WEBSOCKETS) as server:
            yield server.url.removeprefix("http://")
    finally:
        svc.close()


def bokeh_token() -> str:
    from bokeh.util.token import generate_jwt_token, generate_session_id

    return generate_jwt_token(generate_session_id())


@pytest.mark.slow  # importing Panel and mounting the workspace takes a few seconds
async def test_a_cross_origin_websocket_is_refused(
    workspace_server: str, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(InvalidStatus) as info:
        async with websockets.connect(
            f"ws://{workspace_server}/ws",
            origin="http://evil.example",
            subprotocols=["bokeh", bokeh_token()],
            open_timeout=10,
        ):  # type: ignore[list-item]
            pass
    assert info.value.response.status_code == 403
    assert "refused a WebSocket from origin http://evil.example" in caplog.text


@pytest.mark.slow
async def test_a_same_origin_websocket_reaches_the_workspace(
    workspace_server: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with websockets.connect(
        f"ws://{workspace_server}/ws",
        origin=f"http://{workspace_server}",
        subprotocols=["bokeh", bokeh_token()],
        open_timeout=10,
    ) as ws:  # type: ignore[list-item]
        # the handshake passed the guard and Bokeh accepted it (what happens next needs a
        # session opened by the page's HTTP request, which a browser makes first)
        assert ws.response.status_code == 101
        assert ws.subprotocol == "bokeh"
    assert "refused a WebSocket" not in caplog.text


@pytest.mark.slow
async def test_the_session_cookie_stays_out_of_the_pages_session_token(
    workspace_server: str, workspace_data: Path
) -> None:
    """Bokeh writes a session token into the page, readable by any script: the HttpOnly
    session cookie (and the Cookie header) must not be in it."""
    from bokeh.util.token import get_token_payload

    email, password = (workspace_data / "admin-password.txt").read_text().split()
    base = f"http://{workspace_server}"
    async with httpx.AsyncClient(base_url=base, timeout=60) as browser:
        signed = await browser.post(
            "/login",
            data={"email": email, "password": password, "next": "/"},
            headers={"origin": base},
        )
        assert signed.status_code == 303
        cookie = browser.cookies["cw_session"]
        page = await browser.get("/")
    assert page.status_code == 200
    token = re.search(r'"token":"([^"]+)"', page.text)
    assert token is not None
    payload = get_token_payload(token.group(1))
    assert (
        payload["cookies"] == {}
        and "Cookie" not in payload["headers"]
        and "cookie" not in json.dumps(payload["headers"]).lower()
    )
    assert cookie not in json.dumps(payload)
    # every script of the page carries this response's nonce; the policy allows no other
    policy = page.headers["content-security-policy"]
    nonce = re.search(r"'nonce-([^']+)'", policy)
    assert (
        nonce is not None and "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]
    )
    scripts = re.findall(r"<script\b[^>]*>", page.text)
    assert scripts and all(f'nonce="{nonce.group(1)}"' in tag for tag in scripts)
    assert (
        page.headers["x-frame-options"],
        page.headers["x-content-type-options"],
        page.headers["referrer-policy"],
    ) == ("DENY", "nosniff", "same-origin")
    async with httpx.AsyncClient(base_url=base, timeout=60) as other:
        again = await other.get("/login")
    assert again.headers["content-security-policy"] != policy  # a fresh nonce per page


async def test_vendor_delivery_ids_dedupe_and_instant_methods_are_enforced(
    svc: Cellwright, user: Any, anon: httpx.AsyncClient
) -> None:
    text = "name: Sub\ncells:\n  - {id: hook, kind: trigger, app: probe, operation: hook}\n"
    scenario = svc.import_scenario(user.id, documents.loads(text))
    await svc.enable(user.id, scenario.id)
    url = f"/hooks/{scenario.webhook_token}"
    headers = {"x-probe-secret": "probe-signing-secret"}
    first = await anon.post(url, json={"event_id": "evt_1", "n": 1}, headers=headers)
    retried = await anon.post(
        url, json={"event_id": "evt_1", "n": 1}, headers=headers
    )  # the vendor's retry
    assert first.json()["execution_id"] == retried.json()["execution_id"]
    assert (
        svc.store.get_execution(user.id, first.json()["execution_id"]).idempotency_key
        == "event:evt_1"
    )
    refused = await anon.get(url, headers=headers)
    assert refused.status_code == 405 and refused.headers["allow"] == "POST"
    assert stored(svc, user) == 1


async def test_a_hook_verified_with_its_connections_secret(
    svc: Cellwright, user: Any, anon: httpx.AsyncClient, helpers: Any
) -> None:
    connection = await svc.create_connection(
        user.id, "keyed", credentials={"api_key": "good-signing-key"}, sandbox=True
    )
    text = (
        "name: Signed\ncells:\n"
        "  - {id: hook, kind: trigger, app: keyed, "
        f"operation: signed, connection: {connection.id}}}\n"
        + ACTION.replace("trigger.body.n", "trigger.n")
    )
    scenario = svc.import_scenario(user.id, documents.loads(text))
    await svc.enable(user.id, scenario.id)
    body = json.dumps({"n": 9}).encode()
    url = f"/hooks/{scenario.webhook_token}"
    bad = await anon.post(
        url,
        content=body,
        headers={"x-keyed-signature": hmac.new(b"other", body, hashlib.sha256).hexdigest()},
    )
    assert bad.status_code == 401 and stored(svc, user) == 0
    good = await anon.post(
        url,
        content=body,
        headers={
            "x-keyed-signature": hmac.new(b"good-signing-key", body, hashlib.sha256).hexdigest()
        },
    )
    assert good.status_code == 202
    assert (await helpers.finished(svc, good.json()["execution_id"]))["cells"][1]["output"][
        "value"
    ] == 9


async def test_disabling_goes_on_when_the_vendor_refuses_to_unsubscribe(
    svc: Cellwright, user: Any, probe: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from connectors.sdk import UpstreamError

    scenario = svc.import_scenario(
        user.id,
        documents.loads(
            "name: Sub\ncells:\n  - {id: hook, kind: trigger, app: probe, operation: hook}\n"
        ),
    )
    await svc.enable(user.id, scenario.id)
    probe.fail("unsubscribe", UpstreamError("vendor down", status=503))
    paused = await svc.disable(user.id, scenario.id)
    assert paused.status == "paused" and svc.store.webhook_subscriptions(scenario.id) == []
    assert "could not remove the probe webhook" in caplog.text


async def test_the_issue_flow_webhook_formatter_router_http(
    svc: Cellwright, user: Any, anon: httpx.AsyncClient, sink: Any, helpers: Any
) -> None:
    cells = (
        "  - {id: compute, kind: transformer, app: formatter, operation: set_fields, "
        "inputs: {fields: {total: '{{ trigger.body.amount * 1.2 }}', "
        "name_upper: '{{ trigger.body.name | upper }}'}}}\n"
        "  - id: route\n    kind: condition\n    branches:\n"
        "      - name: big\n"
        "        rules: {all: [{left: '{{ steps.compute.total }}', op: gt, right: 50}]}\n"
        "        cells:\n"
        "          - {id: send, kind: action, app: http, "
        f"operation: request, inputs: {{method: POST, url: '{sink.url}/sink', "
        "body_type: json, body: {total: '{{ steps.compute.total }}', "
        "name_upper: '{{ steps.compute.name_upper }}'}}}\n"
        "          - {id: answer, kind: transformer, app: webhook, "
        "operation: respond, inputs: {body: '{{ steps.send.body }}'}}\n"
        "      - name: small\n        fallback: true\n        cells:\n"
        "          - {id: answer_small, kind: transformer, app: webhook, "
        "operation: respond, inputs: {body: '{{ steps.compute }}'}}\n"
    )
    scenario = await hooked(svc, user, "{response: sync}", cells)
    url = f"/hooks/{scenario.webhook_token}"
    big = await anon.post(url, json={"id": 1, "amount": 42, "name": "alice"})
    assert big.status_code == 200
    assert big.json() == {
        "ok": True,
        "received": {"total": 50.4, "name_upper": "ALICE"},
    }  # the sink's answer
    small = await anon.post(url, json={"id": 2, "amount": 20, "name": "bob"})
    assert small.json() == {"total": 24.0, "name_upper": "BOB"}
    assert len(sink.hits("/sink")) == 1
    execution = svc.execution(user.id, big.headers["x-cellwright-execution"])
    assert [c["cell_id"] for c in execution["cells"]] == [
        "hook",
        "compute",
        "route",
        "send",
        "answer",
    ]


async def test_deleting_a_scenario_deletes_its_history(
    svc: Cellwright, user: Any, client: httpx.AsyncClient, anon: httpx.AsyncClient, helpers: Any
) -> None:
    scenario = await hooked(svc, user)
    accepted = await anon.post(f"/hooks/{scenario.webhook_token}", json={"n": 1})
    await helpers.finished(svc, accepted.json()["execution_id"])
    assert (await client.delete(f"/api/v1/scenarios/{scenario.id}")).status_code == 204
    assert stored(svc, user) == 0
    assert (await anon.post(f"/hooks/{scenario.webhook_token}", json={"n": 1})).status_code == 404


# -- request bodies: limits, and the key before the body --------------------------------------


class Counted:
    """A streamed request body (no Content-Length) that counts the chunks the server pulled."""

    def __init__(self, chunks: int, size: int) -> None:
        self.chunks, self.size, self.pulled = chunks, size, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for _ in range(self.chunks):
            self.pulled += 1
            yield b"x" * self.size


async def test_an_api_body_without_a_valid_key_is_refused_before_it_is_read(
    anon: httpx.AsyncClient,
) -> None:
    for headers in ({}, {"X-API-Key": "not-a-key"}, {"Authorization": "Bearer not-a-key"}):
        body = Counted(100, 1000)
        response = await anon.post(
            "/api/v1/scenarios",
            content=body,
            headers={"content-type": "application/json", **headers},
        )
        assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
        assert response.json() == {
            "error": "unauthorized",
            "message": "Send a valid API key: Authorization: Bearer <key>.",
        }
        assert body.pulled == 0


async def test_bodies_over_the_rest_limit_are_a_413_read_no_further(
    svc: Cellwright, user: Any, client: httpx.AsyncClient, anon: httpx.AsyncClient
) -> None:
    svc.settings.request_max_bytes = 1000
    declared = await client.post(
        "/api/v1/scenarios", content=b"x" * 1001, headers={"content-type": "application/json"}
    )
    assert declared.status_code == 413
    assert declared.json() == {
        "error": "payload_too_large",
        "message": (
            "The request body is larger than this server accepts "
            "(1000 bytes, CELLWRIGHT_REQUEST_MAX_BYTES); send less data."
        ),
    }
    for http, path in ((client, "/api/v1/scenarios"), (anon, "/demo/echo")):
        body = Counted(100, 300)
        streamed = await http.post(path, content=body, headers={"content-type": "application/json"})
        assert streamed.status_code == 413 and streamed.json()["error"] == "payload_too_large"
        assert body.pulled == 4  # stopped at the chunk that passed the limit
    assert (await anon.post("/demo/echo", content=b"y" * 1001)).status_code == 413
    fits = await client.post(
        "/api/v1/scenarios",
        json={
            "name": "n" * 100,
            "cells": [{"id": "t", "kind": "trigger", "app": "manual", "operation": "run_manually"}],
        },
    )
    assert fits.status_code == 201, fits.text
    assert [s.name for s in svc.store.list_scenarios(user.id)] == [
        "n" * 100
    ]  # only the one that fit


async def test_an_unknown_webhook_url_is_answered_before_its_body_is_read(
    anon: httpx.AsyncClient,
) -> None:
    for path in ("/hooks/no-such-token", "/hooks/apps/slack/no-such-token"):
        body = Counted(100, 1000)
        response = await anon.post(path, content=body)
        assert response.status_code == 404 and body.pulled == 0


# -- webhook bodies: standard JSON by Content-Type ----------------------------------------------


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (b'{"a": "\\ud800"}', "it contains \\ud800, half of a UTF-16 surrogate pair"),
        (b'{"n": NaN}', "NaN is not a JSON number; send null or a string instead."),
        (b'{"n": Infinity}', "Infinity is not a JSON number"),
        (b'{"n": 1e400}', "the number 1e400 is beyond what a 64-bit float holds"),
        (b"[" * 1000 + b"]" * 1000, "nested more than 100 levels deep"),
    ],
    ids=["lone-surrogate", "nan", "infinity", "1e400", "deep"],
)
async def test_a_webhook_body_that_is_not_standard_json_is_a_400_and_stores_nothing(
    svc: Cellwright,
    user: Any,
    anon: httpx.AsyncClient,
    api_key: str,
    body: bytes,
    named: str,
) -> None:
    scenario = await hooked(svc, user)
    response = await anon.post(
        f"/hooks/{scenario.webhook_token}",
        content=body,
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_input" and named in response.json()["message"]
    assert stored(svc, user) == 0
    executions = await anon.get("/api/v1/executions", headers={"X-API-Key": api_key})
    assert executions.status_code == 200 and executions.json()["total"] == 0


async def test_a_text_body_starting_with_a_brace_is_text(
    svc: Cellwright, user: Any, anon: httpx.AsyncClient
) -> None:
    scenario = await hooked(svc, user)
    url = f"/hooks/{scenario.webhook_token}"
    text = await anon.post(
        url, content=b"{not json} but words", headers={"content-type": "text/plain"}
    )
    assert text.status_code == 202, text.text
    assert (
        svc.store.get_execution(user.id, text.json()["execution_id"]).trigger["body"]
        == "{not json} but words"
    )
    brace = await anon.post(
        url, content=b'{"a": NaN}', headers={"content-type": "text/plain; charset=utf-8"}
    )
    assert (
        svc.store.get_execution(user.id, brace.json()["execution_id"]).trigger["body"]
        == '{"a": NaN}'
    )


# -- response headers --------------------------------------------------------------------------

SECURITY_HEADERS = (
    "content-security-policy",
    "x-frame-options",
    "x-content-type-options",
    "referrer-policy",
)


async def test_every_response_carries_the_security_headers(
    svc: Cellwright, user: Any, anon: httpx.AsyncClient
) -> None:
    scenario = await hooked(
        svc,
        user,
        "{response: sync}",
        "  - {id: r, kind: transformer, app: webhook, operation: respond, "
        'inputs: {body: hi, headers: {Content-Security-Policy: "default-src *", '
        "X-Frame-Options: ALLOWALL}}}\n",
    )
    responses = [
        await anon.get("/healthz"),
        await anon.get("/api/v1/apps"),  # 401
        await anon.get("/api/v1/openapi.json"),
        await anon.post("/demo/echo", json={}),
        await anon.get("/sandbox/keyed/me"),
        await anon.post("/hooks/no-such-token", json={}),
        await anon.post(
            f"/hooks/{scenario.webhook_token}", json={}
        ),  # a sync answer setting its own
    ]
    for response in responses:
        assert all(name in response.headers for name in SECURITY_HEADERS), (
            response.url,
            response.headers,
        )
        assert (
            response.headers["content-security-policy"]
            == "default-src 'none'; frame-ancestors 'none'; sandbox"
        )
        assert (
            response.headers["x-frame-options"],
            response.headers["x-content-type-options"],
        ) == ("DENY", "nosniff")
        assert response.headers["referrer-policy"] == "same-origin"
    assert responses[-1].text == "hi"
    docs = await anon.get("/api/v1/docs")
    assert "frame-ancestors 'none'" in docs.headers["content-security-policy"]
    assert "https:" not in docs.headers["content-security-policy"]  # Swagger UI is served from here
