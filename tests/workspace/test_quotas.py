"""Per-user execution quotas: counted from the executions table, refused with a clear
error everywhere a run starts (webhook 429, REST 429, a scheduled tick skipped and
recorded), other users unaffected, nothing changed by the default (no quota)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from engine.quotas import QuotaExceededError, Quotas
from engine.scheduler import Scheduler
from engine.service import Cellwright
from engine.settings import Settings
from tests.engine.test_scheduler import T0, enabled, schedule_doc
from tests.workspace.test_server import hooked
from workspace.server import create_app

TOMORROW = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    settings: Settings = make_settings(quota_executions_per_day=2)
    return settings


@pytest.fixture
async def http(svc: Cellwright) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(svc, start=False))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def test_a_webhook_over_the_quota_gets_429_naming_the_quota_and_its_reset(
    svc: Cellwright, user: Any, http: httpx.AsyncClient
) -> None:
    scenario = await hooked(svc, user)
    for n in range(2):
        assert (
            await http.post(f"/hooks/{scenario.webhook_token}", json={"n": n})
        ).status_code == 202
    refused = await http.post(f"/hooks/{scenario.webhook_token}", json={"n": 3})
    assert refused.status_code == 429
    body = refused.json()
    assert body["error"] == "quota_exceeded"
    assert "2 of 2 executions per day (quota_executions_per_day)" in body["message"]
    assert f"resets at {TOMORROW}T00:00:00+00:00" in body["message"]
    assert 0 < int(refused.headers["retry-after"]) <= 86401
    assert svc.store.count_executions(user.id) == 2  # nothing stored for the refused event
    # another user has a quota of their own
    other = svc.store.create_user("bob@example.com", name="Bob")
    theirs = await hooked(svc, other)
    assert (await http.post(f"/hooks/{theirs.webhook_token}", json={})).status_code == 202


async def test_a_rest_run_over_the_quota_is_refused_with_429(
    svc: Cellwright, user: Any, api_key: str, http: httpx.AsyncClient
) -> None:
    scenario = await hooked(svc, user)
    headers = {"Authorization": f"Bearer {api_key}"}
    for _ in range(2):
        await svc.trigger(scenario, {})
    response = await http.post(
        f"/api/v1/scenarios/{scenario.id}/run", json={"trigger_data": {}}, headers=headers
    )
    assert response.status_code == 429
    assert response.json()["error"] == "quota_exceeded"
    assert "quota_executions_per_day" in response.json()["message"]
    with pytest.raises(QuotaExceededError) as refused:  # a manual run from any front end
        await svc.run_now(user.id, scenario.id, {})
    assert refused.value.http_status == 429
    assert refused.value.details["quota"] == "quota_executions_per_day"
    assert svc.store.count_executions(user.id) == 2


async def test_a_scheduled_tick_over_the_quota_is_skipped_and_recorded(
    svc: Cellwright, user: Any
) -> None:
    hooked_one = await hooked(svc, user)
    for _ in range(2):
        await svc.trigger(hooked_one, {})
    scenario = await enabled(svc, user, schedule_doc("{mode: interval, interval_minutes: 5}"))
    scheduler = Scheduler(svc)
    await scheduler.run_due(T0)  # planned
    due = T0.replace(minute=5, second=0)
    assert await scheduler.run_due(due) == 0  # skipped, not fired
    assert svc.store.count_executions(user.id, scenario_id=scenario.id) == 0
    # the schedule goes on (the next tick is planned), and the skip is on record, once
    later = svc.store.get_trigger_state(scenario.id, "tick").next_poll_at
    assert later == due + timedelta(minutes=5)
    assert await scheduler.run_due(later) == 0
    entries = svc.store.audit_entries(user.id, action="scenario.quota_exceeded")
    assert [e.object_id for e in entries] == [scenario.id]
    assert "quota_executions_per_day" in entries[0].details["message"]


def test_a_monthly_quota_counts_the_calendar_month() -> None:
    class Counts:
        def __init__(self) -> None:
            self.since: list[datetime] = []

        def count_executions(self, user_id: str, *, since: datetime | None = None) -> int:
            assert since is not None
            self.since.append(since)
            return 5

    counts = Counts()
    now = datetime(2030, 12, 31, 23, 59, tzinfo=UTC)
    with pytest.raises(QuotaExceededError) as refused:
        Quotas(per_day=0, per_month=5).check(counts, "u", now)
    assert counts.since == [datetime(2030, 12, 1, tzinfo=UTC)]
    assert refused.value.resets_at == datetime(2031, 1, 1, tzinfo=UTC)
    assert "5 of 5 executions per month (quota_executions_per_month)" in refused.value.message
    Quotas(per_day=10, per_month=6).check(counts, "u", now)  # under both: no error


async def test_by_default_there_is_no_quota(
    make_settings: Callable[..., Settings], registry: Any
) -> None:
    from tests.services import running_service

    defaults = make_settings()
    assert defaults.quota_executions_per_day == defaults.quota_executions_per_month == 0
    assert Quotas(0, 0).unlimited
    async with running_service(defaults, registry) as svc:
        user = svc.local_user()
        scenario = await hooked(svc, user)
        for _ in range(5):
            await svc.trigger(scenario, {})
        assert svc.store.count_executions(user.id) == 5
