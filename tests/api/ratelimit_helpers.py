"""Helpers for tests that run the real per-minute limits."""

import time
from collections.abc import Callable

from django.core.cache import cache
from django_ratelimit.core import _get_window


def wait_for_window_room(ident: str, seconds: float = 8.0) -> None:
    """Sleep past the end of `ident`'s current one-minute window if fewer than `seconds` remain."""
    left = _get_window(ident, 60) - time.time()
    if left < seconds:
        # Past the window's last second: during that second django-ratelimit still names the window
        # that ends in it (its end equals the current second), so waking 0.3 s after the end can
        # land inside it and start the burst in a window with less than a second to go.
        time.sleep(max(0.0, left) + 1.3)


def in_one_window(ident: str, body: Callable[[], None], *, attempts: int = 3, clear_cache: bool = True, room: float = 8.0) -> None:
    """Run `body` (requests and assertions) inside one rate-limit window of `ident`.

    django-ratelimit counts in fixed one-minute windows; when a window ends
    halfway through, the count restarts and the test's arithmetic with it.
    That is not a failure of the code under test, so `body` is run again,
    in a window of its own: one that starts after the window the failed
    attempt ended in (whose count holds that attempt's later requests),
    with `room` seconds left at least (a slow, loaded machine can take
    seconds for a burst). An assertion that fails inside one window is a
    real failure.
    """
    for attempt in range(attempts):
        if clear_cache:
            cache.clear()
        if attempt:  # past the window the last attempt ended in: a count it left nothing in
            time.sleep(max(0.0, _get_window(ident, 60) - time.time()) + 1.3)
        wait_for_window_room(ident, room)
        window = _get_window(ident, 60)
        try:
            body()
        except AssertionError:
            if _get_window(ident, 60) == window:
                raise
            continue
        if _get_window(ident, 60) == window:
            return
    raise AssertionError(f"the rate-limit window of {ident} ended during each of {attempts} attempts")
