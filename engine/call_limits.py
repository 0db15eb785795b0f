"""Where the vendor limits' buckets live (connectors/sdk/limits.py holds the gate).

Embedded, each process keeps its own (``LocalLimits``). Scaled out (a Redis URL:
``redis_url``, or a Redis broker), every process takes from the same buckets in Redis
(``RedisLimits``): one Lua script refills and reserves atomically on the server's clock,
another holds or frees a concurrency slot (a sorted set of holders with expiry times, so
a process that died mid-call frees its slot after ``SLOT_TTL_SECONDS``). Keys are hashed:
no connection id lands in Redis as it is. If Redis does not answer, the buckets of this
process take over and a warning is logged (at most once a minute): a limiter outage must
not stop every run.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

from connectors.sdk.limits import SLOT_TTL_SECONDS, LimitBackend, LocalLimits, RateLimit

if TYPE_CHECKING:
    from engine.settings import Settings

log = logging.getLogger("cellwright.call_limits")

#: after Redis failed to answer, calls use this process' buckets this long before trying
#: Redis again (a call must not pay a connect timeout each time while Redis is down)
RETRY_REDIS_SECONDS = 5.0

#: KEYS[1]: the bucket; ARGV: capacity, tokens per second, longest wait.
#: Returns {1 granted / 0 refused, seconds to wait (as a string)}.
_RESERVE = """
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local max_wait = tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens < 1 then wait = (1 - tokens) / rate end
local granted = 0
if wait <= max_wait then
  granted = 1
  tokens = tokens - 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil((capacity - tokens) / rate) + 1)
return {granted, tostring(wait)}
"""

#: KEYS[1]: the slots; ARGV: cap, holder, ttl. Returns 1 when the slot is held.
_HOLD = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2])
redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[3])) + 1)
return 1
"""


class RedisLimits:
    """``LimitBackend`` in Redis, shared by every process of a deployment (``prefix``)."""

    def __init__(self, url: str, *, prefix: str, fallback: LocalLimits | None = None) -> None:
        import redis

        self.prefix = prefix
        self.fallback = fallback or LocalLimits()
        self._redis = redis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
        self._reserve: Any = self._redis.register_script(_RESERVE)
        self._hold: Any = self._redis.register_script(_HOLD)
        self._warned = 0.0
        self._down_until = 0.0

    @property
    def _is_down(self) -> bool:
        return time.monotonic() < self._down_until

    def key(self, key: str) -> str:
        digest = hashlib.sha256(key.encode()).hexdigest()[:32]
        return f"{self.prefix}:calllimit:{digest}"

    def _down(self, exc: Exception) -> None:
        self._down_until = time.monotonic() + RETRY_REDIS_SECONDS
        if time.monotonic() - self._warned > 60:
            self._warned = time.monotonic()
            log.warning(
                "vendor call limits are counted in this process only (Redis does not answer: %s)",
                str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
            )

    async def reserve(self, key: str, limit: RateLimit, max_wait: float) -> tuple[bool, float]:
        if self._is_down:
            return await self.fallback.reserve(key, limit, max_wait)
        try:
            granted, wait = await asyncio.to_thread(
                self._reserve, keys=[self.key(key)], args=[limit.calls, limit.rate, max_wait]
            )
        except Exception as exc:  # Redis is down: this process' buckets, and say so
            self._down(exc)
            return await self.fallback.reserve(key, limit, max_wait)
        return bool(int(granted)), float(wait)

    async def hold(self, key: str, cap: int, holder: str) -> bool:
        if self._is_down:
            return await self.fallback.hold(key, cap, holder)
        try:
            held = await asyncio.to_thread(
                self._hold, keys=[self.key(key)], args=[cap, holder, SLOT_TTL_SECONDS]
            )
        except Exception as exc:
            self._down(exc)
            return await self.fallback.hold(key, cap, holder)
        return bool(int(held))

    async def release(self, key: str, holder: str) -> None:
        await self.fallback.release(key, holder)  # held there if Redis was down
        if self._is_down:
            return
        try:
            await asyncio.to_thread(self._redis.zrem, self.key(key), holder)
        except Exception as exc:
            self._down(exc)

    def close(self) -> None:
        self._redis.close()


class CallCounts:
    """Calls each app's declared limits let through (``sent``) or held back (``refused``:
    the run was parked) in this process since it started (``/metrics``)."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str]] = Counter()

    def __call__(self, app_key: str, outcome: str) -> None:
        self.counts[(app_key, outcome)] += 1


def call_limits_for(settings: Settings) -> LimitBackend:
    """The shared backend when the deployment has Redis, else this process' own."""
    url = settings.resolved_redis_url()
    if url:
        return RedisLimits(url, prefix=settings.queue_name)
    return LocalLimits()


__all__ = ["CallCounts", "RedisLimits", "call_limits_for"]
