"""The connection health check, against the monday.com and WordPress sandboxes.

"Revoking" a token happens on the vendor's side: the monday sandbox's token table
loses it (as when a user regenerates their personal token), or the stored WordPress
application password no longer matches the site's.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from connectors.monday import sandbox as monday_sandbox
from connectors.registry import default_registry
from connectors.sdk.sandboxing import shared_sandbox
from engine.health import HealthCheck
from engine.service import Cellwright

SECOND_TOKEN = "monday-sandbox-token-0002-grace"  # noqa: S105 - a sandbox token made up for the test
HOUR = timedelta(hours=1)


@pytest.fixture(autouse=True)
def fresh_sandboxes() -> Iterator[None]:
    """Sandboxes are process-wide (like a vendor account); start each test from the seed."""
    shared_sandbox.cache_clear()
    yield
    shared_sandbox.cache_clear()


@pytest.fixture
def grace_token(monkeypatch: pytest.MonkeyPatch) -> str:
    """A second monday sandbox token (Grace Hopper's), which tests may revoke."""
    monkeypatch.setitem(monday_sandbox.TOKENS, SECOND_TOKEN, "1002")
    return SECOND_TOKEN


def later(hours: float) -> datetime:
    return datetime.now(UTC) + timedelta(hours=hours)


def status(svc: Cellwright, user: Any, connection_id: str) -> tuple[str, str | None]:
    connection = svc.store.get_connection(user.id, connection_id)
    return connection.status, connection.status_message


async def monday_fail(**spec: Any) -> None:
    app = default_registry().get("monday")
    sandbox = shared_sandbox(app.key, app.sandbox)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=sandbox), base_url="http://sandbox.invalid"
    ) as client:
        (await client.post("/__sandbox__/fail", json=spec)).raise_for_status()


async def test_a_revoked_token_marks_the_connection_error_and_a_restored_one_active_again(
    svc: Cellwright,
    user: Any,
    grace_token: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    ada = await svc.create_connection(user.id, "monday", credentials={}, sandbox=True)
    grace = await svc.create_connection(
        user.id, "monday", credentials={"api_token": grace_token}, sandbox=True
    )
    assert (ada.status, grace.status) == ("active", "active")
    assert grace.name == "monday.com: Grace Hopper (Sandbox Co)"
    health = HealthCheck(svc, every=HOUR, spacing=0)

    monkeypatch.delitem(monday_sandbox.TOKENS, grace_token)  # regenerated at monday.com
    results = {r.connection_id: r for r in await health.run_due(later(2))}
    assert set(results) == {ada.id, grace.id}
    assert results[ada.id].outcome == "active" and status(svc, user, ada.id) == ("active", None)
    state, message = status(svc, user, grace.id)
    assert state == "error" and results[grace.id].outcome == "error"
    assert message is not None and "monday.com refused the API token" in message
    assert grace_token not in message
    assert not any(grace_token in record.getMessage() for record in caplog.records)
    assert any(grace.id in r.getMessage() and "broken" in r.getMessage() for r in caplog.records)

    monkeypatch.setitem(monday_sandbox.TOKENS, grace_token, "1002")  # fixed: the token works again
    results = {r.connection_id: r for r in await health.run_due(later(4))}
    assert results[grace.id].outcome == "active"
    assert status(svc, user, grace.id) == ("active", None)


async def test_a_changed_wordpress_password_is_reported_with_wordpress_message(
    svc: Cellwright, user: Any
) -> None:
    good = await svc.create_connection(user.id, "wordpress", credentials={}, sandbox=True)
    bad = await svc.create_connection(user.id, "wordpress", credentials={}, sandbox=True)
    assert good.status == bad.status == "active" and good.metadata["api_root"] == "wp-json/"
    wrong = {
        **svc.store.connection_credentials(bad.id),
        "application_password": "zzzz yyyy xxxx wwww vvvv uuuu",
    }
    svc.store.update_connection(
        user.id, bad.id, credentials=wrong
    )  # the site's password was revoked

    results = {
        r.connection_id: r for r in await HealthCheck(svc, every=HOUR, spacing=0).run_due(later(2))
    }
    assert results[good.id].outcome == "active"
    assert status(svc, user, good.id) == ("active", None)
    state, message = status(svc, user, bad.id)
    assert state == "error" and message is not None
    assert message.startswith(
        "WordPress refused the connection's credentials: "
        "The provided password is an invalid application password."
    )
    assert "zzzz" not in message


async def test_an_outage_is_not_a_broken_connection(svc: Cellwright, user: Any) -> None:
    connection = await svc.create_connection(user.id, "monday", credentials={}, sandbox=True)
    health = HealthCheck(svc, every=HOUR, spacing=0)
    await monday_fail(
        code="INTERNAL_SERVER_ERROR", message="Internal server error", http_status=500
    )
    [result] = await health.run_due(later(2))
    assert result.outcome == "unchanged" and "Internal server error" in (result.message or "")
    assert status(svc, user, connection.id) == ("active", None)
    await monday_fail(code="COMPLEXITY_BUDGET_EXHAUSTED", http_status=429, retry_in_seconds=30)
    [result] = await health.run_due(later(4))
    assert result.outcome == "unchanged"
    assert status(svc, user, connection.id) == ("active", None)


async def test_each_connection_is_checked_at_most_once_per_interval_one_at_a_time(
    svc: Cellwright, user: Any, registry: Any
) -> None:
    connections = [
        await svc.create_connection(user.id, "monday", credentials={}, sandbox=True)
        for _ in range(3)
    ]
    off = await svc.create_connection(user.id, "wordpress", credentials={}, sandbox=True)
    svc.store.set_connection_status(off.id, "disconnected", "Turned off by the user")
    health = HealthCheck(svc, every=HOUR, spacing=0.1)

    assert await health.run_due() == []  # just created (and tested): not due
    started = time.monotonic()
    first = await health.run_due(later(2))
    assert sorted(r.connection_id for r in first) == sorted(
        c.id for c in connections
    )  # not the disconnected one
    assert time.monotonic() - started >= 0.2  # three checks, spaced out
    assert await health.run_due(later(2.5)) == []  # checked 30 minutes ago
    assert len(await health.run_due(later(3))) == 3
    assert status(svc, user, off.id) == ("disconnected", "Turned off by the user")


async def test_a_connection_edited_during_its_check_keeps_the_new_state(
    svc: Cellwright, user: Any, grace_token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    connection = await svc.create_connection(
        user.id, "monday", credentials={"api_token": grace_token}, sandbox=True
    )
    stale = svc.store.get_connection(user.id, connection.id)
    monkeypatch.delitem(monday_sandbox.TOKENS, grace_token)
    svc.store.update_connection(
        user.id, connection.id, credentials=dict(svc.apps.get("monday").sandbox_credentials)
    )
    result = await HealthCheck(svc, every=HOUR, spacing=0).check(stale)
    assert result.outcome == "skipped"
    assert status(svc, user, connection.id) == ("active", None)


async def test_the_loop_marks_a_broken_connection_by_itself(
    svc: Cellwright, user: Any, grace_token: str, monkeypatch: pytest.MonkeyPatch, helpers: Any
) -> None:
    connection = await svc.create_connection(
        user.id, "monday", credentials={"api_token": grace_token}, sandbox=True
    )
    monkeypatch.delitem(monday_sandbox.TOKENS, grace_token)
    task = asyncio.create_task(
        HealthCheck(svc, every=timedelta(milliseconds=100), spacing=0).run_forever()
    )
    try:
        await helpers.wait_for(lambda: status(svc, user, connection.id)[0] == "error", timeout=5)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_zero_minutes_turns_the_check_off(make_settings: Any, registry: Any) -> None:
    svc = Cellwright(make_settings(connection_check_minutes=0), apps=registry)
    try:
        await asyncio.wait_for(HealthCheck(svc).run_forever(), 1)  # returns at once
    finally:
        svc.close()
