"""Shared-cache access that never breaks a request.

The cache only speeds things up; if Redis is down we log and carry on with
the database as the source of truth. The logs name a key by its kind only
(keys can hold secrets: `passkey:<passkey>`), and a traceback comes once a
minute per kind of failure (core.logthrottle), a line for each of the rest.
"""

import logging
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import QuerySet

from core.logthrottle import log_failure

logger = logging.getLogger("core.cache")  # the name operators filter on (README)


def key_for_log(key: str) -> str:
    """What a log may say of a cache key: its kind (`passkey:…`), never the rest, which can be a secret."""
    kind, colon, _ = key.partition(":")
    return f"{kind}:…" if colon else "…"


def cache_get(key: str) -> Any:
    """The cached value, or None when missing or the cache is unreachable."""
    try:
        return cache.get(key)
    except Exception as exc:
        log_failure(logger, logging.WARNING, "cache get failed for %s", key_for_log(key), exc=exc)
        return None


def cache_set(key: str, value: Any, timeout: int) -> None:
    """Store `value`; a failure is logged and ignored."""
    try:
        cache.set(key, value, timeout)
    except Exception as exc:
        log_failure(logger, logging.WARNING, "cache set failed for %s", key_for_log(key), exc=exc)


def cache_delete(*keys: str) -> None:
    """Forget `keys`; a failure is logged (a stale entry expires by its timeout)."""
    try:
        cache.delete_many(list(keys))
    except Exception as exc:
        log_failure(logger, logging.WARNING, "cache delete failed for %s", ", ".join(key_for_log(key) for key in keys), exc=exc)


def cached_count(queryset: QuerySet[Any], *, key: str, timeout: int | None = None) -> int:
    """Count `queryset`, reusing a cached figure for `timeout` seconds (API_COUNT_CACHE_SECONDS).

    It is OK for a list's total to lag by a few seconds: a full count of a
    million rows on every page would cost far more than it is worth.
    """
    timeout = timeout if timeout is not None else getattr(settings, "API_COUNT_CACHE_SECONDS", 30)
    value = cache_get(key)
    if value is None:
        value = queryset.count()
        cache_set(key, value, timeout)
    return int(value)
