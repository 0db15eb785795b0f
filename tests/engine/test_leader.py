"""One process runs the schedules: the scheduler lease, its takeover, and the services."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from engine.leader import Leadership
from engine.service import Cellwright
from storage import Store
from storage.vault import Vault


@pytest.fixture
def store(tmp_path: Path) -> Any:
    with Store(f"sqlite:///{tmp_path / 'c.db'}", Vault([Vault.generate_key()])) as s:
        s.migrate()
        yield s


class Counter:
    def __init__(self) -> None:
        self.ticks = 0

    async def job(self) -> None:
        while True:
            self.ticks += 1
            await asyncio.sleep(0.01)


async def test_only_the_holder_runs_the_jobs_and_another_takes_over_when_it_dies(
    store: Store,
) -> None:
    a_jobs, b_jobs = Counter(), Counter()
    a = Leadership(store, "a", [a_jobs.job], seconds=0.6)
    b = Leadership(store, "b", [b_jobs.job], seconds=0.6)
    assert await a.check() is True
    assert await b.check() is False
    await asyncio.sleep(0.1)
    assert a_jobs.ticks > 0 and b_jobs.ticks == 0
    # a "dies": its jobs stop and it never renews again
    await a._stop_jobs()
    assert await b.check() is False  # not before the lease expires
    await asyncio.sleep(0.8)
    assert await b.check() is True
    await asyncio.sleep(0.1)
    assert b_jobs.ticks > 0 and b.epoch == 2
    # a comes back: it waits, and does not run its jobs
    before = a_jobs.ticks
    assert await a.check() is False
    await asyncio.sleep(0.05)
    assert a_jobs.ticks == before
    await b._stop_jobs()


async def test_a_holder_that_cannot_reach_the_store_stops_its_jobs(store: Store) -> None:
    jobs = Counter()
    leader = Leadership(store, "a", [jobs.job], seconds=0.6)
    assert await leader.check() is True

    def unreachable(*args: Any) -> int | None:
        raise OSError("connection refused")

    leader.store = type("Down", (), {"take_lease": staticmethod(unreachable)})()  # type: ignore[assignment]
    assert await leader.check() is False
    assert not leader.leading
    ticks = jobs.ticks
    await asyncio.sleep(0.05)
    assert jobs.ticks == ticks


async def test_two_services_on_one_store_run_one_scheduler(
    tmp_path: Path, make_settings: Any
) -> None:
    # a long lease: on a loaded machine a 3 s one can lapse between two renewals, and the
    # second service would then rightly take over
    settings = make_settings(data_dir=tmp_path / "d", scheduler_lease_seconds=120)
    first, second = Cellwright(settings), Cellwright(settings)
    try:
        await first.start()
        await second.start()
        await asyncio.sleep(0.2)
        assert first.leadership is not None and second.leadership is not None
        assert [first.leadership.leading, second.leadership.leading] == [True, False]
        await first.stop()  # a clean stop gives the lease up at once
        assert await second.leadership.check() is True
        assert second.leadership.leading
    finally:
        if first.started:
            await first.stop()
        await second.stop()
        first.close()
        second.close()
