"""Telling users that a run failed: alert rules' webhooks and ``notify_on_error``.

When an execution finishes ``failed``, the runner hands it to :class:`Alerts` as a
background task (:meth:`Alerts.notify`): delivery never blocks or changes the run. The
owner's matching rules (that scenario's, or "any scenario") that name a webhook URL each
get one POST through the guarded HTTP client (the SSRF policy applies, redirects are not
followed). A scenario with ``settings.notify_on_error`` and no rule is recorded in the
audit trail (``alert.execution_failed``) so the workspace can list it. Failures are
logged, never raised; payloads carry no credentials, and logs name only the host (a
webhook URL may hold a token).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from urllib.parse import urlsplit

import httpx

from connectors.sdk import CellwrightError, build_http
from engine.contexts import network_policy
from engine.settings import Settings

log = logging.getLogger("cellwright.alerts")

EVENT = "execution.failed"
#: a webhook that does not answer within this is given up on (connect, read, write)
DELIVERY_TIMEOUT_SECONDS = 5.0
#: how long stopping the service waits for deliveries in flight
DRAIN_SECONDS = 10.0


class Alerts:
    """Delivers failure alerts of one store's executions."""

    def __init__(self, store: Any, settings: Settings, *, timeout: float = DELIVERY_TIMEOUT_SECONDS) -> None:
        self.store = store
        self.settings = settings
        self.policy = network_policy(settings)
        self.timeout = timeout
        self._tasks: set[asyncio.Task[None]] = set()  # strong references: not collected mid-flight

    def notify(self, execution: Any, scenario_name: str, notify_on_error: bool) -> asyncio.Task[None]:
        """Deliver in the background (fire and forget); returns the task."""
        task = asyncio.create_task(self.execution_failed(execution, scenario_name, notify_on_error), name=f"alerts-{execution.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def execution_failed(self, execution: Any, scenario_name: str, notify_on_error: bool) -> None:
        """Alert about a failed execution. Never raises (bar cancellation)."""
        try:
            await self._execution_failed(execution, scenario_name, notify_on_error)
        except Exception:
            log.exception("execution %s: alert delivery failed", execution.id)

    async def _execution_failed(self, execution: Any, scenario_name: str, notify_on_error: bool) -> None:
        rules = await asyncio.to_thread(self.store.alert_rules_for, execution.user_id, execution.scenario_id)
        urls = list(dict.fromkeys(r.webhook_url for r in rules if r.webhook_url))  # one POST per URL
        if notify_on_error and not rules:
            await asyncio.to_thread(
                self.store.audit,
                execution.user_id,
                "alert.execution_failed",
                "execution",
                execution.id,
                {"scenario_id": execution.scenario_id, "scenario_name": scenario_name, "error": _error_summary(execution.error)},
            )
        if not urls:
            return
        payload = payload_of(execution, scenario_name)
        http = build_http(
            app_key="alerts",
            policy=self.policy,
            timeout=httpx.Timeout(self.timeout),
            follow_redirects=False,  # a redirect would be a second, unvetted destination
            headers={"User-Agent": "Cellwright-Alerts"},
            secrets=urls,  # error messages never echo a URL's token
        )
        try:
            await asyncio.gather(*(self._post(http, url, payload, execution.id) for url in urls))
        finally:
            await http.aclose()

    async def _post(self, http: Any, url: str, payload: dict[str, Any], execution_id: str) -> None:
        host = urlsplit(url).hostname or "?"
        try:
            response = await http.request("POST", url, json=payload, raise_for_status=False)
        except CellwrightError as exc:
            log.warning("execution %s: alert webhook on %s failed: %s (%s)", execution_id, host, exc.code, type(exc).__name__)
            return
        except Exception as exc:  # a bug or an odd transport error: log, never break the run
            log.warning("execution %s: alert webhook on %s failed: %s", execution_id, host, type(exc).__name__)
            return
        if response.status_code >= 400:
            log.warning("execution %s: alert webhook on %s answered HTTP %s", execution_id, host, response.status_code)

    async def drain(self, timeout: float = DRAIN_SECONDS) -> None:  # noqa: ASYNC109 - a bounded wait on shutdown
        """Wait for deliveries in flight (at most ``timeout`` s), then cancel the rest."""
        tasks = list(self._tasks)
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=timeout)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


def payload_of(execution: Any, scenario_name: str) -> dict[str, Any]:
    """The JSON body POSTed to a rule's webhook URL (no credentials, no cell data)."""
    end = execution.end_time
    return {
        "event": EVENT,
        "execution_id": execution.id,
        "scenario_id": execution.scenario_id,
        "scenario_name": scenario_name,
        "error": execution.error,
        "finished_at": end.isoformat() if end is not None else None,
    }


def _error_summary(error: Any) -> dict[str, Any] | None:
    if not isinstance(error, dict):
        return None
    return {k: error[k] for k in ("code", "message", "cell_id") if k in error}


__all__ = ["EVENT", "Alerts", "payload_of"]
