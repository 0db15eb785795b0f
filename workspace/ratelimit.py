"""Incoming rate limits: a token bucket per API account and per webhook URL.

Embedded, each process counts on its own (in memory): with ``--webhook-workers N`` a
webhook URL may take up to N + 1 times its limit across the processes. A bucket holds
one minute's allowance (a burst of that size is accepted) and refills continuously;
checking one is a dict lookup and some arithmetic, so the webhook hot path stays cheap.

Scaled out (a Redis URL: ``redis_url``, or a Redis broker), every process takes from
the same bucket in Redis (``SharedRateLimiter``): one Lua script reads, refills and
takes atomically on the server's clock, so the limit holds across processes and
machines, for one round trip (~0.1–0.3 ms on a local Redis) per check. Keys are hashed
(a webhook URL's token never lands in Redis) and expire once the bucket would be full.
If Redis does not answer, requests are let through and a warning is logged: a limiter
outage must not take the webhooks down with it.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from engine.settings import Settings

log = logging.getLogger("cellwright.ratelimit")

Clock = Callable[[], float]

#: buckets kept before full (idle) ones are dropped: bounds memory under a flood of keys
MAX_BUCKETS = 10_000


class Limiter(Protocol):
    """What the API and the webhook ingress need from a limiter."""

    per_minute: int

    def retry_after(self, key: Hashable) -> int: ...


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


#: KEYS[1]: the bucket; ARGV: capacity, tokens per second. Returns 0 or seconds to wait.
_TAKE = """
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = math.max(1, math.ceil((1 - tokens) / rate))
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil((capacity - tokens) / rate) + 1)
return wait
"""


class SharedRateLimiter:
    """``RateLimiter``'s bucket, kept in Redis and shared by every process of a deployment.

    ``name`` tells limits apart (``api``, ``webhook``); ``prefix`` the deployment
    (``queue_name``)."""

    def __init__(self, per_minute: int, url: str, *, name: str, prefix: str) -> None:
        import redis

        self.per_minute = per_minute
        self.rate = per_minute / 60.0
        self.name = name
        self.prefix = prefix
        self._redis = redis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
        self._take: Any = self._redis.register_script(_TAKE)
        self._warned = 0.0

    def key(self, key: Hashable) -> str:
        digest = hashlib.sha256(repr(key).encode()).hexdigest()[:32]
        return f"{self.prefix}:ratelimit:{self.name}:{digest}"

    def retry_after(self, key: Hashable) -> int:
        if self.per_minute <= 0:
            return 0
        try:
            return int(self._take(keys=[self.key(key)], args=[self.per_minute, self.rate]))
        except Exception as exc:  # Redis is down: let the request through, say so
            if time.monotonic() - self._warned > 60:
                self._warned = time.monotonic()
                log.warning(
                    "the shared %s rate limit is not checked (Redis does not answer: %s)",
                    self.name,
                    str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
                )
            return 0

    def close(self) -> None:
        self._redis.close()


def limiter_for(
    settings: Settings, per_minute: int, *, name: str, clock: Clock = time.monotonic
) -> Limiter:
    """The shared limiter when the deployment has Redis, else this process' own."""
    url = settings.resolved_redis_url()
    if url and per_minute > 0:
        return SharedRateLimiter(per_minute, url, name=name, prefix=settings.queue_name)
    return RateLimiter(per_minute, clock)


def too_many(what: str, limit: int, setting: str, retry_after: int) -> dict[str, str]:
    """The JSON body of a 429."""
    return {
        "error": "rate_limited",
        "message": f"Too many requests: {what} accepts {limit} per minute ({setting}). "
        f"Try again in {retry_after} s.",
    }


__all__ = [
    "MAX_BUCKETS",
    "Limiter",
    "RateLimiter",
    "SharedRateLimiter",
    "limiter_for",
    "too_many",
]
