"""``/hooks/{token}``: what an incoming webhook leads to, and the answer it gets.

:class:`WebhookIngress` finds the scenario behind a token (cached for a moment: a burst
of events costs one lookup), checks the method, verifies the delivery with the trigger's
``verify`` (a signature, a shared secret), lets the trigger ``parse`` it (a vendor's
handshake is answered here, without a run), stores one execution per event (deduplicated
by the event's id or the ``Idempotency-Key`` header) and answers ``202`` — or, for a sync
webhook, waits for the run and answers with its result.

``/hooks/apps/{app}/{token}`` is a *connection's* URL, for apps whose vendor sends every
event of a connection to one URL (``App.connection_webhook``: a Slack app's single
Request URL). A delivery there is verified once with the connection's credentials, a
URL check is answered without any scenario (a body that says it is JSON and is not
standard JSON is refused first, with 400), and the delivery is handed to every enabled
scenario of the connection's owner whose live trigger is one of the app's instant
triggers on that connection: each trigger's ``parse`` picks its events, one execution
per event and scenario (deduplicated per scenario). The answer is ``200`` at once with
the runs started — also ``accepted: 0`` when no scenario wants it, since vendors turn
off a URL that keeps failing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from pydantic import ValidationError

from connectors.sdk import (
    HOPS_HEADER,
    CellwrightError,
    ConnectionWebhook,
    IncomingRequest,
    InstantTrigger,
    WebhookVerificationError,
    secret_value,
)
from engine import arming
from engine import secrets as stored_secrets
from engine.quotas import QuotaExceededError
from engine.runner import RESPOND, Outcome
from storage.statuses import ExecutionStatus, NodeStatus, ScenarioStatus

if TYPE_CHECKING:
    from connectors.sdk import App, Trigger
    from engine.settings import Settings
    from storage import Connection, Execution, Scenario

log = logging.getLogger("cellwright.ingress")

OAUTH_APP_SECRETS = ("signing_secret", "client_secret")
"""Secrets of the operator's OAuth app that a trigger's ``verify`` may need (see
``WebhookIngress._with_oauth_app_secrets``)."""


@dataclass
class WebhookAnswer:
    """What ``/hooks/{token}`` sends back."""

    status: int
    body: Any
    headers: dict[str, str]


class IngressHost(arming.ArmingHost, Protocol):
    """What the ingress needs of the service (``engine.service.Cellwright`` is one): what
    arming needs (fetching what a change notification announces), the settings, and
    ``trigger``, which stores an execution durably and submits it."""

    @property
    def settings(self) -> Settings: ...

    async def trigger(
        self,
        scenario: Scenario,
        payload: Mapping[str, Any],
        *,
        key: str | None = None,
        wait: float | None = None,
        version: int | None = None,
        hops: int = 0,
    ) -> tuple[Execution, Outcome | None]: ...


class Target(NamedTuple):
    """What a scenario's webhook token leads to."""

    scenario: Scenario
    op: Trigger  # answers only when it is an instant trigger
    inputs: Any  # the trigger's validated input model
    state: Mapping[str, Any]  # the vendor subscription's state (its signing secret)
    credentials: Mapping[str, Any]  # of the trigger's connection, for ``verify``


class Listener(NamedTuple):
    """A scenario listening on a connection's URL with one of its live instant triggers."""

    scenario: Scenario
    op: InstantTrigger
    inputs: Any


@dataclass(frozen=True)
class ConnectionTarget:
    """What a connection's webhook token leads to."""

    connection: Connection
    hook: ConnectionWebhook
    credentials: Mapping[str, Any]
    listeners: tuple[Listener, ...]
    """Every scenario listening on the connection."""


class WebhookIngress:
    """Webhook deliveries of one :class:`~engine.service.Cellwright`."""

    CACHE_SECONDS = 2.0
    MAX_CACHED = 10_000

    def __init__(self, app: IngressHost) -> None:
        self.app = app  # the Cellwright service: store, apps, runner, trigger()
        self._targets: dict[str, tuple[float, Target]] = {}
        self._connections: dict[tuple[str, str], tuple[float, ConnectionTarget]] = {}
        self._fetching: dict[str, asyncio.Lock] = {}
        self._generation = 0
        # lookups in flight, by (token, generation): concurrent deliveries to a URL whose
        # cache entry expired share one lookup instead of each reading the store
        # (and by event loop: a future belongs to the loop it was made on, and a webhook
        # can arrive on the server's loop while a vendor's challenge arrives on another)
        self._lookups: dict[
            tuple[str, int, asyncio.AbstractEventLoop], asyncio.Future[Target | None]
        ] = {}
        """Counts ``forget`` calls: a lookup that a ``forget`` overtook is not cached (a
        vendor may call the URL while the scenario is being enabled: monday's challenge
        arrives during ``create_webhook``, before the scenario is active)."""

    def forget(self) -> None:
        """Drop the cached targets: a scenario was saved, published, enabled or disabled,
        or a connection changed."""
        self._generation += 1
        self._targets.clear()
        self._connections.clear()

    async def target(self, token: str) -> Target | None:
        """What a webhook token leads to. Changes made through this process clear the
        cache at once; others (a CLI next to the server) are seen within ``CACHE_SECONDS``."""
        now = time.monotonic()
        cached = self._targets.get(token)
        if cached is not None and cached[0] > now:
            return cached[1]
        # a lookup a ``forget`` overtook is not joined
        key = (token, self._generation, asyncio.get_running_loop())
        lookup = self._lookups.get(key)
        if lookup is None:
            lookup = asyncio.ensure_future(self._look_up(token, now))
            self._lookups[key] = lookup
            lookup.add_done_callback(lambda done: self._lookup_done(key, done))
        # shielded: one caller giving up (its client went away) does not cancel the others'
        return await asyncio.shield(lookup)

    def _lookup_done(
        self,
        key: tuple[str, int, asyncio.AbstractEventLoop],
        lookup: asyncio.Future[Target | None],
    ) -> None:
        self._lookups.pop(key, None)
        if not lookup.cancelled():
            lookup.exception()  # its waiters got it; no "never retrieved" warning if none is left

    async def _look_up(self, token: str, now: float) -> Target | None:
        store = self.app.store
        generation = self._generation
        scenario = await asyncio.to_thread(store.scenario_by_webhook_token, token)
        if scenario is None:
            return None
        # the live version's trigger answers (before the first publish: the latest saved
        # one, so an inactive scenario still says "enable it" rather than "not found")
        version = scenario.live_version if scenario.live_version is not None else scenario.version
        doc = await asyncio.to_thread(self.app.runner.document, scenario.id, version)
        trigger = doc.trigger
        op = self.app.apps.get(trigger.app).trigger(trigger.operation)
        inputs = await asyncio.to_thread(
            stored_secrets.trigger_inputs, store, scenario.user_id, op, trigger
        )
        subs = await asyncio.to_thread(store.webhook_subscriptions, scenario.id)
        state: Mapping[str, Any] = (subs[0].state or {}) if subs else {}
        credentials: Mapping[str, Any] = {}
        if trigger.connection:
            connection = await asyncio.to_thread(
                store.get_connection, scenario.user_id, trigger.connection
            )
            if connection is not None:
                credentials = await asyncio.to_thread(store.connection_credentials, connection.id)
                credentials = self._with_oauth_app_secrets(trigger.app, connection, credentials)
        target = Target(scenario, op, inputs, state, credentials)
        if len(self._targets) > self.MAX_CACHED:
            self._targets.clear()
        if generation == self._generation:
            self._targets[token] = (now + self.CACHE_SECONDS, target)
        return target

    def _with_oauth_app_secrets(
        self, app_key: str, connection: Any, credentials: Mapping[str, Any]
    ) -> Mapping[str, Any]:
        """An OAuth connection's credentials plus the operator's OAuth app secrets.

        Some vendors sign the webhooks made with an app's token with that *app's* secret
        (monday.com: the app's signing secret; HubSpot: the app's client secret), which no
        connection holds: ``verify`` finds
        ``signing_secret`` / ``client_secret`` from ``CELLWRIGHT_OAUTH_CLIENTS__<app>__…``
        beside the token set. What the connection holds itself (a user's own OAuth app) wins.
        """
        app = self.app.apps.get(app_key)
        if app.auth_for((connection.metadata or {}).get("auth_type")).type != "oauth2":
            return credentials
        client = self.app.settings.oauth_clients.get(app_key) or {}
        found = {name: secret_value(client[name]) for name in OAUTH_APP_SECRETS if client.get(name)}
        return {**found, **credentials}

    async def receive(self, token: str, request: IncomingRequest) -> WebhookAnswer:
        """Verify, store, enqueue; answer 202 (or the run's answer for sync hooks)."""
        target = await self.target(token)
        if target is None:
            return WebhookAnswer(
                404, {"error": "not_found", "message": "No scenario listens at this URL."}, {}
            )
        scenario, op, inputs, state, credentials = target
        if not isinstance(op, InstantTrigger):
            return WebhookAnswer(
                404,
                {"error": "not_found", "message": "This scenario does not start from a webhook."},
                {},
            )
        if request.method not in op.methods:
            return WebhookAnswer(
                405,
                {
                    "error": "method_not_allowed",
                    "message": f"This webhook accepts {', '.join(op.methods)}.",
                },
                {"Allow": ", ".join(op.methods)},
            )
        allowed = getattr(inputs, "methods", None)
        if allowed and request.method not in allowed:
            return WebhookAnswer(
                405,
                {
                    "error": "method_not_allowed",
                    "message": f"This webhook accepts {', '.join(allowed)}.",
                },
                {"Allow": ", ".join(allowed)},
            )
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
        if scenario.status != ScenarioStatus.ACTIVE or scenario.live_version is None:
            return WebhookAnswer(
                409,
                {
                    "error": "scenario_inactive",
                    "message": (
                        f"Scenario '{scenario.name}' is {scenario.status}; "
                        "enable it to accept events."
                    ),
                },
                {},
            )
        hops = hops_of(request)
        if hops > self.app.settings.max_hops:
            return loop_answer(hops, self.app.settings.max_hops)
        events = reply.events
        if op.fetch is not None and events:
            try:
                events = await self._fetch_changes(scenario, op, inputs)
            except (
                CellwrightError
            ) as exc:  # 503: the vendor delivers again later (Google retries 5xx)
                log.warning(
                    "scenario %s: fetching what changed failed: %s", scenario.id, exc.message
                )
                return WebhookAnswer(
                    503 if exc.retryable else 502, {"error": exc.code, "message": exc.message}, {}
                )
        sync = getattr(inputs, "response", "async") == "sync"
        key = request.header("idempotency-key")
        ids: list[str] = []
        outcome = None
        for index, event in enumerate(events):
            try:
                execution, outcome = await self.app.trigger(
                    scenario,
                    event,
                    key=event_key(op, event, key, index, len(reply.events)),
                    wait=self.app.settings.sync_response_timeout_seconds
                    if sync and len(reply.events) == 1
                    else None,
                    hops=hops,
                )
            except QuotaExceededError as exc:  # the owner's execution quota: 429, say until when
                return WebhookAnswer(
                    429,
                    {"error": exc.code, "message": exc.message, "accepted": len(ids)},
                    {"Retry-After": str(exc.retry_after)},
                )
            ids.append(execution.id)
        if sync and outcome is None and len(ids) == 1:
            # a repeated delivery (same Idempotency-Key): answer as the first run did
            outcome = await self.recorded_outcome(ids[0])
        if sync and outcome is not None:
            return sync_answer(outcome, ids[0])
        return WebhookAnswer(
            202,
            {"accepted": len(ids), "execution_ids": ids, "execution_id": ids[0] if ids else None},
            {},
        )

    async def _fetch_changes(
        self, scenario: Scenario, op: InstantTrigger, inputs: Any
    ) -> list[dict[str, Any]]:
        """A notification that says only *that* something changed: fetch what did, one
        notification of a scenario at a time (the next one starts from the cursor this
        one stored; Google sends several for one change)."""
        lock = self._fetching.setdefault(scenario.id, asyncio.Lock())
        async with lock:
            return await arming.fetch_changes(self.app, scenario, op, inputs)

    # -- a connection's URL: /hooks/apps/{app}/{token} -------------------------------------

    async def connection_target(self, app_key: str, token: str) -> ConnectionTarget | None:
        """What a connection's webhook token leads to (cached like :meth:`target`); None
        for an unknown token, or one of another app."""
        now = time.monotonic()
        cached = self._connections.get((app_key, token))
        if cached is not None and cached[0] > now:
            return cached[1]
        if app_key not in self.app.apps:
            return None
        app = self.app.apps.get(app_key)
        if app.connection_webhook is None:
            return None
        store = self.app.store
        generation = self._generation
        connection = await asyncio.to_thread(store.connection_by_webhook_token, token)
        if connection is None or connection.app_id != app.key:
            return None
        credentials = self._with_oauth_app_secrets(
            app.key,
            connection,
            await asyncio.to_thread(store.connection_credentials, connection.id),
        )
        listeners = await asyncio.to_thread(self._listeners, app, connection)
        target = ConnectionTarget(connection, app.connection_webhook, credentials, listeners)
        if len(self._connections) > self.MAX_CACHED:
            self._connections.clear()
        if generation == self._generation:
            self._connections[(app_key, token)] = (now + self.CACHE_SECONDS, target)
        return target

    def _listeners(self, app: App, connection: Connection) -> tuple[Listener, ...]:
        """The owner's enabled scenarios whose *live* trigger is one of ``app``'s instant
        triggers on ``connection`` (a saved draft changes nothing until it is published).
        Only the owner's: another user's document naming this connection gets nothing."""
        found: list[Listener] = []
        for scenario in self.app.store.active_scenarios(connection.user_id):
            if scenario.live_version is None:
                continue
            try:
                trigger = self.app.runner.document(scenario.id, scenario.live_version).trigger
                if trigger.app != app.key or trigger.connection != connection.id:
                    continue
                op = app.trigger(trigger.operation)
                if isinstance(op, InstantTrigger):
                    inputs = stored_secrets.trigger_inputs(
                        self.app.store, scenario.user_id, op, trigger
                    )
                    found.append(Listener(scenario, op, inputs))
            except (
                CellwrightError,
                LookupError,
                ValidationError,
            ) as exc:  # one broken scenario does not stop the others
                log.warning("scenario %s cannot take %s events: %s", scenario.id, app.key, exc)
        return tuple(found)

    async def receive_for_connection(
        self, app_key: str, token: str, request: IncomingRequest
    ) -> WebhookAnswer:
        """Verify once, answer a URL check, hand the delivery to every listening scenario;
        answer 200 with the runs it started (never waiting for them)."""
        target = await self.connection_target(app_key, token)
        if target is None:
            return WebhookAnswer(
                404, {"error": "not_found", "message": "No connection listens at this URL."}, {}
            )
        hook = target.hook
        if request.method not in hook.methods:
            return WebhookAnswer(
                405,
                {
                    "error": "method_not_allowed",
                    "message": f"This URL accepts {', '.join(hook.methods)}.",
                },
                {"Allow": ", ".join(hook.methods)},
            )
        try:
            hook.verify(request, target.credentials)
        except WebhookVerificationError as exc:
            return WebhookAnswer(401, {"error": exc.code, "message": exc.message}, {})
        try:
            if request.declares_json:
                request.json()  # a body that says JSON and is not: refused once, for every scenario
            answer = hook.challenge(request) if hook.challenge is not None else None
        except CellwrightError as exc:
            return WebhookAnswer(400, {"error": exc.code, "message": exc.message}, {})
        if answer is not None:
            status, body, headers = answer
            return WebhookAnswer(status, body, dict(headers))
        hops = hops_of(request)
        if hops > self.app.settings.max_hops:
            return loop_answer(hops, self.app.settings.max_hops)
        key = request.header("idempotency-key")
        runs = []
        for scenario, op, inputs in target.listeners:
            try:
                reply = await op.parse(
                    request, inputs, target.connection.metadata or {}
                )  # e.g. the account id to keep
            except CellwrightError as exc:  # this scenario's trigger cannot read it; the others may
                log.warning(
                    "scenario %s could not read a %s delivery: %s",
                    scenario.id,
                    app_key,
                    exc.message,
                )
                continue
            runs += [
                (scenario, event, event_key(op, event, key, index, len(reply.events)))
                for index, event in enumerate(reply.events)
            ]
        # stored together (group commit), then run in the background
        started = await asyncio.gather(
            *(
                self.app.trigger(scenario, event, key=dedupe, hops=hops)
                for scenario, event, dedupe in runs
            ),
            return_exceptions=True,
        )
        ids: list[str] = []
        for (scenario, _, _), result in zip(runs, started, strict=True):
            if isinstance(result, QuotaExceededError):  # the owner's quota: not run, say so
                log.warning("scenario %s: event not run: %s", scenario.id, result.message)
            elif isinstance(result, BaseException):
                raise result
            else:
                ids.append(result[0].id)
        return WebhookAnswer(200, {"accepted": len(ids), "execution_ids": ids}, {})

    # -- records ----------------------------------------------------------------------------

    async def recorded_outcome(self, execution_id: str) -> Outcome | None:
        """The outcome of a finished execution, rebuilt from its records (None if unfinished)."""
        store = self.app.store
        execution = await asyncio.to_thread(store.get_execution, None, execution_id)
        if execution is None or execution.status not in (
            ExecutionStatus.COMPLETED,
            ExecutionStatus.FAILED,
        ):
            return None
        doc = await asyncio.to_thread(
            self.app.runner.document, execution.scenario_id, execution.scenario_version
        )
        responders = {
            cell.id
            for cell, _ in doc.walk()
            if (getattr(cell, "app", None), getattr(cell, "operation", None)) == RESPOND
        }
        outcome = Outcome(execution.status, error=execution.error)
        for result in await asyncio.to_thread(store.node_results, execution_id):
            if result.status == NodeStatus.COMPLETED:
                outcome.last_output = result.output
                if result.cell_id in responders:
                    outcome.response = result.output
        return outcome


def event_key(
    op: InstantTrigger, event: Mapping[str, Any], header: str | None, index: int, count: int
) -> str | None:
    """A delivered event's dedupe key: the vendor's event id (the trigger's ``dedupe_key``),
    else the sender's ``Idempotency-Key`` (per event when a delivery carries several)."""
    key = op.item_key(event)
    if key is not None:
        return f"event:{key}"
    return f"{header}:{index}" if header and count > 1 else header


def hops_of(request: IncomingRequest) -> int:
    """The delivery's ``X-Cellwright-Hops`` (0 without one, or when it is not a number:
    only our HTTP action sets it, and it always sends a plain count)."""
    value = (request.header(HOPS_HEADER) or "").strip()
    return int(value) if value.isdigit() and len(value) <= 6 else 0


def loop_answer(hops: int, limit: int) -> WebhookAnswer:
    """508 for a delivery over the hop limit: scenarios calling each other's webhooks in a loop."""
    return WebhookAnswer(
        508,
        {
            "error": "loop_detected",
            "message": (
                f"Refused: this call comes from a chain of {hops} Cellwright scenarios calling "
                f"one another's webhooks, over the limit of {limit} (CELLWRIGHT_MAX_HOPS). "
                "A scenario probably calls its own webhook, directly or through others: "
                "change its HTTP request's URL. No run was started."
            ),
            "hops": hops,
        },
        {},
    )


def sync_answer(outcome: Outcome, execution_id: str) -> WebhookAnswer:
    """A sync webhook's answer: the "Webhook response" cell's, else the last output."""
    headers = {"X-Cellwright-Execution": execution_id}
    if outcome.status == ExecutionStatus.FAILED:
        return WebhookAnswer(
            500,
            {"error": "execution_failed", "execution_id": execution_id, "detail": outcome.error},
            headers,
        )
    if outcome.response is not None:
        return WebhookAnswer(
            int(outcome.response.get("status", 200)),
            outcome.response.get("body"),
            {**headers, **(outcome.response.get("headers") or {})},
        )
    return WebhookAnswer(200, outcome.last_output, headers)


__all__ = [
    "ConnectionTarget",
    "WebhookAnswer",
    "WebhookIngress",
    "event_key",
    "hops_of",
    "loop_answer",
    "sync_answer",
]
