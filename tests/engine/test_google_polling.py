"""Google Workspace triggers through the scheduler, on a sandbox connection: a trigger's own
cursor (a sheet's row hashes) is kept between polls, and a refresh token Google no longer
accepts puts the connection in ``error`` with a reconnect message."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cells import document as documents
from connectors.google_workspace import sandbox as sb
from connectors.google_workspace.auth import SANDBOX_CREDENTIALS
from connectors.google_workspace.sandbox_seed import SPREADSHEET_ID
from connectors.registry import default_registry
from connectors.sdk import oauth
from connectors.sdk.sandboxing import shared_sandbox
from engine.scheduler import Scheduler
from engine.service import Cellwright
from engine.settings import Settings

T0 = datetime(2030, 1, 7, 10, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def fresh_google(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A new sandbox Google account per test, and no refresh remembered from another test."""
    monkeypatch.setattr(oauth, "_ROTATED", {})
    shared_sandbox.cache_clear()
    yield
    shared_sandbox.cache_clear()


@pytest.fixture
def settings(make_settings: Any) -> Settings:
    """The operator's Google OAuth client is the sandbox's, so sandbox connections refresh."""
    client = {"client_id": sb.SANDBOX_CLIENT[0], "client_secret": sb.SANDBOX_CLIENT[1]}
    return make_settings(oauth_clients={"google_workspace": client})  # type: ignore[no-any-return]


def google_account() -> sb.Account:
    app = default_registry().get("google_workspace")
    return sb.account(shared_sandbox(app.key, app.sandbox))


async def new_row_scenario(svc: Cellwright, user: Any, connection_id: str) -> Any:
    doc = documents.loads(
        "name: Rows\ncells:\n"
        "  - {id: row, kind: trigger, app: google_workspace, "
        f"operation: sheets_new_row, connection: {connection_id}, "
        f"inputs: {{spreadsheet_id: {SPREADSHEET_ID}, sheet: Orders}}}}\n"
        "  - {id: note, kind: transformer, app: formatter, operation: set_fields, "
        "inputs: {fields: {who: '{{ trigger.columns.Customer }}'}}}\n"
    )
    scenario = svc.import_scenario(user.id, doc)
    return await svc.enable(user.id, scenario.id)


async def poll(svc: Cellwright, scenario_id: str, now: datetime) -> int:
    scenario = svc.store.get_scenario_any(scenario_id)
    doc = svc.runner.document(scenario.id, scenario.live_version)
    op = svc.apps.get(doc.trigger.app).trigger(doc.trigger.operation)
    return await Scheduler(svc).poll(scenario, doc.trigger, op, now, force=True)


async def test_new_rows_fire_once_each_with_the_sheet_snapshot_kept_between_polls(
    svc: Cellwright, user: Any, helpers: Any
) -> None:
    connection = await svc.create_connection(
        user.id, "google_workspace", credentials={}, sandbox=True
    )
    assert connection.status == "active" and connection.name == f"Google Workspace: {sb.EMAIL}"
    scenario = await new_row_scenario(svc, user, connection.id)
    assert await poll(svc, scenario.id, T0) == 0  # the baseline
    state = svc.store.get_trigger_state(scenario.id, "row")
    assert (
        len(state.cursor["since"]["hashes"]) == 3
    )  # the trigger's own cursor (Polled), stored as given

    rows = google_account().sheets[SPREADSHEET_ID][0]["rows"]
    rows.insert(2, ["#1001b", "Barbara Liskov", "b@example.com", "10", "Paid"])
    assert await poll(svc, scenario.id, T0 + timedelta(minutes=5)) == 1
    assert await poll(svc, scenario.id, T0 + timedelta(minutes=10)) == 0
    [execution] = svc.store.list_executions(user.id, scenario_id=scenario.id)
    assert execution.trigger["row_number"] == 3 and execution.trigger["change"] == "new"
    finished = await helpers.finished(svc, execution.id)
    assert finished["status"] == "completed" and finished["cells"][-1]["output"] == {
        "who": "Barbara Liskov"
    }


async def test_a_refused_refresh_while_polling_puts_the_connection_in_error_with_reconnect(
    svc: Cellwright, user: Any
) -> None:
    connection = await svc.create_connection(
        user.id, "google_workspace", credentials={}, sandbox=True
    )
    scenario = await new_row_scenario(svc, user, connection.id)
    assert await poll(svc, scenario.id, T0) == 0
    stale = {**SANDBOX_CREDENTIALS, "access_token": "ya29.an-hour-old", "expires_at": 1}
    svc.store.update_connection(user.id, connection.id, credentials=stale)
    # revoked at myaccount.google.com (or 7 days of a "Testing" consent screen)
    google_account().refresh_tokens.clear()

    assert await poll(svc, scenario.id, T0 + timedelta(minutes=5)) == 0
    after = svc.store.get_connection(user.id, connection.id)
    assert after.status == "error"
    assert (
        "invalid_grant" in after.status_message
        and "Reconnect the connection" in after.status_message
    )
    assert SANDBOX_CREDENTIALS["refresh_token"] not in after.status_message


async def test_a_token_near_its_hour_is_refreshed_and_stored_before_the_poll(
    svc: Cellwright, user: Any
) -> None:
    connection = await svc.create_connection(
        user.id, "google_workspace", credentials={}, sandbox=True
    )
    scenario = await new_row_scenario(svc, user, connection.id)
    svc.store.update_connection(
        user.id, connection.id, credentials={**SANDBOX_CREDENTIALS, "expires_at": 1}
    )
    assert await poll(svc, scenario.id, T0) == 0
    stored = svc.store.connection_credentials(connection.id)
    assert (
        stored["access_token"] != SANDBOX_CREDENTIALS["access_token"]
        and stored["access_token"] in google_account().tokens
    )
    assert (
        stored["refresh_token"] == SANDBOX_CREDENTIALS["refresh_token"] and stored["expires_at"] > 1
    )
    assert svc.store.get_connection(user.id, connection.id).status == "active"
