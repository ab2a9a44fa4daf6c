"""Shared-cache access that never breaks a request.

The cache only speeds things up; if Redis is down we log and carry on with
the database as the source of truth.
"""

import logging
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import QuerySet

logger = logging.getLogger("core.cache")  # the name operators filter on (README)


def cache_get(key: str) -> Any:
    """The cached value, or None when missing or the cache is unreachable."""
    try:
        return cache.get(key)
    except Exception:
        logger.warning("cache get failed for %s", key, exc_info=True)
        return None


def cache_set(key: str, value: Any, timeout: int) -> None:
    """Store `value`; a failure is logged and ignored."""
    try:
        cache.set(key, value, timeout)
    except Exception:
        logger.warning("cache set failed for %s", key, exc_info=True)


def cache_delete(*keys: str) -> None:
    """Forget `keys`; a failure is logged (a stale entry expires by its timeout)."""
    try:
        cache.delete_many(list(keys))
    except Exception:
        logger.warning("cache delete failed for %s", keys, exc_info=True)


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
