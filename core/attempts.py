"""Guesses of a secret (an invite code, say), counted per client in the shared cache before each is checked.

The same windows, keys and cache as django-ratelimit (and as the login
lock-out in accounts.services): one fixed window per minute, counted with
cache.add, else cache.incr, each atomic on LocMem and on Redis. Counting
*before* the check holds parallel guesses to the limit too: a burst of
simultaneous guesses cannot all pass a check made before any of them is
counted. A guess that turns out right is given back, so that a client
who only ever uses good codes is never held up.

If the cache is unreachable the count fails open, as the API's rate limit
does, and says so in the log.
"""

import logging
from dataclasses import dataclass, field

import django_ratelimit.core as ratelimit_core
from django.conf import settings
from django.core.cache import caches
from django_ratelimit import ALL

from core.cache import count_up

logger = logging.getLogger("api.ratelimit")  # the name operators filter on (README)

WINDOW_SECONDS = 60


@dataclass
class Attempt:
    """One counted guess: `retry_after` is set when it is refused (check nothing then); `counted` are the cache keys it raised."""

    retry_after: int | None = None
    counted: list[str] = field(default_factory=list)


def attempt_count(group: str, ident: str, limit: int) -> tuple[str, int, int]:
    """Count one guess in `ident`'s current window of `group`: (cache key, count now, seconds left in the window)."""
    rate = f"{limit}/m"
    window = ratelimit_core._get_window(ident, WINDOW_SECONDS)
    key = ratelimit_core._make_cache_key(group, window, rate, ident, ALL)
    cache = caches[settings.RATELIMIT_USE_CACHE]
    timeout = WINDOW_SECONDS + ratelimit_core.EXPIRATION_FUDGE
    count = count_up(cache, key, timeout)  # one round trip on Redis
    return key, count, window - int(ratelimit_core.time.time())


def attempt_start(*, group: str, ident: str, limit: int) -> Attempt:
    """Count a guess by `ident` in `group` and say whether it may be checked (at most `limit` a minute).

    A refused guess is not counted (it checks nothing), so a client that
    keeps hammering is let back in when the window ends.
    """
    try:
        key, count, time_left = attempt_count(group, ident, limit)
    except Exception:  # the cache is down: fail open, like the API's rate limit
        logger.warning("attempt-count cache unreachable; failing open", exc_info=True)
        return Attempt()
    if count > limit:
        attempts_give_back([key])
        return Attempt(retry_after=max(1, time_left))
    return Attempt(counted=[key])


def attempts_give_back(keys: list[str]) -> None:
    """Uncount the guesses under `keys` (a right guess, or a refused one)."""
    cache = caches[settings.RATELIMIT_USE_CACHE]
    for key in keys:
        try:
            cache.decr(key)
        except ValueError:  # the window is over and its count gone
            pass
        except Exception:
            logger.warning("attempt-count cache unreachable; failing open", exc_info=True)


def attempt_succeeded(attempt: Attempt) -> None:
    """The guess was right: it is not held against the client."""
    attempts_give_back(attempt.counted)
    attempt.counted = []
