"""Building each operation's context: the connection's credentials and HTTP client.

Clients are cached per connection (and rebuilt when the connection changes), so a
scenario that calls the same app fifty times reuses one connection pool. Sandbox
connections talk to the app's simulator in process; the server mounts the same
simulator instance under ``/sandbox/<app>`` so both views share state.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import httpx

from cells.models import OperationCell
from connectors.code.actions import SANDBOX_EXTRA
from connectors.code.sandbox import CodeLimits, CodeSandbox
from connectors.sdk import (
    App,
    AuthKind,
    ConfigurationError,
    DataStoreAccess,
    NetworkPolicy,
    OperationContext,
    ScenarioCalls,
    build_http,
)
from connectors.sdk.http import ConnectorHttp
from connectors.sdk.limits import CallGate
from connectors.sdk.sandboxing import SANDBOX_BASE, secrets_of, shared_sandbox
from engine.call_limits import CallCounts, call_limits_for
from engine.settings import Settings

if TYPE_CHECKING:
    from cells.run import ContextFactory
    from engine.datastores import DataStores
    from engine.ports import ContextStore
    from engine.subscenarios import SubScenarios
    from storage import Connection, Execution


def network_policy(settings: Settings) -> NetworkPolicy:
    return NetworkPolicy.build(
        allow_private=settings.http_allow_private,
        networks=settings.http_allowed_networks,
        origins=settings.http_allowed_origins,
        urls=settings.http_allowed_urls,
    )


class Contexts:
    """Makes ``OperationContext`` objects for the runner and "run cell"."""

    def __init__(self, store: ContextStore, settings: Settings, *, data_stores: DataStores) -> None:
        self.store = store
        self.settings = settings
        self.data_stores = data_stores
        # "Run scenario" cells' calls (set by Cellwright: they need the runner and executor)
        self.subscenarios: SubScenarios | None = None
        self.policy = network_policy(settings)
        self._clients: dict[tuple[Any, ...], ConnectorHttp] = {}
        self._retired: list[tuple[float, ConnectorHttp]] = []
        # the buckets of the apps' declared vendor limits (shared through Redis when set)
        self.call_limits = call_limits_for(settings)
        self.call_counts = CallCounts()
        # code cells' workers start on the first code cell, not with the engine
        self.code_sandbox = CodeSandbox(
            CodeLimits(
                timeout_seconds=settings.code_timeout_seconds,
                memory_mb=settings.code_memory_mb,
                workers=settings.code_workers,
                log_chars=settings.code_log_chars,
            )
        )

    def for_execution(self, execution: Execution) -> ContextFactory:
        """A ``ContextFactory`` bound to the execution's owner, id and hop count."""
        return self.factory(
            execution.user_id,
            execution_id=execution.id,
            scenario_id=execution.scenario_id,
            hops=execution.hops,
        )

    def factory(
        self,
        user_id: str,
        *,
        execution_id: str | None = None,
        scenario_id: str | None = None,
        hops: int = 0,
    ) -> ContextFactory:
        async def make(cell: OperationCell, app: App, *, idempotency_key: str) -> OperationContext:
            return await self.context(
                user_id,
                cell,
                app,
                idempotency_key=idempotency_key,
                execution_id=execution_id,
                scenario_id=scenario_id,
                hops=hops,
            )

        return make

    async def context(
        self,
        user_id: str,
        cell: OperationCell,
        app: App,
        *,
        idempotency_key: str = "",
        execution_id: str | None = None,
        scenario_id: str | None = None,
        hops: int = 0,
    ) -> OperationContext:
        credentials: Mapping[str, Any] = {}
        metadata: Mapping[str, Any] = {}
        connection = None
        if cell.connection:
            # checked for every app, also those that ignore connections: a cell may only
            # name its owner's connection (another user's reads as "not found")
            connection = await asyncio.to_thread(
                self.store.get_connection, user_id, cell.connection
            )
            if connection is None:
                raise ConfigurationError(
                    f"Cell '{cell.id}' uses connection '{cell.connection}', "
                    "which was not found among your connections. "
                    "Pick one of your connections in the cell."
                )
        if connection is not None and app.needs_connection:
            if connection.app_id != app.key:
                raise ConfigurationError(
                    f"Cell '{cell.id}' uses connection '{connection.name}', "
                    f"which is not a {app.name} connection."
                )
            http, credentials = await self._connection_client(connection, app)
            metadata = connection.metadata or {}
            await asyncio.to_thread(self.store.touch_connection, connection.id)
        else:
            http = self._plain_client(app)
        return OperationContext(
            http=http,
            credentials=credentials,
            connection_id=cell.connection,
            connection_metadata=metadata,
            idempotency_key=idempotency_key,
            execution_id=execution_id,
            scenario_id=scenario_id,
            cell_id=cell.id,
            hops=hops,
            data_stores=self._owner_stores(app, user_id),
            scenarios=self._scenario_calls(app, user_id, execution_id, idempotency_key),
            extras={SANDBOX_EXTRA: self.code_sandbox},
        )

    def _owner_stores(self, app: App, user_id: str | None) -> DataStoreAccess | None:
        """The owner's data stores, for the apps that declare they use them (only those)."""
        if not app.uses_data_stores or user_id is None:
            return None
        return self.data_stores.for_owner(user_id)

    def _scenario_calls(
        self, app: App, user_id: str | None, execution_id: str | None, key: str
    ) -> ScenarioCalls | None:
        """The owner's callable scenarios, for the apps that declare they call them."""
        if not app.uses_scenarios or user_id is None or self.subscenarios is None:
            return None
        return self.subscenarios.bound(user_id, execution_id=execution_id, idempotency_key=key)

    async def for_connection(self, connection: Connection, app: App) -> OperationContext:
        """A context for calls made on behalf of a connection (its test call, subscriptions)."""
        http, credentials = await self._connection_client(connection, app)
        return OperationContext(
            http=http,
            credentials=credentials,
            connection_id=connection.id,
            connection_metadata=connection.metadata or {},
        )

    async def plain(self, app: App, user_id: str | None = None) -> OperationContext:
        """A context without a connection (apps that need none); with ``user_id``, the
        user's data stores for the apps that use them (their dropdowns)."""
        return OperationContext(
            http=self._plain_client(app),
            data_stores=self._owner_stores(app, user_id),
            scenarios=self._scenario_calls(app, user_id, None, ""),
        )

    @property
    def oauth_redirect_uri(self) -> str:
        """Where providers send users back after consent
        (``/oauth/callback``, workspace/oauth.py)."""
        return f"{self.settings.resolved_public_url()}/oauth/callback"

    def _oauth_client(self, app: App, auth: AuthKind) -> Any:
        """The operator's OAuth app for ``app`` (None: the connection brings its own)."""
        if auth.type != "oauth2" or app.key not in self.settings.oauth_clients:
            return None
        from connectors.sdk.oauth import OAuthClient

        return OAuthClient.from_config(
            app.key, self.settings.oauth_clients, redirect_uri=self.oauth_redirect_uri
        )

    def _plain_client(self, app: App) -> ConnectorHttp:
        key = ("plain", app.key, id(asyncio.get_running_loop()))
        client = self._clients.get(key)
        if client is None:
            client = build_http(
                app_key=app.key,
                base_url=app.resolve_base_url({}),
                allowed_hosts=app.allowed_hosts,
                headers=app.default_headers,
                policy=self.policy,
                error_parser=app.error_parser,
            )
            self._clients[key] = client
        return client

    async def _connection_client(
        self, connection: Any, app: App
    ) -> tuple[ConnectorHttp, Mapping[str, Any]]:
        key = ("conn", connection.id, str(connection.updated_at), id(asyncio.get_running_loop()))
        cached = self._clients.get(key)
        credentials: Mapping[str, Any] = await asyncio.to_thread(
            self.store.connection_credentials, connection.id
        )
        if cached is not None:
            return cached, credentials

        async def save_tokens(tokens: Mapping[str, Any]) -> None:
            merged = {**credentials, **tokens}
            await asyncio.to_thread(
                self.store.update_connection, connection.user_id, connection.id, credentials=merged
            )

        kind = app.auth_for(
            (connection.metadata or {}).get("auth_type")
        )  # the kind it was made with
        auth = kind.httpx_auth(credentials, save_tokens, self._oauth_client(app, kind))
        if connection.is_sandbox and app.sandbox:
            client = build_http(
                app_key=app.key,
                base_url=SANDBOX_BASE,
                auth=auth,
                headers=app.default_headers,
                error_parser=app.error_parser,
                secrets=secrets_of(credentials),
                transport=httpx.ASGITransport(app=shared_sandbox(app.key, app.sandbox)),
            )
        else:
            client = build_http(
                app_key=app.key,
                base_url=app.resolve_base_url(credentials, connection.metadata or {}),
                gate=self._gate(app, connection.id),
                allowed_hosts=app.allowed_hosts,
                auth=auth,
                headers=app.default_headers,
                policy=self.policy,
                error_parser=app.error_parser,
                secrets=secrets_of(credentials),
            )
        # drop clients of older versions of this connection
        for old in [k for k in self._clients if k[0] == "conn" and k[1] == connection.id]:
            await self._retire(self._clients.pop(old))
        self._clients[key] = client
        return client, credentials

    def _gate(self, app: App, connection_id: str) -> CallGate | None:
        """The connection's way through its vendor's declared limits (none for sandbox
        connections: the simulators do not enforce them)."""
        if app.limits is None:
            return None
        return CallGate(
            self.call_limits,
            key=f"{app.key}:{connection_id}",
            limits=app.limits,
            max_wait=self.settings.vendor_limit_max_wait_seconds,
            on_call=self.call_counts,
        )

    async def _retire(self, client: ConnectorHttp) -> None:
        """Close a replaced client once cells that still hold it are done with it (an OAuth
        refresh saves tokens, which changes the connection and so the cache key)."""
        now = time.monotonic()
        due = [c for at, c in self._retired if at <= now]
        self._retired = [(at, c) for at, c in self._retired if at > now]
        self._retired.append((now + self.settings.execution_timeout_seconds, client))
        for old in due:
            await _close(old)

    async def aclose(self) -> None:
        self.code_sandbox.close()
        close = getattr(self.call_limits, "close", None)
        if close is not None:
            close()
        clients, self._clients = [*self._clients.values(), *(c for _, c in self._retired)], {}
        self._retired = []
        for client in clients:
            await _close(client)


async def _close(client: ConnectorHttp) -> None:
    try:
        await client.aclose()
    except Exception:  # noqa: S110 - a client of another event loop, or already closed: nothing to report
        pass
