"""Vendor limits an app declares, and the gate every call of a connection goes through.

An app states its vendor's documented limits as data (``App(limits=VendorLimits(...))``):
token-bucket rates (``RateLimit(calls=100, per_seconds=1)``), optionally only for the
endpoints a pattern matches (Slack's per-method tiers), and a cap on simultaneous calls
(Mailchimp's 10 connections). ``ConnectorHttp`` asks its ``CallGate`` before it sends each
request. The gate's ``LimitBackend`` keeps the buckets: in this process (embedded mode)
or in Redis for every process of a deployment (engine/call_limits.py).

A call that must wait a short time (up to ``max_wait`` seconds) waits; one that would
wait longer is not sent: ``RateLimitedError(retry_after=…)`` parks the run through the
engine's retry machinery (status "waiting", no execution slot held meanwhile).
"""

from __future__ import annotations

import asyncio
import fnmatch
import math
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from connectors.sdk.errors import ConfigurationError, RateLimitedError

Clock = Callable[[], float]

#: how long a concurrency slot is held at most (a process that died mid-call frees it)
SLOT_TTL_SECONDS = 300.0
#: how often a call waiting for a concurrency slot looks again
SLOT_POLL_SECONDS = 0.02


@dataclass(frozen=True, kw_only=True)
class RateLimit:
    """At most ``calls`` per ``per_seconds`` per connection, as a token bucket that holds
    ``calls`` tokens (a burst of that size passes) and refills continuously.

    ``endpoint``: an fnmatch pattern on the request's URL path (``"*/chat.postMessage"``)
    for a limit on some endpoints only; ``None`` counts every call of the connection.
    Vendors state limits per endpoint (a Slack method, a Google API), and one operation
    may call several endpoints, so limits match requests, not operations."""

    calls: int
    per_seconds: float
    endpoint: str | None = None

    def __post_init__(self) -> None:
        if self.calls < 1 or self.per_seconds <= 0:
            raise ConfigurationError(
                f"RateLimit(calls={self.calls}, per_seconds={self.per_seconds}): calls must "
                "be at least 1 and per_seconds above 0."
            )

    @property
    def rate(self) -> float:
        """Tokens per second."""
        return self.calls / self.per_seconds

    def applies_to(self, path: str) -> bool:
        return self.endpoint is None or fnmatch.fnmatchcase(path, self.endpoint)

    def describe(self) -> str:
        per = f"{self.per_seconds:g} s"
        where = f" on {self.endpoint}" if self.endpoint else ""
        return f"{self.calls} call{'' if self.calls == 1 else 's'} per {per}{where}"


@dataclass(frozen=True, kw_only=True)
class VendorLimits:
    """What a vendor allows one connection (an account, a token)."""

    rates: tuple[RateLimit, ...] = ()
    max_concurrent: int | None = None
    """At most this many calls in flight at once per connection (``None``: no cap)."""
    source: str = ""
    """Where the vendor documents the limits (shown in the app reference)."""

    def __post_init__(self) -> None:
        if self.max_concurrent is not None and self.max_concurrent < 1:
            raise ConfigurationError("VendorLimits.max_concurrent must be at least 1 (or None).")

    def describe(self) -> list[str]:
        lines = [rate.describe() for rate in self.rates]
        if self.max_concurrent is not None:
            lines.append(f"{self.max_concurrent} calls at once")
        return lines


class LimitBackend(Protocol):
    """Where buckets and concurrency slots live. Keys are opaque strings."""

    async def reserve(self, key: str, limit: RateLimit, max_wait: float) -> tuple[bool, float]:
        """Take a token from ``key``'s bucket if one is free within ``max_wait`` seconds:
        ``(True, seconds to wait before sending)``; else ``(False, seconds until one is)``
        and nothing is taken."""
        ...

    async def hold(self, key: str, cap: int, holder: str) -> bool:
        """Take one of ``cap`` slots for ``holder``; False when all are held."""
        ...

    async def release(self, key: str, holder: str) -> None: ...


class LocalLimits:
    """Buckets and slots in this process (embedded mode), safe across threads and loops."""

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}  # key: (tokens, at)
        self._slots: dict[str, dict[str, float]] = {}  # key: {holder: expires}

    def take(self, key: str, limit: RateLimit, max_wait: float) -> tuple[bool, float]:
        with self._lock:
            now = self.clock()
            tokens, at = self._buckets.get(key, (float(limit.calls), now))
            tokens = min(float(limit.calls), tokens + max(0.0, now - at) * limit.rate)
            wait = 0.0 if tokens >= 1 else (1 - tokens) / limit.rate
            granted = wait <= max_wait
            self._buckets[key] = (tokens - 1 if granted else tokens, now)
            return granted, wait

    async def reserve(self, key: str, limit: RateLimit, max_wait: float) -> tuple[bool, float]:
        return self.take(key, limit, max_wait)

    async def hold(self, key: str, cap: int, holder: str) -> bool:
        with self._lock:
            now = self.clock()
            held = {h: t for h, t in self._slots.get(key, {}).items() if t > now}
            if len(held) >= cap:
                self._slots[key] = held
                return False
            held[holder] = now + SLOT_TTL_SECONDS
            self._slots[key] = held
            return True

    async def release(self, key: str, holder: str) -> None:
        with self._lock:
            self._slots.get(key, {}).pop(holder, None)


CallCounter = Callable[[str, str], None]
"""Told ``(app key, "sent" | "refused")`` of every call the gate lets through or refuses
(the /metrics counters)."""


@dataclass
class CallGate:
    """One connection's way through its vendor's limits (``ConnectorHttp`` asks it)."""

    backend: LimitBackend
    key: str
    """Identifies the connection (its id); backends hash it before storing."""
    limits: VendorLimits
    max_wait: float = 1.5
    on_call: CallCounter | None = None
    sleep: Callable[[float], Any] = asyncio.sleep

    async def enter(self, app_key: str, path: str) -> str | None:
        """Wait for the call's turn (briefly) or raise ``RateLimitedError``; returns the
        concurrency slot's holder to ``leave`` with (None without a cap)."""
        wait = 0.0
        # the endpoint's own limits first: a call they refuse takes nothing from the
        # connection's (a token a later limit's refusal leaves taken is simply spent)
        ordered = sorted(enumerate(self.limits.rates), key=lambda pair: pair[1].endpoint is None)
        for index, limit in ordered:
            if not limit.applies_to(path):
                continue
            granted, needed = await self.backend.reserve(
                f"{self.key}:rate:{index}", limit, self.max_wait
            )
            if not granted:
                self._count(app_key, "refused")
                raise RateLimitedError(
                    f"{app_key}: this connection's calls are held to {limit.describe()} "
                    f"(the vendor's documented limit); the next call is free in "
                    f"{math.ceil(needed)} s, so the run waits and tries again.",
                    retry_after=float(math.ceil(needed)),
                    limit=limit.describe(),
                    local=True,
                )
            wait = max(wait, needed)
        if wait > 0:
            await self.sleep(wait)
        holder = None
        cap = self.limits.max_concurrent
        if cap is not None:
            holder = secrets.token_hex(8)
            slot_key = f"{self.key}:slots"
            waited = 0.0
            while not await self.backend.hold(slot_key, cap, holder):
                if waited >= self.max_wait:
                    self._count(app_key, "refused")
                    raise RateLimitedError(
                        f"{app_key}: this connection already has {cap} calls in flight (the "
                        "vendor's limit on simultaneous calls); the run waits and tries again.",
                        retry_after=1.0,
                        limit=f"{cap} calls at once",
                        local=True,
                    )
                await self.sleep(SLOT_POLL_SECONDS)
                waited += SLOT_POLL_SECONDS
        self._count(app_key, "sent")
        return holder

    def _count(self, app_key: str, outcome: str) -> None:
        if self.on_call is not None:
            self.on_call(app_key, outcome)

    async def leave(self, holder: str | None) -> None:
        if holder is not None:
            await self.backend.release(f"{self.key}:slots", holder)


__all__ = [
    "CallCounter",
    "CallGate",
    "LimitBackend",
    "LocalLimits",
    "RateLimit",
    "VendorLimits",
]
