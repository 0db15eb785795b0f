"""Arming a scenario's trigger: what enabling, disabling and publishing share.

An armed trigger is what makes events arrive: for an instant trigger with ``subscribe``,
a webhook registered with the vendor (one ``webhook_subscriptions`` row holding the
vendor's id and signing secret); for polling and schedule triggers, the state the
scheduler keeps in ``trigger_state`` (cursor and seen ids, the next tick). The trigger
armed is always the one of the scenario's *live* version.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from cells.models import TriggerCell
from connectors.sdk import CellwrightError, InstantTrigger, PollingTrigger, ScheduleTrigger
from engine import secrets as stored_secrets

if TYPE_CHECKING:
    from engine.service import Cellwright

log = logging.getLogger("cellwright")


def identity(trigger: TriggerCell) -> tuple[Any, ...]:
    """What a trigger is listening to: a change here means re-arming it."""
    return (trigger.id, trigger.app, trigger.operation, trigger.inputs, trigger.connection)


async def subscribe(svc: Cellwright, scenario: Any, trigger: TriggerCell) -> None:
    """Register the scenario's webhook URL with the vendor (instant triggers with
    ``subscribe``), unless the scenario already has a subscription."""
    app = svc.apps.get(trigger.app)
    op = app.trigger(trigger.operation)
    if not isinstance(op, InstantTrigger) or op.subscribe is None:
        return
    if await asyncio.to_thread(svc.store.webhook_subscriptions, scenario.id):
        return
    ctx = await svc.contexts.context(scenario.user_id, trigger, app)
    ctx.webhook_url = svc.webhook_url(scenario)
    inputs = await asyncio.to_thread(stored_secrets.trigger_inputs, svc.store, scenario.user_id, op, trigger)
    state = await op.subscribe(ctx, inputs, ctx.webhook_url or "")
    await asyncio.to_thread(
        lambda: svc.store.create_webhook_subscription(
            scenario_id=scenario.id, cell_id=trigger.id, token=scenario.webhook_token,
            app_id=trigger.app, connection_id=trigger.connection,
            external_id=str(state.get("id")) if state.get("id") is not None else None, state=dict(state),
        )
    )


async def unsubscribe(svc: Cellwright, scenario: Any, trigger: TriggerCell) -> None:
    """Remove the scenario's vendor subscriptions, made for ``trigger``. A vendor that
    refuses (or an app that is gone) is logged: the subscription is forgotten anyway."""
    for sub in await asyncio.to_thread(svc.store.webhook_subscriptions, scenario.id):
        try:
            app = svc.apps.get(trigger.app)
            op = app.trigger(trigger.operation)
            if isinstance(op, InstantTrigger) and op.unsubscribe is not None:
                ctx = await svc.contexts.context(scenario.user_id, trigger, app)
                inputs = await asyncio.to_thread(stored_secrets.trigger_inputs, svc.store, scenario.user_id, op, trigger)
                await op.unsubscribe(ctx, inputs, sub.state or {})
        except CellwrightError as exc:
            log.warning("could not remove the %s webhook of scenario %s: %s", trigger.app, scenario.id, exc)
        await asyncio.to_thread(svc.store.delete_webhook_subscription, sub.id)


async def fresh_baseline(svc: Cellwright, scenario: Any, trigger: TriggerCell) -> None:
    """Polling and schedule triggers start over: the next poll records a baseline (fires
    nothing), the next tick plans the schedule."""
    op = svc.apps.get(trigger.app).trigger(trigger.operation)
    if isinstance(op, PollingTrigger | ScheduleTrigger):
        await asyncio.to_thread(svc.store.delete_trigger_state, scenario.id)


async def disarm_for_change(svc: Cellwright, scenario: Any, old: TriggerCell, new: TriggerCell) -> None:
    """Publishing replaced the active scenario's trigger ``old`` by ``new`` (they differ):
    remove ``old``'s vendor subscriptions; forget the polling or schedule state unless
    only the inputs changed. Then :func:`subscribe` arms ``new``.

    A polling trigger whose inputs changed keeps its cursor and seen ids, so items that
    arrived during the edit are neither re-fired nor dropped; a schedule whose inputs
    changed is re-planned by the scheduler (its state carries the inputs it was planned
    for), without firing.
    """
    await unsubscribe(svc, scenario, old)
    if (old.id, old.app, old.operation, old.connection) != (new.id, new.app, new.operation, new.connection):
        await asyncio.to_thread(svc.store.delete_trigger_state, scenario.id)
