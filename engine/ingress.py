"""``/hooks/{token}``: what an incoming webhook leads to, and the answer it gets.

:class:`WebhookIngress` finds the scenario behind a token (cached for a moment: a burst
of events costs one lookup), checks the method, verifies the delivery with the trigger's
``verify`` (a signature, a shared secret), lets the trigger ``parse`` it (a vendor's
handshake is answered here, without a run), stores one execution per event (deduplicated
by the event's id or the ``Idempotency-Key`` header) and answers ``202`` — or, for a sync
webhook, waits for the run and answers with its result.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from connectors.sdk import (
    CellwrightError,
    IncomingRequest,
    InstantTrigger,
    WebhookVerificationError,
)
from engine.runner import RESPOND, Outcome


@dataclass
class WebhookAnswer:
    """What ``/hooks/{token}`` sends back."""

    status: int
    body: Any
    headers: dict[str, str]


Target = tuple[Any, Any, Any, Mapping[str, Any], Mapping[str, Any]]
"""(scenario, trigger operation, its inputs, subscription state, connection credentials)."""


class WebhookIngress:
    """Webhook deliveries of one :class:`~engine.service.Cellwright`."""

    CACHE_SECONDS = 2.0
    MAX_CACHED = 10_000

    def __init__(self, app: Any) -> None:
        self.app = app  # the Cellwright service: store, apps, runner, trigger()
        self._targets: dict[str, tuple[float, Target]] = {}

    def forget(self) -> None:
        """Drop the cached targets: a scenario was saved, published, enabled or disabled."""
        self._targets.clear()

    async def target(self, token: str) -> Target | None:
        """What a webhook token leads to. Changes made through this process clear the
        cache at once; others (a CLI next to the server) are seen within ``CACHE_SECONDS``."""
        now = time.monotonic()
        cached = self._targets.get(token)
        if cached is not None and cached[0] > now:
            return cached[1]
        store = self.app.store
        scenario = await asyncio.to_thread(store.scenario_by_webhook_token, token)
        if scenario is None:
            return None
        # the live version's trigger answers (before the first publish: the latest saved
        # one, so an inactive scenario still says "enable it" rather than "not found")
        version = scenario.live_version if scenario.live_version is not None else scenario.version
        doc = await asyncio.to_thread(self.app.runner.document, scenario.id, version)
        trigger = doc.trigger
        op = self.app.apps.get(trigger.app).trigger(trigger.operation)
        inputs = op.input.model_validate(trigger.inputs)
        subs = await asyncio.to_thread(store.webhook_subscriptions, scenario.id)
        state: Mapping[str, Any] = (subs[0].state or {}) if subs else {}
        credentials: Mapping[str, Any] = {}
        if trigger.connection:
            connection = await asyncio.to_thread(store.get_connection, scenario.user_id, trigger.connection)
            if connection is not None:
                credentials = await asyncio.to_thread(store.connection_credentials, connection.id)
        target: Target = (scenario, op, inputs, state, credentials)
        if len(self._targets) > self.MAX_CACHED:
            self._targets.clear()
        self._targets[token] = (now + self.CACHE_SECONDS, target)
        return target

    async def receive(self, token: str, request: IncomingRequest) -> WebhookAnswer:
        """Verify, store, enqueue; answer 202 (or the run's answer for sync hooks)."""
        target = await self.target(token)
        if target is None:
            return WebhookAnswer(404, {"error": "not_found", "message": "No scenario listens at this URL."}, {})
        scenario, op, inputs, state, credentials = target
        if not isinstance(op, InstantTrigger):
            return WebhookAnswer(404, {"error": "not_found", "message": "This scenario does not start from a webhook."}, {})
        if request.method not in op.methods:
            return WebhookAnswer(405, {"error": "method_not_allowed", "message": f"This webhook accepts {', '.join(op.methods)}."}, {"Allow": ", ".join(op.methods)})
        allowed = getattr(inputs, "methods", None)
        if allowed and request.method not in allowed:
            return WebhookAnswer(405, {"error": "method_not_allowed", "message": f"This webhook accepts {', '.join(allowed)}."}, {"Allow": ", ".join(allowed)})
        if op.verify is not None:
            try:
                op.verify(request, inputs, state, credentials)
            except WebhookVerificationError as exc:
                return WebhookAnswer(401, {"error": exc.code, "message": exc.message}, {})
        try:
            reply = await op.parse(request, inputs, state)
        except CellwrightError as exc:
            return WebhookAnswer(400, {"error": exc.code, "message": exc.message}, {})
        if reply.response is not None:
            status, body, headers = reply.response
            return WebhookAnswer(status, body, dict(headers))
        if scenario.status != "active" or scenario.live_version is None:
            return WebhookAnswer(409, {"error": "scenario_inactive", "message": f"Scenario '{scenario.name}' is {scenario.status}; enable it to accept events."}, {})
        sync = getattr(inputs, "response", "async") == "sync"
        key = request.header("idempotency-key")
        ids = []
        outcome = None
        for index, event in enumerate(reply.events):
            event_key = f"{key}:{index}" if key and len(reply.events) > 1 else key
            if op.dedupe_key and event.get(op.dedupe_key) is not None:
                event_key = f"event:{event[op.dedupe_key]}"
            execution, outcome = await self.app.trigger(
                scenario, event, key=event_key,
                wait=self.app.settings.sync_response_timeout_seconds if sync and len(reply.events) == 1 else None,
            )
            ids.append(execution.id)
        if sync and outcome is None and len(ids) == 1:
            # a repeated delivery (same Idempotency-Key): answer as the first run did
            outcome = await self.recorded_outcome(ids[0])
        if sync and outcome is not None:
            return sync_answer(outcome, ids[0])
        return WebhookAnswer(202, {"accepted": len(ids), "execution_ids": ids, "execution_id": ids[0] if ids else None}, {})

    async def recorded_outcome(self, execution_id: str) -> Outcome | None:
        """The outcome of a finished execution, rebuilt from its records (None if unfinished)."""
        store = self.app.store
        execution = await asyncio.to_thread(store.get_execution, None, execution_id)
        if execution is None or execution.status not in ("completed", "failed"):
            return None
        doc = await asyncio.to_thread(self.app.runner.document, execution.scenario_id, execution.scenario_version)
        responders = {cell.id for cell, _ in doc.walk() if (getattr(cell, "app", None), getattr(cell, "operation", None)) == RESPOND}
        outcome = Outcome(execution.status, error=execution.error)
        for result in await asyncio.to_thread(store.node_results, execution_id):
            if result.status == "completed":
                outcome.last_output = result.output
                if result.cell_id in responders:
                    outcome.response = result.output
        return outcome


def sync_answer(outcome: Outcome, execution_id: str) -> WebhookAnswer:
    """A sync webhook's answer: the "Webhook response" cell's, else the last output."""
    headers = {"X-Cellwright-Execution": execution_id}
    if outcome.status == "failed":
        return WebhookAnswer(500, {"error": "execution_failed", "execution_id": execution_id, "detail": outcome.error}, headers)
    if outcome.response is not None:
        return WebhookAnswer(int(outcome.response.get("status", 200)), outcome.response.get("body"), {**headers, **(outcome.response.get("headers") or {})})
    return WebhookAnswer(200, outcome.last_output, headers)


__all__ = ["WebhookAnswer", "WebhookIngress", "sync_answer"]
