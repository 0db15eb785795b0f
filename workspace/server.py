"""The HTTP server: REST API, webhooks, sandboxes and the Panel workspace in one app.

FastAPI hosts everything (OpenAPI generated from the pydantic models). Panel is
mounted with ``panel.io.fastapi``; that mount does not check a WebSocket's ``Origin``
(STACK.md), so ``OriginGuard`` refuses cross-origin WebSocket handshakes for it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

from connectors.sdk import CellwrightError, IncomingRequest
from connectors.sdk.sandboxing import shared_sandbox
from engine.service import Cellwright
from workspace.api import router
from workspace.oauth import router as oauth_router

log = logging.getLogger("cellwright.server")

STATUS = {
    "not_found": 404,
    "conflict": 409,
    "invalid_input": 422,
    "invalid_document": 422,
    "configuration_error": 422,
    "mapping_error": 422,
    "unauthorized": 401,
}

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]


class OriginGuard:
    """Refuse WebSocket handshakes whose ``Origin`` is not this server (or an allowed one)."""

    def __init__(self, app: ASGIApp, allowed: set[str]) -> None:
        self.app = app
        self.allowed = allowed

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", [])}
            origin = headers.get("origin")
            host = headers.get("host", "")
            if origin is not None:
                origin_host = urlsplit(origin).netloc
                if origin_host != host and origin_host not in self.allowed:
                    log.warning("refused a WebSocket from origin %s", origin)
                    await send({"type": "websocket.close", "code": 1008})
                    return
        await self.app(scope, receive, send)


def _error(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": code, "message": message, **extra}, status_code=status)


def create_app(svc: Cellwright, *, workspace: bool = False, start: bool = True) -> Any:
    """The ASGI app. ``workspace`` mounts the Panel UI (slow to import; off in API tests)."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if start:
            await svc.start()
        try:
            yield
        finally:
            if start:
                await svc.stop()

    app = FastAPI(
        title="Cellwright",
        version="0.1.0",
        description="Apps, connections, scenarios and executions. Authenticate with an API key.",
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.cellwright = svc
    app.include_router(router)
    app.include_router(oauth_router)

    @app.exception_handler(CellwrightError)
    async def cellwright_error(_: Request, exc: CellwrightError) -> JSONResponse:
        data = exc.to_dict()
        details = data.get("details", {})
        extra = {"errors": details["errors"]} if details.get("errors") else {}
        return _error(STATUS.get(exc.code, 400), exc.code, exc.message, **extra)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = []
        for err in exc.errors():
            loc = [str(p) for p in err.get("loc", ()) if p not in ("body",)]
            where = (err.get("ctx") or {}).get("where")  # scenario checks name the cell themselves
            errors.append({"field": where or ".".join(loc) or "(body)", "message": str(err.get("msg", "")).removeprefix("Value error, ")})
        listed = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
        return _error(422, "invalid_input", f"Invalid request — {listed}", errors=errors)

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> JSONResponse:
        if isinstance(exc.detail, dict):
            return JSONResponse(exc.detail, status_code=exc.status_code, headers=exc.headers)
        return _error(exc.status_code, "http_error", str(exc.detail))

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return _error(500, "internal_error", "Something went wrong on the server; the log has the details.")

    async def hook(token: str, request: Request) -> Response:
        limit = svc.settings.webhook_max_bytes
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            return _error(413, "payload_too_large", f"The body is larger than {limit} bytes.")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                return _error(413, "payload_too_large", f"The body is larger than {limit} bytes.")
            chunks.append(chunk)
        incoming = IncomingRequest(
            method=request.method,
            headers={k.lower(): v for k, v in request.headers.items()},
            query=dict(request.query_params),
            body=b"".join(chunks),
            path=request.url.path,
        )
        answer = await svc.receive_webhook(token, incoming)
        if isinstance(answer.body, (dict, list)) or answer.body is None:
            return JSONResponse(answer.body, status_code=answer.status, headers=answer.headers)
        if isinstance(answer.body, bytes):
            return Response(answer.body, status_code=answer.status, headers=answer.headers)
        if isinstance(answer.body, str):
            return Response(answer.body, status_code=answer.status, headers=answer.headers, media_type="text/plain")
        return JSONResponse(answer.body, status_code=answer.status, headers=answer.headers)

    async def echo(request: Request) -> JSONResponse:
        body = await request.body()
        try:
            import json

            parsed: Any = json.loads(body) if body else None
        except ValueError:
            parsed = body.decode("utf-8", "replace")
        return JSONResponse({"method": request.method, "query": dict(request.query_params), "received": parsed, "echo": True})

    # one route per method: OpenAPI operation ids must be unique
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        app.add_api_route("/hooks/{token}", hook, methods=[method], tags=["webhooks"], summary="Webhook ingress", operation_id=f"webhook_{method.lower()}")
    for method in ("GET", "POST", "PUT"):
        app.add_api_route("/demo/echo", echo, methods=[method], tags=["demo"], summary="Echoes the request (for demo scenarios)", operation_id=f"demo_echo_{method.lower()}")

    @app.get("/healthz", include_in_schema=False)
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    for each in svc.apps:
        if each.sandbox:
            app.mount(f"/sandbox/{each.key}", shared_sandbox(each.key, each.sandbox))

    if workspace:
        from workspace.app import mount_workspace

        mount_workspace(app, svc)
    allowed = {urlsplit(svc.settings.resolved_public_url()).netloc}
    return OriginGuard(app, allowed)

