"""Arming a scenario's trigger: what enabling, disabling and publishing share.

An armed trigger is what makes events arrive: for an instant trigger with ``subscribe``,
a webhook registered with the vendor (one ``webhook_subscriptions`` row holding the
vendor's id and signing secret); for polling and schedule triggers, the state the
scheduler keeps in ``trigger_state`` (cursor and seen ids, the next tick). The trigger
armed is always the one of the scenario's *live* version.

Two kinds of instant trigger need more than a subscription:

- one whose notifications only say *that* something changed (``InstantTrigger.fetch``,
  Google's watch channels): arming takes a baseline (``fetch`` with no cursor, whose
  items never run) *before* subscribing, so a change made while the channel is being
  created is found by the first notification; each accepted notification then fetches
  from the cursor kept in ``trigger_state`` (:func:`fetch_changes`);
- one whose subscription expires (``InstantTrigger.renew_before``, a Google channel
  lives a week at most): the scheduler calls :func:`renew_due` on each pass, which
  subscribes again before ``expires_at``, stores the new state, then removes the old
  subscription at the vendor. The cursor is not touched, so nothing that changed
  during the switch is lost.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from cells.models import TriggerCell
from connectors.sdk import (
    CellwrightError,
    ConfigurationError,
    InstantTrigger,
    Polled,
    PollingTrigger,
    ScheduleTrigger,
)
from engine import secrets as stored_secrets

if TYPE_CHECKING:
    from connectors.registry import Registry
    from engine.contexts import Contexts
    from engine.runner import Runner
    from storage import Scenario, Store

log = logging.getLogger("cellwright")


class Forgets(Protocol):
    def forget(self) -> None: ...


class ArmingHost(Protocol):
    """What arming needs of the service (``engine.service.Cellwright`` is one): the apps,
    the store, the documents of versions, the contexts calls run in, the URL of a
    scenario's webhook, and the ingress whose cached targets an arming change clears."""

    @property
    def apps(self) -> Registry: ...
    @property
    def store(self) -> Store: ...
    @property
    def runner(self) -> Runner: ...
    @property
    def contexts(self) -> Contexts: ...
    @property
    def ingress(self) -> Forgets: ...

    def webhook_url(self, scenario: Scenario) -> str | None: ...


def identity(trigger: TriggerCell) -> tuple[Any, ...]:
    """What a trigger is listening to: a change here means re-arming it."""
    return (trigger.id, trigger.app, trigger.operation, trigger.inputs, trigger.connection)


async def subscribe(svc: ArmingHost, scenario: Scenario, trigger: TriggerCell) -> None:
    """Register the scenario's webhook URL with the vendor (instant triggers with
    ``subscribe``), unless the scenario already has a subscription."""
    app = svc.apps.get(trigger.app)
    op = app.trigger(trigger.operation)
    if not isinstance(op, InstantTrigger) or op.subscribe is None:
        return
    if await asyncio.to_thread(svc.store.webhook_subscriptions, scenario.id):
        return
    token = scenario.webhook_token
    if token is None:  # every saved scenario has one (Cellwright.import_scenario)
        raise ConfigurationError(
            f"Scenario '{scenario.name}' has no webhook URL yet; save it again."
        )
    ctx = await svc.contexts.context(scenario.user_id, trigger, app)
    ctx.webhook_url = svc.webhook_url(scenario)
    inputs = await asyncio.to_thread(
        stored_secrets.trigger_inputs, svc.store, scenario.user_id, op, trigger
    )
    if op.fetch is not None:  # the baseline first: a change made meanwhile is found later
        baseline = await op.fetch(ctx, inputs, None)
        await _save_cursor(svc, scenario.id, trigger.id, baseline)
    state = await op.subscribe(ctx, inputs, ctx.webhook_url or "")
    await asyncio.to_thread(
        lambda: svc.store.create_webhook_subscription(
            scenario_id=scenario.id,
            cell_id=trigger.id,
            token=token,
            app_id=trigger.app,
            connection_id=trigger.connection,
            external_id=str(state.get("id")) if state.get("id") is not None else None,
            state=dict(state),
        )
    )


async def unsubscribe(svc: ArmingHost, scenario: Scenario, trigger: TriggerCell) -> None:
    """Remove the scenario's vendor subscriptions, made for ``trigger``. A vendor that
    refuses (or an app that is gone) is logged: the subscription is forgotten anyway."""
    for sub in await asyncio.to_thread(svc.store.webhook_subscriptions, scenario.id):
        try:
            app = svc.apps.get(trigger.app)
            op = app.trigger(trigger.operation)
            if isinstance(op, InstantTrigger) and op.unsubscribe is not None:
                ctx = await svc.contexts.context(scenario.user_id, trigger, app)
                inputs = await asyncio.to_thread(
                    stored_secrets.trigger_inputs, svc.store, scenario.user_id, op, trigger
                )
                await op.unsubscribe(ctx, inputs, sub.state or {})
        except CellwrightError as exc:
            log.warning(
                "could not remove the %s webhook of scenario %s: %s", trigger.app, scenario.id, exc
            )
        await asyncio.to_thread(svc.store.delete_webhook_subscription, sub.id)


async def fresh_baseline(svc: ArmingHost, scenario: Scenario, trigger: TriggerCell) -> None:
    """Polling and schedule triggers start over: the next poll records a baseline (fires
    nothing), the next tick plans the schedule."""
    op = svc.apps.get(trigger.app).trigger(trigger.operation)
    if isinstance(op, PollingTrigger | ScheduleTrigger):
        await asyncio.to_thread(svc.store.delete_trigger_state, scenario.id)


async def disarm_for_change(
    svc: ArmingHost, scenario: Scenario, old: TriggerCell, new: TriggerCell
) -> None:
    """Publishing replaced the active scenario's trigger ``old`` by ``new`` (they differ):
    remove ``old``'s vendor subscriptions; forget the polling or schedule state unless
    only the inputs changed. Then :func:`subscribe` arms ``new``.

    A polling trigger whose inputs changed keeps its cursor and seen ids, so items that
    arrived during the edit are neither re-fired nor dropped; a schedule whose inputs
    changed is re-planned by the scheduler (its state carries the inputs it was planned
    for), without firing.
    """
    await unsubscribe(svc, scenario, old)
    if (old.id, old.app, old.operation, old.connection) != (
        new.id,
        new.app,
        new.operation,
        new.connection,
    ):
        await asyncio.to_thread(svc.store.delete_trigger_state, scenario.id)


# -- notifications that carry no data, subscriptions that expire ---------------------------


async def _save_cursor(svc: ArmingHost, scenario_id: str, cell_id: str, fetched: Any) -> None:
    cursor = fetched.cursor if isinstance(fetched, Polled) else None
    if cursor is not None:
        await asyncio.to_thread(
            lambda: svc.store.save_trigger_state(scenario_id, cell_id, cursor={"since": cursor})
        )


async def fetch_changes(
    svc: ArmingHost, scenario: Scenario, op: InstantTrigger, inputs: Any
) -> list[dict[str, Any]]:
    """What changed since the last notification (``op.fetch`` from the stored cursor),
    as trigger payloads; the new cursor is stored before they run."""
    assert op.fetch is not None
    # the version the trigger runs (as Cellwright.trigger
    # picks it; ingress only gets here for a live one)
    version = scenario.live_version if scenario.live_version is not None else scenario.version
    trigger = (await asyncio.to_thread(svc.runner.document, scenario.id, version)).trigger
    app = svc.apps.get(trigger.app)
    state = await asyncio.to_thread(svc.store.get_trigger_state, scenario.id, trigger.id)
    since = state.cursor.get("since") if state and isinstance(state.cursor, Mapping) else None
    ctx = await svc.contexts.context(scenario.user_id, trigger, app)
    items = await op.fetch(ctx, inputs, since)
    await _save_cursor(svc, scenario.id, trigger.id, items)
    return [op.output.model_validate(dict(item)).model_dump(mode="json") for item in items]


def expires_at(state: Mapping[str, Any]) -> datetime | None:
    """A subscription's ``expires_at`` (ISO 8601; naive means UTC), None without one."""
    value = state.get("expires_at")
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def renew_due(
    svc: ArmingHost, scenario: Scenario, trigger: TriggerCell, op: InstantTrigger, now: datetime
) -> int:
    """Subscribe again for each of the scenario's subscriptions that expires within
    ``op.renew_before`` of ``now`` (or has expired); returns how many were renewed.

    The new subscription is made and stored before the old one is removed, so the
    scenario always has one; a vendor refusing to remove the old one is only logged
    (it expires by itself)."""
    if op.renew_before is None or op.subscribe is None:
        return 0
    renewed = 0
    for sub in await asyncio.to_thread(svc.store.webhook_subscriptions, scenario.id):
        old = dict(sub.state or {})
        ends = expires_at(old)
        if ends is None or ends - op.renew_before > now:
            continue
        app = svc.apps.get(trigger.app)
        ctx = await svc.contexts.context(scenario.user_id, trigger, app)
        ctx.webhook_url = svc.webhook_url(scenario)
        inputs = await asyncio.to_thread(
            stored_secrets.trigger_inputs, svc.store, scenario.user_id, op, trigger
        )
        state = dict(await op.subscribe(ctx, inputs, ctx.webhook_url or ""))
        external = str(state["id"]) if state.get("id") is not None else None
        await asyncio.to_thread(
            svc.store.update_webhook_subscription, sub.id, external_id=external, state=state
        )
        svc.ingress.forget()  # deliveries are checked against the new state from now on
        if op.unsubscribe is not None:
            try:
                await op.unsubscribe(ctx, inputs, old)
            except CellwrightError as exc:
                log.warning(
                    "could not remove the replaced %s subscription of scenario %s: %s",
                    trigger.app,
                    scenario.id,
                    exc,
                )
        log.info(
            "renewed the %s subscription of scenario %s (it expired at %s)",
            trigger.app,
            scenario.id,
            ends.isoformat(),
        )
        renewed += 1
    return renewed
