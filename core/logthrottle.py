"""Failures logged without a traceback storm: one traceback per kind of failure per minute, one line for the rest.

A tracker whose database or cache is down fails every request the same way,
thousands a second; a traceback for each buries the log (and whatever else
it says). `log_failure` writes every failure as one line, but attaches the
traceback only to the first of its kind (the logger, the message and the
exception's type) in each window; the next traceback says how many of its
kind came in between without one.
"""

import logging
import threading
import time
from collections.abc import Hashable

WINDOW_SECONDS = 60.0

_clock = time.monotonic  # replaced in tests
_lock = threading.Lock()
# kind -> (when its last traceback was logged, failures of that kind since, without one)
_windows: dict[Hashable, tuple[float, int]] = {}


def _traceback_due(kind: Hashable) -> tuple[bool, int]:
    """(is a traceback due for `kind`?, the failures of `kind` since the last traceback, or in this window)."""
    now = _clock()
    with _lock:
        started, held = _windows.get(kind, (None, 0))
        if started is None or now - started >= WINDOW_SECONDS:
            _windows[kind] = (now, 0)
            return True, held
        _windows[kind] = (started, held + 1)
        return False, held + 1


def log_failure(logger: logging.Logger, level: int, message: str, *args: object, exc: BaseException) -> None:
    """Log `message % args` for the failure `exc`: with its traceback once per kind per minute, else as one line.

    Put nothing secret in `message` or `args`; the exception's own text goes
    out only in its traceback.
    """
    name = type(exc).__name__
    due, held = _traceback_due((logger.name, message, type(exc)))
    if due:
        if held:
            logger.log(level, message + " (%d more %s since the last traceback)", *args, held, name, exc_info=exc)
        else:
            logger.log(level, message, *args, exc_info=exc)
    else:
        logger.log(level, message + " (%s again, %d since its traceback, which is logged once a minute)", *args, name, held)


def throttles_reset() -> None:
    """Forget every window (tests)."""
    with _lock:
        _windows.clear()
