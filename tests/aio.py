"""Running a coroutine to its end from a test, whatever the test's thread is doing."""

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any


def run_in_thread[T](coroutine: Coroutine[Any, Any, T], timeout: float = 600) -> T:
    """`asyncio.run(coroutine)` in a thread of its own.

    The test's own thread may have an event loop running already (Playwright's
    sync API keeps one for the whole session), where asyncio.run refuses.
    """
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = asyncio.run(coroutine)
        except BaseException as exc:  # re-raised in the test's thread
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise TimeoutError(f"the coroutine was still running after {timeout} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]
