"""Every cache backend of a process shares one Redis connection pool (issue 11).

Django builds a cache backend per thread, and under ASGI per request
context; each built its own redis-py pool, so every API request served by
the ASGI front opened a new connection to Redis (the drills counted 101 for
100 requests of /api/hello) and the sockets piled up until the garbage
collector closed them. Here each call runs in a fresh thread or a fresh
asyncio context, as those requests do, against a redis-server of the
test's own, whose INFO counts the connections it accepted.
"""

import asyncio
import copy
import os
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings as django_settings
from django.core.cache import cache

from tests.aio import run_in_thread
from tests.drills.harness import REDIS_SERVER, Redis


@pytest.fixture
def own_redis() -> Iterator[Redis]:
    if not os.access(REDIS_SERVER, os.X_OK):
        if os.environ.get("REQUIRE_SYSTEM_TOOLS"):
            pytest.fail(f"{REDIS_SERVER} is missing and REQUIRE_SYSTEM_TOOLS is set")
        pytest.skip(f"{REDIS_SERVER} is missing")
    with tempfile.TemporaryDirectory() as root:
        server = Redis(Path(root))
        try:
            yield server
        finally:
            server.close()


@pytest.fixture
def cache_on_own_redis(own_redis: Redis, settings) -> Redis:
    settings.CACHES = {
        "default": {
            "BACKEND": "core.cache.RedisCache",
            "LOCATION": own_redis.url,
            "OPTIONS": copy.deepcopy(django_settings.REDIS_CACHE_OPTIONS),
        }
    }
    return own_redis


def _connections_received(server: Redis) -> int:
    out = subprocess.run(["redis-cli", "-p", str(server.port), "INFO", "stats"], capture_output=True, text=True, timeout=10).stdout
    return int(next(line for line in out.splitlines() if line.startswith("total_connections_received:")).split(":")[1])


def _use_cache(n: int) -> None:
    cache.set(f"pool-test:{n}", n, 30)
    assert cache.get(f"pool-test:{n}") == n


def test_cache_backends_of_many_threads_share_connections(cache_on_own_redis):
    before = _connections_received(cache_on_own_redis)
    for n in range(30):  # one after the other: one connection is enough for all
        thread = threading.Thread(target=_use_cache, args=(n,))
        thread.start()
        thread.join(10)
    assert _connections_received(cache_on_own_redis) - before <= 2


def test_cache_backends_of_many_asgi_request_contexts_share_connections(cache_on_own_redis):
    async def requests() -> None:
        for n in range(30):  # each in a context of its own, as Django's ASGI handler runs each request's sync view
            await asyncio.create_task(sync_to_async(_use_cache)(n))

    before = _connections_received(cache_on_own_redis)
    run_in_thread(requests())
    assert _connections_received(cache_on_own_redis) - before <= 2


def test_cache_calls_reuse_one_redis_client_per_pool(cache_on_own_redis, monkeypatch):
    """core.cache.RedisCache: Django's backend built a redis.Redis (some 170 callbacks copied) for every call."""
    import redis

    made = []
    original = redis.Redis.__init__

    def counting(self, *args, **kwargs):
        made.append(1)
        original(self, *args, **kwargs)

    monkeypatch.setattr(redis.Redis, "__init__", counting)
    threads = [threading.Thread(target=lambda: [_use_cache(n) for n in range(10)]) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert cache.incr("pool-test:1", 5) == 6
    assert 1 <= len(made) <= 3  # one per pool (a race may make a spare); was one per call: 61


def test_a_counter_starts_with_its_time_to_live_and_keeps_it(cache_on_own_redis):
    """core.cache.RedisCache.count: add-else-incr in one atomic script; the value is the integer get, incr and decr read."""
    assert cache.count("count-test", 65) == 1
    keys = subprocess.run(["redis-cli", "-p", str(cache_on_own_redis.port), "KEYS", "*count-test"], capture_output=True, text=True)
    (key,) = keys.stdout.split()
    ttl = int(subprocess.run(["redis-cli", "-p", str(cache_on_own_redis.port), "TTL", key], capture_output=True, text=True).stdout)
    assert 60 <= ttl <= 65
    assert cache.count("count-test", 999) == 2
    ttl_after = int(subprocess.run(["redis-cli", "-p", str(cache_on_own_redis.port), "TTL", key], capture_output=True, text=True).stdout)
    assert ttl_after <= ttl  # a running counter keeps the time to live it started with
    assert cache.get("count-test") == 2
    assert cache.incr("count-test") == 3 and cache.decr("count-test") == 2


def test_parallel_counts_are_exact(cache_on_own_redis):
    seen: list[int] = []

    def count() -> None:
        seen.extend(cache.count("count-race", 60) for _ in range(50))

    threads = [threading.Thread(target=count) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(seen) == list(range(1, 401))


def test_an_api_request_counts_itself_in_one_round_trip(cache_on_own_redis, monkeypatch, client):
    """The rate limit: one command to Redis a request (Django's add, then its incr's EXISTS and INCRBY, made three)."""
    from core import cache as core_cache

    sent = []
    original = core_cache._BackoffConnection.send_packed_command

    def counting(self, *args, **kwargs):
        sent.append(b"".join(args[0]) if isinstance(args[0], list) else args[0])
        return original(self, *args, **kwargs)

    monkeypatch.setattr(core_cache._BackoffConnection, "send_packed_command", counting)
    assert client.get("/api/hello").status_code == 200  # loads the script on the server
    sent.clear()
    for n in range(3):
        response = client.get("/api/hello")
        assert response.status_code == 200 and response["X-RateLimit-Remaining"] == str(django_settings.API_RATE_LIMIT_ANONYMOUS - 2 - n)
    # /api/hello also checks the cache itself (a SET and a GET of its own): only the rate limit's keys are counted here.
    assert len([command for command in sent if b":rl:" in command]) == 3
