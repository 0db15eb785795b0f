"""The HTTP client an operation uses: one per connection.

Built from the app's base URL, allowed hosts and auth, it maps every HTTP failure to
the error hierarchy in one place (STYLE.md item 5) and keeps credentials out of
errors: any secret value found in an upstream body or URL is replaced by ``***``.
"""

from __future__ import annotations

import email.utils
import fnmatch
import json
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import httpx

from connectors.sdk.errors import (
    AuthError,
    CallTimeoutError,
    CellwrightError,
    ForbiddenDestinationError,
    InvalidInputError,
    NetworkError,
    RateLimitedError,
    UpstreamError,
)
from connectors.sdk.limits import CallGate
from connectors.sdk.netguard import (
    NetworkPolicy,
    forbidden,
    is_forbidden_cause,
    is_timeout_cause,
    make_transport,
)

ErrorParser = Callable[[httpx.Response, Any], CellwrightError | None]
"""App hook: inspect a response (and its parsed body) and return an error or ``None``.
For vendors that answer 200 with an error inside (Slack ``ok: false``, GraphQL ``errors``)."""

MAX_ERROR_BODY = 2000
_CHECK_HOSTS = "cellwright.check_hosts"
"""Request extension: the request (and the redirects httpx builds from it, which copy
its extensions) must stay within the app's allowed hosts."""
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` as seconds: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class ConnectorHttp:
    """A thin layer over ``httpx.AsyncClient``: host checks, error mapping, redaction."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        app_key: str,
        allowed_hosts: Iterable[str] = (),
        policy: NetworkPolicy | None = None,
        error_parser: ErrorParser | None = None,
        secrets: Iterable[str] = (),
        gate: CallGate | None = None,
    ) -> None:
        self.client = client
        self.gate = gate
        """The connection's way through its vendor's declared limits (sdk/limits.py): every
        request waits for its turn there, or raises ``RateLimitedError``, before it is sent."""
        self.app_key = app_key
        self.allowed_hosts = tuple(allowed_hosts)
        self.policy = policy or NetworkPolicy()
        self.error_parser = error_parser
        self._secrets = tuple(s for s in secrets if s and len(s) >= 4)

    # -- requests -------------------------------------------------------------------

    async def request(
        self, method: str, url: str, *, raise_for_status: bool = True, **kwargs: Any
    ) -> httpx.Response:
        """Send a request; return the response, or raise the mapped error.

        ``raise_for_status=False`` returns 4xx/5xx responses instead of raising (the
        ``error_parser`` hook still runs); transport failures are always raised.
        """
        # build once, send once (what AsyncClient.request does): send-time options apart
        send = {k: kwargs.pop(k) for k in ("auth", "follow_redirects") if k in kwargs}
        kwargs["extensions"] = {**kwargs.get("extensions", {}), _CHECK_HOSTS: True}
        try:
            built = self.client.build_request(method, url, **kwargs)
        except httpx.InvalidURL as exc:
            raise InvalidInputError(
                f"{self.app_key}: invalid URL: {self._safe(str(exc))}"
            ) from None
        target = built.url
        self._check_host(target)
        shown = self._safe(str(target.copy_with(query=None, userinfo=b"")))
        holder = await self.gate.enter(self.app_key, target.path) if self.gate else None
        try:
            response = await self.client.send(built, **send)
        except httpx.TransportError as exc:
            if is_forbidden_cause(exc):
                raise forbidden(
                    exc.request.url.host
                ) from None  # the redirect's host, when it was one
            if is_timeout_cause(exc):
                raise CallTimeoutError(
                    f"{self.app_key}: the request to {shown} timed out"
                ) from None
            raise NetworkError(
                f"{self.app_key}: could "
                f"not reach {target.host}: {self._safe(str(exc)) or type(exc).__name__}"
            ) from None
        except TimeoutError:
            raise CallTimeoutError(f"{self.app_key}: the request to {shown} timed out") from None
        except httpx.TooManyRedirects:
            loop = UpstreamError(f"{self.app_key}: too many redirects from {shown}")
            loop.retryable = False  # a redirect loop does not heal by retrying
            raise loop from None
        finally:
            if self.gate is not None:
                await self.gate.leave(holder)
        if raise_for_status:
            await self.raise_for_response(response)
        elif self.error_parser is not None:
            await response.aread()
            error = self.error_parser(response, _body(response))
            if error is not None:
                raise self._redacted(error)
        return response

    async def json(self, method: str, url: str, **kwargs: Any) -> Any:
        """Send a request and return its JSON body (``None`` for an empty body)."""
        response = await self.request(method, url, **kwargs)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise UpstreamError(
                f"{self.app_key}: expected JSON, "
                f"got {response.headers.get('content-type', 'no content type')}",
                status=response.status_code,
                body=self._safe(response.text[:MAX_ERROR_BODY]),
            ) from None

    async def get(self, url: str, **kwargs: Any) -> Any:
        return await self.json("GET", url, **kwargs)

    async def post(self, url: str, **kwargs: Any) -> Any:
        return await self.json("POST", url, **kwargs)

    async def put(self, url: str, **kwargs: Any) -> Any:
        return await self.json("PUT", url, **kwargs)

    async def patch(self, url: str, **kwargs: Any) -> Any:
        return await self.json("PATCH", url, **kwargs)

    async def delete(self, url: str, **kwargs: Any) -> Any:
        return await self.json("DELETE", url, **kwargs)

    async def aclose(self) -> None:
        await self.client.aclose()

    # -- checks and error mapping ---------------------------------------------------

    def _check_host(self, url: httpx.URL) -> None:
        if not self.allowed_hosts:
            return
        host = url.host
        if self.policy.origin_allowed(url):
            return
        if not any(fnmatch.fnmatch(host, pattern) for pattern in self.allowed_hosts):
            raise ForbiddenDestinationError(
                f"{self.app_key} may only call {', '.join(self.allowed_hosts)}; "
                f"refused a request to {host}.",
                destination=host,
            )

    async def raise_for_response(self, response: httpx.Response) -> None:
        await response.aread()
        body = _body(response)
        if self.error_parser is not None:
            error = self.error_parser(response, body)
            if error is not None:
                raise self._redacted(error)
        status = response.status_code
        if status < 400:
            return
        shown = self._safe_body(body)
        summary = self._safe(_summary(body))  # vendors echo the key they refused
        label = f"{self.app_key}: HTTP {status}" + (f" — {summary}" if summary else "")
        if status == 401:
            raise AuthError(
                f"{label}. The connection's credentials were refused; check or reconnect it.",
                status=status,
                body=shown,
            )
        if status == 429:
            retry_after = parse_retry_after(response.headers.get("retry-after"))
            raise RateLimitedError(
                f"{label}. Rate limited by {self.app_key}.", retry_after=retry_after, status=status
            )
        raise UpstreamError(label, status=status, body=shown)

    def _safe(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def _safe_body(self, body: Any) -> Any:
        text = body if isinstance(body, str) else json.dumps(body, default=str)
        if len(text) > MAX_ERROR_BODY:
            return self._safe(text[:MAX_ERROR_BODY]) + "…"
        redacted = self._safe(text)
        return body if redacted == text else redacted

    def _redacted(self, error: CellwrightError) -> CellwrightError:
        error.message = self._safe(error.message)
        error.args = (error.message,)
        for key, value in error.details.items():
            if isinstance(value, str):
                error.details[key] = self._safe(value)
            elif key == "body" and value is not None:
                error.details[key] = self._safe_body(value)
        if isinstance(error, UpstreamError):
            error.body = error.details.get("body")
        return error


def _body(response: httpx.Response) -> Any:
    if not response.content:
        return None
    if "json" in response.headers.get("content-type", ""):
        try:
            return response.json()
        except ValueError:
            pass
    return response.text


def _summary(body: Any) -> str:
    """A short human message from common error shapes."""
    if isinstance(body, Mapping):
        for key in ("message", "error_description", "error", "detail", "title"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return value[:300]
            if isinstance(value, Mapping) and isinstance(value.get("message"), str):
                return str(value["message"])[:300]
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], Mapping):
            return str(errors[0].get("message", ""))[:300]
    if isinstance(body, str):
        return body.strip().splitlines()[0][:300] if body.strip() else ""
    return ""


def build_http(
    *,
    app_key: str,
    base_url: str | None = None,
    allowed_hosts: Iterable[str] = (),
    auth: httpx.Auth | None = None,
    headers: Mapping[str, str] | None = None,
    policy: NetworkPolicy | None = None,
    error_parser: ErrorParser | None = None,
    secrets: Iterable[str] = (),
    timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
    transport: httpx.AsyncBaseTransport | None = None,
    follow_redirects: bool = True,
    gate: CallGate | None = None,
) -> ConnectorHttp:
    """Build the client for one connection (or for a connection-less call)."""
    policy = policy or NetworkPolicy()
    if transport is None:
        transport = make_transport(policy)

    async def check_request(request: httpx.Request) -> None:
        # Runs for every request, redirects included: literal IPs never reach the
        # guarded resolver, and a redirect must not carry the app's credentials (an
        # API key in a custom header survives httpx's cross-origin redirect) to a
        # host the app did not declare.
        policy.check_url(request.url)
        if request.extensions.get(_CHECK_HOSTS):
            connector._check_host(request.url)

    client = httpx.AsyncClient(
        base_url=base_url or "",
        auth=auth,
        headers=dict(headers or {}),
        timeout=timeout,
        transport=transport,
        follow_redirects=follow_redirects,
        event_hooks={"request": [check_request]},
    )
    connector = ConnectorHttp(
        client,
        app_key=app_key,
        allowed_hosts=allowed_hosts,
        policy=policy,
        error_parser=error_parser,
        secrets=secrets,
        gate=gate,
    )
    return connector
