"""A connection's webhook URL (``engine.ingress``): one delivery, verified once, handed to
every listening scenario — with a test app whose vendor sends everything to one URL."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, Field

from cells import document as documents
from connectors.registry import APPS, Registry
from connectors.sdk import (
    AnyOutput,
    ApiKeyAuth,
    App,
    ConnectionWebhook,
    IncomingRequest,
    InstantTrigger,
    InvalidInputError,
    WebhookReply,
    WebhookVerificationError,
    secret_value,
)
from engine.service import Cellwright
from tests.conftest import wait_for
from tests.services import running_service


class KindInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: str = Field("ping", description="Only events of this kind.")


def verify(request: IncomingRequest, credentials: Mapping[str, Any]) -> None:
    if request.header("x-relay-key") != secret_value(credentials.get("api_key")):
        raise WebhookVerificationError("Bad x-relay-key.")


def challenge(request: IncomingRequest) -> tuple[int, Any, dict[str, str]] | None:
    body = request.json()
    return (200, {"echo": body["check"]}, {"X-Relay": "1"}) if "check" in body else None


async def parse(
    request: IncomingRequest, inputs: KindInput, state: Mapping[str, Any]
) -> WebhookReply:
    body = request.json()
    if body.get("broken"):
        raise InvalidInputError("This trigger cannot read that.")
    return WebhookReply(events=[e for e in body.get("events", []) if e.get("kind") == inputs.kind])


RELAY = App(
    key="relay",
    name="Relay",
    description="A vendor that sends every event of an account to one URL (tests).",
    category="Testing",
    auth=ApiKeyAuth(),
    triggers=(
        InstantTrigger(
            key="event",
            name="Event",
            description="An event of the relay account.",
            input=KindInput,
            output=AnyOutput,
            sample={"kind": "ping"},
            parse=parse,
            dedupe_key="id",
        ),
        InstantTrigger(
            key="anything",
            name="Anything",
            description="Every event, no id (Idempotency-Key dedupes).",
            input=KindInput,
            output=AnyOutput,
            sample={"kind": "ping"},
            parse=parse,
        ),
    ),
    connection_webhook=ConnectionWebhook(
        verify=verify, challenge=challenge, label="Relay URL", instructions="Paste it at the relay."
    ),
)


@pytest.fixture
async def svc(settings: Any, probe: Any) -> AsyncIterator[Cellwright]:
    async with running_service(settings, Registry([*APPS, *probe.apps, RELAY])) as app:
        yield app


def relay_doc(connection_id: str, kind: str = "ping", operation: str = "event") -> Any:
    return documents.loads(
        f"name: Relay {kind}\ncells:\n"
        f"  - {{id: t, kind: trigger, app: relay, operation: {operation}, "
        f"connection: {connection_id}, inputs: {{kind: {kind}}}}}\n"
        "  - {id: count, kind: action, app: probe, "
        "operation: count, inputs: {value: '{{ trigger.id }}'}}\n"
    )


def post(body: Any, key: str = "relay-key", **headers: str) -> IncomingRequest:
    return IncomingRequest(
        method="POST",
        headers={"x-relay-key": key, **headers},
        query={},
        body=json.dumps(body).encode(),
    )


async def connected(svc: Cellwright, user: Any) -> tuple[Any, str]:
    connection = await svc.create_connection(user.id, "relay", credentials={"api_key": "relay-key"})
    url = svc.connection_events_url(user.id, connection.id)
    assert url is not None
    return connection, url.rsplit("/", 1)[1]


async def test_verify_once_answer_the_check_then_fan_out(
    svc: Cellwright, user: Any, helpers: Any
) -> None:
    connection, token = await connected(svc, user)
    check = await svc.receive_connection_webhook("relay", token, post({"check": "x1"}))
    assert (check.status, check.body, check.headers) == (200, {"echo": "x1"}, {"X-Relay": "1"})
    refused = await svc.receive_connection_webhook(
        "relay", token, post({"check": "x1"}, key="wrong")
    )
    assert (refused.status, refused.body["error"]) == (401, "webhook_unverified")

    pings = await svc.enable(
        user.id, svc.import_scenario(user.id, relay_doc(connection.id, "ping")).id
    )
    pongs = await svc.enable(
        user.id, svc.import_scenario(user.id, relay_doc(connection.id, "pong")).id
    )
    events = {
        "events": [
            {"kind": "ping", "id": "e1"},
            {"kind": "pong", "id": "e2"},
            {"kind": "ping", "id": "e3"},
        ]
    }
    answer = await svc.receive_connection_webhook("relay", token, post(events))
    assert answer.status == 200 and answer.body["accepted"] == 3
    by_scenario = {
        s.id: sorted(e.trigger["id"] for e in svc.store.list_executions(user.id, scenario_id=s.id))
        for s in (pings, pongs)
    }
    assert by_scenario == {pings.id: ["e1", "e3"], pongs.id: ["e2"]}
    again = await svc.receive_connection_webhook("relay", token, post(events))
    assert sorted(again.body["execution_ids"]) == sorted(
        answer.body["execution_ids"]
    )  # same ids: deduplicated
    assert svc.store.count_executions(user.id) == 3
    for execution_id in answer.body["execution_ids"]:
        assert (await helpers.finished(svc, execution_id))["status"] == "completed"


async def test_without_an_event_id_the_idempotency_key_dedupes(svc: Cellwright, user: Any) -> None:
    connection, token = await connected(svc, user)
    await svc.enable(
        user.id, svc.import_scenario(user.id, relay_doc(connection.id, operation="anything")).id
    )
    events = {"events": [{"kind": "ping"}, {"kind": "ping"}]}
    first = await svc.receive_connection_webhook(
        "relay", token, post(events, **{"idempotency-key": "d-1"})
    )
    again = await svc.receive_connection_webhook(
        "relay", token, post(events, **{"idempotency-key": "d-1"})
    )
    assert (
        first.body["accepted"] == 2 and again.body["execution_ids"] == first.body["execution_ids"]
    )
    assert {e.idempotency_key for e in svc.store.list_executions(user.id)} == {"d-1:0", "d-1:1"}


async def test_urls_that_lead_nowhere(svc: Cellwright, user: Any) -> None:
    connection, token = await connected(svc, user)
    slack = await svc.create_connection(user.id, "slack", credentials={}, sandbox=True)
    slack_url = svc.connection_events_url(user.id, slack.id) or ""
    for app_key, which in (
        ("slack", token),
        ("probe", token),
        ("nope", token),
        ("relay", "no-such-token"),
        ("relay", slack_url.rsplit("/", 1)[1]),
    ):
        missing = await svc.receive_connection_webhook(app_key, which, post({}))
        assert (missing.status, missing.body["error"]) == (404, "not_found"), (app_key, which)
    get = await svc.receive_connection_webhook(
        "relay", token, IncomingRequest(method="GET", headers={}, query={}, body=b"")
    )
    assert (get.status, get.headers) == (405, {"Allow": "POST"})
    assert svc.connection_events_url(user.id, "no-such-connection") is None
    probe_connection = await svc.create_connection(
        user.id, "keyed", credentials={"api_key": "good"}, name="Keyed"
    )
    assert (
        svc.connection_events_url(user.id, probe_connection.id) is None
    )  # one URL per scenario for this app


async def test_one_broken_scenario_does_not_stop_the_others(
    svc: Cellwright, user: Any, caplog: pytest.LogCaptureFixture
) -> None:
    connection, token = await connected(svc, user)
    good = await svc.enable(user.id, svc.import_scenario(user.id, relay_doc(connection.id)).id)
    # stored around the checks (an app changed since it was published): inputs its trigger refuses
    data = relay_doc(connection.id).to_data()
    data["cells"][0]["inputs"] = {"kind": "ping", "unknown": 1}
    broken = svc.store.save_scenario(user.id, data)
    svc.store.publish_scenario(user.id, broken.id)
    svc.store.set_scenario_status(user.id, broken.id, "active")
    svc.ingress.forget()
    with caplog.at_level(logging.WARNING, logger="cellwright.ingress"):
        answer = await svc.receive_connection_webhook(
            "relay", token, post({"events": [{"kind": "ping", "id": "e1"}]})
        )
    assert answer.status == 200 and answer.body["accepted"] == 1
    assert [e.scenario_id for e in svc.store.list_executions(user.id)] == [good.id]
    assert f"scenario {broken.id} cannot take relay events" in caplog.text
    with caplog.at_level(logging.WARNING, logger="cellwright.ingress"):
        unreadable = await svc.receive_connection_webhook("relay", token, post({"broken": True}))
    assert unreadable.status == 200 and unreadable.body["accepted"] == 0
    assert f"scenario {good.id} could not read a relay delivery" in caplog.text


async def test_listeners_are_cached_until_a_change_through_the_service(
    svc: Cellwright, user: Any
) -> None:
    connection, token = await connected(svc, user)
    scenario = svc.import_scenario(user.id, relay_doc(connection.id))
    ping = post({"events": [{"kind": "ping", "id": "e1"}]})
    assert (await svc.receive_connection_webhook("relay", token, ping)).body["accepted"] == 0
    svc.store.publish_scenario(user.id, scenario.id)  # another process (a CLI next to the server)
    svc.store.set_scenario_status(user.id, scenario.id, "active")
    assert (await svc.receive_connection_webhook("relay", token, ping)).body[
        "accepted"
    ] == 0  # cached for a moment
    svc.ingress.forget()  # what save/publish/enable/disable do in this process
    assert (await svc.receive_connection_webhook("relay", token, ping)).body["accepted"] == 1


async def test_concurrent_deliveries_to_an_expired_url_share_one_lookup(
    svc: Cellwright, user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = documents.loads(
        "name: Hooked\ncells:\n  - {id: hook, kind: trigger, app: webhook, operation: catch_hook}\n"
    )
    scenario = svc.import_scenario(user.id, doc)
    await svc.enable(user.id, scenario.id)
    token = svc.store.get_scenario_any(scenario.id).webhook_token
    looked_up: list[str] = []
    gate = threading.Event()
    real = svc.store.scenario_by_webhook_token

    def slow_lookup(which: str) -> Any:
        looked_up.append(which)
        gate.wait(10)
        return real(which)

    monkeypatch.setattr(svc.store, "scenario_by_webhook_token", slow_lookup)
    svc.ingress.forget()
    first = [asyncio.ensure_future(svc.ingress.target(token)) for _ in range(20)]
    await asyncio.sleep(0.05)
    first[0].cancel()  # one client went away: the others still get their answer
    svc.ingress.forget()  # a change while the lookup runs: later deliveries look up afresh
    later = asyncio.ensure_future(svc.ingress.target(token))
    await asyncio.sleep(0.05)
    gate.set()
    targets = await asyncio.gather(*first[1:], later)
    assert first[0].cancelled()
    assert looked_up == [token, token]  # 20 concurrent deliveries, one lookup; one after the change
    assert {t[0].id for t in targets if t is not None} == {scenario.id} and None not in targets
    answer = await svc.receive_webhook(
        token,
        IncomingRequest(
            method="POST",
            headers={"content-type": "application/json"},
            query={},
            body=b"{}",
            path="/hooks/x",
        ),
    )
    assert answer.status == 202 and looked_up == [token, token]  # cached now


async def test_a_delivery_on_another_event_loop_does_not_join_this_loops_lookup(
    svc: Cellwright, user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A vendor's challenge can arrive on the server's loop while the service is being
    enabled from another (monday's ``create_webhook``): a lookup in flight on one loop
    is not awaited from the other ("Future attached to a different loop")."""
    doc = documents.loads(
        "name: Hooked\ncells:\n  - {id: hook, kind: trigger, app: webhook, operation: catch_hook}\n"
    )
    scenario = svc.import_scenario(user.id, doc)
    await svc.enable(user.id, scenario.id)
    token = svc.store.get_scenario_any(scenario.id).webhook_token
    gate = threading.Event()
    real = svc.store.scenario_by_webhook_token
    lookups: list[str] = []

    def slow_lookup(which: str) -> Any:
        lookups.append(which)
        gate.wait(10)
        return real(which)

    monkeypatch.setattr(svc.store, "scenario_by_webhook_token", slow_lookup)
    svc.ingress.forget()
    here = asyncio.ensure_future(svc.ingress.target(token))
    await asyncio.sleep(0.05)  # this loop's lookup is in flight
    elsewhere: list[Any] = []

    def other_loop() -> None:
        elsewhere.append(asyncio.run(svc.ingress.target(token)))

    thread = threading.Thread(target=other_loop)
    thread.start()
    # the other loop either looks up for itself or (the defect) fails at once on ours
    await wait_for(lambda: len(lookups) == 2 or not thread.is_alive(), timeout=10)
    gate.set()
    found = await here
    await asyncio.to_thread(thread.join, 10)
    assert found is not None and found[0].id == scenario.id
    assert len(elsewhere) == 1 and elsewhere[0] is not None
    assert elsewhere[0][0].id == scenario.id
