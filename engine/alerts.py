"""Telling users that a run failed: alert rules' webhooks and e-mails, and ``notify_on_error``.

When an execution finishes ``failed``, the runner hands it to :class:`Alerts` as a
background task (:meth:`Alerts.notify`): delivery never blocks or changes the run. The
owner's matching rules (that scenario's, or "any scenario") that name a webhook URL get
a POST, one per distinct URL, through the guarded HTTP client (the SSRF policy applies,
redirects are not followed). A scenario with ``settings.notify_on_error`` and no rule is
recorded in the audit trail (``alert.execution_failed``) so the workspace can list it.

A failure may first pause its scenario (``pause_after_failures`` runs in a row failed,
``Cellwright.pause_if_failing``): the alert then says so (``scenario_paused`` in the
webhook body, the first line and subject of the e-mail, the audit entry).

A delivery is tried up to ``alert_attempts`` times (setting, default 4) while the
failure may pass: no answer (connection refused or reset, timeout: the SDK's
``retryable`` errors), HTTP 408, 429 or 5xx. The waits are the runner's exponential
backoff with jitter (``retry_base_seconds``, doubling, at most ``retry_max_seconds``);
a ``Retry-After`` is waited for, capped at ``retry_max_seconds``. A 2xx is delivered;
any other answer (3xx, 4xx) and a refused destination (the SSRF guard) end it at once.
The outcome for each (execution, URL) is audited as ``alert.delivered`` or
``alert.delivery_failed`` (object: the execution; details: the rule ids, the host,
the attempts, the last HTTP status and error code), and the Settings page shows each
rule's last delivery from it (``workspace/views/alerts.py``).

A rule may also e-mail recipients through one of its owner's SMTP connections
(``engine/alert_email.py``): one message per connection to every address its matching
rules name, retried like a webhook while the failure may pass (no answer, a 4yz reply),
audited the same way with ``channel: "email"`` (details: the rule ids, the SMTP host,
the number of recipients, the attempts and the error code).

Failures are logged, never raised; payloads carry no credentials, and logs and audit
entries name only the host (a webhook URL may hold a token). Stopping the service waits
:data:`DRAIN_SECONDS` for deliveries in flight, then cancels them (those record nothing).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from connectors.sdk import CellwrightError, ConfigurationError, build_http
from connectors.sdk.http import ConnectorHttp, parse_retry_after
from connectors.smtp.client import SmtpSettings, unique
from connectors.smtp.client import send as smtp_send
from engine.accounts import EMAIL_APP
from engine.alert_email import alert_message
from engine.backoff import backoff_delay
from engine.contexts import network_policy
from engine.settings import Settings

if TYPE_CHECKING:
    from engine.ports import AlertStore
    from storage import Execution

log = logging.getLogger("cellwright.alerts")

EVENT = "execution.failed"
#: audit actions of a webhook delivery's outcome (one entry per execution and URL)
DELIVERED = "alert.delivered"
DELIVERY_FAILED = "alert.delivery_failed"
#: a webhook that does not answer within this is given up on (connect, read, write)
DELIVERY_TIMEOUT_SECONDS = 5.0
#: how long stopping the service waits for deliveries in flight
DRAIN_SECONDS = 10.0

Sleep = Callable[[float], Awaitable[Any]]
#: pauses the scenario of a failed run when it failed too often in a row; why, or None
Pause = Callable[[], Awaitable[str | None]]


@dataclass(frozen=True, slots=True)
class _Try:
    """How one POST ended."""

    status: int | None = None  # the HTTP status, when there was an answer
    error: str | None = None  # the error code, when there was none
    retry: bool = False  # may pass: try again
    retry_after: float | None = None
    reason: str = ""  # for the log

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class Alerts:
    """Delivers failure alerts of one store's executions."""

    def __init__(
        self,
        store: AlertStore,
        settings: Settings,
        *,
        timeout: float = DELIVERY_TIMEOUT_SECONDS,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.store = store
        self.settings = settings
        self.policy = network_policy(settings)
        self.timeout = timeout
        self.sleep = sleep  # the wait between attempts (tests record it)
        self._tasks: set[asyncio.Task[None]] = set()  # strong references: not collected mid-flight

    def notify(
        self,
        execution: Execution,
        scenario_name: str,
        notify_on_error: bool,
        *,
        pause: Pause | None = None,
    ) -> asyncio.Task[None]:
        """Deliver in the background (fire and forget); returns the task.

        ``pause`` is awaited first: it pauses the scenario when its runs failed too often
        in a row and returns why (None: not paused); the alert then says so."""
        task = asyncio.create_task(
            self._paused_then_alert(execution, scenario_name, notify_on_error, pause),
            name=f"alerts-{execution.id}",
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _paused_then_alert(
        self,
        execution: Execution,
        scenario_name: str,
        notify_on_error: bool,
        pause: Pause | None,
    ) -> None:
        paused = None
        if pause is not None:
            try:
                paused = await pause()
            except Exception:
                log.exception("execution %s: could not pause its failing scenario", execution.id)
        await self.execution_failed(execution, scenario_name, notify_on_error, paused=paused)

    async def execution_failed(
        self,
        execution: Execution,
        scenario_name: str,
        notify_on_error: bool,
        *,
        paused: str | None = None,
    ) -> None:
        """Alert about a failed execution (``paused``: why it paused the scenario). Never
        raises (bar cancellation)."""
        try:
            await self._execution_failed(execution, scenario_name, notify_on_error, paused)
        except Exception:
            log.exception("execution %s: alert delivery failed", execution.id)

    async def _execution_failed(
        self,
        execution: Execution,
        scenario_name: str,
        notify_on_error: bool,
        paused: str | None = None,
    ) -> None:
        rules = await asyncio.to_thread(
            self.store.alert_rules_for, execution.user_id, execution.scenario_id
        )
        by_url: dict[str, list[str]] = {}  # one POST per URL, audited with every rule naming it
        by_connection: dict[str, tuple[list[str], list[str]]] = {}  # one e-mail per connection
        for rule in rules:
            if rule.webhook_url:
                by_url.setdefault(rule.webhook_url, []).append(rule.id)
            if rule.email_connection_id and rule.email_to:
                recipients, rule_ids = by_connection.setdefault(rule.email_connection_id, ([], []))
                recipients += [a for a in rule.email_to if a not in recipients]
                rule_ids.append(rule.id)
        if notify_on_error and not rules:
            await asyncio.to_thread(
                self.store.audit,
                execution.user_id,
                "alert.execution_failed",
                "execution",
                execution.id,
                {
                    "scenario_id": execution.scenario_id,
                    "scenario_name": scenario_name,
                    "error": _error_summary(execution.error),
                    **({"scenario_paused": paused} if paused else {}),
                },
            )
        emails = [
            self._email(execution, scenario_name, connection_id, recipients, rule_ids, paused)
            for connection_id, (recipients, rule_ids) in by_connection.items()
        ]
        if not by_url:
            await asyncio.gather(*emails)
            return
        payload = payload_of(execution, scenario_name, paused)
        http = build_http(
            app_key="alerts",
            policy=self.policy,
            timeout=httpx.Timeout(self.timeout),
            follow_redirects=False,  # a redirect would be a second, unvetted destination
            headers={"User-Agent": "Cellwright-Alerts"},
            secrets=list(by_url),  # error messages never echo a URL's token
        )
        try:
            await asyncio.gather(
                *(
                    self._deliver(http, url, rule_ids, payload, execution)
                    for url, rule_ids in by_url.items()
                ),
                *emails,
            )
        finally:
            await http.aclose()

    async def _deliver(
        self,
        http: ConnectorHttp,
        url: str,
        rule_ids: list[str],
        payload: dict[str, Any],
        execution: Execution,
    ) -> None:
        """POST until delivered, a failure retrying cannot
        fix, or the last attempt; audit the outcome."""
        host = urlsplit(url).hostname or "?"
        attempts = self.settings.alert_attempts
        tried = 0
        try:
            while True:
                result = await self._post(http, url, payload)
                tried += 1
                if result.delivered or not result.retry or tried >= attempts:
                    break
                delay = retry_delay(
                    tried - 1,
                    self.settings.retry_base_seconds,
                    self.settings.retry_max_seconds,
                    result.retry_after,
                )
                log.info(
                    "execution %s: alert webhook on %s: %s (attempt %d of %d); retrying in %.2f s",
                    execution.id,
                    host,
                    result.reason,
                    tried,
                    attempts,
                    delay,
                )
                await self.sleep(delay)
        except asyncio.CancelledError:  # the service is stopping: say so, without a traceback
            log.warning(
                "execution %s: alert webhook on %s: "
                "delivery cancelled after %d attempt(s) (the service stopped)",
                execution.id,
                host,
                tried,
            )
            raise
        plural = "s" if tried != 1 else ""
        if result.delivered:
            log.log(
                logging.INFO if tried > 1 else logging.DEBUG,
                "execution %s: alert webhook on %s: delivered (%s) after %d attempt%s",
                execution.id,
                host,
                result.reason,
                tried,
                plural,
            )
        else:
            log.warning(
                "execution %s: alert webhook on %s failed: %s after %d attempt%s%s",
                execution.id,
                host,
                result.reason,
                tried,
                plural,
                _not_retried(result),
            )
        details = {
            "rule_ids": rule_ids,
            "host": host,
            "attempts": tried,
            "status": result.status,
            "error": result.error,
        }
        try:
            await asyncio.to_thread(
                self.store.audit,
                execution.user_id,
                DELIVERED if result.delivered else DELIVERY_FAILED,
                "execution",
                execution.id,
                details,
            )
        except Exception:
            log.exception(
                "execution %s: could not record the alert delivery to %s", execution.id, host
            )

    async def _email(
        self,
        execution: Execution,
        scenario_name: str,
        connection_id: str,
        recipients: list[str],
        rule_ids: list[str],
        paused: str | None = None,
    ) -> None:
        """Send one alert e-mail through the owner's SMTP connection, retrying while the
        failure may pass; audit the outcome (host and number of recipients, no addresses)."""
        host, tried = "?", 0
        result = _Try(error="error", reason="not sent")
        try:
            settings = await asyncio.to_thread(
                self._smtp_settings, execution.user_id, connection_id
            )
            host = settings.host
            end = execution.end_time
            message = alert_message(
                execution_id=execution.id,
                scenario_id=execution.scenario_id,
                scenario_name=scenario_name,
                error=execution.error,
                finished_at=end.isoformat() if end is not None else None,
                public_url=self.settings.resolved_public_url(),
                from_address=settings.from_address,
                recipients=recipients,
                connection_id=connection_id,
                paused=paused,
            )
            while True:
                result = await self._send_email(settings, message, recipients)
                tried += 1
                if result.delivered or not result.retry or tried >= self.settings.alert_attempts:
                    break
                delay = retry_delay(
                    tried - 1, self.settings.retry_base_seconds, self.settings.retry_max_seconds
                )
                log.info(
                    "execution %s: alert e-mail via %s: %s (attempt %d of %d); retrying in %.2f s",
                    execution.id,
                    host,
                    result.reason,
                    tried,
                    self.settings.alert_attempts,
                    delay,
                )
                await self.sleep(delay)
        except asyncio.CancelledError:
            log.warning(
                "execution %s: alert e-mail via %s: "
                "cancelled after %d attempt(s) (the service stopped)",
                execution.id,
                host,
                tried,
            )
            raise
        except CellwrightError as exc:  # the connection is gone, not the user's, or not valid
            result = _Try(error=exc.code, reason=exc.message)
        if result.delivered:
            log.debug("execution %s: alert e-mail via %s: delivered", execution.id, host)
        else:
            log.warning(
                "execution %s: alert e-mail via %s failed after %d attempt(s): %s",
                execution.id,
                host,
                tried,
                result.reason,
            )
        details = {
            "channel": "email",
            "rule_ids": rule_ids,
            "host": host,
            "recipients": len(recipients),
            "attempts": tried,
            "status": None,
            "error": result.error,
        }
        try:
            await asyncio.to_thread(
                self.store.audit,
                execution.user_id,
                DELIVERED if result.delivered else DELIVERY_FAILED,
                "execution",
                execution.id,
                details,
            )
        except Exception:
            log.exception("execution %s: could not record the alert e-mail", execution.id)

    def _smtp_settings(self, user_id: str, connection_id: str) -> SmtpSettings:
        """The owner's SMTP connection's settings (looked up with the owner's id: another
        user's connection is not found)."""
        connection = self.store.get_connection(user_id, connection_id)
        if connection is None or connection.app_id != EMAIL_APP:
            raise ConfigurationError(
                f"The alert rule's e-mail connection '{connection_id}' was not found among the "
                "owner's SMTP connections."
            )
        return SmtpSettings.from_credentials(self.store.connection_credentials(connection.id))

    async def _send_email(
        self, settings: SmtpSettings, message: EmailMessage, recipients: list[str]
    ) -> _Try:
        try:
            await smtp_send(settings, self.policy, message, unique(recipients))
        except CellwrightError as exc:
            return _Try(error=exc.code, retry=exc.retryable, reason=exc.message)
        except Exception as exc:  # a bug or an odd transport error: log, never break the run
            return _Try(error="error", reason=type(exc).__name__)
        return _Try(status=250, reason="sent")  # SMTP 250 OK: `delivered` reads it as success

    async def _post(self, http: Any, url: str, payload: dict[str, Any]) -> _Try:
        try:
            response = await http.request("POST", url, json=payload, raise_for_status=False)
        except CellwrightError as exc:  # no answer (retryable), a refused destination, a bad URL
            return _Try(
                error=exc.code, retry=exc.retryable, reason=f"{exc.code} ({type(exc).__name__})"
            )
        except Exception as exc:  # a bug or an odd transport error: log, never break the run
            return _Try(error="error", reason=type(exc).__name__)
        status = response.status_code
        retry = retryable_status(status)
        retry_after = parse_retry_after(response.headers.get("retry-after")) if retry else None
        return _Try(status=status, retry=retry, retry_after=retry_after, reason=f"HTTP {status}")

    async def drain(self, timeout: float = DRAIN_SECONDS) -> None:  # noqa: ASYNC109 - a bounded wait on shutdown
        """Wait for deliveries in flight (at most ``timeout`` s), then cancel the rest."""
        tasks = list(self._tasks)
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=timeout)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


def retryable_status(status: int) -> bool:
    """An answer worth retrying: 408, 429 and 5xx (the SDK's ``UpstreamError`` and
    ``RateLimitedError`` rule); other 4xx, and 3xx (redirects are not followed), are final."""
    return status in (408, 429) or status >= 500


def retry_delay(attempt: int, base: float, cap: float, retry_after: float | None = None) -> float:
    """The wait after failed attempt ``attempt`` (0-based): the runner's exponential
    backoff with jitter; a ``Retry-After`` is a floor, and ``cap`` bounds both."""
    return min(cap, backoff_delay(attempt, base, cap, retry_after))


def payload_of(
    execution: Execution, scenario_name: str, paused: str | None = None
) -> dict[str, Any]:
    """The JSON body POSTed to a rule's webhook URL (no credentials, no cell data).
    ``scenario_paused``: why this failure paused the scenario, else null."""
    end = execution.end_time
    return {
        "event": EVENT,
        "execution_id": execution.id,
        "scenario_id": execution.scenario_id,
        "scenario_name": scenario_name,
        "error": execution.error,
        "finished_at": end.isoformat() if end is not None else None,
        "scenario_paused": paused,
    }


def _not_retried(result: _Try) -> str:
    if result.retry:
        return ""  # retried until the last attempt
    if result.error == "forbidden_destination":
        return "; not retried: the destination is not allowed (network policy)"
    if result.status is not None and result.status < 400:
        return "; not retried: redirects are not followed"
    if result.status is not None:
        return "; not retried: the webhook refused the alert (a 4xx does not pass by retrying)"
    return "; not retried"


def _error_summary(error: Any) -> dict[str, Any] | None:
    if not isinstance(error, dict):
        return None
    return {k: error[k] for k in ("code", "message", "cell_id") if k in error}


__all__ = [
    "DELIVERED",
    "DELIVERY_FAILED",
    "EVENT",
    "Alerts",
    "payload_of",
    "retry_delay",
    "retryable_status",
]
