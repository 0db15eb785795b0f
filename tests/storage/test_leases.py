"""Named leases: one holder at a time, taken over when it expires, with a fencing epoch."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from storage import Store


def test_one_holder_renews_others_wait(store: Store) -> None:
    assert store.lease_holder("scheduler") is None
    first = store.take_lease("scheduler", "a", 60)
    assert first is not None
    assert store.take_lease("scheduler", "b", 60) is None
    assert store.take_lease("scheduler", "a", 60) == first  # a renewal keeps the epoch
    assert store.lease_holder("scheduler") == ("a", first)
    assert store.take_lease("other-job", "b", 60) is not None  # leases are per name


def test_an_expired_lease_is_taken_over_with_a_new_epoch(store: Store) -> None:
    first = store.take_lease("scheduler", "a", 0.3)
    assert first is not None
    time.sleep(0.5)  # a stops renewing (it died)
    assert store.lease_holder("scheduler") is None
    second = store.take_lease("scheduler", "b", 60)
    assert second == first + 1
    assert store.take_lease("scheduler", "a", 60) is None  # a is back: it waits now


def test_release_frees_the_lease_for_the_next_process(store: Store) -> None:
    store.take_lease("scheduler", "a", 60)
    store.release_lease("scheduler", "b")  # not b's: nothing happens
    assert store.take_lease("scheduler", "b", 60) is None
    store.release_lease("scheduler", "a")
    assert store.take_lease("scheduler", "b", 60) is not None


def test_racing_processes_get_exactly_one_holder(store: Store) -> None:
    def take(owner: str) -> int | None:
        return store.take_lease("race", owner, 60)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(take, [f"p{i}" for i in range(16)]))
    assert sum(r is not None for r in results) == 1
