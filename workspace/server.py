"""The HTTP server: REST API, webhooks, sandboxes and the Panel workspace in one app.

FastAPI hosts everything (OpenAPI generated from the pydantic models). Panel is
mounted with ``panel.io.fastapi``; that mount does not check a WebSocket's ``Origin``
(STACK.md), so ``OriginGuard`` refuses cross-origin WebSocket handshakes for it.
Body limits, the API key before a body, and the security headers of every response are
in ``workspace.guards``.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from connectors.sdk import CellwrightError, IncomingRequest, InvalidInputError, jsontext
from connectors.sdk.sandboxing import route_sandbox_webhooks, shared_sandbox
from engine import metrics as engine_metrics
from engine.service import Cellwright
from workspace import http_errors, openapi_extras
from workspace.api import router
from workspace.api_docs import add_api_docs
from workspace.guards import AuditOrigins, RequestLimits, SecurityHeaders
from workspace.icons import add_icon_routes
from workspace.oauth import router as oauth_router
from workspace.ratelimit import Clock, Limiter, RateLimiter, limiter_for, too_many

log = logging.getLogger("cellwright.server")

#: uvicorn's WebSocket implementation for the workspace (Bokeh's session socket)
WEBSOCKETS = "websockets-sansio"

Scope = MutableMapping[str, Any]
ASGIApp = Callable[
    [Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]
]


class OriginGuard:
    """Refuse WebSocket handshakes whose ``Origin`` is not this server (or an allowed one)."""

    def __init__(self, app: ASGIApp, allowed: set[str]) -> None:
        self.app = app
        self.allowed = allowed

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            headers = {
                k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", [])
            }
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


def create_app(
    svc: Cellwright,
    *,
    workspace: bool = False,
    start: bool = True,
    primary: bool = True,
    clock: Clock = time.monotonic,
) -> Any:
    """The ASGI app. ``workspace`` mounts the Panel UI (slow to import; off in API tests).
    ``primary``: this process runs the schedules and owns the analytics file (a webhook
    worker does neither). ``clock`` drives the rate limits (tests move it)."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if start:
            await svc.start(scheduler=primary, analytics=primary)
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
        docs_url=None,  # add_api_docs serves it without a CDN
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.cellwright = svc
    app.state.api_limiter = limiter_for(
        svc.settings, svc.settings.api_rate_limit, name="api", clock=clock
    )
    app.include_router(router)
    app.include_router(oauth_router)
    add_api_docs(app)

    @app.exception_handler(CellwrightError)
    async def cellwright_error(_: Request, exc: CellwrightError) -> JSONResponse:
        data = exc.to_dict()
        details = data.get("details", {})
        extra = {"errors": details["errors"]} if details.get("errors") else {}
        return _error(exc.http_status, exc.code, exc.message, **extra)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        unparsable = [err for err in exc.errors() if err.get("type") == "json_invalid"]
        if unparsable:
            return http_errors.invalid_body((unparsable[0].get("ctx") or {}).get("error"))
        errors = []
        for err in exc.errors():
            loc = [str(p) for p in err.get("loc", ()) if p not in ("body",)]
            where = (err.get("ctx") or {}).get("where")  # scenario checks name the cell themselves
            errors.append(
                {
                    "field": where or ".".join(loc) or "(body)",
                    "message": str(err.get("msg", "")).removeprefix("Value error, "),
                }
            )
        listed = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
        return _error(422, "invalid_input", f"Invalid request — {listed}", errors=errors)

    @app.exception_handler(StarletteHTTPException)  # also the router's own 404 and 405
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if isinstance(exc.detail, dict):
            return JSONResponse(exc.detail, status_code=exc.status_code, headers=exc.headers)
        return http_errors.routing_error(request, exc)

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return _error(
            500, "internal_error", "Something went wrong on the server; the log has the details."
        )

    async def echo(request: Request) -> JSONResponse:
        body = await request.body()
        try:
            parsed: Any = jsontext.loads(body) if body else None
        except InvalidInputError:
            parsed = body.decode("utf-8", "replace")
        return JSONResponse(
            {
                "method": request.method,
                "query": dict(request.query_params),
                "received": parsed,
                "echo": True,
            }
        )

    _document_hooks(app)
    openapi_extras.describe_registered_apps(app, svc.apps)
    for method in ("GET", "POST", "PUT"):
        app.add_api_route(
            "/demo/echo",
            echo,
            methods=[method],
            tags=["demo"],
            summary="Echoes the request (for demo scenarios)",
            operation_id=f"demo_echo_{method.lower()}",
        )

    @app.get("/healthz", include_in_schema=False)
    async def health() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def ready() -> JSONResponse:
        """Readiness: the store answers and its schema is this version's."""
        problem, schema = await asyncio.to_thread(svc.readiness)
        if problem is not None:
            return _error(503, "not_ready", problem)
        return JSONResponse({"status": "ready", "schema": schema})

    @app.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        token = svc.settings.metrics_token
        if token is None:
            return _error(404, "not_found", "Metrics are off: set CELLWRIGHT_METRICS_TOKEN.")
        sent = request.headers.get("authorization", "")
        expected = f"Bearer {token.get_secret_value()}"
        if not hmac.compare_digest(sent.encode(), expected.encode()):
            return _error(
                401, "unauthorized", "Send the metrics token as 'Authorization: Bearer …'."
            )
        text = await asyncio.to_thread(svc.metrics_text)
        return Response(text, media_type=engine_metrics.CONTENT_TYPE)

    add_icon_routes(app, svc.apps)
    for each in svc.apps:
        if each.sandbox:
            app.mount(f"/sandbox/{each.key}", shared_sandbox(each.key, each.sandbox))

    if workspace:
        from workspace.app import mount_workspace

        mount_workspace(app, svc)
    allowed = {urlsplit(svc.settings.resolved_public_url()).netloc}
    hooks = HookIngress(
        RequestLimits(OriginGuard(app, allowed), svc),
        svc,
        limiter_for(svc.settings, svc.settings.webhook_rate_limit, name="webhook", clock=clock),
    )
    server = SecurityHeaders(AuditOrigins(hooks), hsts=svc.settings.public_https())
    route_sandbox_webhooks(
        server, svc.settings.resolved_public_url
    )  # sandbox vendors' webhooks reach /hooks/ in process
    return server


class HookIngress:
    """Serves ``/hooks/{token}`` (a scenario's URL) and ``/hooks/apps/{app}/{token}`` (a
    connection's URL, for apps whose vendor sends all of a connection's events to one URL)
    in front of FastAPI.

    Webhooks are the hot path (a synchronous hook answers only after the whole run):
    a plain ASGI handler here costs a fraction of FastAPI's middleware and routing
    stack. Everything else passes through.
    """

    def __init__(self, app: Any, svc: Cellwright, limiter: Limiter | None = None) -> None:
        self.app = app
        self.svc = svc
        self.limiter = limiter or RateLimiter(svc.settings.webhook_rate_limit)

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith("/hooks/"):
            await self.app(scope, receive, send)
            return
        parts = path[len("/hooks/") :].split("/")
        deliver: Callable[[IncomingRequest], Awaitable[Any]]
        resume = len(parts) == 2 and parts[0] == "resume" and bool(parts[1])
        if resume:  # a run's resume URL ("Wait for a call"): the store answers 404/410
            deliver = functools.partial(self.svc.receive_resume_call, parts[1])
        elif len(parts) == 1 and parts[0]:
            deliver = functools.partial(self.svc.receive_webhook, parts[0])
        elif len(parts) == 3 and parts[0] == "apps" and parts[1] and parts[2]:
            deliver = functools.partial(self.svc.receive_connection_webhook, parts[1], parts[2])
        else:
            await _send_json(
                send, 404, {"error": "not_found", "message": "No scenario listens at this URL."}
            )
            return
        known: object
        try:  # an unknown URL is answered before its body is read (the lookup is cached)
            known = resume or await (
                self.svc.ingress.target(parts[0])
                if len(parts) == 1
                else self.svc.ingress.connection_target(parts[1], parts[2])
            )
        except Exception:
            known = True  # a broken scenario: the delivery below reports it
        if known is None:
            await _send_json(
                send,
                404,
                {
                    "error": "not_found",
                    "message": "No scenario listens at this URL."
                    if len(parts) == 1
                    else "No connection listens at this URL.",
                },
            )
            return
        wait = self.limiter.retry_after(
            parts[0]
            if len(parts) == 1
            else (parts[0], parts[1])
            if resume
            else (parts[1], parts[2])
        )
        if wait:
            await _send_json(
                send,
                429,
                too_many(
                    "this webhook URL",
                    self.limiter.per_minute,
                    "CELLWRIGHT_WEBHOOK_RATE_LIMIT",
                    wait,
                ),
                {"Retry-After": str(wait)},
            )
            return
        limit = self.svc.settings.webhook_max_bytes
        headers = {
            k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])
        }
        declared = headers.get("content-length", "")
        too_big = {
            "error": "payload_too_large",
            "message": f"The body is larger than {limit} bytes.",
        }
        if declared.isdigit() and int(declared) > limit:
            await _send_json(send, 413, too_big)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _send_json(send, 413, too_big)
                return
            chunks.append(chunk)
            if not message.get("more_body"):
                break
        incoming = IncomingRequest(
            method=scope["method"],
            headers=headers,
            query=dict(
                parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
            ),
            body=b"".join(chunks),
            path=path,
        )
        try:
            answer = await deliver(incoming)
        except Exception:
            log.exception("webhook ingress failed")
            await _send_json(
                send,
                500,
                {
                    "error": "internal_error",
                    "message": "Something went wrong on the server; the log has the details.",
                },
            )
            return
        body = answer.body
        if isinstance(body, bytes):
            await _send(send, answer.status, body, "application/octet-stream", answer.headers)
        elif isinstance(body, str):
            await _send(
                send, answer.status, body.encode(), "text/plain; charset=utf-8", answer.headers
            )
        else:
            await _send_json(send, answer.status, body, answer.headers)


async def _send_json(
    send: Any, status: int, data: Any, headers: dict[str, str] | None = None
) -> None:
    await _send(
        send,
        status,
        json.dumps(data, separators=(",", ":"), default=str).encode(),
        "application/json",
        headers or {},
    )


async def _send(
    send: Any, status: int, body: bytes, media_type: str, headers: dict[str, str]
) -> None:
    raw = [(b"content-type", media_type.encode()), (b"content-length", str(len(body)).encode())]
    raw += [
        (k.lower().encode("latin-1"), str(v).encode("latin-1"))
        for k, v in headers.items()
        if k.lower() not in ("content-type", "content-length")
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def _document_hooks(app: FastAPI) -> None:
    """Describe ``/hooks/{token}`` and ``/hooks/apps/{app}/{token}`` (served by ``HookIngress``)
    in the OpenAPI document."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build()
        responses = {
            "202": {"description": "Stored and queued; the body has execution_id."},
            "200": {"description": "A sync hook: the run's answer."},
            "400": {
                "description": "The body could not be read: not standard JSON, or not an event "
                "the vendor sends; nothing stored."
            },
            "401": {"description": "Signature or secret check failed; nothing stored."},
            "404": {"description": "No scenario listens at this URL."},
            "405": {"description": "The hook does not accept this method."},
            "409": {"description": "The scenario is not enabled."},
            "413": {"description": "The body is over CELLWRIGHT_WEBHOOK_MAX_BYTES."},
            "429": {
                "description": "Over CELLWRIGHT_WEBHOOK_RATE_LIMIT requests per minute for this "
                "URL; nothing stored. Retry-After says when to try again."
            },
            "508": {
                "description": "Loop detected: X-Cellwright-Hops is over CELLWRIGHT_MAX_HOPS; no "
                "run was started."
            },
        }
        param = [{"name": "token", "in": "path", "required": True, "schema": {"type": "string"}}]
        schema.setdefault("paths", {})["/hooks/{token}"] = {
            method: {
                "tags": ["webhooks"],
                "summary": "Webhook ingress",
                "operationId": f"webhook_{method}",
                "parameters": param,
                "responses": responses,
            }
            for method in ("get", "post", "put", "patch", "delete")
        }
        schema["paths"]["/hooks/apps/{app}/{token}"] = {
            "post": {
                "tags": ["webhooks"],
                "summary": "A connection's webhook (every event of the connection: a Slack app's "
                "Request URL)",
                "description": "The connection's events_url. Verified once with the connection's "
                "credentials; a URL check (Slack's url_verification) is answered; "
                "every enabled scenario with one of the app's instant triggers on "
                "the connection gets the events its trigger picks. Never waits "
                "for the runs.",
                "operationId": "connection_webhook_post",
                "parameters": [
                    {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                    for name in ("app", "token")
                ],
                "responses": {
                    "200": {
                        "description": "Taken: accepted (runs started) and execution_ids; or the "
                        "answer to a URL check."
                    },
                    "400": {
                        "description": "The body says it is JSON and is not standard JSON; "
                        "nothing stored."
                    },
                    "401": {"description": "Signature check failed; nothing stored."},
                    "404": {"description": "No connection listens at this URL."},
                    "405": {"description": "The URL does not accept this method."},
                    "413": {"description": "The body is over CELLWRIGHT_WEBHOOK_MAX_BYTES."},
                    "429": {
                        "description": "Over CELLWRIGHT_WEBHOOK_RATE_LIMIT requests per minute "
                        "for this URL; nothing stored."
                    },
                    "508": {
                        "description": "Loop detected: X-Cellwright-Hops is over "
                        "CELLWRIGHT_MAX_HOPS; no run was started."
                    },
                },
            }
        }
        resume_responses = {
            "202": {"description": "Taken: the waiting run goes on with this call."},
            "400": {"description": "The body says it is JSON and is not standard JSON."},
            "404": {"description": "No run waits at this URL."},
            "410": {
                "description": "The URL was already called, its wait timed out, or its run has "
                "finished."
            },
            "413": {"description": "The body is over CELLWRIGHT_WEBHOOK_MAX_BYTES."},
            "429": {
                "description": "Over CELLWRIGHT_WEBHOOK_RATE_LIMIT requests per minute for this "
                "URL."
            },
        }
        schema["paths"]["/hooks/resume/{token}"] = {
            method: {
                "tags": ["webhooks"],
                "summary": "A run's resume URL ('Wait for a call'; {{ execution.resume_url }})",
                "description": "Takes one call: the run waiting at its 'Wait for a call' cell goes "
                "on with the call's method, headers (credentials masked), query and body.",
                "operationId": f"resume_{method}",
                "parameters": param,
                "responses": resume_responses,
            }
            for method in ("get", "post")
        }
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
