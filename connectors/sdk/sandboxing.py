"""Pointing an app at its simulator (``sandbox.py``) instead of the vendor.

Tests use ``sandbox_http`` (in-process ASGI, no sockets); ``cellwright serve`` mounts
every sandbox under ``/sandbox/<app key>`` so "sandbox connections" work through a
real HTTP server too.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from functools import cache
from typing import Any

import httpx

from connectors.sdk.app import App
from connectors.sdk.auth import secret_value
from connectors.sdk.context import OperationContext
from connectors.sdk.http import ConnectorHttp, build_http

SANDBOX_BASE = "http://sandbox.invalid"


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
    return [secret_value(v) for v in credentials.values() if isinstance(v, str) or hasattr(v, "get_secret_value")]


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
    app: App, credentials: Mapping[str, Any], *, asgi_app: Any | None = None, auth_type: str | None = None, **fields: Any
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
