"""Two site nodes and two tracker nodes on one PostgreSQL primary, a streaming replica and one Redis, as one (issue 14).

The test builds its own primary cluster and a hot standby of it
(`pg_basebackup -R`) on free ports, its own Redis, and starts two gunicorn
WSGI sites and two gunicorn ASGI trackers with DATABASE_URL=primary and
DATABASE_REPLICA_URLS=standby. It proves, in order: a passkey reset on site A
is refused by tracker B at once; a peer announced to tracker A is handed out
by tracker B; a torrent uploaded on site A is in its uploader's list at once
(on site B: the sticky-primary key is shared) and in another member's list on
site B once the standby has replayed it, read from the standby; with the
standby stopped, lists answer from the primary and a warning is logged; with
replay paused past the lag limit, reads go to the primary.

It runs on either pass of the suite (it needs no database of the suite's):
skipped where the PostgreSQL server binaries are missing, failed instead
under REQUIRE_SYSTEM_TOOLS. Everything is removed in `finally`.
"""

import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from fastbencode import bdecode

from tests.drills import harness
from tests.factories import PASSWORD, make_metainfo

MAX_LAG = 2  # REPLICA_MAX_LAG_SECONDS on the nodes
CHECK = 1  # REPLICA_CHECK_SECONDS
STICKY = 3  # REPLICA_STICKY_SECONDS
TIMEOUT = 10.0  # seconds any one request may take


class Standby(harness.Postgres):
    """A hot standby of `primary`, streaming from it: pg_basebackup -R into a data directory of its own."""

    def __init__(self, root: Path, primary: harness.Postgres) -> None:  # no initdb: a copy of the primary
        self.dir = root / "standby"
        self.dir.mkdir()
        self.data = self.dir / "data"
        self.log = self.dir / "postgres.log"
        self.port = harness.free_port()
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        basebackup = [str(harness.PG_BIN / "pg_basebackup"), "-D", str(self.data), "-h", "127.0.0.1", "-p", str(primary.port)]
        self._run([*basebackup, "-U", "root", "-R", "-X", "stream", "--checkpoint=fast", "--no-sync"])
        conf = f"port = {self.port}\nunix_socket_directories = '{self.dir}'\nhot_standby = on\nhot_standby_feedback = on\n"
        with (self.data / "postgresql.conf").open("a") as handle:  # the primary's settings, then the standby's own
            handle.write(conf)
        self.start()


def missing_tools() -> list[str]:
    """What this test needs beyond the drills' tools: pg_basebackup."""
    missing = harness.missing_tools()
    if not os.access(harness.PG_BIN / "pg_basebackup", os.X_OK):
        missing.append(str(harness.PG_BIN / "pg_basebackup"))
    return missing


_SEED = f"""
import json
from accounts.models import User, generate_passkey
from tracker.models import Category, Forum, Torrent
from tracker.policy.selectors import site_policy
forum = Forum.objects.create(category=Category.objects.create(name="Replica"), name="Replica")
out = {{"forum": forum.pk}}
for name in ("alice", "bob", "carol", "dave"):
    user = User.objects.create_user(username=name, password={PASSWORD!r}, email=name + "@example.org", passkey=generate_passkey())
    out[name] = user.passkey
torrent = Torrent.objects.create(forum=forum, uploader=User.objects.get(username="alice"), name="swarm", size=10**6,
                                 info_hash="ab" * 20, metainfo=b"")
policy = site_policy()
policy.leech_slots_after = 2**62
policy.peers_per_torrent = 0
policy.save()
print("SEEDED " + json.dumps(out))
"""


@dataclass
class Cluster:
    root: Path
    primary: harness.Postgres
    standby: Standby
    redis: harness.Redis
    sites: list[harness.Server]
    trackers: list[harness.Server]
    seeded: dict[str, Any]

    def standby_sql(self, query: str) -> list[tuple[Any, ...]]:
        with self.standby.connect("replica", autocommit=True) as conn:
            return conn.execute(query).fetchall()

    def primary_sql(self, query: str) -> list[tuple[Any, ...]]:
        with self.primary.connect("replica", autocommit=True) as conn:
            return conn.execute(query).fetchall()


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    missing = missing_tools()
    if missing:
        message = f"the replica drill needs {', '.join(missing)}"
        if os.environ.get("REQUIRE_SYSTEM_TOOLS"):
            pytest.fail(message + " and REQUIRE_SYSTEM_TOOLS is set")
        pytest.skip(message)
    root = Path(tempfile.mkdtemp(prefix="tp-replica-"))
    services: list[Any] = []
    servers: list[harness.Server] = []
    try:
        primary = harness.Postgres(root)
        services.append(primary)
        with primary.connect("postgres", autocommit=True) as conn:
            conn.execute("CREATE DATABASE replica")
        redis = harness.Redis(root)
        services.append(redis)
        env = harness.server_env(primary.url("replica"), redis.url, **harness.DRILL_ENV, EMAIL_CONFIRMATION_REQUIRED="0")
        migrate = subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
            cwd=harness.BASE_DIR,
            env={**env, "DB_STATEMENT_TIMEOUT_MS": "0"},
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert migrate.returncode == 0, migrate.stderr
        seeded = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", _SEED], cwd=harness.BASE_DIR, env=env, capture_output=True, text=True, timeout=120
        )
        assert seeded.returncode == 0, seeded.stderr
        data = next(line for line in seeded.stdout.splitlines() if line.startswith("SEEDED "))
        standby = Standby(root, primary)
        services.append(standby)
        node_env = {
            **env,
            "DATABASE_REPLICA_URLS": standby.url("replica"),
            "REPLICA_MAX_LAG_SECONDS": str(MAX_LAG),
            "REPLICA_CHECK_SECONDS": str(CHECK),
            "REPLICA_STICKY_SECONDS": str(STICKY),
            # A connection per request: its statistics (which tables it read, on which server) reach
            # pg_stat_user_tables when it closes, so the test sees where each list was read.
            "DB_CONN_MAX_AGE": "0",
        }
        for name, front in (("site-a", "wsgi"), ("site-b", "wsgi"), ("tracker-a", "asgi"), ("tracker-b", "asgi")):
            servers.append(harness.start_server(name, front, node_env, root))
        yield Cluster(root, primary, standby, redis, servers[:2], servers[2:], json.loads(data.removeprefix("SEEDED ")))
    finally:
        for server in servers:
            with contextlib.suppress(Exception):
                server.stop()
        for service in reversed(services):
            with contextlib.suppress(Exception):
                service.close()
        shutil.rmtree(root, ignore_errors=True)


def _url(server: harness.Server, path: str) -> str:
    return f"http://127.0.0.1:{server.port}{path}"


def login(site: harness.Server, username: str) -> dict[str, str]:
    response = requests.post(_url(site, "/api/login"), json={"username": username, "password": PASSWORD}, timeout=TIMEOUT)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['data']['token']}"}


def listed(site: harness.Server, headers: dict[str, str]) -> list[str]:
    """The names in GET /api/torrents, as `headers`' member sees them on `site`."""
    response = requests.get(_url(site, "/api/torrents?per_page=100"), headers=headers, timeout=TIMEOUT)
    assert response.status_code == 200, response.text
    return [torrent["name"] for torrent in response.json()["data"]]


def announce(tracker: harness.Server, passkey: str, peer: bytes, port: int, left: int) -> dict[bytes, Any]:
    target = harness.announce_target(passkey, "ab" * 20, peer, uploaded=0, downloaded=0, left=left, event="started")
    # On a thread of its own: an earlier test of the session (the browser's) may have left this thread's event loop running.
    with ThreadPoolExecutor(max_workers=1) as own_loop:
        reply = own_loop.submit(asyncio.run, harness.http_get(tracker.port, target.replace("port=6881", f"port={port}"))).result()
    assert reply.status == 200, reply.body
    decoded = bdecode(reply.body)
    assert isinstance(decoded, dict)
    return decoded


def torrent_scans(cluster: Cluster) -> int:
    """How often the torrents table was read on the standby (its own statistics)."""
    rows = cluster.standby_sql(
        "SELECT coalesce(seq_scan, 0) + coalesce(idx_scan, 0) FROM pg_stat_user_tables WHERE relname = 'tracker_torrent'"
    )
    return int(rows[0][0]) if rows else 0


def wait_for(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"{what} within {timeout:.0f}s")


def caught_up(cluster: Cluster) -> Any:
    """A predicate: has the standby replayed everything the primary had written when this was called?

    The insert position, not the write position: the drills' primary runs with
    synchronous_commit off, so a commit may still sit in its WAL buffers.
    """
    (lsn,) = cluster.primary_sql("SELECT pg_current_wal_insert_lsn()::text")[0]
    return lambda: bool(cluster.standby_sql(f"SELECT pg_last_wal_replay_lsn() >= '{lsn}'::pg_lsn")[0][0])


def replayed(cluster: Cluster, name: str) -> bool:
    return bool(cluster.standby_sql(f"SELECT 1 FROM tracker_torrent WHERE name = '{name}'"))


def upload(site: harness.Server, headers: dict[str, str], forum: int, name: str) -> None:
    data, _ = make_metainfo(name, 50_000)
    files = {"file": ("x.torrent", data, "application/x-bittorrent")}
    response = requests.post(
        _url(site, "/api/torrents"), headers=headers, files=files, data={"forum": forum, "name": name}, timeout=TIMEOUT
    )
    assert response.status_code == 201, response.text


def test_a_passkey_reset_on_site_a_is_refused_at_once_by_tracker_b(cluster):
    site_a, tracker_b = cluster.sites[0], cluster.trackers[1]
    old = cluster.seeded["carol"]
    assert announce(tracker_b, old, harness.peer_id("pk", 1), 51001, left=0).get(b"failure reason") is None
    response = requests.post(_url(site_a, "/api/me/passkey"), headers=login(site_a, "carol"), timeout=TIMEOUT)
    assert response.status_code == 200, response.text
    new = response.json()["data"]["passkey"]
    assert b"failure reason" in announce(tracker_b, old, harness.peer_id("pk", 2), 51002, left=0)
    assert announce(tracker_b, new, harness.peer_id("pk", 3), 51003, left=0).get(b"failure reason") is None


def test_a_peer_announced_to_tracker_a_is_handed_out_by_tracker_b(cluster):
    tracker_a, tracker_b = cluster.trackers
    seeder = announce(tracker_a, cluster.seeded["dave"], harness.peer_id("sw", 1), 52001, left=0)
    assert seeder.get(b"failure reason") is None, seeder
    leecher = announce(tracker_b, cluster.seeded["bob"], harness.peer_id("sw", 2), 52002, left=1000)
    assert leecher.get(b"failure reason") is None, leecher
    peers = leecher[b"peers"]
    ports = {int.from_bytes(peers[i + 4 : i + 6], "big") for i in range(0, len(peers), 6)}
    assert 52001 in ports


def test_an_upload_is_listed_at_once_for_its_uploader_and_from_the_replica_for_others(cluster):
    site_a, site_b = cluster.sites
    alice, bob = login(site_a, "alice"), login(site_b, "bob")
    time.sleep(STICKY + 0.5)  # bob's login was a write: let his sticky-primary time pass
    upload(site_a, alice, cluster.seeded["forum"], "fresh-upload")
    assert "fresh-upload" in listed(site_b, alice)  # at once, on the other node: read from the primary
    # Asked through the standby's WAL position: a query of the table would count in the statistics read below.
    wait_for(caught_up(cluster), 10, "the standby did not replay the upload")
    before = torrent_scans(cluster)
    assert "fresh-upload" in listed(site_b, bob)
    wait_for(lambda: torrent_scans(cluster) > before, 10, "bob's list was not read on the standby")


def test_with_the_replica_stopped_the_lists_answer_from_the_primary(cluster):
    site_b = cluster.sites[1]
    bob = login(site_b, "bob")
    cluster.standby.stop()
    try:
        time.sleep(CHECK + 0.5)  # past the last good health check
        assert "swarm" in listed(site_b, bob)
        assert "swarm" in listed(site_b, {})
        assert "read replica replica1 unreachable" in site_b.log.read_text(errors="replace")
    finally:
        cluster.standby.start()


def test_with_replay_paused_past_the_lag_limit_reads_go_to_the_primary(cluster):
    site_a, site_b = cluster.sites
    alice = login(site_a, "alice")
    cluster.standby_sql("SELECT pg_wal_replay_pause()")
    try:
        upload(site_a, alice, cluster.seeded["forum"], "while-paused")
        time.sleep(MAX_LAG + CHECK + 0.5)
        assert not replayed(cluster, "while-paused")
        assert "while-paused" in listed(site_b, {})  # a guest, who wrote nothing: the primary, as the standby lags
        assert "read replica replica1 is" in site_b.log.read_text(errors="replace")
    finally:
        cluster.standby_sql("SELECT pg_wal_replay_resume()")
    wait_for(lambda: replayed(cluster, "while-paused"), 10, "the standby did not catch up after the pause")


def test_two_site_nodes_share_one_rate_limit_exactly(cluster, monkeypatch):
    """Two more site nodes of the same cluster with a low guest limit: 40 guests' requests at once, alternating, 20 pass."""

    import django_ratelimit.core

    from tests.api.ratelimit_helpers import in_one_window

    monkeypatch.setattr(django_ratelimit.core, "time", time)  # the nodes count in real-clock windows; so must this test
    env = harness.server_env(
        cluster.primary.url("replica"), cluster.redis.url, **harness.DRILL_ENV,
        DATABASE_REPLICA_URLS=cluster.standby.url("replica"), API_RATE_LIMIT_ANONYMOUS="20",
        CACHE_KEY_PREFIX=f"limit-{os.getpid()}-{time.monotonic_ns()}",  # a count of their own in the shared Redis
    )  # fmt: skip
    nodes = [harness.start_server(name, "wsgi", env, cluster.root) for name in ("limit-a", "limit-b")]
    try:

        def forty_at_once() -> None:
            with ThreadPoolExecutor(max_workers=16) as pool:
                urls = [_url(nodes[n % 2], "/api/hello") for n in range(40)]
                statuses = list(pool.map(lambda url: requests.get(url, timeout=TIMEOUT).status_code, urls))
            assert (statuses.count(200), statuses.count(429)) == (20, 20), statuses

        in_one_window("ip:127.0.0.1", forty_at_once, clear_cache=False)
    finally:
        for node in nodes:
            node.stop()
