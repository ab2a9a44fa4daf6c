"""Threads released together, for the races the tests run on PostgreSQL's row locks."""

import threading
from collections.abc import Callable
from typing import Any

from django.db import connections


def released_together(n: int, func: Callable[[int], Any], *, raise_errors: bool = True, timeout: float = 60) -> list[Any]:
    """Run `func(i)` for i in range(n), each in its own thread, all released at once by a barrier.

    Each thread uses its own database connections and closes them when done
    (PostgreSQL would otherwise keep the test database busy). Returns the
    results in order; an exception fails the test (all of them are shown),
    or with `raise_errors=False` takes its call's place in the results.
    """
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = func(i)
        except Exception as exc:  # surfaced below, or returned
            errors.append(exc)
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    if raise_errors:
        assert not errors, errors
    return results
