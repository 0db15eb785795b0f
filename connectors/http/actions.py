"""The HTTP request action.

It sends through ``ctx.http``, the client the engine builds with the operator's
network policy, so the SSRF guard applies to the URL and to every redirect.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx

from connectors.http.schemas import RequestInput, RequestOutput
from connectors.sdk import (
    HOPS_HEADER,
    CallTimeoutError,
    CellwrightError,
    OperationContext,
    UpstreamError,
)

REDACTED = "***"


def _form_value(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def _prepare(inputs: RequestInput, hops: int = 0) -> tuple[str, dict[str, Any]]:
    """The URL (query merged in) and the keyword arguments for ``ctx.http.request``.

    Every request carries ``X-Cellwright-Hops`` (the run's hops + 1), replacing any the
    cell sets: a webhook of this or another Cellwright server counts the hop and ends a
    scenario that triggers itself.
    """
    headers = {
        name: value for name, value in inputs.headers.items() if name.lower() != HOPS_HEADER.lower()
    }
    headers[HOPS_HEADER] = str(hops + 1)
    if inputs.bearer_token is not None:
        for name in [n for n in headers if n.lower() == "authorization"]:
            del headers[name]
        headers["Authorization"] = f"Bearer {inputs.bearer_token.get_secret_value()}"
    params = {k: (str(v).lower() if isinstance(v, bool) else v) for k, v in inputs.query.items()}
    kwargs: dict[str, Any] = {
        "headers": headers,
        "timeout": httpx.Timeout(inputs.timeout_seconds),
        "follow_redirects": inputs.follow_redirects,
    }
    url = inputs.url
    if params:
        # Merge with the URL's own query instead of replacing it (httpx's params= does).
        url = str(httpx.URL(url).copy_merge_params(params))
    if inputs.body_type == "json":
        kwargs["content"] = json.dumps(inputs.body, ensure_ascii=False, default=str).encode()
        _set_default(headers, "Content-Type", "application/json")
    elif inputs.body_type == "form":
        kwargs["data"] = {k: _form_value(v) for k, v in inputs.body.items()}
    elif inputs.body_type == "raw":
        kwargs["content"] = inputs.body.encode()
        _set_default(headers, "Content-Type", inputs.content_type)
    return url, kwargs


def _set_default(headers: dict[str, str], name: str, value: str) -> None:
    if not any(n.lower() == name.lower() for n in headers):
        headers[name] = value


def _read_body(response: httpx.Response, response_type: str) -> Any:
    if not response.content:
        return None
    is_json = "json" in response.headers.get("content-type", "").lower()
    if response_type == "text" or (response_type == "auto" and not is_json):
        return response.text
    try:
        return response.json()
    except ValueError:
        if response_type == "auto":
            return response.text
        raise UpstreamError(
            "http: expected a JSON answer, "
            f"got {response.headers.get('content-type', 'no content type')}; "
            "set response_type to 'text' or 'auto' to read it as text.",
            status=response.status_code,
            body=response.text[:2000],
        ) from None


def _redact(value: Any, secret: str) -> Any:
    """``value`` with every occurrence of ``secret`` replaced."""
    if isinstance(value, str):
        return value.replace(secret, REDACTED)
    if isinstance(value, dict):
        return {_redact(k, secret): _redact(v, secret) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v, secret) for v in value]
    return value


def _redact_error(error: CellwrightError, secret: str) -> CellwrightError:
    error.message = _redact(error.message, secret)
    error.args = (error.message,)
    error.details = _redact(error.details, secret)
    if isinstance(error, UpstreamError):
        error.body = error.details.get("body")
    return error


async def request(ctx: OperationContext, inputs: RequestInput) -> RequestOutput:
    """Send one HTTP request and return the status, headers and body of the answer."""
    url, kwargs = _prepare(inputs, ctx.hops)
    secret = inputs.bearer_token.get_secret_value() if inputs.bearer_token else ""
    started = time.perf_counter()
    try:
        # The per-phase timeouts do not bound a server that trickles its answer.
        async with asyncio.timeout(inputs.timeout_seconds):
            response = await ctx.http.request(
                inputs.method, url, raise_for_status=inputs.fail_on_status, **kwargs
            )
        body = _read_body(response, inputs.response_type)
    except TimeoutError:
        shown = httpx.URL(inputs.url).copy_with(query=None, fragment=None)
        raise CallTimeoutError(
            f"http: no complete answer from {shown} within {inputs.timeout_seconds:g} s."
        ) from None
    except CellwrightError as exc:
        raise _redact_error(exc, secret) if secret else exc from None
    elapsed_ms = (time.perf_counter() - started) * 1000
    headers = dict(response.headers)
    if secret:
        headers, body = _redact(headers, secret), _redact(body, secret)
    return RequestOutput(
        status=response.status_code, headers=headers, body=body, elapsed_ms=elapsed_ms
    )
