"""How long to wait before trying again: one rule for cell retries and alert deliveries."""

from __future__ import annotations

import random


def backoff_delay(attempt: int, base: float, cap: float, retry_after: float | None = None) -> float:
    """The wait after failed attempt ``attempt`` (0-based): exponential backoff
    (``base`` doubling, at most ``cap``) with equal jitter (half fixed, half random, so
    retries of many runs spread out); a vendor's ``Retry-After`` is a floor."""
    # typeshed types int ** int as Any (a negative power gives a float); here it is a number
    exp: float = min(cap, base * (2**attempt))
    delay = exp / 2 + random.uniform(0, exp / 2)  # noqa: S311 - jitter, not security
    return delay if retry_after is None else max(delay, retry_after)


__all__ = ["backoff_delay"]
