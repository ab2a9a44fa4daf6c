"""Shared-cache access that never breaks a request.

The cache only speeds things up; if Redis is down we log and carry on with
the database as the source of truth.
"""

import logging
from typing import Any

from django.core.cache import cache

logger = logging.getLogger("api.cache")


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
