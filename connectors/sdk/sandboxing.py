"""Pointing an app at its simulator (``sandbox.py``) instead of the vendor.

Tests use ``sandbox_http`` (in-process ASGI, no sockets); ``cellwright serve`` mounts
every sandbox under ``/sandbox/<app key>`` so "sandbox connections" work through a
real HTTP server too. A simulator's webhooks go out through a ``WebhookOutbox``: to the
server's own ``/hooks/…`` in process (``route_sandbox_webhooks``), or to a test.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import httpx

from connectors.sdk.app import App
from connectors.sdk.auth import secret_value
from connectors.sdk.context import OperationContext
from connectors.sdk.http import ConnectorHttp, build_http

SANDBOX_BASE = "http://sandbox.invalid"
log = logging.getLogger("cellwright.sandbox")


def load_sandbox_factory(app: App) -> Any:
    if app.sandbox is None:
        raise LookupError(f"App '{app.key}' has no sandbox.")
    module_name, _, attr = app.sandbox.partition(":")
    return getattr(importlib.import_module(module_name), attr)


@cache
def shared_sandbox(app_key: str, spec: str) -> Any:
    """One long-lived simulator per app (state persists, like a real account)."""
    module_name, _, attr = spec.partition(":")
    return getattr(importlib.import_module(module_name), attr)()


def secrets_of(credentials: Mapping[str, Any]) -> list[str]:
    """Every string credential value, for redaction."""
    return [
        secret_value(v)
        for v in credentials.values()
        if isinstance(v, str) or hasattr(v, "get_secret_value")
    ]


def sandbox_http(
    app: App,
    credentials: Mapping[str, Any],
    *,
    asgi_app: Any | None = None,
    base_url: str = SANDBOX_BASE,
    auth_type: str | None = None,
) -> ConnectorHttp:
    """A client for ``app`` that talks to its simulator in process.

    ``auth_type``: which of the app's auth kinds the credentials are for (default: ``app.auth``).
    """
    asgi = asgi_app if asgi_app is not None else load_sandbox_factory(app)()
    return build_http(
        app_key=app.key,
        base_url=base_url,
        auth=app.auth_for(auth_type).httpx_auth(credentials),
        headers=app.default_headers,
        error_parser=app.error_parser,
        secrets=secrets_of(credentials),
        transport=httpx.ASGITransport(app=asgi),
    )


def sandbox_context(
    app: App,
    credentials: Mapping[str, Any],
    *,
    asgi_app: Any | None = None,
    auth_type: str | None = None,
    **fields: Any,
) -> OperationContext:
    """An ``OperationContext`` for tests: the app's sandbox behind ``ctx.http``."""
    http = sandbox_http(app, credentials, asgi_app=asgi_app, auth_type=auth_type)
    return OperationContext(http=http, credentials=credentials, **fields)


class RecordingTransport(httpx.AsyncBaseTransport):
    """Wraps a transport and keeps every request/response pair, so a contract test can
    check what an app sent against the vendor's official description."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.calls: list[tuple[httpx.Request, httpx.Response]] = []

    @property
    def requests(self) -> list[httpx.Request]:
        return [request for request, _ in self.calls]

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        response = await self.inner.handle_async_request(request)
        await response.aread()
        self.calls.append((request, response))
        return response


# -- webhooks a simulator sends, as its vendor would ---------------------------------------


@dataclass(frozen=True)
class Delivery:
    """One webhook request a simulator makes: where, with which headers, which exact bytes."""

    url: str
    headers: dict[str, str]
    body: bytes
    method: str = "POST"
    """``GET`` for a URL check without a body (Mailchimp checks a webhook URL when it is saved)."""


@dataclass(frozen=True)
class _HookRoute:
    origin: Callable[[], str]
    transport: httpx.AsyncBaseTransport


_route: _HookRoute | None = None


def route_sandbox_webhooks(asgi_app: Any, origin: Callable[[], str]) -> None:
    """Deliver simulators' webhooks for URLs under ``origin()`` to ``asgi_app`` in process.

    ``cellwright serve`` calls this with itself and its public URL, so a sandbox
    connection's subscription (``<public URL>/hooks/…``) receives the simulator's events.
    Nothing else is ever reached: the simulators are public (``/sandbox/<app>``), and a
    delivery over the network would let anyone make the server POST to any address.
    """
    global _route
    _route = _HookRoute(origin, httpx.ASGITransport(app=asgi_app))


class WebhookOutbox:
    """A simulator's outgoing webhooks: sent after the API call that caused them, the
    way vendors deliver asynchronously.

    A delivery goes to ``transport`` when a test set one, else to the server registered
    with :func:`route_sandbox_webhooks` when its URL is under that server's public URL;
    otherwise it waits in ``pending`` for a test to take. ``sent`` keeps every
    delivery made with the status it got (``None``: it could not be delivered).
    """

    def __init__(self) -> None:
        self.transport: httpx.AsyncBaseTransport | None = None
        self.pending: list[Delivery] = []
        self.sent: list[tuple[Delivery, int | None]] = []
        self._tasks: set[asyncio.Task[None]] = set()

    def post(self, delivery: Delivery) -> None:
        """Send ``delivery`` soon (a task on the running loop), or keep it pending."""
        transport = self._transport_for(delivery.url)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if transport is None or loop is None:
            self.pending.append(delivery)
            return
        task = loop.create_task(self._send(transport, delivery))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def take(self) -> list[Delivery]:
        """The pending deliveries, removed (a test delivers them itself)."""
        taken, self.pending = self.pending, []
        return taken

    async def drain(self) -> None:
        """Wait until every delivery under way has been answered."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def _transport_for(self, url: str) -> httpx.AsyncBaseTransport | None:
        if self.transport is not None:
            return self.transport
        route = _route
        if route is None:
            return None
        origin = route.origin().rstrip("/")
        return route.transport if url.startswith(origin + "/") else None

    async def _send(self, transport: httpx.AsyncBaseTransport, delivery: Delivery) -> None:
        status: int | None = None
        try:
            async with httpx.AsyncClient(transport=transport, timeout=30) as client:
                sent = await client.request(
                    delivery.method,
                    delivery.url,
                    content=delivery.body or None,
                    headers=delivery.headers,
                )
                status = sent.status_code
        except Exception:  # a failed delivery is the receiver's problem, as it is at a vendor
            log.warning("sandbox webhook to %s failed", delivery.url, exc_info=True)
        self.sent.append((delivery, status))
