"""One chat request to the configured model, through litellm (the optional extra).

litellm is imported lazily, in a worker thread (its import takes seconds and would
stall the event loop the workspace shares with webhooks), and with the local price
list (``LITELLM_LOCAL_MODEL_COST_MAP``) so it never downloads anything on import.
Failures become ``AssistantError`` with messages that never name the provider's URL or
key: litellm's own messages may carry both, so they are logged by class only.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import logging
import os
from typing import Any

from connectors.sdk import AssistantError, AssistantUnavailableError

log = logging.getLogger("cellwright.assistant")

INSTALL_HINT = "install the assistant extra: pip install 'cellwright[assistant]'"
MODEL_HINT = "set CELLWRIGHT_ASSISTANT_MODEL to a litellm model name (e.g. openai/gpt-4o-mini)"


def installed() -> bool:
    """Whether litellm can be imported (without importing it)."""
    return importlib.util.find_spec("litellm") is not None


def unavailable_reason(settings: Any) -> str | None:
    """What the operator must do before the assistant works; None when it is set up."""
    missing = []
    if not installed():
        missing.append(INSTALL_HINT)
    if not settings.assistant_model:
        missing.append(MODEL_HINT)
    if not missing:
        return None
    return "The assistant is not set up: " + ", and ".join(missing) + "."


async def _litellm() -> Any:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    try:
        module = await asyncio.to_thread(importlib.import_module, "litellm")
    except ImportError:
        raise AssistantUnavailableError(
            f"The assistant is not installed: {INSTALL_HINT}."
        ) from None
    module.suppress_debug_info = True  # no "Give Feedback / Get Help" banners on stdout
    return module


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception and its causes: litellm reports a refused connection as an HTTP 500
    whose cause is the connection error."""
    found: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in found and len(found) < 10:
        found.append(current)
        current = current.__cause__ or current.__context__
    return found


def _failure(exc: BaseException, litellm: Any) -> AssistantError:
    """A sentence for people; the provider's message (which may name its URL) is not kept."""
    import httpx
    import openai

    errors = litellm.exceptions
    chain = _chain(exc)
    log.warning("assistant request failed: %s", " <- ".join(type(e).__name__ for e in chain))
    if isinstance(exc, errors.AuthenticationError | errors.PermissionDeniedError):
        return AssistantError(
            "The model provider refused the assistant's credentials. "
            "Check CELLWRIGHT_ASSISTANT_API_KEY."
        )
    if any(
        isinstance(e, openai.APITimeoutError | httpx.TimeoutException | TimeoutError) for e in chain
    ):
        return AssistantError(
            "The model did not answer in time. Try again, or raise "
            "CELLWRIGHT_ASSISTANT_TIMEOUT_SECONDS."
        )
    if isinstance(exc, errors.RateLimitError):
        return AssistantError(
            "The model provider is rate limiting the assistant. Try again in a minute."
        )
    if isinstance(exc, errors.NotFoundError):
        return AssistantError(
            "The model provider does not know the configured model. "
            "Check CELLWRIGHT_ASSISTANT_MODEL."
        )
    if any(
        isinstance(e, openai.APIConnectionError | httpx.TransportError | OSError) for e in chain
    ):
        return AssistantError(
            "Could not reach the model provider. Check CELLWRIGHT_ASSISTANT_API_BASE "
            "and that the provider is up."
        )
    status = getattr(exc, "status_code", None)
    suffix = f" (HTTP {status})" if isinstance(status, int) else ""
    return AssistantError(
        f"The model provider answered with an error{suffix}. Try again; the server log "
        "names the error's kind."
    )


async def complete(messages: list[dict[str, str]], settings: Any) -> str:
    """The model's answer to ``messages`` (OpenAI chat format), as text."""
    if not settings.assistant_model:
        if not installed():
            raise AssistantUnavailableError(unavailable_reason(settings) or "")
        raise AssistantUnavailableError(f"The assistant has no model: {MODEL_HINT}.")
    litellm = await _litellm()
    timeout = float(settings.assistant_timeout_seconds)
    kwargs: dict[str, Any] = {
        "model": settings.assistant_model,
        "messages": messages,
        "timeout": timeout,
        "temperature": 0,
        "drop_params": True,
        "num_retries": 0,
        "max_retries": 0,
    }
    if settings.assistant_api_base:
        kwargs["api_base"] = settings.assistant_api_base
    if settings.assistant_api_key is not None:
        kwargs["api_key"] = settings.assistant_api_key.get_secret_value()
    try:
        # litellm's own timeout covers the request; this one also covers a stuck connect
        response = await asyncio.wait_for(litellm.acompletion(**kwargs), timeout + 5)
    except Exception as exc:  # every provider failure becomes one sentence
        raise _failure(exc, litellm) from None
    try:
        return str(response.choices[0].message.content or "")
    except (AttributeError, IndexError, TypeError):
        raise AssistantError("The model sent an answer the assistant could not read.") from None
