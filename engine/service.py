"""``Cellwright``: the one object the CLI, the REST API, the workspace and notebooks use.

Everything a user can do is a method here or on one of its services, so the front
ends never carry their own copy of the logic and never touch the store
(``tests/workspace/test_no_store_in_front_ends.py``):

- ``svc.scenarios`` (``engine.scenarios.Scenarios``): list, read, save, delete;
- ``svc.connections`` (``engine.connections.Connections``): list and look up;
- ``svc.executions`` (``engine.executions.Executions``): list, count, read, queue;
- ``svc.accounts`` (``engine.accounts.Accounts``): users, API keys, sign-ins, alert
  rules, the audit log;
- ``svc.data_stores`` (``engine.datastores.DataStores``): data stores and their records,
  with their limits.

Each takes only the slice of the store it needs (``engine.ports``). What arms vendor
triggers, runs the test call of a connection or starts a run stays here, because it
needs the runner, the executor, the contexts and the webhook ingress.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cells import checks, loops
from cells import document as documents
from cells.mapping import RunBudget
from cells.models import LoopCell, ScenarioDocument, TriggerCell
from cells.run import CellResult, idempotency_key, run_cell
from cells.secrets import scrub
from connectors.extra_apps import registry_for
from connectors.icons import icon_url
from connectors.registry import Registry
from connectors.sdk import (
    CallTimeoutError,
    CellwrightError,
    ConfigurationError,
    IncomingRequest,
    InvalidInputError,
    Option,
)
from connectors.sdk.options import fetch_options, source_for
from engine import arming, delays, ownership
from engine import secrets as stored_secrets
from engine.accounts import Accounts
from engine.cluster import CeleryExecutor, Reaper
from engine.connections import Connections
from engine.contexts import Contexts
from engine.datastores import DataStores
from engine.errors import Conflict, NotFound
from engine.executions import Executions
from engine.executor import LocalExecutor
from engine.ingress import WebhookAnswer, WebhookIngress
from engine.privacy import Privacy
from engine.quotas import Quotas
from engine.retention import Retention
from engine.runner import Outcome, Runner
from engine.scenarios import Scenarios
from engine.settings import Settings
from engine.subscenarios import SubScenarios
from engine.writes import WriteQueue
from storage.statuses import ConnectionStatus, ExecutionStatus, NodeStatus, ScenarioStatus

if TYPE_CHECKING:
    from connectors.sdk import App
    from engine.leader import Leadership
    from storage import Connection, Execution, Scenario, Store, User
    from storage.analytics import AnalyticsLog

log = logging.getLogger("cellwright")

OPTIONS_TIMEOUT_SECONDS = 30.0
"""How long listing a field's choices may take: a person is waiting at a dropdown."""


__all__ = ["Cellwright", "Conflict", "NotFound", "open_app"]


class Cellwright:
    """The application: store, apps, runner, executor, scheduler."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        apps: Registry | None = None,
        store: Store | None = None,
    ) -> None:
        from storage import Store, Vault

        self.settings = settings or Settings()
        from engine.cluster import require_postgres

        # scaled-out mode on SQLite: refuse before touching any file
        require_postgres(self.settings, store_is_sqlite=None if store is None else store.is_sqlite)
        # the shipped apps, plus any named by CELLWRIGHT_EXTRA_APPS or installed entry points
        self.apps = apps or registry_for(self.settings.extra_apps)
        if store is None:
            data_dir = self.settings.ensure_data_dir()
            vault = (
                Vault(keys=[k.get_secret_value() for k in self.settings.vault_keys])
                if self.settings.vault_keys
                else None
            )
            store = Store.for_data_dir(data_dir, vault=vault, url=self.settings.database_url)
        self.store = store
        self.store.migrate()
        self.store.sync_apps([_catalog_row(app) for app in self.apps])
        stored_secrets.seal_existing(self.store, self.apps)  # plaintext saved by older versions
        self.analytics: AnalyticsLog | None = (
            None  # opened by start(): one process only may own the file
        )
        self.data_stores = DataStores(self.store, self.settings)
        self.contexts = Contexts(self.store, self.settings, data_stores=self.data_stores)
        self.runner = Runner(self.store, self.apps, self.contexts, self.settings)
        self.runner.pause = self.pause_if_failing
        self._pausing: set[str] = set()  # scenarios being paused (two failures at once)
        self.executor: LocalExecutor | CeleryExecutor
        if self.settings.scaled_out():
            # Celery workers run the executions (engine/cluster.py); this process enqueues
            self.executor = CeleryExecutor(self.runner, self.store, self.settings)
        else:
            self.executor = LocalExecutor(self.runner, self.store, self.settings)
        self.subscenarios = SubScenarios(
            self.store,
            self.runner,
            self.settings,
            owner=self.executor.owner,
            submit=self._submit_call,
        )
        self.contexts.subscenarios = self.subscenarios
        self.writes = WriteQueue(self.store)
        self._background: list[asyncio.Task[Any]] = []
        self.leadership: Leadership | None = None
        self.ingress = WebhookIngress(self)  # /hooks/{token}: verify, store, enqueue
        if isinstance(self.executor, CeleryExecutor):
            self.executor.recorded = self.ingress.recorded_outcome  # wait() across processes
        self.scenarios = Scenarios(self.store, self.apps, changed=lambda: self.ingress.forget())
        self.connections = Connections(self.store)
        self.executions = Executions(
            self.store,
            resume_url=lambda token: delays.resume_url(self.settings.resolved_webhook_url(), token),
        )
        self.accounts = Accounts(self.store, self.scenarios)
        self.privacy = Privacy(self.store, self._auth_kind, analytics=self.settings.analytics)
        self.retention = Retention(self.store, self.settings)
        self.started = False

    # -- lifecycle ----------------------------------------------------------------------

    async def start(self, *, scheduler: bool = True, analytics: bool = True) -> None:
        """Resume unfinished executions and start the background loops.

        ``scheduler``: schedules, polling and health checks, while this process holds
        the scheduler lease (``engine.leader``: one process of a deployment). ``analytics``: own
        the DuckDB file and copy the analytics outbox into it (one process; the others leave
        their runs in the outbox)."""
        self.writes.start()
        self.runner.writes = self.writes
        await self.executor.start()
        if scheduler:
            from engine.health import HealthCheck
            from engine.leader import Leadership
            from engine.scheduler import Scheduler

            # one process of a deployment runs them: the one holding the scheduler lease
            jobs = [Scheduler(self).run_forever, HealthCheck(self).run_forever]
            jobs.append(self.retention.run_forever)
            if isinstance(self.executor, CeleryExecutor):
                # scaled out: send again what no worker started (a dead worker's runs…)
                jobs.append(Reaper(self.store, self.executor).run_forever)
            self.leadership = Leadership(
                self.store,
                self.executor.owner,
                jobs,
                seconds=self.settings.scheduler_lease_seconds,
            )
            self._background.append(asyncio.create_task(self.leadership.run_forever()))
        self.analytics = self._open_analytics() if analytics else None
        if self.analytics is not None:
            self._background.append(asyncio.create_task(self.analytics.run_flusher()))
        self.started = True

    def _open_analytics(self) -> AnalyticsLog | None:
        """The DuckDB analytics log, or None when disabled or owned by another process
        (DuckDB allows one writer: a CLI run next to a running server is not logged)."""
        if not self.settings.analytics:
            return None
        from storage.analytics import AnalyticsLog

        try:
            return AnalyticsLog(
                self.settings.ensure_data_dir() / "analytics.duckdb",
                outbox=self.store,
                deletions=self.store,
            )
        except Exception as exc:  # duckdb.IOException: the file is locked by another process
            log.warning("analytics disabled for this process: %s", str(exc).splitlines()[0])
            return None

    async def stop(self) -> None:
        await self.executor.stop()
        await self.runner.alerts.drain()
        self.runner.writes = None
        self.writes.stop()
        for task in self._background:
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        self._background.clear()
        await self.contexts.aclose()
        if self.analytics is not None:
            self.analytics.close()
            self.analytics = None
        self.started = False

    def close(self) -> None:
        self.store.close()

    # -- operations ----------------------------------------------------------------------

    def readiness(self) -> tuple[str | None, str | None]:
        """(why this process is not ready or None, the store's schema revision): the
        store must answer and be at the schema this version ships."""
        try:
            current = self.store.schema_revision()
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready", said plainly
            reason = str(getattr(exc, "orig", None) or exc).splitlines()[0][:200]
            return f"The store does not answer: {reason}", None
        expected = self.store.expected_schema_revision()
        if current != expected:
            return (
                f"The store's schema is at {current}, this version needs {expected}: run a"
                " newer server (or `cellwright serve` once) to migrate it.",
                current,
            )
        return None, current

    def metrics_text(self) -> str:
        """The operator's figures in Prometheus' text format (``engine.metrics``)."""
        from engine import metrics

        leading = self.leadership is not None and self.leadership.leading
        return metrics.render(
            self.store,
            self.analytics,
            leader=leading,
            vendor_calls=dict(self.contexts.call_counts.counts),
        )

    # -- users ----------------------------------------------------------------------------

    def local_user(self) -> User:
        """The user the CLI acts as: the first admin, created when the store is empty."""
        return self.accounts.local_user()

    # -- connections ----------------------------------------------------------------------

    def _check_credentials(
        self, app: App, credentials: Mapping[str, Any], auth_type: str | None = None
    ) -> dict[str, Any]:
        """Validate the form of the auth kind ``auth_type`` (default: ``app.auth``); an OAuth
        kind's token set passes beside its form (engine/oauth_connect.py)."""
        from engine.oauth_connect import check_credentials

        return check_credentials(app, app.auth_for(auth_type), credentials)

    async def create_connection(
        self,
        user_id: str,
        app_key: str,
        *,
        credentials: Mapping[str, Any],
        name: str | None = None,
        sandbox: bool = False,
        auth_type: str | None = None,
    ) -> Connection | None:
        """Store a connection and run the app's test call; status and message say how it went.

        ``auth_type``: which of the app's auth kinds (default: ``app.auth``; sandbox
        connections always use it). OAuth sign-in is ``engine.oauth_connect``; an app with
        the client credentials grant fetches its token here.
        """
        app = self.apps.get(app_key)
        kind = app.auth if sandbox else app.auth_for(auth_type)
        if sandbox and app.sandbox is None:
            raise ConfigurationError(f"{app.name} has no sandbox.")
        if sandbox and not credentials:
            credentials = app.sandbox_credentials
        if not sandbox and kind.type == "oauth2" and not credentials.get("access_token"):
            if getattr(kind, "grant", None) == "client_credentials":
                from engine.oauth_connect import connect_client_credentials

                return await connect_client_credentials(
                    self, user_id, app.key, fields=credentials, name=name
                )
            raise ConfigurationError(
                f"{app.name} connects by signing in with {app.name}: "
                f"start at GET /api/v1/oauth/{app.key}/authorize."
            )
        creds = self._check_credentials(app, credentials, kind.type)
        metadata = (
            None if kind is app.auth else {"auth_type": kind.type}
        )  # no auth_type: the default kind
        connection = await asyncio.to_thread(
            lambda: self.store.create_connection(
                user_id,
                app.key,
                name or f"{app.name} connection",
                creds,
                is_sandbox=sandbox,
                status=ConnectionStatus.ACTIVE,
                metadata=metadata,
            )
        )
        self.store.audit(
            user_id,
            "connection.create",
            "connection",
            connection.id,
            {"app": app.key, "sandbox": sandbox, "auth_type": kind.type},
        )
        return await self.test_connection(user_id, connection.id, rename=name is None)

    async def test_connection(
        self, user_id: str, connection_id: str, *, rename: bool = False
    ) -> Connection | None:
        """Run the app's validation call; mark the connection active or error (None: it was
        deleted meanwhile)."""
        connection = self.store.get_connection(user_id, connection_id)
        if connection is None:
            raise NotFound(f"No connection {connection_id}.")
        app = self.apps.get(connection.app_id)
        kind = app.auth_for(
            (connection.metadata or {}).get("auth_type")
        )  # the kind it was made with
        if kind.test is None:
            return connection
        try:
            ctx = await self.contexts.for_connection(connection, app)
            info = dict(await kind.test(ctx))
        except CellwrightError as exc:
            message = exc.message
            return await asyncio.to_thread(
                lambda: self.store.update_connection(
                    user_id, connection_id, status=ConnectionStatus.ERROR, status_message=message
                )
            )
        label = info.get("label")
        metadata = {
            **(connection.metadata or {}),
            **{k: v for k, v in info.items() if k != "label"},
        }

        def save() -> Connection | None:
            self.store.update_connection(
                user_id,
                connection_id,
                metadata=metadata,
                name=f"{app.name}: {label}" if (rename and label) else None,
            )
            # update_connection keeps a None message as it was: clear the last error explicitly
            self.store.set_connection_status(connection_id, ConnectionStatus.ACTIVE, None)
            return self.store.get_connection(user_id, connection_id)

        return await asyncio.to_thread(save)

    async def update_connection(
        self,
        user_id: str,
        connection_id: str,
        *,
        name: str | None = None,
        credentials: Mapping[str, Any] | None = None,
    ) -> Connection | None:
        connection = self.store.get_connection(user_id, connection_id)
        if connection is None:
            raise NotFound(f"No connection {connection_id}.")
        from engine.oauth_connect import (
            updated_credentials,  # OAuth: keeps the token set, changes the typed fields
        )

        creds = (
            await asyncio.to_thread(updated_credentials, self, connection, credentials)
            if credentials is not None
            else None
        )
        self.store.update_connection(user_id, connection_id, name=name, credentials=creds)
        self.store.audit(
            user_id,
            "connection.update",
            "connection",
            connection_id,
            {"credentials_changed": creds is not None},
        )
        self.ingress.forget()  # its URL verifies with the new signing secret at once
        if creds is not None:
            return await self.test_connection(user_id, connection_id)
        return self.store.get_connection(user_id, connection_id)

    def delete_connection(self, user_id: str, connection_id: str) -> None:
        if self.store.get_connection(user_id, connection_id) is None:
            raise NotFound(f"No connection {connection_id}.")
        # the node rows follow the latest saved version; the live one may still use it too
        drafts = {s.id for s in self.store.scenarios_using_connection(user_id, connection_id)}
        users = [
            s
            for s in self.store.list_scenarios(user_id)
            if s.status == ScenarioStatus.ACTIVE
            and (s.id in drafts or _uses_connection(self.live_document(s), connection_id))
        ]
        if users:
            names = ", ".join(f"'{s.name}'" for s in users)
            raise Conflict(
                f"This connection is used by the enabled scenario(s) {names}. "
                "Disable them or switch their cells to another connection first."
            )
        self.store.delete_connection(user_id, connection_id)
        self.store.audit(user_id, "connection.delete", "connection", connection_id)
        self.ingress.forget()

    async def options(
        self,
        user_id: str,
        app_key: str,
        operation: str,
        field: str,
        connection_id: str | None,
        values: Mapping[str, Any] | None = None,
    ) -> list[Option]:
        """The choices of an ID field (a Slack channel, a monday.com board…), listed through
        the user's own connection; ``values``: the operation's other fields, for choices
        that depend on one (a board's groups). ``field`` may be dotted (``line_items.price``)."""
        if app_key not in self.apps:
            raise NotFound(f"There is no app '{app_key}'.")
        app = self.apps.get(app_key)
        op = next((o for o in (*app.triggers, *app.actions) if o.key == operation), None)
        if op is None:
            raise NotFound(f"{app.name} has no operation '{operation}'.")
        source = source_for(app, op, field)
        if app.needs_connection and not connection_id:
            raise InvalidInputError(
                f"Choose a {app.name} connection first: the {source.name} are listed through it.",
                errors=[{"field": "connection", "message": "required"}],
            )
        connection = (
            await asyncio.to_thread(self.store.get_connection, user_id, connection_id)
            if connection_id
            else None
        )
        if connection_id and (connection is None or connection.app_id != app.key):
            raise NotFound(f"You have no {app.name} connection {connection_id}.")
        ctx = (
            await self.contexts.for_connection(connection, app)
            if connection is not None
            else await self.contexts.plain(app, user_id)
        )
        try:
            return await asyncio.wait_for(
                fetch_options(source, ctx, dict(values or {})), OPTIONS_TIMEOUT_SECONDS
            )
        except TimeoutError:
            raise CallTimeoutError(
                f"{app.name} took too long to list the {source.name}; "
                "type the ID instead, or try again."
            ) from None

    # -- scenarios ------------------------------------------------------------------------

    def validate(self, doc: ScenarioDocument) -> None:
        """Check that every cell names a real app and operation of the right kind."""
        self.scenarios.validate(doc)

    def import_scenario(
        self,
        user_id: str,
        doc: ScenarioDocument,
        *,
        scenario_id: str | None = None,
        imported: bool = False,
    ) -> Scenario:
        """Store a document (new, or a new version of ``scenario_id``): ``Scenarios.save``
        (``imported``: it comes from a file or the API, audited as ``scenario.import``)."""
        return self.scenarios.save(user_id, doc, scenario_id=scenario_id, imported=imported)

    def scenario(self, user_id: str, scenario_id: str) -> Scenario:
        return self.scenarios.get(user_id, scenario_id)

    def document(self, user_id: str, scenario_id: str) -> ScenarioDocument:
        return self.scenarios.document(user_id, scenario_id)

    def export_scenario(self, user_id: str, scenario_id: str) -> str:
        return self.scenarios.export(user_id, scenario_id)

    async def delete_scenario(self, user_id: str, scenario_id: str) -> None:
        """Disable the scenario if it is enabled (its vendor webhooks are removed), then
        delete it with its versions and executions."""
        scenario = self.scenario(user_id, scenario_id)
        if scenario.status == ScenarioStatus.ACTIVE:
            await self.disable(user_id, scenario_id)
        await asyncio.to_thread(self.scenarios.delete, user_id, scenario_id)

    def webhook_url(self, scenario: Scenario) -> str | None:
        if not scenario.webhook_token:
            return None
        return f"{self.settings.resolved_webhook_url()}/hooks/{scenario.webhook_token}"

    def connection_events_url(self, user_id: str, connection_id: str) -> str | None:
        """The one URL a vendor sends all of a connection's events to, for apps with a
        ``connection_webhook`` (a Slack app's Events API Request URL): every enabled
        scenario with one of the app's instant triggers on this connection gets the
        events it asks for. Created the first time it is asked for. None for other apps,
        and for a connection that is not the user's."""
        connection = self.store.get_connection(user_id, connection_id)
        if (
            connection is None
            or connection.app_id not in self.apps
            or self.apps.get(connection.app_id).connection_webhook is None
        ):
            return None
        token = self.store.connection_webhook_token(user_id, connection_id)
        if token is None:
            return None
        return f"{self.settings.resolved_webhook_url()}/hooks/apps/{connection.app_id}/{token}"

    def live_document(self, scenario: Scenario) -> ScenarioDocument | None:
        """The document the scenario's trigger runs (its live version); None before the
        first publish. ``scenario.document`` is the latest saved one (the draft)."""
        if scenario.live_version is None:
            return None
        return self.runner.document(scenario.id, scenario.live_version)

    async def publish(self, user_id: str, scenario_id: str, version: int | None = None) -> Scenario:
        """Make a saved version (default: the latest) the one the scenario's trigger runs.

        Saving never changes what runs; publishing does. When the scenario is active and
        the trigger cell changed (app, operation, inputs, connection), the trigger is
        re-armed: the old vendor subscription is removed and the new one registered, a
        schedule or a switched polling trigger starts over (``engine.arming``). An
        unchanged trigger keeps its subscription and polling cursor. If the new trigger
        cannot be registered, the scenario is paused and the error says so.
        """
        scenario = self.scenario(user_id, scenario_id)
        target = scenario.version if version is None else version
        data = await asyncio.to_thread(self.store.scenario_document, scenario.id, target)
        if data is None:
            raise NotFound(
                f"Scenario {scenario_id} has no version {target} "
                f"(the latest is {scenario.version})."
            )
        new = documents.parse(data, source=f"version {target}")
        self.validate(new)  # the apps may have changed since it was saved
        ownership.check_connections(
            self.store, self.apps, user_id, new
        )  # saved before the check existed
        gaps = checks.incomplete(new, self.apps)
        if gaps:
            shown = " ".join(g["message"] for g in gaps[:5]) + (
                f" (and {len(gaps) - 5} more)" if len(gaps) > 5 else ""
            )
            raise InvalidInputError(f"Version {target} cannot go live yet: {shown}", errors=gaps)
        calls = await asyncio.to_thread(
            self.subscenarios.publish_problems, user_id, scenario.id, new
        )
        if calls:  # sub-scenarios: what it calls, their inputs, cycles of calls
            shown = " ".join(c["message"] for c in calls[:5])
            raise InvalidInputError(f"Version {target} cannot go live yet: {shown}", errors=calls)
        old = await asyncio.to_thread(self.live_document, scenario)
        active = scenario.status == ScenarioStatus.ACTIVE
        if (
            active
            and old is not None
            and arming.identity(old.trigger) != arming.identity(new.trigger)
        ):
            await arming.disarm_for_change(self, scenario, old.trigger, new.trigger)
        updated = await asyncio.to_thread(self.store.publish_scenario, user_id, scenario.id, target)
        self.store.audit(
            user_id,
            "scenario.publish",
            "scenario",
            scenario.id,
            {"version": target, "previous": scenario.live_version},
        )
        self.ingress.forget()  # before subscribing: a vendor may call the URL to verify it
        if active:
            try:
                await arming.subscribe(self, updated, new.trigger)
            except CellwrightError as exc:
                await self.disable(user_id, scenario.id)
                raise ConfigurationError(
                    f"Version {target} is live, but its trigger could not be set up, "
                    "so the scenario was paused: "
                    f"{exc.message} Fix the trigger or its connection, "
                    "then enable the scenario again."
                ) from exc
        return updated

    async def enable(self, user_id: str, scenario_id: str) -> Scenario | None:
        """Activate the live version's trigger: register vendor webhooks, start polling
        from a baseline. A scenario never published publishes its latest version first."""
        scenario = self.scenario(user_id, scenario_id)
        if scenario.live_version is None:
            scenario = await self.publish(user_id, scenario_id)
        doc = await asyncio.to_thread(self.live_document, scenario)
        assert doc is not None
        await arming.subscribe(self, scenario, doc.trigger)
        if scenario.status != ScenarioStatus.ACTIVE:
            # turning a scenario (back) on starts from a fresh baseline: items that arrived
            # and ticks that passed while it was off do not fire (editing keeps the state)
            await arming.fresh_baseline(self, scenario, doc.trigger)
        updated = self.store.set_scenario_status(user_id, scenario.id, ScenarioStatus.ACTIVE)
        self.store.audit(
            user_id, "scenario.enable", "scenario", scenario.id, {"version": scenario.live_version}
        )
        self.ingress.forget()
        return updated

    async def disable(
        self, user_id: str, scenario_id: str, *, reason: str | None = None
    ) -> Scenario | None:
        """Deactivate: remove the vendor webhooks of the live version's trigger.
        ``reason``: the system pauses it (runs failed too often in a row): the status is
        ``error`` and the reason is kept on the scenario until it is enabled again."""
        scenario = self.scenario(user_id, scenario_id)
        doc = await asyncio.to_thread(self.live_document, scenario) or documents.parse(
            scenario.document
        )
        await arming.unsubscribe(self, scenario, doc.trigger)
        updated = self.store.set_scenario_status(
            user_id, scenario.id, ScenarioStatus.ERROR if reason else ScenarioStatus.PAUSED, reason
        )
        if reason:
            self.store.audit(
                user_id,
                "scenario.auto_pause",
                "scenario",
                scenario.id,
                {"reason": reason},
                source="system",
            )
        else:
            self.store.audit(user_id, "scenario.disable", "scenario", scenario.id)
        self.ingress.forget()
        return updated

    async def pause_if_failing(self, execution: Execution, threshold: int) -> str | None:
        """After ``execution`` failed: when the last ``threshold`` runs of the live version
        of its (active) scenario all failed, pause the scenario with status ``error``
        (its trigger disarmed, like :meth:`disable`) and return why; else None.

        Only runs of the live version count: a test run of a draft does not pause what
        the trigger runs. Enabling the scenario again clears the status and the reason."""
        scenario = await asyncio.to_thread(
            self.store.get_scenario, execution.user_id, execution.scenario_id
        )
        if (
            threshold <= 0
            or scenario is None
            or scenario.status != ScenarioStatus.ACTIVE
            or scenario.live_version != execution.scenario_version
            or scenario.id in self._pausing
        ):
            return None
        failed = await asyncio.to_thread(
            self.store.failures_in_a_row, scenario.id, threshold, scenario.live_version
        )
        if failed < threshold:
            return None
        error = execution.error if isinstance(execution.error, dict) else {}
        last = str(error.get("message") or "the run failed").strip()
        reason = (
            f"Paused after {failed} failed run{'s' if failed != 1 else ''} in a row "
            "(setting pause_after_failures). "
            f"The last one, execution {execution.id}: {last} "
            "Fix the cause, then enable the scenario again."
        )
        self._pausing.add(scenario.id)
        try:
            await self.disable(execution.user_id, scenario.id, reason=reason)
        finally:
            self._pausing.discard(scenario.id)
        log.warning("scenario %s paused after %d failed runs in a row", scenario.id, failed)
        return reason

    # -- runs -----------------------------------------------------------------------------

    def callable_inputs(self, user_id: str, scenario_id: str) -> list[dict[str, Any]]:
        """The inputs one of the user's published callable scenarios declares (name, type,
        required, description): what a Run scenario cell calling it passes. ``NotFound``
        for another user's scenario; ``ConfigurationError`` when it cannot be called."""
        self.scenario(user_id, scenario_id)  # another user's: NotFound
        specs = self.subscenarios.declared_inputs(user_id, scenario_id)
        return [spec.model_dump() for spec in specs]

    def _submit_call(self, execution_id: str) -> None:
        """Queue a run a "Run scenario" cell started without waiting (a stopped service
        leaves it queued: the executor takes it when it starts)."""
        if self.started:
            self.executor.submit(execution_id)

    async def trigger(
        self,
        scenario: Scenario,
        payload: Mapping[str, Any],
        *,
        key: str | None = None,
        wait: float | None = None,
        version: int | None = None,
        hops: int = 0,
    ) -> tuple[Execution, Outcome | None]:
        """Store an execution for ``payload`` (durably, before anything runs) and submit it.

        With ``wait`` (seconds), wait for it to finish. ``key`` deduplicates: the same key
        for the same scenario returns the existing execution. ``version``: the saved
        version to run; by default the live one, as the scenario's trigger runs it (the
        latest saved one for a scenario never published). ``hops``: how many Cellwright
        webhook calls led here (``X-Cellwright-Hops``), passed on by its HTTP actions.
        """
        if version is None:
            version = (
                scenario.live_version if scenario.live_version is not None else scenario.version
            )
        quotas = Quotas(
            self.settings.quota_executions_per_day, self.settings.quota_executions_per_month
        )
        if not quotas.unlimited:  # refused before anything is stored
            await asyncio.to_thread(quotas.check, self.store, scenario.user_id)
        local = isinstance(self.executor, LocalExecutor)
        execution, created = await self.writes.call(
            lambda: self.store.create_execution(
                scenario_id=scenario.id,
                scenario_version=version,
                user_id=scenario.user_id,
                # credential headers a sender included (Authorization, Cookie…) are
                # masked before the event is stored: the run sees what the record shows
                trigger=scrub(dict(payload)),
                idempotency_key=key,
                # embedded: created already claimed by this process (saves a transaction);
                # scaled out: a worker claims it
                claim_owner=self.executor.owner if self.started and local else None,
                lease_seconds=self.settings.lease_seconds,
                hops=hops,
            )
        )
        outcome = None
        if created and self.started:
            waiter = (
                asyncio.ensure_future(self.executor.wait(execution.id, wait))
                if wait is not None
                else None
            )
            if isinstance(self.executor, LocalExecutor):
                self.executor.submit_claimed(execution)
            else:
                self.executor.submit(execution.id)
            if waiter is not None:
                outcome = await waiter
        return execution, outcome

    async def run_now(
        self,
        user_id: str,
        scenario_id: str,
        payload: Mapping[str, Any],
        *,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """Run the scenario's latest saved version (a test run: the draft, published or
        not) with ``payload`` and return the finished execution."""
        scenario = self.scenario(user_id, scenario_id)
        execution, _ = await self.trigger(
            scenario,
            payload,
            wait=timeout or self.settings.execution_timeout_seconds + 5,
            version=scenario.version,
        )
        return self.execution(user_id, execution.id)

    async def rerun(
        self,
        user_id: str,
        execution_id: str,
        *,
        from_start: bool = False,
        from_cell: str | None = None,
        latest: bool = False,
    ) -> Execution:
        """Run a finished execution again: from its failed cell (default), a cell, or the start.

        Cells before the starting cell keep their recorded outputs (they are copied into
        the new execution and not run again). ``latest`` runs the scenario's latest saved
        version (after fixing a cell; published or not) instead of the version the
        execution ran.
        """
        original = self.store.get_execution(user_id, execution_id)
        if original is None:
            raise NotFound(f"No execution {execution_id}.")
        if original.status in (
            ExecutionStatus.QUEUED,
            ExecutionStatus.RUNNING,
            ExecutionStatus.WAITING,
        ):
            raise Conflict(
                f"Execution {execution_id} is still {original.status}; "
                "rerun it once it has finished."
            )
        version = original.scenario_version
        if latest:
            version = self.scenario(user_id, original.scenario_id).version
        doc = documents.parse(self.store.scenario_document(original.scenario_id, version))
        order = [cell.id for cell, _ in doc.walk()]
        results = [
            r for r in self.store.node_results(execution_id) if r.status == NodeStatus.COMPLETED
        ]
        start_at: str | None
        if from_start:
            start_at = None
        elif from_cell is not None:
            if from_cell not in order:
                raise NotFound(
                    f"Execution {execution_id}'s scenario has no cell '{from_cell}'. "
                    f"Cells: {', '.join(order)}."
                )
            start_at = from_cell
        else:
            failed = (original.error or {}).get("cell_id")
            start_at = failed if failed in order else None
        keep: set[str] = set(order[: order.index(start_at)]) if start_at else set()
        # rerun from a failed loop (not a chosen cell): its finished items keep their
        # results, so only the failed item (and those after it that never ran) run again
        inside: set[str] = set()
        failed_loop = doc.find(start_at) if start_at and not from_cell and not from_start else None
        if isinstance(failed_loop, LoopCell):
            inside = {failed_loop.id, *loops.cells_of(failed_loop)}
        execution, _ = self.store.create_execution(
            scenario_id=original.scenario_id,
            scenario_version=version,
            user_id=original.user_id,
            trigger=original.trigger or {},
            rerun_of=original.id,
            resume_from=start_at,
            hops=original.hops,  # a rerun is the same link of a chain, not a new one
        )
        for r in results:
            if r.cell_id in keep or (r.item is not None and r.cell_id in inside):
                self.store.record_node_result(
                    execution.id,
                    cell_id=r.cell_id,
                    status=r.status,
                    attempt=0,
                    start_time=r.start_time,
                    end_time=r.end_time,
                    duration_ms=r.duration_ms,
                    input=r.input,
                    output=r.output,
                    error=None,
                    item=r.item,
                )
        self.store.audit(
            user_id,
            "execution.rerun",
            "execution",
            execution.id,
            {"of": original.id, "from": start_at},
        )
        self.executor.submit(execution.id)
        return execution

    async def run_cell(
        self,
        user_id: str,
        doc: ScenarioDocument,
        cell_id: str,
        context: Mapping[str, Any],
        *,
        on_item: Callable[[loops.ItemRun], Awaitable[None]] | None = None,
    ) -> CellResult:
        """Run one step cell on its own with ``context`` (``trigger``/``steps``): the
        workspace's "Run cell" and Step. A loop calls ``on_item`` as each item ends."""
        cell = doc.find(cell_id)
        if cell is None:
            raise NotFound(f"The scenario has no cell '{cell_id}'.")
        if isinstance(cell, TriggerCell):
            raise ConfigurationError(
                "The trigger cell is not run on its own; "
                "test the scenario with trigger data instead."
            )
        ctx_factory = self.contexts.factory(user_id)
        full = {
            "trigger": context.get("trigger", {}),
            "steps": dict(context.get("steps", {})),
            "execution": {
                "id": "preview",
                "scenario_id": None,
                # a run's own URL is made when it runs; this one answers 404
                "resume_url": delays.resume_url(self.settings.resolved_webhook_url(), "preview"),
            },
        }
        if "error" in context:  # a cell of an error route
            full["error"] = context["error"]
        budget = RunBudget(
            run_seconds=self.settings.mapping_run_seconds,
            cell_seconds=self.settings.mapping_cell_seconds,
        )
        return await run_cell(
            cell,
            full,
            apps=self.apps,
            make_context=ctx_factory,
            idempotency_key=idempotency_key(f"preview-{secrets.token_hex(6)}", cell.id),
            timeout=doc.settings.cell_timeout_seconds,
            resolve_secrets=stored_secrets.resolver(self.store, user_id),
            limits=budget.cell(),
            max_items=(
                doc.settings.max_loop_items
                if "max_loop_items" in doc.settings.model_fields_set
                else self.settings.loop_max_items
            ),
            on_item=on_item,
        )

    # -- webhooks -------------------------------------------------------------------------

    async def receive_webhook(self, token: str, request: IncomingRequest) -> WebhookAnswer:
        """Verify, store, enqueue; answer 202 (or the run's answer for sync hooks)."""
        return await self.ingress.receive(token, request)

    async def receive_resume_call(self, token: str, request: IncomingRequest) -> WebhookAnswer:
        """A call to a run's resume URL (``/hooks/resume/{token}``): the run waiting at
        its "Wait for a call" cell goes on with it (202); 404 for an unknown token, 410 for
        one already used or whose run has finished (engine/delays.py)."""
        try:
            call = delays.call_record(request, datetime.now(UTC))
        except CellwrightError as exc:
            return WebhookAnswer(400, {"error": exc.code, "message": exc.message}, {})
        answer, execution_id = await self.writes.call(
            lambda: self.store.take_resume_call(token, call)
        )
        if answer == "accepted" and execution_id is not None and self.started:
            self.executor.submit(execution_id)  # parked: due now (else its wait cell takes it)
        status, body = delays.CALL_ANSWERS[answer]
        return WebhookAnswer(status, dict(body), {})

    async def resume_execution(self, user_id: str, execution_id: str, body: Any) -> dict[str, Any]:
        """The owner answers their run's "Wait for a call" cell (``body`` is the call's
        body): as a call to its resume URL, one call per run. ``NotFound`` for another
        user's run, ``Conflict`` for a run that takes no call (any more)."""
        execution = self.store.get_execution(user_id, execution_id)
        if execution is None:
            raise NotFound(f"No execution {execution_id}.")
        if execution.resume_token is None:
            raise Conflict(
                f"Execution {execution_id} does not wait for a call: its scenario has no"
                " 'Wait for a call' cell, or the run has not reached it yet."
            )
        now = datetime.now(UTC).isoformat()
        call = scrub(
            {"method": "POST", "headers": {}, "query": {}, "body": body, "received_at": now}
        )
        token = execution.resume_token
        answer, _ = await self.writes.call(lambda: self.store.take_resume_call(token, call))
        if answer != "accepted":
            raise Conflict(
                f"Execution {execution_id} takes no call: "
                + delays.CALL_ANSWERS[answer][1]["message"]
            )
        self.store.audit(user_id, "execution.resume", "execution", execution_id, {})
        if self.started:
            self.executor.submit(execution_id)
        return self.execution(user_id, execution_id)

    async def receive_connection_webhook(
        self, app_key: str, token: str, request: IncomingRequest
    ) -> WebhookAnswer:
        """A delivery to a connection's URL (``connection_events_url``): verify once, then
        one run per listening scenario that wants the event; answer 200 without waiting."""
        return await self.ingress.receive_for_connection(app_key, token, request)

    # -- queries --------------------------------------------------------------------------

    def execution(self, user_id: str | None, execution_id: str) -> dict[str, Any]:
        """An execution with every cell's input, output, status and timings."""
        return self.executions.get(user_id, execution_id)

    def list_executions(self, user_id: str, **filters: Any) -> list[dict[str, Any]]:
        return self.executions.page(user_id, **filters)

    def retention_sweep(self, user_id: str | None = None) -> int:
        """Delete executions past the retention period now, in batches (audited:
        ``retention.run``, by ``user_id`` when a person started it). The process holding
        the scheduler lease also runs it every ``retention_interval_seconds``."""
        return self.retention.run(user_id)

    def _auth_kind(self, connection: Connection) -> str | None:
        """A connection's auth kind (``oauth2``, ``api_key``…), None for a removed app."""
        chosen = (connection.metadata or {}).get("auth_type")
        if connection.app_id not in self.apps:
            return chosen if isinstance(chosen, str) else None
        return str(chosen) if chosen else self.apps.get(connection.app_id).auth.type

    async def delete_account(self, actor: User, user_id: str) -> dict[str, int]:
        """Delete ``user_id``'s account (themselves, or an administrator for anyone):
        their enabled scenarios are disabled first (vendor webhooks removed), then every
        row of theirs goes (``engine.privacy``)."""
        target = self.accounts.get_user(user_id)
        if target is not None and (actor.id == user_id or actor.is_admin):
            self.privacy.check_deletable(target)
            for scenario in self.store.list_scenarios(user_id):
                if scenario.status == ScenarioStatus.ACTIVE:
                    with contextlib.suppress(Exception):  # best effort: rows go anyway
                        await self.disable(user_id, scenario.id)
        counts = await asyncio.to_thread(self.privacy.delete_account, actor, user_id)
        self.ingress.forget()
        return counts


def _uses_connection(doc: ScenarioDocument | None, connection_id: str) -> bool:
    return doc is not None and any(
        getattr(cell, "connection", None) == connection_id for cell, _ in doc.walk()
    )


def _catalog_row(app: App) -> dict[str, Any]:
    described = app.describe()
    return {
        "id": app.key,
        "name": app.name,
        "description": app.description,
        "icon_url": icon_url(app.key),
        "category": app.category,
        "auth_type": app.auth.type,
        "auth_config": described["auth_schema"],
        "triggers": [
            {"key": t["key"], "name": t["name"], "description": t["description"]}
            for t in described["triggers"]
        ],
        "actions": [
            {"key": a["key"], "name": a["name"], "description": a["description"]}
            for a in described["actions"]
        ],
        "source": "code",
    }


def open_app(data_dir: str | Path | None = None, **overrides: Any) -> Cellwright:
    """Open Cellwright on a data directory (the notebook entry point)."""
    if data_dir is not None:
        overrides["data_dir"] = Path(data_dir)
    return Cellwright(Settings(**overrides))
