"""core.cache.cached_value: fresh values reused, stale ones refreshed by one caller while the others keep the last value."""

import threading
import time
from typing import Any

import pytest
from django.core.cache import cache

from core.cache import cache_stale, cached_value

KEY = "test:cached-value"


class Counter:
    """A compute() that counts its calls and returns a new value each time (optionally slowly)."""

    def __init__(self, delay: float = 0.0) -> None:
        self.calls = 0
        self.delay = delay
        self.lock = threading.Lock()

    def __call__(self) -> int:
        with self.lock:
            self.calls += 1
            value = self.calls
        time.sleep(self.delay)
        return value


def test_a_cold_value_is_computed_then_reused_while_fresh() -> None:
    compute = Counter()
    assert cached_value(KEY, compute, fresh_seconds=60) == 1
    assert cached_value(KEY, compute, fresh_seconds=60) == 1
    assert compute.calls == 1


def test_a_stale_value_is_recomputed_by_the_next_caller() -> None:
    compute = Counter()
    cached_value(KEY, compute, fresh_seconds=60)
    cache_stale(KEY)
    assert cached_value(KEY, compute, fresh_seconds=60) == 2
    assert cached_value(KEY, compute, fresh_seconds=60) == 2
    assert compute.calls == 2


def test_a_value_past_its_freshness_is_recomputed() -> None:
    compute = Counter()
    cached_value(KEY, compute, fresh_seconds=1)
    time.sleep(1.2)
    assert cached_value(KEY, compute, fresh_seconds=1) == 2


def test_a_new_version_is_recomputed() -> None:
    compute = Counter()
    assert cached_value(KEY, compute, fresh_seconds=60, version=1) == 1
    assert cached_value(KEY, compute, fresh_seconds=60, version=1) == 1
    assert cached_value(KEY, compute, fresh_seconds=60, version=2) == 2
    assert compute.calls == 2


def test_while_another_caller_refreshes_the_last_value_is_handed_out() -> None:
    compute = Counter()
    cached_value(KEY, compute, fresh_seconds=60)
    cache_stale(KEY)
    assert cache.add(f"{KEY}:refresh", 1, 60)  # another caller holds the refresh
    assert cached_value(KEY, compute, fresh_seconds=60) == 1
    assert compute.calls == 1
    cache.delete(f"{KEY}:refresh")
    assert cached_value(KEY, compute, fresh_seconds=60) == 2


def test_a_failed_refresh_lets_the_next_caller_try() -> None:
    cached_value(KEY, Counter(), fresh_seconds=60)
    cache_stale(KEY)

    def broken() -> Any:
        raise RuntimeError("the database is away")

    with pytest.raises(RuntimeError):
        cached_value(KEY, broken, fresh_seconds=60)
    compute = Counter()
    assert cached_value(KEY, compute, fresh_seconds=60) == 1  # not left waiting on a refresh no one is running
    assert compute.calls == 1


def test_many_callers_of_a_stale_value_compute_it_once() -> None:
    """Eight threads at a stale value: one recomputes (slowly), the other seven get the last value at once."""
    cached_value(KEY, lambda: 100, fresh_seconds=60)
    cache_stale(KEY)
    compute = Counter(delay=0.5)
    results: list[int] = []
    start = threading.Barrier(8)

    def call() -> None:
        start.wait()
        results.append(cached_value(KEY, compute, fresh_seconds=60))

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert compute.calls == 1
    assert sorted(results) == [1] + [100] * 7
    assert cached_value(KEY, Counter(), fresh_seconds=60) == 1
