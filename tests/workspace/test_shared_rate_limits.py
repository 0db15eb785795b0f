"""Scaled out, the API and webhook rate limits are one bucket in Redis for every process."""

from __future__ import annotations

import math
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from engine.settings import Settings
from workspace.ratelimit import RateLimiter, SharedRateLimiter, limiter_for

REDIS_URL = os.environ.get("CELLWRIGHT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
ROOT = Path(__file__).resolve().parents[2]

TAKE = """
import sys
from workspace.ratelimit import SharedRateLimiter
limiter = SharedRateLimiter(int(sys.argv[1]), sys.argv[2], name="webhook", prefix=sys.argv[3])
print(sum(1 for _ in range(int(sys.argv[4])) if limiter.retry_after(("hook", "tok")) == 0))
"""


@pytest.fixture
def prefix() -> Iterator[str]:
    name = f"cwtest-{secrets.token_hex(5)}"
    yield name
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(f"{name}:*"))
    if keys:
        client.delete(*keys)
    client.close()


def test_two_processes_share_one_limit(prefix: str) -> None:
    per_minute, tries = 20, 30
    command = [sys.executable, "-c", TAKE, str(per_minute), REDIS_URL, prefix, str(tries)]
    started = time.monotonic()
    procs = [
        subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True) for _ in range(2)
    ]
    allowed = [int(proc.communicate(timeout=120)[0]) for proc in procs]
    elapsed = time.monotonic() - started
    # one bucket for both: its 20, plus what refilled meanwhile (1 per 3 s); two buckets of
    # their own would have let 40 through
    refilled = math.ceil(elapsed * per_minute / 60)
    assert per_minute <= sum(allowed) <= per_minute + refilled
    assert all(count < tries for count in allowed)


def test_the_bucket_says_how_long_to_wait_and_keeps_no_token_in_redis(prefix: str) -> None:
    limiter = SharedRateLimiter(2, REDIS_URL, name="api", prefix=prefix)
    try:
        assert [limiter.retry_after("user-1") for _ in range(2)] == [0, 0]
        assert 28 <= limiter.retry_after("user-1") <= 30  # one token per 30 s
        assert limiter.retry_after("user-2") == 0  # another key, another bucket
        client = redis.Redis.from_url(REDIS_URL)
        keys = [k.decode() for k in client.scan_iter(f"{prefix}:*")]
        client.close()
        assert len(keys) == 2 and not any("user-1" in key for key in keys)
        assert all(key.startswith(f"{prefix}:ratelimit:api:") for key in keys)
    finally:
        limiter.close()


def test_a_limiter_outage_lets_requests_through(prefix: str) -> None:
    with __import__("socket").socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once closed
    limiter = SharedRateLimiter(1, f"redis://127.0.0.1:{port}/0", name="api", prefix=prefix)
    assert [limiter.retry_after("k") for _ in range(3)] == [0, 0, 0]


def test_the_shared_limiter_is_used_where_the_deployment_has_redis(tmp_path: Path) -> None:
    def settings(**values: object) -> Settings:
        return Settings(_env_file=None, data_dir=tmp_path, **values)  # type: ignore[call-arg]

    assert isinstance(limiter_for(settings(), 60, name="api"), RateLimiter)
    shared = limiter_for(settings(broker_url=REDIS_URL), 60, name="api")
    assert isinstance(shared, SharedRateLimiter)
    shared.close()
    rabbit = settings(broker_url="amqp://guest:guest@127.0.0.1:5672//")
    assert isinstance(limiter_for(rabbit, 60, name="api"), RateLimiter)  # no Redis: per process
    both = settings(broker_url="amqp://guest:guest@127.0.0.1:5672//", redis_url=REDIS_URL)
    shared = limiter_for(both, 60, name="api")
    assert isinstance(shared, SharedRateLimiter)
    shared.close()
