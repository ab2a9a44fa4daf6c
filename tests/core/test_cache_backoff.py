"""A hung Redis costs a process one timeout, not every request three (issue 11).

Django's Redis cache waits `socket_timeout` (1 s) for each command. Against a
Redis that accepts connections and never answers, a WSGI announce once waited
for three of them in a row (the lookups' MGET, then a SET for each lookup it
loaded from the database), and every following announce as long again. Now a
failure makes the process leave that Redis alone for a short back-off
(core.cache.BackoffConnectionPool): the request that met the timeout pays it
once, the next ones none, and the cache is tried again when the back-off ends.

The Redis here is real in the only way that matters: a listening socket that
accepts and never replies, which is what a hung server looks like to a client.
"""

import copy
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from django.conf import settings as django_settings
from django.test import Client

from core import cache as core_cache
from tests.factories import TorrentFactory, UserFactory
from tests.tracker.announce.helpers import announce, peer_id
from tracker.swarm import lookups

TIMEOUT = 1.0  # the settings' socket_timeout


@pytest.fixture
def hung_redis() -> Iterator[str]:
    """redis://... of a server that accepts every connection and never sends a byte."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(128)
    server.settimeout(0.1)
    held: list[socket.socket] = []
    done = threading.Event()

    def accept() -> None:
        while not done.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"redis://127.0.0.1:{server.getsockname()[1]}/0"
    finally:
        done.set()
        thread.join(timeout=5)
        for conn in held:
            conn.close()
        server.close()


@pytest.fixture
def cache_on_hung_redis(hung_redis: str, settings, monkeypatch) -> Iterator[None]:
    """The project's own Redis cache configuration (OPTIONS as settings.py writes them), on the hung server."""
    options = django_settings.REDIS_CACHE_OPTIONS
    config = {"BACKEND": "core.cache.RedisCache", "OPTIONS": copy.deepcopy(options)}
    config["LOCATION"] = hung_redis
    settings.CACHES = {"default": config}
    monkeypatch.setattr(lookups, "_redis_reader", None)  # the lookups' client of the previous cache
    core_cache.backoff_reset()
    yield
    core_cache.backoff_reset()


def _timed(func) -> tuple[float, object]:
    started = time.monotonic()
    result = func()
    return time.monotonic() - started, result


@pytest.mark.django_db
def test_a_hung_redis_costs_a_wsgi_announce_one_timeout_and_the_next_ones_none(cache_on_hung_redis):
    user = UserFactory()
    torrents = [TorrentFactory() for _ in range(3)]
    client = Client()

    first, body = _timed(lambda: announce(client, user.passkey, torrents[0].info_hash, peer_id(1)))
    assert b"failure reason" not in body, body  # fail open: the database answers
    assert first < 2 * TIMEOUT, f"the first announce waited {first:.1f}s: more than one timeout"

    for n, torrent in enumerate(torrents, start=2):  # lookups not cached anywhere: each would read and write the cache
        took, body = _timed(lambda torrent=torrent, n=n: announce(client, user.passkey, torrent.info_hash, peer_id(n)))
        assert b"failure reason" not in body, body
        assert took < TIMEOUT / 2, f"announce {n} waited {took:.1f}s on a Redis that had just failed"


@pytest.mark.django_db
def test_a_hung_redis_costs_the_api_one_timeout_and_the_next_requests_none(cache_on_hung_redis):
    client = Client()
    first, response = _timed(lambda: client.get("/api/hello"))
    assert response.status_code == 200
    assert response.json()["data"]["cache"] is False
    assert first < 2 * TIMEOUT, f"the first request waited {first:.1f}s"
    for _ in range(3):
        took, response = _timed(lambda: client.get("/api/hello"))
        assert response.status_code == 200
        assert response.json()["data"]["cache"] is False
        assert took < TIMEOUT / 2, f"a request waited {took:.1f}s on a Redis that had just failed"


@pytest.mark.django_db
def test_the_cache_is_tried_again_once_the_backoff_is_over(cache_on_hung_redis, monkeypatch):
    monkeypatch.setattr(core_cache, "BACKOFF_SECONDS", 0.5)
    client = Client()
    client.get("/api/hello")  # meets the timeout: backing off
    took, _ = _timed(lambda: client.get("/api/hello"))
    assert took < TIMEOUT / 2
    time.sleep(0.6)
    took, response = _timed(lambda: client.get("/api/hello"))
    assert response.status_code == 200
    assert took >= TIMEOUT * 0.9, "after the back-off the cache is asked again (and here times out again)"
