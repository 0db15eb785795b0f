"""Per-user execution quotas: at most N executions per day and per month (UTC).

``quota_executions_per_day`` and ``quota_executions_per_month`` (0: unlimited, the
default). The count is the user's executions in the executions table since the start of
the day / month (the ``user_id, created_at`` index answers it): no counter of its own
that could drift from what ran. Every trigger goes through ``Cellwright.trigger``, which
checks before it stores an execution; a trigger over a quota is refused with
``QuotaExceededError`` (HTTP 429, naming the quota and when it resets).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from connectors.sdk import CellwrightError


class QuotaExceededError(CellwrightError):
    """The user ran as many executions as their quota allows in this period."""

    code = "quota_exceeded"
    http_status = 429

    def __init__(self, message: str, *, quota: str, limit: int, resets_at: datetime) -> None:
        super().__init__(message, quota=quota, limit=limit, resets_at=resets_at.isoformat())
        self.quota = quota
        self.limit = limit
        self.resets_at = resets_at

    @property
    def retry_after(self) -> int:
        """Whole seconds until the quota resets (``Retry-After``)."""
        return max(1, int((self.resets_at - datetime.now(UTC)).total_seconds()) + 1)


class ExecutionCounts(Protocol):
    def count_executions(self, user_id: str, *, since: datetime | None = None) -> int: ...


@dataclass(frozen=True)
class Quotas:
    per_day: int = 0
    per_month: int = 0

    @property
    def unlimited(self) -> bool:
        return self.per_day <= 0 and self.per_month <= 0

    def check(self, store: ExecutionCounts, user_id: str, now: datetime | None = None) -> None:
        """Raise ``QuotaExceededError`` when ``user_id`` may not start another execution."""
        if self.unlimited:
            return
        now = now or datetime.now(UTC)
        day = now.replace(hour=0, minute=0, second=0, microsecond=0)
        month = day.replace(day=1)
        next_month = (month + timedelta(days=32)).replace(day=1)
        periods = (
            ("day", self.per_day, day, day + timedelta(days=1), "quota_executions_per_day"),
            ("month", self.per_month, month, next_month, "quota_executions_per_month"),
        )
        for period, limit, since, resets, setting in periods:
            if limit <= 0:
                continue
            used = store.count_executions(user_id, since=since)
            if used >= limit:
                raise QuotaExceededError(
                    f"Execution quota reached: {used} of {limit} executions per {period} "
                    f"({setting}). It resets at {resets.isoformat()} (UTC); until then no "
                    "trigger starts a run. An administrator can raise the quota.",
                    quota=setting,
                    limit=limit,
                    resets_at=resets,
                )


__all__ = ["ExecutionCounts", "QuotaExceededError", "Quotas"]
