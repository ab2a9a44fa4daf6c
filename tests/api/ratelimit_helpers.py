"""Helpers for tests that run the real per-minute limits."""

import time

from django_ratelimit.core import _get_window


def wait_for_window_room(ident: str, seconds: float = 8.0) -> None:
    """Sleep past the end of `ident`'s current one-minute window if fewer than `seconds` remain.

    django-ratelimit counts in fixed windows; a test that makes N requests
    must not straddle a window edge, or the count restarts halfway.
    """
    left = _get_window(ident, 60) - time.time()
    if left < seconds:
        time.sleep(max(0.0, left) + 0.3)
