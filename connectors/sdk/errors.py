"""The one error hierarchy of Cellwright.

Every failure a user can see is one of these classes (the engine's ``NotFound`` and
``Conflict`` in ``engine.errors`` derive from the same base). Each has a stable
``code`` (the workspace links it to help, the REST API returns it, execution records
store it), the ``http_status`` the REST API answers with when the error reaches it,
and a ``retryable`` flag the engine reads to decide between a backoff retry and
failing the cell. The store's own errors (``storage.errors``) stay below this layer:
the engine turns the ones a user can meet into these.

Messages never contain credentials: the HTTP client strips authorization data
before an upstream body or URL is put into an error.
"""

from __future__ import annotations

from typing import Any


class CellwrightError(Exception):
    """Base class. ``code`` is stable; ``message`` is for people."""

    code: str = "error"
    #: what the REST API answers when this error ends a request: a request the caller
    #: can correct (400) unless the class says otherwise
    http_status: int = 400
    retryable: bool = False

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details

    def to_dict(self) -> dict[str, Any]:
        """The JSON form stored in execution records and returned by the API."""
        data: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            data["details"] = self.details
        return data

    def __str__(self) -> str:
        return self.message


class AuthError(CellwrightError):
    """The connection's credentials were refused."""

    code = "auth_invalid"


class AuthExpiredError(AuthError):
    """The access token expired and could not be refreshed: the user must reconnect."""

    code = "auth_expired"


class RateLimitedError(CellwrightError):
    """The vendor asked us to slow down. ``retry_after`` is in seconds, when known."""

    code = "rate_limited"
    http_status = 502
    retryable = True

    def __init__(self, message: str, retry_after: float | None = None, **details: Any) -> None:
        super().__init__(message, retry_after=retry_after, **details)
        self.retry_after = retry_after


class UpstreamError(CellwrightError):
    """The vendor answered with an error. 5xx and 408 are retryable, other 4xx are not,
    nor is 508 Loop Detected (calling again repeats the loop)."""

    code = "upstream_error"
    http_status = 502

    def __init__(
        self, message: str, status: int | None = None, body: Any = None, **details: Any
    ) -> None:
        super().__init__(message, status=status, body=body, **details)
        self.status = status
        self.body = body
        self.retryable = status is None or (status >= 500 and status != 508) or status == 408


class NetworkError(CellwrightError):
    """The request never got an answer: connection refused, DNS failure, timeout."""

    code = "network_error"
    http_status = 502
    retryable = True


class CallTimeoutError(NetworkError):
    """A call or a cell ran past its time limit."""

    code = "timeout"
    http_status = 504


class InvalidInputError(CellwrightError):
    """Inputs failed validation. ``errors`` lists ``{"field", "message"}`` items."""

    code = "invalid_input"
    http_status = 422

    def __init__(
        self, message: str, errors: list[dict[str, Any]] | None = None, **details: Any
    ) -> None:
        super().__init__(message, errors=errors or [], **details)
        self.errors = errors or []


class InvalidOutputError(CellwrightError):
    """An operation returned data that does not match its declared output model."""

    code = "invalid_output"


class MappingError(CellwrightError):
    """A mapping expression failed to compile or evaluate."""

    code = "mapping_error"
    http_status = 422


class CodeError(CellwrightError):
    """A code cell's code failed: a syntax error, an exception it threw, or a result that
    is not a JSON object. ``details`` carries ``kind`` and, when known, the ``line`` and
    ``column`` in the user's code. Not retried: the same code fails the same way."""

    code = "code_error"


class CodeTimeoutError(CodeError):
    """A code cell ran past its time limit (``limit_seconds``) and was stopped."""

    code = "code_timeout"


class CodeMemoryError(CodeError):
    """A code cell used more memory than its limit (``limit_mb``) and was stopped."""

    code = "code_memory"


class ForbiddenDestinationError(CellwrightError):
    """A request targeted an address the operator has not allowed (SSRF guard)."""

    code = "forbidden_destination"


class HaltError(CellwrightError):
    """Stop the run on purpose. ``failed=False`` ends it as completed (a filter)."""

    code = "halt"

    def __init__(self, message: str = "Stopped", failed: bool = False, **details: Any) -> None:
        super().__init__(message, failed=failed, **details)
        self.failed = failed


class WebhookVerificationError(CellwrightError):
    """An incoming webhook failed its signature or secret check (HTTP 401)."""

    code = "webhook_unverified"


class ConfigurationError(CellwrightError):
    """A scenario or cell refers to something that does not exist or cannot work."""

    code = "configuration_error"
    http_status = 422


class LimitExceededError(CellwrightError):
    """A size limit the operator set was reached (data stores per user, records per
    store, bytes per value). ``limit`` names the setting; the message names the limit,
    the object and what to do."""

    code = "limit_exceeded"
    http_status = 409

    def __init__(self, message: str, *, limit: str, **details: Any) -> None:
        super().__init__(message, limit=limit, **details)
        self.limit = limit


class WaitTimedOutError(CellwrightError):
    """A "Wait for a call" cell's timeout passed without a call (its ``on_timeout`` is
    ``fail``): the cell fails, so its ``on_error`` route applies."""

    code = "wait_timed_out"


class ResultNotSavedError(CellwrightError):
    """The store refused a run's results (a value too large for the database, the
    database unavailable): the run ends failed instead of staying ``running``."""

    code = "result_not_saved"


class RunAbandonedError(CellwrightError):
    """The run's process died or stalled with it more often than ``max_reclaims``:
    it is failed instead of being run again."""

    code = "run_abandoned"


class AssistantError(CellwrightError):
    """The chat assistant could not draft: the model provider was unreachable, timed
    out or refused the request. Messages never name the provider's URL or key."""

    code = "assistant_error"


class AssistantUnavailableError(AssistantError):
    """The assistant is not set up: the optional extra is not installed or no model is
    configured. The message says what the operator must install or set."""

    code = "assistant_unavailable"
    http_status = 503


def error_from_exception(exc: BaseException) -> CellwrightError:
    """Wrap any exception so execution records always hold a stable code."""
    if isinstance(exc, CellwrightError):
        return exc
    return CellwrightError(f"{type(exc).__name__}: {exc}")
