"""The scheduler loop: schedule triggers and polling triggers.

Both run the trigger of the scenario's live (published) version; a saved draft changes
nothing here until it is published. Their state is stored in ``trigger_state`` keyed by
(scenario, trigger cell), which survives publishing an edit of the scenario, so editing
never re-fires or drops items. Every fire carries an
idempotency key (the tick's time, or the item's dedupe key), so two schedulers — or a
restart in the middle of a tick — never start the same run twice.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from connectors.sdk import CellwrightError, InstantTrigger, Polled, PollingTrigger, ScheduleTrigger
from engine import arming
from engine import secrets as stored_secrets
from engine.quotas import QuotaExceededError

if TYPE_CHECKING:
    from cells.models import TriggerCell
    from engine.service import Cellwright
    from storage import Scenario

log = logging.getLogger("cellwright.scheduler")
SEEN_LIMIT = 2000
RENEW_RETRY = timedelta(minutes=5)
"""A subscription that could not be renewed is tried again this much later (not every tick)."""


class Scheduler:
    def __init__(self, app: Cellwright, *, tick: float = 1.0) -> None:
        self.app = app
        self.tick = tick
        self._renew_failed: dict[str, datetime] = {}
        self._refused: dict[str, datetime] = {}  # scenario: the quota reset it was told of

    async def run_forever(self) -> None:
        while True:
            try:
                await self.run_due()
            except Exception:
                log.exception("scheduler tick failed")
            await asyncio.sleep(self.tick)

    async def run_due(self, now: datetime | None = None) -> int:
        """Fire everything due at ``now``; returns how many executions were created."""
        now = now or datetime.now(UTC)
        fired = 0
        scenarios = await asyncio.to_thread(self.app.store.active_scenarios)
        for scenario in scenarios:
            try:
                fired += await self._scenario(scenario, now)
            except Exception:
                log.exception("scenario %s: trigger check failed", scenario.id)
        return fired

    async def _scenario(self, scenario: Scenario, now: datetime) -> int:
        if scenario.live_version is None:  # never published: nothing runs (enable publishes)
            return 0
        doc = await asyncio.to_thread(self.app.runner.document, scenario.id, scenario.live_version)
        trigger = doc.trigger
        op = self.app.apps.get(trigger.app).trigger(trigger.operation)
        if isinstance(op, ScheduleTrigger):
            return await self._schedule(scenario, trigger, op, now)
        if isinstance(op, PollingTrigger):
            return await self.poll(scenario, trigger, op, now)
        if isinstance(op, InstantTrigger) and op.renew_before is not None:
            await self.renew(scenario, trigger, op, now)
        return 0

    async def _over_quota(self, scenario: Scenario, exc: QuotaExceededError, what: str) -> None:
        """Log, and record in the owner's audit trail once per quota period, that the
        owner's execution quota stopped a trigger."""
        log.warning("scenario %s: %s: %s", scenario.id, what, exc.message)
        if self._refused.get(scenario.id) == exc.resets_at:
            return
        self._refused[scenario.id] = exc.resets_at
        await asyncio.to_thread(
            self.app.store.audit,
            scenario.user_id,
            "scenario.quota_exceeded",
            "scenario",
            scenario.id,
            {"what": what, "message": exc.message, "resets_at": exc.resets_at.isoformat()},
            source="system",
            actor_id="",
        )

    async def renew(
        self, scenario: Scenario, trigger: TriggerCell, op: InstantTrigger, now: datetime
    ) -> int:
        """Re-subscribe the scenario's expiring subscriptions (``engine.arming.renew_due``);
        after a failure, wait ``RENEW_RETRY`` before the next attempt."""
        failed = self._renew_failed.get(scenario.id)
        if failed is not None and now < failed + RENEW_RETRY:
            return 0
        try:
            renewed = await arming.renew_due(self.app, scenario, trigger, op, now)
        except CellwrightError as exc:
            log.warning(
                "scenario %s: renewing the %s subscription failed: %s",
                scenario.id,
                trigger.app,
                exc,
            )
            self._renew_failed[scenario.id] = now
            return 0
        self._renew_failed.pop(scenario.id, None)
        return renewed

    async def _schedule(
        self, scenario: Scenario, trigger: TriggerCell, op: ScheduleTrigger, now: datetime
    ) -> int:
        store = self.app.store
        inputs = await asyncio.to_thread(
            stored_secrets.trigger_inputs, store, scenario.user_id, op, trigger
        )
        fingerprint = _fingerprint(trigger)
        state = await asyncio.to_thread(store.get_trigger_state, scenario.id, trigger.id)
        due = state.next_poll_at if state and state.cursor == fingerprint else None
        if due is None:
            # first tick after enabling (or after the schedule changed): plan, don't fire
            await asyncio.to_thread(
                lambda: store.save_trigger_state(
                    scenario.id,
                    trigger.id,
                    cursor=fingerprint,
                    next_poll_at=op.next_fire(inputs, now),
                    baseline_at=now,
                )
            )
            return 0
        due = _aware(due)
        if due > now:
            return 0
        payload = op.output.model_validate(
            {
                "scheduled_for": due.astimezone(_zone(inputs)).isoformat(),
                "timezone": getattr(inputs, "timezone", "UTC"),
            }
        ).model_dump(mode="json")
        try:
            await self.app.trigger(scenario, payload, key=f"schedule:{due.isoformat()}")
        except QuotaExceededError as exc:  # the tick is skipped (recorded), the schedule goes on
            await self._over_quota(scenario, exc, "a scheduled run was skipped")
            fired = 0
        else:
            fired = 1
        # a missed backlog fires once, then the schedule continues from now
        await asyncio.to_thread(
            lambda: store.save_trigger_state(
                scenario.id,
                trigger.id,
                cursor=fingerprint,
                next_poll_at=op.next_fire(inputs, max(now, due)),
            )
        )
        return fired

    async def poll(
        self,
        scenario: Scenario,
        trigger: TriggerCell,
        op: PollingTrigger,
        now: datetime,
        *,
        force: bool = False,
    ) -> int:
        """Poll once: the first poll records a baseline and fires nothing."""
        store = self.app.store
        state = await asyncio.to_thread(store.get_trigger_state, scenario.id, trigger.id)
        fingerprint = _fingerprint(trigger)
        cursor_data = state.cursor if state and isinstance(state.cursor, dict) else {}
        same_trigger = cursor_data.get("trigger") == fingerprint["trigger"]
        if (
            state
            and same_trigger
            and not force
            and state.next_poll_at
            and _aware(state.next_poll_at) > now
        ):
            return 0
        app = self.app.apps.get(trigger.app)
        inputs = await asyncio.to_thread(
            stored_secrets.trigger_inputs, store, scenario.user_id, op, trigger
        )
        ctx = await self.app.contexts.context(scenario.user_id, trigger, app)
        since = cursor_data.get("since") if same_trigger else None
        next_poll = now + timedelta(seconds=op.interval_seconds)
        try:
            items = await op.fetch(ctx, inputs, since)
        except CellwrightError as exc:
            log.warning(
                "scenario %s: polling %s.%s failed: %s",
                scenario.id,
                trigger.app,
                trigger.operation,
                exc,
            )
            if (
                exc.code in ("auth_invalid", "auth_expired")
                and trigger.connection
                and app.needs_connection
            ):
                # as a failed action does (engine/runner.py): the user sees "reconnect" on the
                # connection instead of a trigger that silently stopped firing
                message = exc.message
                await asyncio.to_thread(
                    store.update_connection,
                    scenario.user_id,
                    trigger.connection,
                    status="error",
                    status_message=message,
                )
            await asyncio.to_thread(
                lambda: store.save_trigger_state(
                    scenario.id,
                    trigger.id,
                    cursor=state.cursor if state else None,
                    seen_ids=state.seen_ids if state else None,
                    next_poll_at=next_poll,
                )
            )
            return 0
        seen = list(state.seen_ids or []) if state and same_trigger else []
        seen_set = set(seen)
        keyed = [(op.item_key(item), item) for item in items]
        new = [(k, item) for k, item in keyed if k not in seen_set]
        new_since = since
        if op.cursor_field:
            values = [
                item.get(op.cursor_field) for item in items if item.get(op.cursor_field) is not None
            ]
            if values:
                new_since = max([v for v in (since, *values) if v is not None])
        if isinstance(items, Polled) and items.cursor is not None:
            new_since = items.cursor  # the trigger's own cursor (a sync token, a snapshot)
        fired = 0
        baseline = not (state and same_trigger)
        if not baseline:
            # oldest first, so runs happen in the order things happened
            cursor = op.cursor_field
            ordered = (
                sorted(new, key=lambda kv: _order_key(kv[1].get(cursor)))
                if cursor
                else list(reversed(new))
            )
            for k, item in ordered:
                payload = op.output.model_validate(dict(item)).model_dump(mode="json")
                try:
                    await self.app.trigger(scenario, payload, key=f"poll:{trigger.id}:{k}")
                except QuotaExceededError as exc:
                    # the state stays as it was: the items run once the quota resets
                    # (those fired already are not repeated: same keys)
                    await self._over_quota(scenario, exc, "new items wait for the quota")
                    return fired
                fired += 1
        seen = (seen + [k for k, _ in new])[-SEEN_LIMIT:]
        await asyncio.to_thread(
            lambda: store.save_trigger_state(
                scenario.id,
                trigger.id,
                cursor={**fingerprint, "since": new_since},
                seen_ids=seen,
                next_poll_at=next_poll,
                baseline_at=now if baseline else None,
            )
        )
        return fired


def _order_key(value: Any) -> tuple[int, float, str]:
    """Sort cursor values as what they are: numbers by value (10 after 9), text (ISO
    dates) as text; missing values first."""
    if value is None:
        return (0, 0.0, "")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (1, float(value), "")
    return (2, 0.0, str(value))


def _fingerprint(trigger: Any) -> dict[str, Any]:
    return {"trigger": f"{trigger.app}.{trigger.operation}", "inputs": trigger.inputs}


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _zone(inputs: Any) -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo(getattr(inputs, "timezone", "UTC"))
