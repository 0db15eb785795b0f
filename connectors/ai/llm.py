"""One chat request to the connection's model, through litellm (the optional extra).

litellm is imported lazily, in a worker thread (its import takes seconds and would
stall the event loop the workspace shares with webhooks), with its bundled price list
and catalogs (``LITELLM_LOCAL_MODEL_COST_MAP``, ``LITELLM_OFFLINE_MODE``): it never
downloads anything on import or on a call; the only request is the one to the model.

Where the request goes is held to the operator's network policy like every app's:
OpenAI-compatible models (``openai/…``, a local server behind ``api_base``) are called
through the connection's own HTTP client (``ctx.http``: the guarded transport, or the
in-process simulator for a sandbox connection); for other providers an ``api_base`` is
checked against the policy before the call.

Failures become the SDK's errors. Their messages never carry the API key: litellm's
texts are kept only with the key cut out, and a refused key gets a fixed sentence.
"""

from __future__ import annotations

import asyncio
import importlib
import ipaddress
import logging
import os
import re
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
import httpx

from connectors.sdk import (
    AuthError,
    CallTimeoutError,
    CellwrightError,
    ConfigurationError,
    ForbiddenDestinationError,
    NetworkError,
    OperationContext,
    RateLimitedError,
    UpstreamError,
    secret_value,
)
from connectors.sdk.http import parse_retry_after
from connectors.sdk.netguard import forbidden, is_forbidden_cause

log = logging.getLogger("cellwright.ai")

INSTALL_HINT = "pip install 'cellwright[assistant]'"
FIELDS_HINT = (
    "set the AI model connection's model (a litellm model name such as openai/gpt-4o-mini, "
    "anthropic/claude-3-5-haiku-latest or ollama/llama3), api_key (not needed for local models) "
    "and api_base (only for a local or self-hosted server, e.g. http://localhost:11434)"
)
REQUEST_TIMEOUT = 600.0
"""litellm's own limit; the cell's timeout (``cell_timeout_seconds``) stops a call first."""

Message = dict[str, str]


@dataclass(frozen=True)
class ModelSettings:
    """What a connection says about its model."""

    model: str
    api_key: str | None = None
    api_base: str | None = None

    @classmethod
    def from_credentials(cls, credentials: Mapping[str, Any]) -> ModelSettings:
        model = str(credentials.get("model") or "").strip()
        if not model:
            raise ConfigurationError(f"The AI model connection has no model: {FIELDS_HINT}.")
        key = secret_value(credentials.get("api_key")).strip() or None
        base = str(credentials.get("api_base") or "").strip() or None
        return cls(model=model, api_key=key, api_base=base)


@dataclass(frozen=True)
class Reply:
    """The model's answer and what it cost."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str | None = None


def _import() -> Any:
    return importlib.import_module("litellm")


async def load_litellm() -> Any:
    """The litellm module, set up to stay offline; ConfigurationError when not installed."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    os.environ.setdefault("LITELLM_OFFLINE_MODE", "true")
    try:
        module = await asyncio.to_thread(_import)
    except ImportError:
        raise ConfigurationError(
            f"AI steps call models through litellm, which is not installed: {INSTALL_HINT}"
            " (the assistant extra), then restart Cellwright."
        ) from None
    module.suppress_debug_info = True  # no "Give Feedback / Get Help" banners on stdout
    return module


async def complete(
    ctx: OperationContext,
    messages: Sequence[Message],
    *,
    temperature: float | None = None,
    max_tokens: int | None = None,
) -> Reply:
    """Send ``messages`` (OpenAI chat format) to the connection's model; count its tokens."""
    settings = ModelSettings.from_credentials(ctx.credentials)
    litellm = await load_litellm()
    provider = _provider(litellm, settings.model)
    kwargs: dict[str, Any] = {
        "model": settings.model,
        "messages": list(messages),
        "timeout": REQUEST_TIMEOUT,
        "drop_params": True,  # e.g. a temperature the provider does not take
        "num_retries": 0,  # the runner retries, with backoff, within the scenario's limits
        "max_retries": 0,
    }
    if temperature is not None:
        kwargs["temperature"] = temperature
    if max_tokens is not None:
        kwargs["max_tokens"] = max_tokens
    if provider == "openai":
        kwargs["client"] = _openai_client(ctx, settings)
    else:
        if settings.api_base:
            await _check_destination(ctx, settings.api_base)
            kwargs["api_base"] = settings.api_base
        if settings.api_key:
            kwargs["api_key"] = settings.api_key
    try:
        response = await litellm.acompletion(**kwargs)
    except Exception as exc:  # every provider failure becomes one of our errors
        raise _failure(exc, litellm, settings) from None
    try:
        choice = response.choices[0]
        text = str(choice.message.content or "")
        finish = getattr(choice, "finish_reason", None)
    except (AttributeError, IndexError, TypeError):
        raise UpstreamError(
            f"The model {settings.model} sent an answer without a message.", status=None
        ) from None
    usage = getattr(response, "usage", None)
    prompt = int(getattr(usage, "prompt_tokens", 0) or 0)
    completion = int(getattr(usage, "completion_tokens", 0) or 0)
    ctx.count_tokens(settings.model, prompt, completion)
    return Reply(
        text=text, prompt_tokens=prompt, completion_tokens=completion, finish_reason=finish
    )


def _provider(litellm: Any, model: str) -> str:
    try:
        _, provider, _, _ = litellm.get_llm_provider(model=model)
    except Exception:  # litellm raises its BadRequestError for a name it cannot place
        raise ConfigurationError(
            f"litellm does not know which provider serves the model '{model}': write it as "
            "provider/model, e.g. openai/gpt-4o-mini, anthropic/claude-3-5-haiku-latest or "
            "ollama/llama3 (an OpenAI-compatible server: openai/<its model name> with api_base)."
        ) from None
    return str(provider)


def _openai_client(ctx: OperationContext, settings: ModelSettings) -> Any:
    """An OpenAI SDK client on the connection's HTTP client (guarded, or the simulator)."""
    import openai  # installed with litellm

    return openai.AsyncOpenAI(
        api_key=settings.api_key or "not-needed",  # local servers take any key
        base_url=settings.api_base or "https://api.openai.com/v1",
        http_client=ctx.http.client,
        max_retries=0,
        timeout=REQUEST_TIMEOUT,
    )


async def _check_destination(ctx: OperationContext, api_base: str) -> None:
    """Refuse an ``api_base`` the operator's network policy does not open.

    litellm's other providers open their own connections, so the name is resolved here
    and every address checked (the OpenAI-compatible path checks at connect time).
    """
    try:
        url = httpx.URL(api_base)
    except httpx.InvalidURL:
        raise ConfigurationError(
            "The AI model connection's api_base is not a URL (e.g. http://localhost:11434)."
        ) from None
    if url.scheme not in ("http", "https") or not url.host:
        raise ConfigurationError(
            "The AI model connection's api_base must be an http:// or https:// URL."
        )
    policy = ctx.http.policy
    policy.check_url(url)  # literal addresses
    if policy.allow_private or policy.origin_allowed(url):
        return
    try:
        ipaddress.ip_address(url.host.split("%", 1)[0])
        return  # a literal address: checked above
    except ValueError:
        pass
    try:
        infos = await asyncio.to_thread(socket.getaddrinfo, url.host, url.port or 443)
    except OSError:
        raise NetworkError(f"Could not resolve the model server's host {url.host}.") from None
    for info in infos:
        if not policy.address_allowed(str(info[4][0])):
            raise forbidden(url.host)


def _chain(exc: BaseException) -> list[BaseException]:
    found: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in found and len(found) < 10:
        found.append(current)
        current = current.__cause__ or current.__context__
    return found


def _detail(exc: BaseException, settings: ModelSettings) -> str:
    """litellm's message without its class prefix and without the API key, shortened."""
    text = str(getattr(exc, "message", None) or exc).strip()
    if settings.api_key:
        text = text.replace(settings.api_key, "***")
    text = text.splitlines()[0] if text else ""
    # "litellm.BadRequestError: OpenAIException - <the provider's words>"
    text = re.sub(r"^(litellm\.)?\w+Error:\s*", "", text)
    text = re.sub(r"^\w+Exception\s*-\s*", "", text)
    return text[:300]


def _timed_out(exc: BaseException, chain: list[BaseException], errors: Any) -> bool:
    # the guarded transport (httpx-aiohttp) reports every connection failure, a refused
    # connection included, as httpx.ConnectTimeout: with aiohttp in the chain only a
    # real TimeoutError counts (as connectors.sdk.netguard.is_timeout_cause decides)
    if any(isinstance(e, aiohttp.ClientError) for e in chain):
        return any(isinstance(e, TimeoutError) for e in chain)
    return isinstance(exc, errors.Timeout) or any(
        isinstance(e, httpx.TimeoutException | TimeoutError) for e in chain
    )


def _failure(exc: BaseException, litellm: Any, settings: ModelSettings) -> CellwrightError:
    errors = litellm.exceptions
    chain = _chain(exc)
    # the class names only: the provider's texts may hold the URL or the key
    log.warning("AI model call failed: %s", " <- ".join(type(e).__name__ for e in chain))
    model = settings.model
    for cause in chain:
        if isinstance(cause, ForbiddenDestinationError):
            return cause
    if is_forbidden_cause(exc):
        return ForbiddenDestinationError(
            "The model server's address is not allowed by the network policy. An operator can "
            "allow it with CELLWRIGHT_HTTP_ALLOWED_ORIGINS (e.g. http://localhost:11434)."
        )
    status = getattr(exc, "status_code", None)
    status = status if isinstance(status, int) else None
    if isinstance(exc, errors.AuthenticationError | errors.PermissionDeniedError):
        return AuthError(
            f"The model provider refused the AI model connection's API key (HTTP {status or 401})."
            " Check the connection's api_key.",
            status=status,
        )
    if _timed_out(exc, chain, errors):
        return CallTimeoutError(f"The model {model} did not answer in time.")
    if isinstance(exc, errors.RateLimitError):
        response = getattr(exc, "response", None)
        headers = getattr(response, "headers", None) or {}
        return RateLimitedError(
            f"The model provider is rate limiting calls to {model}: {_detail(exc, settings)}",
            retry_after=parse_retry_after(headers.get("retry-after")),
            status=429,
        )
    if any(
        isinstance(e, errors.APIConnectionError | httpx.TransportError | ConnectionError)
        for e in chain
    ):
        where = f" at {settings.api_base}" if settings.api_base else ""
        return NetworkError(
            f"Could not reach the model server{where}: {_detail(exc, settings)}. Check the "
            "connection's api_base and that the server is running."
        )
    if isinstance(exc, errors.NotFoundError):
        return UpstreamError(
            f"The model provider does not know the model {model} (HTTP 404). Check the "
            f"connection's model: {_detail(exc, settings)}",
            status=404,
        )
    if isinstance(exc, errors.BadRequestError) and "provider" in str(exc).lower() and not status:
        return ConfigurationError(
            f"litellm cannot call the model '{model}': {_detail(exc, settings)}"
        )
    suffix = f" (HTTP {status})" if status else ""
    return UpstreamError(
        f"The model {model} answered with an error{suffix}: {_detail(exc, settings)}",
        status=status,
    )
