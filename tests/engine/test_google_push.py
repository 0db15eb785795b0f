"""Google Calendar and Drive instant triggers through the engine, on a sandbox connection.

Enabling opens a watch channel in the simulator, which then sends the notifications
Google sends (a ``sync`` first, then a bodiless one per change, with the channel's id
and token in headers); each is handed to the scenario's webhook as ingress receives it.
A notification makes the engine fetch what changed from the cursor it keeps; the
scheduler's pass renews a channel before it expires (clock injected, no waiting).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from cells import document as documents
from connectors.google_workspace import api
from connectors.google_workspace import sandbox as sb
from connectors.google_workspace.sandbox_channels import touch_file
from connectors.google_workspace.sandbox_gmail_calendar import new_event
from connectors.google_workspace.sandbox_seed import INVOICES_FOLDER_ID
from connectors.registry import default_registry
from connectors.sdk import IncomingRequest, oauth
from connectors.sdk.sandboxing import Delivery, shared_sandbox
from engine.ingress import WebhookAnswer
from engine.scheduler import Scheduler
from engine.service import Cellwright
from engine.settings import Settings


@pytest.fixture(autouse=True)
def fresh_google(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(oauth, "_ROTATED", {})
    shared_sandbox.cache_clear()
    yield
    shared_sandbox.cache_clear()


@pytest.fixture
def settings(make_settings: Any) -> Settings:
    client = {"client_id": sb.SANDBOX_CLIENT[0], "client_secret": sb.SANDBOX_CLIENT[1]}
    return make_settings(  # type: ignore[no-any-return]
        oauth_clients={"google_workspace": client}, public_url="https://cellwright.example"
    )


def google() -> sb.Account:
    app = default_registry().get("google_workspace")
    return sb.account(shared_sandbox(app.key, app.sandbox))


async def enabled(svc: Cellwright, user: Any, operation: str, inputs: str) -> Any:
    connection = await svc.create_connection(
        user.id, "google_workspace", credentials={}, sandbox=True
    )
    doc = documents.loads(
        "name: Push\ncells:\n"
        "  - {id: t, kind: trigger, app: google_workspace, "
        f"operation: {operation}, connection: {connection.id}, inputs: {inputs}}}\n"
        "  - {id: note, kind: transformer, app: formatter, "
        "operation: set_fields, inputs: {fields: {id: '{{ trigger.id }}'}}}\n"
    )
    scenario = svc.import_scenario(user.id, doc)
    return await svc.enable(user.id, scenario.id)


async def receive(svc: Cellwright, delivery: Delivery, **headers: str) -> WebhookAnswer:
    """A notification as ingress gets it (``headers`` override Google's)."""
    sent = {k.lower(): v for k, v in delivery.headers.items()} | {
        k.lower().replace("_", "-"): v for k, v in headers.items()
    }
    token = delivery.url.rsplit("/", 1)[1]
    return await svc.receive_webhook(token, IncomingRequest("POST", sent, {}, delivery.body))


def state_of(delivery: Delivery) -> str:
    return delivery.headers["X-Goog-Resource-State"]


async def test_a_calendar_change_runs_once_with_the_changed_event(
    svc: Cellwright, user: Any, helpers: Any
) -> None:
    scenario = await enabled(svc, user, "calendar_event_changed_instant", "{calendar_id: primary}")
    [sub] = svc.store.webhook_subscriptions(scenario.id)
    channel = google().channels[sub.state["id"]]
    assert channel["_address"] == f"https://cellwright.example/hooks/{scenario.webhook_token}"
    assert channel["token"] == sub.state["token"] and len(sub.state["token"]) >= 32
    assert sub.state["token"] not in repr(sub)  # the secret is never shown

    [sync] = google().outbox.take()
    assert state_of(sync) == "sync" and sync.body == b""
    answer = await receive(svc, sync)
    assert answer.status == 200 and svc.store.count_executions(user.id) == 0

    event = new_event(
        google(),
        sb.EMAIL,
        {"summary": "Launch", "start": {"date": "2030-03-01"}, "end": {"date": "2030-03-02"}},
    )
    [note] = google().outbox.take()
    assert state_of(note) == "exists" and note.headers["X-Goog-Message-Number"] == "2"
    answer = await receive(svc, note)
    assert answer.status == 202 and answer.body["accepted"] == 1, answer.body
    run = await helpers.finished(svc, answer.body["execution_id"])
    assert (
        run["status"] == "completed"
        and run["trigger"]["id"] == event["id"]
        and run["trigger"]["summary"] == "Launch"
    )

    # Google repeats itself (or two notifications read the same change): no second run
    again = await receive(svc, note)
    assert again.status == 202 and again.body["accepted"] == 0
    assert svc.store.count_executions(user.id) == 1


async def test_a_tampered_or_foreign_notification_is_refused(svc: Cellwright, user: Any) -> None:
    scenario = await enabled(svc, user, "calendar_event_changed_instant", "{calendar_id: primary}")
    [sync] = google().outbox.take()
    new_event(
        google(),
        sb.EMAIL,
        {"summary": "X", "start": {"date": "2030-03-01"}, "end": {"date": "2030-03-02"}},
    )
    [note] = google().outbox.take()
    tampered = await receive(svc, note, x_goog_channel_token="guessed")
    assert tampered.status == 401 and "X-Goog-Channel-Token" in tampered.body["message"]
    missing = await receive(
        svc,
        Delivery(
            note.url, {k: v for k, v in note.headers.items() if k != "X-Goog-Channel-Token"}, b""
        ),
    )
    assert missing.status == 401
    foreign = await receive(svc, note, x_goog_channel_id="someone-elses-channel")
    assert foreign.status == 401 and "X-Goog-Channel-ID" in foreign.body["message"]
    forged_sync = await receive(
        svc, sync, x_goog_channel_token="guessed"
    )  # our channel, wrong token
    assert forged_sync.status == 401
    assert svc.store.count_executions(user.id) == 0
    assert scenario.status == "active"


async def test_a_stale_sync_token_means_a_full_sync_firing_only_what_changed(
    svc: Cellwright, user: Any
) -> None:
    scenario = await enabled(svc, user, "calendar_event_changed_instant", "{calendar_id: primary}")
    google().outbox.take()
    google().sync_epoch += 1  # Google forgot the sync token: 410 on the next read
    event = new_event(
        google(),
        sb.EMAIL,
        {"summary": "After", "start": {"date": "2030-04-01"}, "end": {"date": "2030-04-02"}},
    )
    [note] = google().outbox.take()
    answer = await receive(svc, note)
    assert answer.status == 202 and answer.body["accepted"] == 1
    [execution] = svc.store.list_executions(user.id)
    assert execution.trigger["id"] == event["id"] and execution.scenario_id == scenario.id


async def test_a_drive_change_in_the_folder_runs_and_others_do_not(
    svc: Cellwright, user: Any, helpers: Any
) -> None:
    await enabled(svc, user, "drive_file_changed_instant", f"{{folder_id: {INVOICES_FOLDER_ID}}}")
    [sync] = google().outbox.take()
    assert (await receive(svc, sync)).status == 200
    invoice = next(f for f in google().files.values() if INVOICES_FOLDER_ID in f.get("parents", []))
    touch_file(google(), invoice["id"], name="invoice (paid).pdf")
    [note] = google().outbox.take()
    assert state_of(note) == "change"
    answer = await receive(svc, note)
    assert answer.status == 202 and answer.body["accepted"] == 1, answer.body
    run = await helpers.finished(svc, answer.body["execution_id"])
    assert run["trigger"]["id"] == invoice["id"] and run["trigger"]["name"] == "invoice (paid).pdf"

    elsewhere = next(
        f for f in google().files.values() if INVOICES_FOLDER_ID not in f.get("parents", [])
    )
    touch_file(google(), elsewhere["id"], name="other")
    [other] = google().outbox.take()
    assert (await receive(svc, other)).body["accepted"] == 0


async def test_the_scheduler_renews_a_channel_before_it_expires(svc: Cellwright, user: Any) -> None:
    scenario = await enabled(svc, user, "calendar_event_changed_instant", "{calendar_id: primary}")
    [old] = svc.store.webhook_subscriptions(scenario.id)
    expires = datetime.fromisoformat(old.state["expires_at"])
    google().outbox.take()
    scheduler = Scheduler(svc)

    await scheduler.run_due(now=expires - timedelta(hours=13))  # not yet: 12 h before
    assert svc.store.webhook_subscriptions(scenario.id)[0].state == old.state

    await scheduler.run_due(now=expires - timedelta(hours=11))
    [renewed] = svc.store.webhook_subscriptions(scenario.id)
    assert renewed.id == old.id and renewed.state["id"] != old.state["id"]
    assert renewed.external_id == renewed.state["id"]
    assert set(google().channels) == {renewed.state["id"]}  # the old channel was stopped
    [sync] = google().outbox.take()  # the new channel's sync: acknowledged, nothing runs
    assert (await receive(svc, sync)).status == 200

    new_event(
        google(),
        sb.EMAIL,
        {"summary": "Y", "start": {"date": "2030-03-01"}, "end": {"date": "2030-03-02"}},
    )
    [note] = google().outbox.take()
    assert note.headers["X-Goog-Channel-ID"] == renewed.state["id"]
    assert (await receive(svc, note)).body["accepted"] == 1
    late = await receive(
        svc, note, x_goog_channel_id=old.state["id"], x_goog_channel_token=old.state["token"]
    )
    assert late.status == 401  # the replaced channel's notifications are no longer ours

    later = datetime.fromisoformat(renewed.state["expires_at"]) - timedelta(hours=13)
    await scheduler.run_due(now=later)
    assert svc.store.webhook_subscriptions(scenario.id)[0].state == renewed.state


async def test_a_failed_renewal_is_retried_later_not_every_tick(
    svc: Cellwright, user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def no_wait(seconds: float) -> None:
        pass

    monkeypatch.setattr(api, "sleep", no_wait)
    scenario = await enabled(svc, user, "drive_file_changed_instant", "{}")
    [old] = svc.store.webhook_subscriptions(scenario.id)
    due = datetime.fromisoformat(old.state["expires_at"]) - timedelta(hours=1)
    google().quota = [(429, None)] * 8  # Google refuses for a while
    scheduler = Scheduler(svc)
    await scheduler.run_due(now=due)
    assert svc.store.webhook_subscriptions(scenario.id)[0].state == old.state
    left = len(google().quota)
    await scheduler.run_due(now=due + timedelta(minutes=1))  # within the retry pause: no call
    assert len(google().quota) == left
    google().quota = []
    await scheduler.run_due(now=due + timedelta(minutes=6))
    assert svc.store.webhook_subscriptions(scenario.id)[0].state["id"] != old.state["id"]


async def test_disabling_stops_the_channel(svc: Cellwright, user: Any) -> None:
    scenario = await enabled(svc, user, "drive_file_changed_instant", "{}")
    assert len(google().channels) == 1
    await svc.disable(user.id, scenario.id)
    assert google().channels == {} and svc.store.webhook_subscriptions(scenario.id) == []
