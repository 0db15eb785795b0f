"""``Retention``: deleting old executions on a schedule, in batches.

The process holding the scheduler lease (``engine.leader``) runs :meth:`Retention.run_forever`:
every ``retention_interval_seconds`` it deletes finished executions past their
retention period, ``BATCH`` per transaction, giving the event loop back between
batches so the server keeps answering. Their node results, outbox rows and analytics
rows (queued for the DuckDB log's owner) go with them. Each run is audited as
``retention.run`` with the counts; the last one is what the settings page shows.

The period: the server's ``retention_days`` unless the user has their own (set by an
administrator; the policy is keyed by a subject, a user today, so a team's can replace
it later). Failed runs are kept ``retention_failed_days`` when that is longer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from connectors.sdk import InvalidInputError
from engine.errors import NotFound

if TYPE_CHECKING:
    from engine.ports import RetentionStore
    from engine.settings import Settings
    from storage import AuditEntry

__all__ = ["BATCH", "Policy", "Retention"]

log = logging.getLogger("cellwright.retention")

#: executions deleted per transaction
BATCH = 500
#: seconds between taking the scheduler lease and the first sweep
START_DELAY = 60.0


@dataclass(frozen=True, slots=True)
class Policy:
    """The retention periods that apply to a user, and whether they are their own."""

    retention_days: int
    retention_failed_days: int
    own: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "retention_days": self.retention_days,
            "retention_failed_days": self.retention_failed_days,
            "own": self.own,
        }


@dataclass(frozen=True, slots=True)
class _Pass:
    """One deletion pass: a user (or every user without their own policy) and cutoffs."""

    user_id: str | None
    exclude: tuple[str, ...]
    cutoff: datetime
    failed_cutoff: datetime


class Retention:
    """The retention policy and its sweep."""

    def __init__(self, store: RetentionStore, settings: Settings, *, batch: int = BATCH) -> None:
        self._store = store
        self._settings = settings
        self.batch = batch

    # -- policy -------------------------------------------------------------------------

    def _effective(self, days: int | None, failed: int | None) -> tuple[int, int]:
        kept = days or self._settings.retention_days
        failed_days = failed or self._settings.retention_failed_days or kept
        return kept, max(kept, failed_days)

    def policy(self, user_id: str) -> Policy:
        """The periods that apply to the user's executions."""
        own = self._store.retention_policy(user_id)
        if own is None:
            return Policy(*self._effective(None, None), own=False)
        return Policy(*self._effective(own.retention_days, own.retention_failed_days), own=True)

    def set_policy(
        self,
        admin_id: str,
        user_id: str,
        *,
        retention_days: int | None,
        retention_failed_days: int | None = None,
    ) -> Policy:
        """Give the user their own periods (both None: back to the server's). Audited as
        ``retention.policy``."""
        for name, value in (
            ("retention_days", retention_days),
            ("retention_failed_days", retention_failed_days),
        ):
            if value is not None and not 1 <= value <= 36_500:
                raise InvalidInputError(
                    f"{name} must be a number of days from 1 to 36500 (or empty: the server's).",
                    errors=[{"field": name, "message": "out of range"}],
                )
        if self._store.get_user(user_id) is None:
            raise NotFound(f"No user {user_id}.")
        self._store.set_retention_policy(
            user_id, retention_days=retention_days, retention_failed_days=retention_failed_days
        )
        self._store.audit(
            user_id,
            "retention.policy",
            "user",
            user_id,
            {"retention_days": retention_days, "retention_failed_days": retention_failed_days},
            actor_id=admin_id,
        )
        return self.policy(user_id)

    def last_run(self) -> AuditEntry | None:
        """The newest ``retention.run`` entry of the audit trail (None: never ran)."""
        entries = self._store.audit_entries(None, 1, action="retention.run")
        return entries[0] if entries else None

    # -- the sweep ----------------------------------------------------------------------

    def _passes(self, now: datetime) -> list[_Pass]:
        own = self._store.retention_policies()
        days, failed = self._effective(None, None)
        passes = [
            _Pass(
                None,
                tuple(p.subject_id for p in own),
                now - timedelta(days=days),
                now - timedelta(days=failed),
            )
        ]
        for p in own:
            days, failed = self._effective(p.retention_days, p.retention_failed_days)
            passes.append(
                _Pass(p.subject_id, (), now - timedelta(days=days), now - timedelta(days=failed))
            )
        return passes

    def _batches(self, now: datetime) -> Iterator[int]:
        """Delete one batch per step; yields how many each deleted."""
        for step in self._passes(now):
            while True:
                deleted = self._store.delete_expired_executions(
                    cutoff=step.cutoff,
                    failed_cutoff=step.failed_cutoff,
                    user_id=step.user_id,
                    exclude_users=step.exclude,
                    limit=self.batch,
                    analytics=self._settings.analytics,
                )
                yield deleted
                if deleted < self.batch:
                    break

    def _audit(self, actor_id: str | None, deleted: int, batches: int) -> None:
        days, failed = self._effective(None, None)
        details = {
            "older_than_days": days,
            "failed_older_than_days": failed,
            "users_with_own_policy": len(self._store.retention_policies()),
            "deleted": deleted,
            "batches": batches,
        }
        self._store.audit(actor_id, "retention.run", "executions", None, details)

    def run(self, actor_id: str | None = None, now: datetime | None = None) -> int:
        """One sweep now (an administrator's click: ``actor_id``); returns how many
        executions were deleted."""
        deleted = batches = 0
        for count in self._batches(now or datetime.now(UTC)):
            deleted += count
            batches += 1
        self._audit(actor_id, deleted, batches)
        return deleted

    async def run_async(self, actor_id: str | None = None, now: datetime | None = None) -> int:
        """One sweep, each batch in a worker thread, yielding to the event loop between
        batches (the scheduled run, and the workspace's button: ``actor_id``)."""
        steps = self._batches(now or datetime.now(UTC))
        deleted = batches = 0
        while True:
            count = await asyncio.to_thread(next, steps, None)
            if count is None:
                break
            deleted += count
            batches += 1
            await asyncio.sleep(0)
        await asyncio.to_thread(self._audit, actor_id, deleted, batches)
        return deleted

    async def run_forever(self) -> None:
        """Sweep every ``retention_interval_seconds`` until cancelled, the first a minute
        (at most an interval) after taking the lease, once the process has settled; a
        failed sweep is logged and tried again at the next interval."""
        await asyncio.sleep(min(START_DELAY, self._settings.retention_interval_seconds))
        while True:
            try:
                deleted = await self.run_async()
                if deleted:
                    log.info("retention deleted %d executions", deleted)
            except Exception:
                log.exception("retention sweep failed; trying again at the next interval")
            await asyncio.sleep(self._settings.retention_interval_seconds)
