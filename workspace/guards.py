"""What every HTTP request and response goes through, around the FastAPI app.

- :class:`RequestLimits`: a body over ``CELLWRIGHT_REQUEST_MAX_BYTES`` gets 413 — at
  once when ``Content-Length`` says so, else as soon as the stream passes the limit (the
  rest is never read) — and a request to ``/api/`` that carries a body must show a valid
  API key first: 401 without its body being read. (Webhooks have their own limit,
  ``CELLWRIGHT_WEBHOOK_MAX_BYTES``, in ``workspace.server.HookIngress``.)
- :class:`AuditOrigins`: the audit trail's source (``api``, ``workspace``) and client
  address of each request.
- :class:`SecurityHeaders`: ``Content-Security-Policy``, ``X-Frame-Options``,
  ``X-Content-Type-Options`` and ``Referrer-Policy`` on every response, and
  ``Strict-Transport-Security`` when the public URL is https.
- :class:`StrictJSONRoute`: REST bodies are parsed as standard JSON
  (:func:`connectors.sdk.jsontext.loads`), so nothing stored can break a later answer.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
from collections.abc import Awaitable, Callable, Coroutine, MutableMapping
from typing import Any

from fastapi import HTTPException, Request
from fastapi.routing import APIRoute
from starlette.datastructures import Headers
from starlette.responses import Response

from connectors.sdk import InvalidInputError, jsontext
from storage import audit_origin
from workspace.http_errors import invalid_body_answer

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

API_USER = "cellwright.api_user"
"""Scope key: the owner of the request's API key, checked before its body was read."""

UNAUTHORIZED = {
    "error": "unauthorized",
    "message": "Send a valid API key: Authorization: Bearer <key>.",
}


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` when the stream passes the limit. An ``HTTPException``, so
    the app's own handlers answer it quietly; :class:`RequestLimits` replaces that answer."""

    def __init__(self) -> None:
        super().__init__(413, "The request body is too large.")


class AuditOrigins:
    """Sets the audit origin of each request (``storage.audit_origin``): ``api`` for
    ``/api/``, ``workspace`` for the sign-in routes, the Panel workspace and its OAuth
    routes, with the client's address (uvicorn applies ``X-Forwarded-For`` from trusted
    proxies). Webhooks and everything else the server does on its own are ``system``."""

    WORKSPACE_PREFIXES = ("/login", "/logout", "/oauth/", "/ws")

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        source = (
            "api"
            if path.startswith("/api/")
            else "workspace"
            if path == "/" or path.startswith(self.WORKSPACE_PREFIXES)
            else None
        )
        if source is None:
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        with audit_origin(source, ip=client[0] if client else None):
            await self.app(scope, receive, send)


class RequestLimits:
    """Body size limit for every route but ``/hooks/``; API key before an ``/api/`` body."""

    def __init__(self, app: ASGIApp, svc: Any) -> None:
        self.app = app
        self.svc = svc  # read at each request: tests and operators may change the limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit: int = self.svc.settings.request_max_bytes
        headers = Headers(scope=scope)
        declared = headers.get("content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > limit:
            await _send_json(send, 413, _too_large(limit))
            return
        carries_body = (
            declared is not None and declared.strip() != "0"
        ) or "transfer-encoding" in headers
        if carries_body and scope.get("path", "").startswith("/api/"):
            user = await self._api_user(headers)
            if user is None:
                await _send_json(send, 401, UNAUTHORIZED, {"WWW-Authenticate": "Bearer"})
                return
            scope[API_USER] = user

        size = 0
        exceeded = False
        started = False

        async def limited_receive() -> Message:
            nonlocal size, exceeded
            message = await receive()
            if message["type"] == "http.request":
                size += len(message.get("body", b""))
                if size > limit:
                    exceeded = True
                    raise BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded and not started:
                return  # the app's answer to BodyTooLarge: the 413 below replaces it
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not exceeded or started:
                raise
        if exceeded and not started:
            await _send_json(send, 413, _too_large(limit))

    async def _api_user(self, headers: Headers) -> Any:
        """The owner of the API key the request shows (as ``workspace.api.current_user``
        reads it), or None."""
        scheme, _, credentials = headers.get("authorization", "").partition(" ")
        key = (
            credentials.strip()
            if scheme.lower() == "bearer" and credentials.strip()
            else headers.get("x-api-key")
        )
        if not key:
            return None
        return await asyncio.to_thread(self.svc.accounts.user_for_api_key, key)


def _too_large(limit: int) -> dict[str, str]:
    return {
        "error": "payload_too_large",
        "message": f"The request body is larger than this server accepts ({limit} bytes, "
        "CELLWRIGHT_REQUEST_MAX_BYTES); send less data.",
    }


async def _send_json(
    send: Send, status: int, data: Any, headers: dict[str, str] | None = None
) -> None:
    body = json.dumps(data, separators=(",", ":")).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


# -- response headers ------------------------------------------------------------------------

#: pages (the Panel workspace, sign-in, OAuth results): the tightest policy the workspace
#: works under in Chromium (tests/ui/test_journey.py checks for violations). Scripts run
#: only with this response's nonce (every <script> of the page gets it) or when a trusted
#: script adds them ('strict-dynamic': Bokeh's bundles, Panel's ES modules from blob:
#: URLs); Bokeh compiles some callbacks with ``new Function`` ('unsafe-eval') and styles
#: its components with inline style attributes and <style> elements; the session runs
#: over a same-origin WebSocket.
PAGE_POLICY = (
    "default-src 'self'; script-src 'nonce-{nonce}' 'strict-dynamic' 'unsafe-eval'; style-src "
    "'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self' data:; connect-src "
    "'self' blob:; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
#: the /api/v1/docs page: Swagger UI from this server (workspace/api_docs.py), started by
#: the page's one inline script; nothing comes from another origin
DOCS_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action "
    "'self'; frame-ancestors 'none'"
)
#: everything else (JSON, text, files): nothing may run, load, or frame it
DATA_POLICY = "default-src 'none'; frame-ancestors 'none'; sandbox"
DOCS_PATH = "/api/v1/docs"
#: on every response when the public URL is https: one year, this host only (a
#: subdomain may be another service that still speaks plain HTTP)
HSTS = b"max-age=31536000"
_SCRIPT_TAG = re.compile(rb"<script(?=[\s>])", re.IGNORECASE)


class SecurityHeaders:
    """Adds the security headers to every HTTP response (the app's own values win, but
    not on ``/hooks/``: a sync webhook's answer must not weaken them). A page (HTML) is
    held until its body is complete, to give its scripts a fresh nonce."""

    def __init__(self, app: ASGIApp, *, hsts: bool = False) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        hsts = self.hsts
        held: Message | None = None
        chunks: list[bytes] = []

        async def with_headers(message: Message) -> None:
            nonlocal held
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if policy_for(headers, path) is PAGE_POLICY:
                    held = message
                    return
                message["headers"] = secured(headers, path, hsts=hsts)
            elif held is not None and message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if message.get("more_body"):
                    return
                nonce = secrets.token_urlsafe(18)
                body = _SCRIPT_TAG.sub(b'<script nonce="' + nonce.encode() + b'"', b"".join(chunks))
                headers = [
                    (k, v) for k, v in held.get("headers", []) if k.lower() != b"content-length"
                ]
                held["headers"] = secured(
                    [*headers, (b"content-length", str(len(body)).encode())],
                    path,
                    nonce,
                    hsts=hsts,
                )
                await send(held)
                message = {"type": "http.response.body", "body": body}
            await send(message)

        await self.app(scope, receive, with_headers)


def secured(
    headers: list[tuple[bytes, bytes]], path: str, nonce: str = "", *, hsts: bool = False
) -> list[tuple[bytes, bytes]]:
    """``headers`` with the security headers added (or, on ``/hooks/``, enforced);
    ``hsts``: the public URL is https, so browsers must never use plain HTTP for it."""
    policy = policy_for(headers, path)
    ours = {
        b"content-security-policy": (
            policy.format(nonce=nonce) if policy is PAGE_POLICY else policy
        ).encode(),
        b"x-frame-options": b"DENY",
        b"x-content-type-options": b"nosniff",
        b"referrer-policy": b"same-origin",
    }
    if hsts:
        ours[b"strict-transport-security"] = HSTS
    if path.startswith("/hooks/"):
        headers = [(k, v) for k, v in headers if k.lower() not in ours]
    present = {k.lower() for k, _ in headers}
    return headers + [(k, v) for k, v in ours.items() if k not in present]


def policy_for(headers: list[tuple[bytes, bytes]], path: str) -> str:
    """The policy for a response: by its content type and path."""
    kind = (
        next((v for k, v in headers if k.lower() == b"content-type"), b"")
        .split(b";")[0]
        .strip()
        .lower()
    )
    if kind != b"text/html" or path.startswith("/hooks/"):
        return DATA_POLICY
    return DOCS_POLICY if path == DOCS_PATH else PAGE_POLICY


# -- strict JSON for the REST API ------------------------------------------------------------


class StrictJSONRequest(Request):
    """``json()`` is standard JSON: a body that is not JSON at all is a 400
    (``invalid_body``); ``NaN``, ``1e400``, half surrogate pairs and deep nesting are
    refused with 422 and a sentence, never stored."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            try:
                self._json = jsontext.loads(await self.body())
            except jsontext.UnreadableJson as exc:  # not JSON at all: 400, as documented
                raise HTTPException(400, detail=invalid_body_answer(exc.detail)) from None
            except InvalidInputError as exc:
                detail = {
                    "error": exc.code,
                    "message": exc.message,
                    "errors": [{"field": "(body)", "message": exc.message}],
                }
                raise HTTPException(422, detail=detail) from None
        return self._json


class StrictJSONRoute(APIRoute):
    """An ``APIRoute`` whose handler reads its body through :class:`StrictJSONRequest`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            return await handler(StrictJSONRequest(request.scope, request.receive))

        return strict


__all__ = [
    "API_USER",
    "AuditOrigins",
    "PAGE_POLICY",
    "BodyTooLarge",
    "RequestLimits",
    "SecurityHeaders",
    "StrictJSONRequest",
    "StrictJSONRoute",
    "secured",
]
