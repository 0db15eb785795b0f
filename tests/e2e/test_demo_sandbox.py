"""Demo data: the demo user sees a vendor-app scenario (monday.com → WordPress) working on
sandbox connections, without an account — beside the three built-in-only demos."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.registry import BUILTIN_APPS, Registry
from engine.health import HealthCheck
from engine.scheduler import Scheduler
from engine.service import Cellwright
from tests.e2e.conftest import MondayBoard, WordPressSite
from workspace.demo import DEMO_EMAIL, SANDBOX_SCENARIO_NAME, ensure_demo

BUILT_IN_DEMOS = {"Demo: hourly heartbeat", "Demo: lead intake", "Demo: route orders by size"}


async def test_the_demo_user_gets_a_working_monday_to_wordpress_scenario_on_sandboxes(
    settings: Any, registry: Registry, board: MondayBoard, site: WordPressSite, helpers: Any
) -> None:
    svc = Cellwright(settings, apps=registry)
    try:
        assert ensure_demo(svc) is not None
        demo = svc.store.get_user_by_email(DEMO_EMAIL)
        scenarios = {s.name: s for s in svc.store.list_scenarios(demo.id)}
        assert set(scenarios) == BUILT_IN_DEMOS | {SANDBOX_SCENARIO_NAME}
        scenario = scenarios[SANDBOX_SCENARIO_NAME]
        assert scenario.status == "active"

        connections = {c.app_id: c for c in svc.store.list_connections(demo.id)}
        assert set(connections) == {"monday", "wordpress"}
        assert all(c.is_sandbox and c.status == "active" for c in connections.values())
        doc = svc.document(demo.id, scenario.id)
        assert {cell.connection for cell, _ in doc.walk() if getattr(cell, "connection", None)} == {
            c.id for c in connections.values()
        }

        # the first start runs the queued sample: the board's Approved item becomes a post
        [queued] = svc.store.list_executions(demo.id, scenario_id=scenario.id)
        assert queued.status == "queued" and queued.idempotency_key == "poll:new_item:9000000002"
        await svc.start(scheduler=False)
        result = await helpers.finished(svc, queued.id, timeout=10)
        assert result["status"] == "completed", result["error"]
        [post] = site.posts_titled("Spring launch post")
        assert post["status"] == "publish" and post["excerpt"] == "Announce the spring release"
        assert site.category_names(post) == ["Blog"]

        # the health check validates the demo connections and fills in what their test calls report
        later = datetime.now(UTC) + timedelta(hours=2)
        checked = await HealthCheck(svc, spacing=0).run_due(later)
        assert {(r.app_id, r.outcome) for r in checked} == {
            ("monday", "active"),
            ("wordpress", "active"),
        }
        assert (
            svc.store.get_connection(demo.id, connections["wordpress"].id).metadata["api_root"]
            == "wp-json/"
        )

        # and it keeps working: a new Approved item on
        # the sandbox board is published on the next poll
        scheduler = Scheduler(svc)
        await scheduler.run_due(later)  # the baseline (the sample item is among the items seen)
        await board.create_item(
            "Demo day recap", status="Approved", summary="How it went", tags=["News"]
        )
        await scheduler.run_due(later + timedelta(minutes=10))  # (the heartbeat demo may fire too)
        newest, _ = svc.store.list_executions(demo.id, scenario_id=scenario.id)
        assert newest.idempotency_key != queued.idempotency_key
        assert (await helpers.finished(svc, newest.id, timeout=10))["status"] == "completed"
        [recap] = site.posts_titled("Demo day recap")
        assert site.category_names(recap) == ["News"]
        assert (
            len(site.posts_titled("Spring launch post")) == 1
        )  # the sample item never posts twice
    finally:
        await svc.stop()
        svc.close()


async def test_without_the_vendor_apps_the_demo_keeps_its_built_in_scenarios(settings: Any) -> None:
    svc = Cellwright(settings, apps=Registry(BUILTIN_APPS))
    try:
        assert ensure_demo(svc) is not None
        demo = svc.store.get_user_by_email(DEMO_EMAIL)
        assert {s.name for s in svc.store.list_scenarios(demo.id)} == BUILT_IN_DEMOS
        assert svc.store.list_connections(demo.id) == []
    finally:
        svc.close()
