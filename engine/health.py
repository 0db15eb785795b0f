"""Connection health: re-validate connections so users learn of a broken one before a run fails.

``HealthCheck.run_forever`` (a background task of ``Cellwright.start``) runs each
connection's app test call (``app.auth.test``, the same cheap request that validated
it on creation) at most every ``connection_check_minutes``, one connection at a time
with ``connection_check_spacing_seconds`` between two calls, least recently validated
first. A connection counts as validated when it was created, changed or tested
(``updated_at``), so a restart does not re-test everything at once.

Outcomes:

- the call works: the connection is (again) ``active``, its message cleared, and
  what the test call reports (WordPress's API root, the account…) refreshed in its
  metadata;
- the call fails with a permanent error (credentials refused, token expired and not
  refreshable, a 4xx, a bad configuration): ``error``, with the error's message;
- the call fails with a temporary error (network, timeout, 429, 5xx): nothing
  changes — an outage is not a broken connection — and it is tried again next round.

Results are dropped when the connection changed while its test was running (the user
reconnected it meanwhile). Secrets never reach the log or the message: the HTTP client
already redacts upstream bodies, and this module redacts the credential values again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, SecretStr

from connectors.sdk import App, CellwrightError
from storage.statuses import ConnectionStatus

if TYPE_CHECKING:
    from engine.service import Cellwright
    from storage import Connection

log = logging.getLogger("cellwright.health")

CHECKED_STATUSES = ("active", "error")
"""``disconnected`` connections are left alone: the user turned them off."""
CALL_TIMEOUT_SECONDS = 30.0
SECRET_KEY_WORDS = ("token", "secret", "password", "key")

Outcome = Literal["active", "error", "unchanged", "skipped"]


@dataclass(frozen=True)
class CheckResult:
    """What one check found. ``status`` is the connection's status afterwards."""

    connection_id: str
    app_id: str
    outcome: Outcome
    status: str
    message: str | None = None


class HealthCheck:
    """Re-validates connections in the background; see the module docstring."""

    def __init__(
        self,
        svc: Cellwright,
        *,
        every: timedelta | None = None,
        spacing: float | None = None,
        tick: float | None = None,
    ) -> None:
        self.svc = svc
        self.every = (
            every if every is not None else timedelta(minutes=svc.settings.connection_check_minutes)
        )
        self.spacing = (
            spacing if spacing is not None else svc.settings.connection_check_spacing_seconds
        )
        self.tick = tick if tick is not None else max(0.05, min(60.0, self.every.total_seconds()))
        self._checked: dict[str, datetime] = {}

    # -- the loop ---------------------------------------------------------------------------

    async def run_forever(self) -> None:
        """Check what is due, sleep, repeat; returns at once when the check is turned off."""
        if self.every <= timedelta(0):
            log.info("connection health check turned off (connection_check_minutes = 0)")
            return
        while True:
            try:
                await self.run_due()
            except Exception:
                log.exception("connection health check round failed")
            await asyncio.sleep(self.tick)

    async def run_due(self, now: datetime | None = None) -> list[CheckResult]:
        """Check every connection due at ``now``, one at a time, spaced out."""
        now = now or datetime.now(UTC)
        results: list[CheckResult] = []
        for index, connection in enumerate(await self.due(now)):
            if index and self.spacing:
                await asyncio.sleep(self.spacing)
            results.append(await self.check(connection, now=now))
        return results

    async def due(self, now: datetime) -> list[Connection]:
        """Connections whose last validation is ``every`` or longer ago, oldest first."""
        store, apps = self.svc.store, self.svc.apps

        def load() -> list[Connection]:
            return [c for user in store.list_users() for c in store.list_connections(user.id)]

        found = []
        for connection in await asyncio.to_thread(load):
            if connection.status not in CHECKED_STATUSES or connection.app_id not in apps:
                continue
            if apps.get(connection.app_id).auth.test is None:
                continue
            last = self.last_validated(connection)
            if now - last >= self.every:
                found.append((last, connection.id, connection))
        return [c for _, _, c in sorted(found, key=lambda entry: (entry[0], entry[1]))]

    def last_validated(self, connection: Connection) -> datetime:
        updated = _aware(connection.updated_at)
        checked = self._checked.get(connection.id)
        return max(updated, checked) if checked else updated

    # -- one connection ---------------------------------------------------------------------

    async def check(self, connection: Connection, *, now: datetime | None = None) -> CheckResult:
        """Run the connection's test call and record the outcome."""
        self._checked[connection.id] = now or datetime.now(UTC)
        app = self.svc.apps.get(connection.app_id)
        if app.auth.test is None:
            return CheckResult(
                connection.id, app.key, "skipped", connection.status, connection.status_message
            )
        credentials: Mapping[str, Any] = {}
        try:
            ctx = await self.svc.contexts.for_connection(connection, app)
            credentials = ctx.credentials
            info = dict(await asyncio.wait_for(app.auth.test(ctx), CALL_TIMEOUT_SECONDS))
        except TimeoutError:
            log.info(
                "connection %s (%s): test call timed out after %.0f s; will retry",
                connection.id,
                app.key,
                CALL_TIMEOUT_SECONDS,
            )
            return CheckResult(
                connection.id, app.key, "unchanged", connection.status, connection.status_message
            )
        except CellwrightError as exc:
            message = redact(exc.message, app, credentials)
            if exc.retryable:
                log.info(
                    "connection %s (%s): test call failed for now (%s); will retry",
                    connection.id,
                    app.key,
                    message,
                )
                return CheckResult(connection.id, app.key, "unchanged", connection.status, message)
            return await self._broken(connection, app, message)
        except Exception as exc:  # a connector bug: report it, judge nothing
            log.error(
                "connection %s (%s): test call crashed: %s: %s",
                connection.id,
                app.key,
                type(exc).__name__,
                redact(str(exc), app, credentials),
            )
            return CheckResult(
                connection.id, app.key, "unchanged", connection.status, connection.status_message
            )
        return await self._works(connection, app, info)

    async def _broken(self, connection: Connection, app: App, message: str) -> CheckResult:
        if not await self._unchanged_since(connection):
            return CheckResult(
                connection.id, app.key, "skipped", connection.status, connection.status_message
            )
        if connection.status != ConnectionStatus.ERROR or connection.status_message != message:
            await asyncio.to_thread(
                self.svc.store.set_connection_status, connection.id, "error", message
            )
            log.warning("connection %s (%s) is broken: %s", connection.id, app.key, message)
        return CheckResult(connection.id, app.key, "error", "error", message)

    async def _works(
        self, connection: Connection, app: App, info: Mapping[str, Any]
    ) -> CheckResult:
        if not await self._unchanged_since(connection):
            return CheckResult(
                connection.id, app.key, "skipped", connection.status, connection.status_message
            )
        metadata = {
            **(connection.metadata or {}),
            **{k: v for k, v in info.items() if k != "label"},
        }
        store = self.svc.store

        def save() -> None:
            if metadata != (connection.metadata or {}):
                store.update_connection(connection.user_id, connection.id, metadata=metadata)
            if (
                connection.status != ConnectionStatus.ACTIVE
                or connection.status_message is not None
            ):
                store.set_connection_status(connection.id, ConnectionStatus.ACTIVE, None)

        await asyncio.to_thread(save)
        if connection.status != ConnectionStatus.ACTIVE:
            log.info("connection %s (%s) works again", connection.id, app.key)
        return CheckResult(connection.id, app.key, "active", "active", None)

    async def _unchanged_since(self, connection: Connection) -> bool:
        """False when the connection was edited (or deleted) while its test call ran."""
        current = await asyncio.to_thread(
            self.svc.store.get_connection, connection.user_id, connection.id
        )
        return current is not None and current.updated_at == connection.updated_at


def redact(text: str, app: App, credentials: Mapping[str, Any]) -> str:
    """``text`` with every secret credential value replaced by ``***``.

    Secret means: a ``SecretStr`` field of the app's connection form, or a key that
    names a token, secret, password or key (OAuth tokens are not form fields). Plain
    values such as a site address stay readable.
    """
    form: type[BaseModel] = app.auth.fields
    secret_fields = {
        name for name, f in form.model_fields.items() if "SecretStr" in repr(f.annotation)
    }
    values = []
    for key, value in credentials.items():
        if key in secret_fields or any(word in key.lower() for word in SECRET_KEY_WORDS):
            text_value = value.get_secret_value() if isinstance(value, SecretStr) else value
            if isinstance(text_value, str) and len(text_value) >= 4:
                values.append(text_value)
    for value in sorted(values, key=len, reverse=True):
        text = text.replace(value, "***")
    return text


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)
