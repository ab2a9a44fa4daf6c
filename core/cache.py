"""Shared-cache access that never breaks a request.

The cache only speeds things up; if Redis is down we log and carry on with
the database as the source of truth. The logs name a key by its kind only
(keys can hold secrets: `passkey:<passkey>`), and a traceback comes once a
minute per kind of failure (core.logthrottle), a line for each of the rest.

A Redis that hangs (accepts, never answers) would cost every command its
whole socket timeout, and a request several in a row. So a timeout makes the
process leave that Redis alone for BACKOFF_SECONDS (`BackoffConnectionPool`,
Django's Redis cache's `pool_class` in settings.py; the ASGI announce's own
reader, tracker.announce.redis_reads, shares the back-off): during it every
command fails at once, as if the server were down, and the callers fail open
as they do then. The first command after it tries the server again. A refused
connection costs nothing and starts no back-off, so a restarted Redis is used
again at once.
"""

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, ClassVar

import redis
from django.conf import settings
from django.core.cache import cache
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient
from django.db.models import QuerySet

from core.counting import Estimate, budgeted_count
from core.logthrottle import log_failure

logger = logging.getLogger("core.cache")  # the name operators filter on (README)

# Seconds a process leaves a Redis alone after a command to it failed.
BACKOFF_SECONDS = 5.0
# cached_value: how long one caller may hold the right to refresh a value (then another may),
# and how long at least a value is kept past its freshness, to be handed out while it is refreshed.
STALE_REFRESH_SECONDS = 60
STALE_KEEP_SECONDS = 3600

_backoff_until: dict[str, float] = {}  # server -> time.monotonic() at which to try it again
_backoff_lock = threading.Lock()


def backoff_active(server: str) -> bool:
    """Is this process backing off `server` (host:port or a socket path) after a failure?"""
    until = _backoff_until.get(server)
    return until is not None and time.monotonic() < until


def backoff_start(server: str) -> None:
    """A command to `server` timed out: leave it alone for BACKOFF_SECONDS (logged once per back-off)."""
    with _backoff_lock:
        starting = not backoff_active(server)
        _backoff_until[server] = time.monotonic() + BACKOFF_SECONDS
    if starting:
        logger.warning("cache server timed out; not asking it for %.0f s", BACKOFF_SECONDS)


def backoff_reset() -> None:
    """Forget every back-off (tests)."""
    with _backoff_lock:
        _backoff_until.clear()


_TIMEOUTS = (redis.exceptions.TimeoutError, TimeoutError)


class _BackoffConnection:
    """Mixed into redis-py's connection class: refuses at once while its server is backed off, and starts one on a timeout."""

    backoff_server = ""

    def connect(self, *args: Any, **kwargs: Any) -> Any:
        self._backoff_check()
        return self._backoff_call(super().connect, *args, **kwargs)  # type: ignore[misc]

    def send_packed_command(self, *args: Any, **kwargs: Any) -> Any:
        self._backoff_check()
        return self._backoff_call(super().send_packed_command, *args, **kwargs)  # type: ignore[misc]

    def read_response(self, *args: Any, **kwargs: Any) -> Any:
        return self._backoff_call(super().read_response, *args, **kwargs)  # type: ignore[misc]

    def _backoff_check(self) -> None:
        if backoff_active(self.backoff_server):
            raise redis.exceptions.ConnectionError("the cache server timed out a moment ago; backing off")

    def _backoff_call(self, method: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except _TIMEOUTS:
            backoff_start(self.backoff_server)
            raise


class BackoffConnectionPool(redis.ConnectionPool):
    """redis-py's pool, its connections backing off a timed-out server (see BACKOFF_SECONDS), one per process.

    Django builds a cache backend, and with it a pool, per thread, and under
    ASGI per request context: every API request on the ASGI front opened a
    connection to Redis of its own (and left it to the garbage collector).
    `from_url` hands every backend of the process the same pool for the same
    server and options; redis-py's pools are thread-safe and start afresh in
    a forked child.
    """

    _shared: ClassVar[dict[str, "BackoffConnectionPool"]] = {}
    _shared_lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> "BackoffConnectionPool":
        key = repr((url, sorted(kwargs.items())))
        with cls._shared_lock:
            pool = cls._shared.get(key)
            if pool is None:
                pool = cls._shared[key] = super().from_url(url, **kwargs)
        return pool

    def __init__(self, connection_class: type[redis.Connection] = redis.Connection, **kwargs: Any) -> None:
        server = kwargs.get("path") or f"{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}"
        backoff_class = type(f"Backoff{connection_class.__name__}", (_BackoffConnection, connection_class), {"backoff_server": server})
        super().__init__(connection_class=backoff_class, **kwargs)


class _PoolClientRedisCacheClient(RedisCacheClient):
    """Django's Redis cache client, with one redis.Redis per connection pool instead of a new one per command."""

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        pool = self._get_connection_pool(write)  # type: ignore[attr-defined]  # private in the stubs
        client = getattr(pool, "_cache_client", None)
        if client is None:  # two threads may each make one; either serves (redis.Redis is thread-safe)
            client = pool._cache_client = self._client(connection_pool=pool)  # type: ignore[attr-defined]
        return client


# A counter's next value, given its time to live when this call starts it: one atomic round trip.
_COUNT_SCRIPT = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return n
"""


class RedisCache(DjangoRedisCache):
    """Django's Redis cache (settings.CACHES with REDIS_URL), its commands sent through one client per pool.

    Django's backend builds a redis.Redis for every call, and redis-py
    copies some 170 response callbacks into a case-insensitive dict for
    each: about a tenth of a millisecond a call, what the round trip to a
    local Redis costs, and the rate limit alone makes two or three calls a
    request. The client holds no connection of its own (each command takes
    one from the pool), so one per pool serves every thread.
    """

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = _PoolClientRedisCacheClient

    def count(self, key: str, timeout: int) -> int:
        """Add one to the counter `key` and return it; a counter this call starts lives `timeout` seconds.

        What `add(key, 1, timeout)`, else `incr(key)`, does in two round trips
        (three: Django's incr asks EXISTS first), in one Lua script: one round
        trip, atomic, so the counter can neither expire between the two nor be
        left without a time to live. The value is the plain integer Django's
        incr, decr and get read.
        """
        key = self.make_and_validate_key(key)
        client = self._cache.get_client(key, write=True)
        script = getattr(client, "_count_script", None)
        if script is None:
            script = client._count_script = client.register_script(_COUNT_SCRIPT)  # type: ignore[attr-defined]
        return int(script(keys=[key], args=[int(timeout)]))


def count_up(counters: Any, key: str, timeout: int) -> int:
    """Add one to the counter `key` in the cache `counters` and return it; a counter this call starts lives `timeout` seconds.

    One atomic round trip on Redis (RedisCache.count); elsewhere add, else
    incr, each atomic on Django's local-memory cache.
    """
    if hasattr(counters, "count"):
        return int(counters.count(key, timeout))
    if counters.add(key, 1, timeout):
        return 1
    try:
        return int(counters.incr(key))
    except ValueError:  # it expired between the two calls
        return 1 if counters.add(key, 1, timeout) else int(counters.incr(key))


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


def cached_value(key: str, compute: Callable[[], Any], *, fresh_seconds: int, version: Any = None) -> Any:
    """`compute()`, cached under `key`: reused for `fresh_seconds`, then refreshed by one caller at a time.

    Past its freshness (or once `cache_stale(key)` or a new `version` says it
    is out of date), the first caller recomputes it while every other caller
    keeps the last value until that is done, instead of all of them running
    the same expensive query at once: on a million torrents, every worker
    thread counting the site's totals together held the browse page for
    seconds each minute. Only a cold cache (nothing stored) is computed by
    each caller that finds it so. A cache that fails answers as a cold one.
    """
    fresh_key, refresh_key = f"{key}:fresh", f"{key}:refresh"
    try:
        found = cache.get_many([key, fresh_key])
    except Exception as exc:
        log_failure(logger, logging.WARNING, "cache get failed for %s", key_for_log(key), exc=exc)
        found = {}
    entry = found.get(key)
    entry = entry if isinstance(entry, tuple) and len(entry) == 2 else None  # a value stored otherwise is no entry
    if entry is not None and entry[0] == version and fresh_key in found:
        return entry[1]
    refreshing = False
    if entry is not None:
        try:
            refreshing = bool(cache.add(refresh_key, 1, STALE_REFRESH_SECONDS))
        except Exception:
            refreshing = True  # no lock to be had: this caller computes, as on a cold cache
        if not refreshing:
            return entry[1]  # another caller is refreshing it: the last value meanwhile
    try:
        value = compute()
        cache_set(key, (version, value), max(fresh_seconds * 20, STALE_KEEP_SECONDS))
        cache_set(fresh_key, 1, fresh_seconds)
    finally:
        if refreshing:
            cache_delete(refresh_key)
    return value


def cached_generation(key: str, generation_key: str, compute: Callable[[], Any], *, fresh_seconds: int) -> Any:
    """`compute()`, cached under `key` for `fresh_seconds` and only while the cache's `generation_key` holds
    the figure it was computed under: a new generation is seen by the very next caller, never served stale.

    One round trip on a hit (the entry and the generation read together). A
    miss is computed by each caller that finds it, so `compute` should be
    cheap enough for that (a page of a list; a count belongs in
    cached_value). A cache that fails answers as a cold one.
    """
    try:
        found = cache.get_many([key, generation_key])
    except Exception as exc:
        log_failure(logger, logging.WARNING, "cache get failed for %s", key_for_log(key), exc=exc)
        found = {}
    generation = found.get(generation_key) or 0
    entry = found.get(key)
    if isinstance(entry, tuple) and len(entry) == 2 and entry[0] == generation:
        return entry[1]
    value = compute()
    cache_set(key, (generation, value), fresh_seconds)
    return value


def cache_stale(key: str) -> None:
    """Mark `cached_value(key, ...)` out of date: the next caller recomputes it, the others meanwhile keep the last value."""
    cache_delete(f"{key}:fresh")


def cached_count(queryset: QuerySet[Any], *, key: str, timeout: int | None = None, version: Any = None) -> int:
    """Count `queryset`, reusing a cached figure for `timeout` seconds (API_COUNT_CACHE_SECONDS), refreshed
    by one caller at a time (cached_value); a new `version` makes the figure out of date.

    It is OK for a list's total to lag by a few seconds: a full count of a
    million rows on every page would cost far more than it is worth. A count
    past its time budget is an Estimate (core.counting.budgeted_count).
    """
    timeout = timeout if timeout is not None else getattr(settings, "API_COUNT_CACHE_SECONDS", 30)
    value = cached_value(key, lambda: budgeted_count(queryset), fresh_seconds=timeout, version=version)
    return value if isinstance(value, Estimate) else int(value)
