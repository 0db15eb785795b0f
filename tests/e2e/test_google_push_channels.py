"""Google Calendar push notifications, end to end through a real server.

Real components only: a uvicorn server in a thread, the store on ``tmp_path``, the shared
Google sandbox (as ``cellwright serve`` mounts it), whose channel notifications are POSTed
over HTTP to the scenario's ``/hooks/…`` URL the way Google sends them: a bodiless
``sync`` when the channel opens, then one per change, with the channel's id and token.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from cells import document as documents
from connectors.google_workspace import sandbox as sb
from connectors.google_workspace.auth import SANDBOX_CREDENTIALS
from connectors.registry import default_registry
from connectors.sdk import oauth
from connectors.sdk.sandboxing import SANDBOX_BASE, shared_sandbox
from engine.service import Cellwright
from engine.settings import Settings
from workspace.server import create_app


class Network(httpx.AsyncBaseTransport):
    """Deliveries over the loopback network (a fresh connection each, as a vendor's)."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        async with httpx.AsyncHTTPTransport() as transport:
            response = await transport.handle_async_request(request)
            body = await response.aread()
            return httpx.Response(response.status_code, headers=response.headers, content=body)


@pytest.fixture(autouse=True)
def fresh_google(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(oauth, "_ROTATED", {})
    shared_sandbox.cache_clear()
    yield
    shared_sandbox.cache_clear()


@pytest.fixture
def settings(make_settings: Any) -> Settings:
    client = {"client_id": sb.SANDBOX_CLIENT[0], "client_secret": sb.SANDBOX_CLIENT[1]}
    return make_settings(oauth_clients={"google_workspace": client})  # type: ignore[no-any-return]


def google_sandbox() -> Any:
    app = default_registry().get("google_workspace")
    assert app.sandbox is not None
    return shared_sandbox(app.key, app.sandbox)


async def as_user(method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """Someone uses Google Calendar (the API, as its web UI would)."""
    headers = {"Authorization": f"Bearer {SANDBOX_CREDENTIALS['access_token']}"}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=google_sandbox()), base_url=SANDBOX_BASE, headers=headers
    ) as client:
        answer = await client.request(method, path, json=body)
        assert answer.status_code < 300, answer.text
        return answer.json()  # type: ignore[no-any-return]


async def test_calendar_notifications_reach_the_scenario_over_http(
    svc: Cellwright, user: Any, helpers: Any
) -> None:
    with helpers.ThreadedServer(create_app(svc, start=False)) as server:
        svc.settings.public_url = server.url
        account = sb.account(google_sandbox())
        account.outbox.transport = Network()
        connection = await svc.create_connection(
            user.id, "google_workspace", credentials={}, sandbox=True
        )
        doc = documents.loads(
            "name: Calendar changes\ncells:\n"
            "  - {id: t, kind: trigger, app: google_workspace, "
            "operation: calendar_event_changed_instant, "
            f"connection: {connection.id}, inputs: {{calendar_id: primary}}}}\n"
            "  - {id: note, kind: transformer, app: formatter, operation: set_fields, "
            "inputs: {fields: {title: '{{ trigger.summary }}'}}}\n"
        )
        scenario = await svc.enable(user.id, svc.import_scenario(user.id, doc).id)
        await account.outbox.drain()
        [(sync, status)] = account.outbox.sent
        assert sync.url == f"{server.url}/hooks/{scenario.webhook_token}"
        assert sync.headers["X-Goog-Resource-State"] == "sync" and status == 200
        assert svc.store.count_executions(user.id) == 0

        # a colleague moves the kick-off: Google notifies, the scenario reads the change
        made = await as_user(
            "POST",
            "/calendar/v3/calendars/primary/events",
            {"summary": "Kick-off", "start": {"date": "2030-05-04"}, "end": {"date": "2030-05-05"}},
        )
        await account.outbox.drain()  # (notifications sent later would read both changes at once)
        await as_user(
            "PATCH",
            f"/calendar/v3/calendars/primary/events/{made['id']}",
            {"summary": "Kick-off (moved)"},
        )
        await account.outbox.drain()
        assert [s for _, s in account.outbox.sent] == [200, 202, 202]
        await helpers.wait_for(lambda: svc.store.count_executions(user.id) == 2 or None, 5.0)
        runs = [await helpers.finished(svc, e.id) for e in svc.store.list_executions(user.id)]
        titles = sorted(r["cells"][1]["output"]["title"] for r in runs)
        assert titles == ["Kick-off", "Kick-off (moved)"] and all(
            r["status"] == "completed" for r in runs
        )

        # a forged notification (a guessed token) is refused and stores nothing
        delivery = account.outbox.sent[-1][0]
        async with httpx.AsyncClient() as client:
            forged = await client.post(
                delivery.url, headers={**delivery.headers, "X-Goog-Channel-Token": "guess"}
            )
        assert forged.status_code == 401 and svc.store.count_executions(user.id) == 2

        # disabling stops the channel: Google sends nothing more
        await svc.disable(user.id, scenario.id)
        assert account.channels == {}
        await as_user(
            "PATCH", f"/calendar/v3/calendars/primary/events/{made['id']}", {"summary": "Again"}
        )
        await account.outbox.drain()
        assert len(account.outbox.sent) == 3
