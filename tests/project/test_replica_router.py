"""The read-replica router's decisions (core/dbrouter.py), through Django's test client, without a real replica.

The alias `replica1` is the test database's own connection here, so every
request works on either database; what the router chose for each read is
recorded. tests/drills/test_replica.py proves the same on a real streaming
replica.
"""

import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import DEFAULT_DB_ALIAS, connections, router
from django.urls import reverse
from rest_framework.test import APIClient

from core import dbrouter
from tests.conftest import bearer
from tests.factories import PASSWORD, ForumFactory, TorrentFactory, UserFactory
from tests.tracker.catalogue.helpers import new_metainfo, upload
from tracker.models import Torrent

pytestmark = pytest.mark.django_db

BASE_DIR = Path(__file__).resolve().parents[2]


class Reads:
    """What the router answered for each read: (model name, alias)."""

    def __init__(self) -> None:
        self.healthy = True
        self.checks = 0
        self.log: list[tuple[str, str]] = []

    def aliases(self, model: str | None = None) -> set[str]:
        return {alias for name, alias in self.log if model is None or name == model}

    def clear(self) -> None:
        self.log.clear()


@pytest.fixture
def reads(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Reads]:
    """The router and its middleware installed, as DATABASE_REPLICA_URLS would, over one replica alias."""
    recorded = Reads()
    settings.DATABASE_REPLICAS = ["replica1"]
    settings.DATABASE_ROUTERS = ["core.dbrouter.ReplicaRouter"]
    middleware = list(django_settings.MIDDLEWARE)
    middleware.insert(middleware.index("django.contrib.sessions.middleware.SessionMiddleware"), "core.dbrouter.ReplicaReadsMiddleware")
    settings.MIDDLEWARE = middleware
    connections["replica1"] = connections[DEFAULT_DB_ALIAS]
    original = dbrouter.ReplicaRouter.db_for_read

    def db_for_read(self: dbrouter.ReplicaRouter, model: type, **hints: Any) -> str | None:
        alias = original(self, model, **hints)
        recorded.log.append((model.__name__, alias or DEFAULT_DB_ALIAS))
        return alias

    def check(alias: str) -> bool:
        recorded.checks += 1
        if not recorded.healthy:
            dbrouter.logger.warning("read replica %s unreachable; reading the primary", alias)
        return recorded.healthy

    monkeypatch.setattr(dbrouter.ReplicaRouter, "db_for_read", db_for_read)
    monkeypatch.setattr(dbrouter, "_check", check)
    dbrouter.health_reset()
    try:
        yield recorded
    finally:
        dbrouter.health_reset()
        delattr(connections._connections, "replica1")


@pytest.fixture
def forum(db: Any) -> Any:
    return ForumFactory()


@pytest.fixture
def listed(forum: Any) -> Torrent:
    return TorrentFactory(forum=forum, name="Listed")


# route, method -> does the request read the replica
ROUTES = [
    ("/api/torrents", "get", True),
    ("/api/v1/torrents", "get", True),
    ("/api/torrents", "head", True),
    ("/api/torrents/{id}", "get", True),
    ("/", "get", True),
    ("/torrents/{id}/", "get", True),
    ("/api/torrents", "options", False),
    ("/api/torrents/{id}/files", "get", False),
    ("/api/forums", "get", False),
    ("/api/categories", "get", False),
    ("/api/torrents/{id}/comments", "get", False),
    ("/login/", "get", False),
]


@pytest.mark.parametrize(("path", "method", "replica"), ROUTES)
@pytest.mark.parametrize("sticky", [False, True])
def test_the_allowed_reads_go_to_the_replica_unless_the_caller_wrote_lately(reads, listed, path, method, replica, sticky):
    client = APIClient()
    if sticky:
        client.cookies[dbrouter.STICKY_COOKIE] = "1"
    reads.clear()
    response = getattr(client, method)(path.format(id=listed.pk))
    assert response.status_code < 500, response.content
    if replica and not sticky:
        assert reads.aliases() == {"replica1"}, reads.log
    else:
        assert "replica1" not in reads.aliases(), reads.log


def test_the_replica_serves_the_list_a_guest_sees(reads, listed):
    reads.clear()
    response = APIClient().get("/api/torrents")
    assert [t["id"] for t in response.json()["data"]] == [listed.pk]
    assert reads.aliases("Torrent") == {"replica1"}


def test_an_upload_reads_and_writes_the_primary_and_keeps_its_uploader_there(reads, user, forum):
    client = bearer(APIClient(), user)
    reads.clear()
    data, _ = new_metainfo("fresh")
    response = upload(client, forum, data)
    assert response.status_code == 201, response.content
    assert reads.aliases() == {DEFAULT_DB_ALIAS}
    assert response.cookies[dbrouter.STICKY_COOKIE]["max-age"] == 10

    # A bearer client keeps no cookies: the member's cache key keeps them on the primary.
    client.cookies.clear()
    reads.clear()
    listed = client.get("/api/torrents")
    assert response.json()["data"]["id"] in [t["id"] for t in listed.json()["data"]]
    assert reads.aliases("Torrent") == {DEFAULT_DB_ALIAS}


def test_another_member_reads_the_replica_after_someone_elses_write(reads, user, forum):
    upload(bearer(APIClient(), user), forum, new_metainfo("theirs")[0])
    other = APIClient()
    other.force_authenticate(UserFactory())
    reads.clear()
    other.get("/api/torrents")
    assert reads.aliases("Torrent") == {"replica1"}


def test_a_login_sets_the_sticky_cookie(reads, user):
    response = APIClient().post("/login/", {"username": user.username, "password": PASSWORD})
    assert response.status_code in (200, 302)
    assert dbrouter.STICKY_COOKIE in response.cookies


def test_a_replica_down_sends_the_reads_to_the_primary_with_a_warning(reads, listed, caplog):
    reads.healthy = False
    reads.clear()
    with caplog.at_level(logging.WARNING, logger="core.dbrouter"):
        response = APIClient().get("/api/torrents")
    assert [t["id"] for t in response.json()["data"]] == [listed.pk]
    assert reads.aliases() == {DEFAULT_DB_ALIAS}
    assert "read replica replica1 unreachable" in caplog.text


def test_the_health_check_runs_at_most_once_per_interval(reads, listed, monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(dbrouter, "_clock", lambda: now[0])
    for _ in range(3):
        APIClient().get("/api/torrents")
    assert reads.checks == 1
    now[0] += django_settings.REPLICA_CHECK_SECONDS
    APIClient().get("/api/torrents")
    assert reads.checks == 2


def test_a_recovered_replica_is_used_again_after_the_next_check(reads, listed, monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(dbrouter, "_clock", lambda: now[0])
    reads.healthy = False
    reads.clear()
    APIClient().get("/api/torrents")
    assert reads.aliases() == {DEFAULT_DB_ALIAS}
    reads.healthy, now[0] = True, now[0] + django_settings.REPLICA_CHECK_SECONDS
    reads.clear()
    APIClient().get("/api/torrents")
    assert reads.aliases() == {"replica1"}


def test_reads_outside_a_request_go_to_the_primary(reads):
    assert router.db_for_read(Torrent) == DEFAULT_DB_ALIAS
    assert router.db_for_write(Torrent) == DEFAULT_DB_ALIAS
    assert not router.allow_migrate("replica1", "tracker")


def test_every_allowed_route_exists():
    for view_name in django_settings.REPLICA_READ_ROUTES:
        kwargs = {"pk": 1} if view_name.endswith("torrent-detail") else {"torrent_id": 1} if view_name == "web:torrent" else {}
        assert reverse(view_name, kwargs=kwargs)


def test_without_replicas_nothing_is_installed():
    assert django_settings.DATABASE_REPLICAS == []
    assert django_settings.DATABASE_ROUTERS == []
    assert "core.dbrouter.ReplicaReadsMiddleware" not in django_settings.MIDDLEWARE


def _settings_with(**env: str) -> subprocess.CompletedProcess[str]:
    """Import the settings in a fresh interpreter with `env` and print the replica setup."""
    clean = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(BASE_DIR), "DJANGO_SETTINGS_MODULE": "torrentpier.settings"}
    clean["DEBUG"] = "1"
    code = (
        "import django, json; django.setup(); from django.conf import settings as s; "
        "print(json.dumps([s.DATABASE_REPLICAS, s.DATABASE_ROUTERS, 'core.dbrouter.ReplicaReadsMiddleware' in s.MIDDLEWARE, "
        "{a: [d['PORT'], d['TEST']['MIRROR'], d['OPTIONS']] for a, d in s.DATABASES.items() if a != 'default'}]))"
    )
    return subprocess.run([sys.executable, "-c", code], env=clean | env, capture_output=True, text=True, timeout=60, cwd=BASE_DIR)


def test_each_replica_url_becomes_an_alias_with_the_primarys_options():
    result = _settings_with(
        DATABASE_URL="postgres://root@127.0.0.1:5432/db",
        DATABASE_REPLICA_URLS="postgres://root@10.0.0.2:5433/db, postgres://root@10.0.0.3/db",
        DB_STATEMENT_TIMEOUT_MS="700",
    )
    assert result.returncode == 0, result.stderr
    aliases, routers, middleware, databases = json.loads(result.stdout)
    assert aliases == ["replica1", "replica2"]
    assert routers == ["core.dbrouter.ReplicaRouter"]
    assert middleware
    assert databases["replica1"][:2] == [5433, "default"]
    assert "statement_timeout=700" in databases["replica2"][2]["options"]


@pytest.mark.parametrize(
    "env",
    [
        {"DATABASE_REPLICA_URLS": "postgres://root@10.0.0.2/db"},  # beside SQLite
        {"DATABASE_URL": "postgres://root@127.0.0.1/db", "DATABASE_REPLICA_URLS": "mysql://root@10.0.0.2/db"},
    ],
)
def test_a_bad_replica_setup_stops_the_start(env):
    result = _settings_with(**env)
    assert result.returncode != 0
    assert "DATABASE_REPLICA_URLS" in result.stderr
