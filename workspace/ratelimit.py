"""Incoming rate limits: a token bucket per API account and per webhook URL.

Each process counts on its own (in memory): with ``--webhook-workers N`` a webhook URL
may take up to N + 1 times its limit across the processes. A bucket holds one minute's
allowance (a burst of that size is accepted) and refills continuously; checking one is
a dict lookup and some arithmetic, so the webhook hot path stays cheap.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Hashable

Clock = Callable[[], float]

#: buckets kept before full (idle) ones are dropped: bounds memory under a flood of keys
MAX_BUCKETS = 10_000


class RateLimiter:
    """``per_minute`` requests per key and minute; 0 turns it off."""

    def __init__(self, per_minute: int, clock: Clock = time.monotonic) -> None:
        self.per_minute = per_minute
        self.rate = per_minute / 60.0  # tokens per second
        self.clock = clock
        self._buckets: dict[Hashable, tuple[float, float]] = {}  # key: (tokens, at)
        self._lock = threading.Lock()  # the REST API checks from worker threads

    def retry_after(self, key: Hashable) -> int:
        """Take one request from ``key``'s bucket: 0 when it may go ahead, else the whole
        seconds until it may (for ``Retry-After``)."""
        if self.per_minute <= 0:
            return 0
        with self._lock:
            now = self.clock()
            tokens, at = self._buckets.get(key, (self.per_minute, now))
            tokens = min(self.per_minute, tokens + (now - at) * self.rate)
            if tokens >= 1:
                if key not in self._buckets and len(self._buckets) >= MAX_BUCKETS:
                    self._prune(now)
                self._buckets[key] = (tokens - 1, now)
                return 0
            self._buckets[key] = (tokens, now)
            return max(1, math.ceil((1 - tokens) / self.rate))

    def _prune(self, now: float) -> None:
        """Drop the buckets that have refilled (forgetting them changes nothing)."""
        full = [
            key
            for key, (tokens, at) in self._buckets.items()
            if tokens + (now - at) * self.rate >= self.per_minute
        ]
        for key in full:
            del self._buckets[key]


def too_many(what: str, limit: int, setting: str, retry_after: int) -> dict[str, str]:
    """The JSON body of a 429."""
    return {
        "error": "rate_limited",
        "message": f"Too many requests: {what} accepts {limit} per minute ({setting}). "
        f"Try again in {retry_after} s.",
    }


__all__ = ["MAX_BUCKETS", "RateLimiter", "too_many"]
