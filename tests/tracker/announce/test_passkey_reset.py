"""A passkey reset (POST /api/me/passkey, or the profile's page) stops the old passkey at once, everywhere.

In this process on both fronts (the `both_fronts` mark: Django's views and
the ASGI application), and in other server processes that had already
cached the old passkey: a WSGI server (gunicorn) and an ASGI one (gunicorn
with uvicorn workers, whose fast path on PostgreSQL keeps lookups in its own
memory), both sharing this process's database and Redis. Nothing sleeps: the
very next announce after the reset is refused.
"""

import os
import subprocess
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection, connections
from django.test import Client
from fastbencode import bdecode
from rest_framework.test import APIClient

from tests.api.test_shared_ratelimit import REDIS_URL, _redis_answers
from tests.conftest import bearer
from tests.factories import TorrentFactory, UserFactory
from tests.servers import ASGI, WSGI, gunicorn_start, process_stop
from tests.tracker.announce.helpers import announce, announce_qs, peer_id, reply, scrape_qs

BASE_DIR = Path(__file__).resolve().parents[3]
NOT_FOUND = b"passkey not found"


def _reset_through_the_api(user: Any) -> str:
    response = bearer(APIClient(), user).post("/api/me/passkey")
    assert response.status_code == 200, response.content
    user.refresh_from_db()
    assert user.passkey == response.json()["data"]["passkey"]
    return user.passkey


def _reset_on_the_page(user: Any) -> str:
    browser = Client()
    browser.force_login(user)
    response = browser.post("/profile/passkey/", {"confirm": "on"})
    assert response.status_code == 302, response.content
    user.refresh_from_db()
    return user.passkey


RESETS = {"api": _reset_through_the_api, "page": _reset_on_the_page}
# The ASGI case of a `both_fronts` test gets a transactional database on PostgreSQL (fronts.py), which
# this module-level mark must not override; the cross-process test marks itself.
pytestmark = [pytest.mark.django_db, pytest.mark.both_fronts]


# --- In this process, on both fronts ------------------------------------------------------------


@pytest.mark.parametrize("how", list(RESETS))
def test_the_old_passkey_is_refused_at_once_on_both_fronts(client, how):
    user = UserFactory()
    torrent = TorrentFactory()
    old = user.passkey
    for n in range(2):  # the second announce is served from the cached lookups (and the ASGI front's memory)
        assert b"failure reason" not in announce(client, old, torrent.info_hash, peer_id(1), uploaded=n)
    new = RESETS[how](user)
    assert new != old
    refused = announce(client, old, torrent.info_hash, peer_id(1), uploaded=5)
    assert NOT_FOUND in refused[b"failure reason"]
    scraped = reply(client.get(f"/scrape/{old}?{scrape_qs(torrent.info_hash)}"))
    assert NOT_FOUND in scraped[b"failure reason"]
    assert b"failure reason" not in announce(client, new, torrent.info_hash, peer_id(1), uploaded=6)
    assert NOT_FOUND in announce(client, old, torrent.info_hash, peer_id(1), uploaded=7)[b"failure reason"]


# --- Across processes ---------------------------------------------------------------------------


def _start(kind: str, env: dict[str, str], log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """gunicorn serving the WSGI application or the ASGI one (uvicorn workers), on a port the OS picks."""
    return gunicorn_start(WSGI if kind == "wsgi" else ASGI, env=env, log=log, options=("--timeout", "30"))


def _database_url(settings_dict: dict[str, Any]) -> str:
    if connection.vendor == "postgresql":
        auth = settings_dict["USER"] + (f":{settings_dict['PASSWORD']}" if settings_dict.get("PASSWORD") else "")
        return f"postgres://{auth}@{settings_dict['HOST'] or '127.0.0.1'}:{settings_dict['PORT'] or 5432}/{settings_dict['NAME']}"
    return f"sqlite:///{settings_dict['NAME']}"


@pytest.fixture
def shared_database(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A database this process and the servers share, with committed data (the test is transactional).

    PostgreSQL: the test database itself. SQLite: the test database lives in
    this process's memory, so a file of its own, migrated here, stands in for
    Django's default connection during the test.
    """
    if connection.vendor == "postgresql":
        yield dict(connection.settings_dict)
        return
    original = connections["default"]
    shared = original.__class__({**original.settings_dict, "NAME": str(tmp_path / "shared.sqlite3")}, "default")
    connections["default"] = shared
    try:
        call_command("migrate", verbosity=0, interactive=False)
        yield dict(shared.settings_dict)
    finally:
        shared.close()
        connections["default"] = original


@pytest.fixture
def shared_redis(settings: Any) -> str:
    """This process's cache on the Redis the servers use, under a key prefix of the test's own."""
    if not _redis_answers():
        if os.environ.get("REQUIRE_SYSTEM_TOOLS"):
            pytest.fail("Redis is not answering on 127.0.0.1:6379 and REQUIRE_SYSTEM_TOOLS is set")
        pytest.skip("Redis is not answering on 127.0.0.1:6379")
    prefix = f"test-passkey-{uuid.uuid4().hex}"
    settings.REDIS_URL = REDIS_URL
    settings.CACHES = {"default": {"BACKEND": "core.cache.RedisCache", "LOCATION": REDIS_URL, "KEY_PREFIX": prefix}}
    return prefix


@pytest.fixture
def other_processes(shared_database: dict[str, Any], shared_redis: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(BASE_DIR),
        "DJANGO_SETTINGS_MODULE": "torrentpier.settings",
        "SECRET_KEY": "passkey-reset-test",
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": _database_url(shared_database),
        "REDIS_URL": REDIS_URL,
        "CACHE_KEY_PREFIX": shared_redis,
    }
    servers = {kind: _start(kind, env, tmp_path / f"{kind}.log") for kind in ("wsgi", "asgi")}
    try:
        yield {kind: url for kind, (_, url) in servers.items()}
    finally:
        for process, _ in servers.values():
            process_stop(process)


def _announce_at(base: str, passkey: str, info_hash: str, n: int) -> dict:
    url = f"{base}/announce/{passkey}?{announce_qs(info_hash, peer_id(n), uploaded=n)}"
    request = urllib.request.Request(url, headers={"User-Agent": "qBittorrent/4.6.5"})  # as peer_id() says
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
        return bdecode(response.read())


@pytest.mark.django_db(transaction=True)
def test_a_reset_here_is_refused_at_once_by_other_processes_that_cached_the_old_passkey(other_processes):
    user = UserFactory()
    torrent = TorrentFactory()
    for how, reset in RESETS.items():
        old = user.passkey
        for kind, base in other_processes.items():
            for n in range(2):  # cached by the server (Redis, and the ASGI worker's memory)
                body = _announce_at(base, old, torrent.info_hash, n)
                assert b"failure reason" not in body, (how, kind, body)
        new = reset(user)
        for kind, base in other_processes.items():
            body = _announce_at(base, old, torrent.info_hash, 5)
            assert NOT_FOUND in body.get(b"failure reason", b""), f"{kind} server still takes the old passkey after a {how} reset: {body}"
            assert b"failure reason" not in _announce_at(base, new, torrent.info_hash, 6), (how, kind)
