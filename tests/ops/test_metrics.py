"""GET /metrics: who may read it, what the tracker and the API count, the totals, and every process counted."""

import os
import re
import shutil
import subprocess
import sys
import urllib.request
from ipaddress import ip_network
from pathlib import Path

import pytest
from django.core.cache import cache
from django.test import Client
from prometheus_client import REGISTRY
from rest_framework.test import APIClient

from accounts.models import User
from tests.factories import PASSWORD, TorrentFactory, UserFactory
from tests.servers import ASGI, WSGI, gunicorn_start, process_stop
from tests.tracker.announce.fronts import AsgiClient, fast_path_active
from tests.tracker.announce.helpers import announce_qs, peer_id

BASE_DIR = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.django_db


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def scrape(client: Client | None = None, **extra: str) -> str:
    response = (client or Client()).get("/metrics", REMOTE_ADDR=extra.pop("REMOTE_ADDR", "127.0.0.1"), **extra)
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"].startswith("text/plain; version=")  # the Prometheus text format
    return response.content.decode()


@pytest.mark.parametrize(
    ("remote", "headers", "allowed"),
    [
        ("127.0.0.1", {}, True),
        ("::1", {}, True),
        ("10.0.0.7", {}, False),
        ("10.0.0.7", {"HTTP_AUTHORIZATION": "Bearer s3cret-token"}, True),
        ("10.0.0.7", {"HTTP_AUTHORIZATION": "Bearer wrong"}, False),
        ("10.0.0.7", {"HTTP_AUTHORIZATION": "s3cret-token"}, False),
        # behind a trusted proxy on loopback, the client's own address counts, not the proxy's
        ("127.0.0.1", {"HTTP_X_FORWARDED_FOR": "203.0.113.9"}, False),
    ],
)
def test_only_allowed_addresses_or_the_token_read_it(settings, remote, headers, allowed):
    settings.METRICS_TOKEN = "s3cret-token"
    settings.TRUSTED_PROXIES = [ip_network("127.0.0.1/32")]
    response = Client().get("/metrics", REMOTE_ADDR=remote, **headers)
    assert response.status_code == (200 if allowed else 404)
    if allowed:
        assert b"torrentpier_tracker_requests_total" in response.content or b"torrentpier_torrents" in response.content


@pytest.mark.both_fronts
def test_announces_and_scrapes_are_counted_by_result(client):
    front = "asgi" if isinstance(client, AsgiClient) and fast_path_active() else "wsgi"
    member, torrent = UserFactory(), TorrentFactory()
    results = ("ok", "passkey", "torrent", "invalid")
    before = {r: value("torrentpier_tracker_requests_total", kind="announce", front=front, result=r) for r in results}
    timed = value("torrentpier_announce_duration_seconds_count", front=front)
    scrapes = value("torrentpier_tracker_requests_total", kind="scrape", front=front, result="ok")
    qs = announce_qs(torrent.info_hash, peer_id(1), left=5)
    client.get(f"/announce?uk={member.passkey}&{qs}", REMOTE_ADDR="10.0.0.1")
    client.get(f"/announce?uk={member.passkey}&{qs}", REMOTE_ADDR="10.0.0.1")
    client.get(f"/announce?uk={'1' * 32}&{qs}", REMOTE_ADDR="10.0.0.1")
    client.get(f"/announce?uk={member.passkey}&{announce_qs('ab' * 20, peer_id(1))}", REMOTE_ADDR="10.0.0.1")
    client.get(f"/announce?uk={member.passkey}&info_hash=short", REMOTE_ADDR="10.0.0.1")
    client.get(f"/scrape?uk={member.passkey}&info_hash=" + "%AB" * 20)
    after = {r: value("torrentpier_tracker_requests_total", kind="announce", front=front, result=r) for r in before}
    assert {r: after[r] - before[r] for r in before} == {"ok": 2, "passkey": 1, "torrent": 1, "invalid": 1}
    assert value("torrentpier_announce_duration_seconds_count", front=front) - timed == 5
    assert value("torrentpier_tracker_requests_total", kind="scrape", front=front, result="ok") - scrapes == 1


def test_api_requests_rate_limits_and_login_failures_are_counted(settings):
    settings.API_RATE_LIMIT_ANONYMOUS = 2
    member = UserFactory()
    hello = ("GET", "/api/hello")
    ok = value("torrentpier_http_requests_total", method=hello[0], route=hello[1], status="200")
    limited = value("torrentpier_rate_limited_total", caller="guest")
    failures = value("torrentpier_login_failures_total", reason="password")
    seconds = value("torrentpier_http_request_duration_seconds_count", route="/api/hello")
    api = APIClient()
    assert [api.get("/api/hello").status_code for _ in range(3)] == [200, 200, 429]
    assert value("torrentpier_http_requests_total", method="GET", route="/api/hello", status="200") - ok == 2
    assert value("torrentpier_http_requests_total", method="GET", route="/api/hello", status="429") >= 1
    assert value("torrentpier_http_request_duration_seconds_count", route="/api/hello") - seconds == 3
    assert value("torrentpier_rate_limited_total", caller="guest") - limited == 1
    cache.clear()
    APIClient().post("/api/login", {"username": member.username, "password": "not-" + PASSWORD}, format="json")
    Client().post("/login/", {"username": member.username, "password": "not-" + PASSWORD})
    assert value("torrentpier_login_failures_total", reason="password") - failures == 2


def test_a_lock_out_is_counted(settings):
    settings.LOGIN_FAILURE_LIMIT = 1
    member = UserFactory()
    locked = value("torrentpier_login_failures_total", reason="locked_out")
    statuses = [APIClient().post("/api/login", {"username": member.username, "password": "x"}, format="json").status_code for _ in range(3)]
    assert statuses == [401, 429, 429]
    assert value("torrentpier_login_failures_total", reason="locked_out") - locked == 2


def _gauge(text: str, name: str) -> float:
    match = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    assert match, name
    return float(match.group(1))


def test_the_totals_come_from_the_counts_and_are_read_once_a_minute(client, django_assert_max_num_queries):
    torrent = TorrentFactory()
    TorrentFactory()
    for n in range(3):
        client.get(f"/announce?uk={UserFactory().passkey}&{announce_qs(torrent.info_hash, peer_id(n), left=n)}", REMOTE_ADDR="10.0.0.1")
    text = scrape()
    assert (_gauge(text, "torrentpier_torrents"), _gauge(text, "torrentpier_seeders"), _gauge(text, "torrentpier_leechers")) == (2, 1, 2)
    assert _gauge(text, "torrentpier_peers") == 3
    assert _gauge(text, "torrentpier_members") == User.objects.filter(is_active=True).count() > 0
    TorrentFactory()
    with django_assert_max_num_queries(0):  # cached: a scrape counts nothing
        assert _gauge(scrape(), "torrentpier_torrents") == 2
    cache.clear()
    assert _gauge(scrape(), "torrentpier_torrents") == 3


def test_every_worker_of_both_fronts_is_counted(tmp_path):
    """Two site workers and a tracker worker write to one PROMETHEUS_MULTIPROC_DIR; the site's /metrics sums them all."""
    database = tmp_path / "metrics.sqlite3"
    metrics_dir = tmp_path / "prom"
    metrics_dir.mkdir()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(BASE_DIR),
        "DJANGO_SETTINGS_MODULE": "torrentpier.settings",
        "SECRET_KEY": "metrics-test",
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": f"sqlite:///{database}",
        "API_RATE_LIMIT_ANONYMOUS": "1000",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
    }
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=BASE_DIR, env=env, check=True, timeout=300)
    conf = ("-c", str(BASE_DIR / "deploy" / "gunicorn.conf.py"))
    site, site_url = gunicorn_start([*WSGI, *conf], env=env, log=tmp_path / "site.log", workers=2)
    try:
        tracker, tracker_url = gunicorn_start([*ASGI, *conf], env=env, log=tmp_path / "tracker.log")
        try:
            for _ in range(30):
                urllib.request.urlopen(f"{site_url}/api/hello", timeout=30).read()
            for _ in range(7):
                urllib.request.urlopen(f"{tracker_url}/announce?uk={'2' * 32}&{announce_qs('cd' * 20, peer_id(1))}", timeout=30).read()
            text = urllib.request.urlopen(f"{site_url}/metrics", timeout=30).read().decode()
        finally:
            process_stop(tracker)
    finally:
        process_stop(site)
    hello = re.search(r'^torrentpier_http_requests_total\{method="GET",route="/api/hello",status="200"\} (\S+)$', text, re.MULTILINE)
    assert hello and float(hello.group(1)) == 30
    refused = re.search(r'^torrentpier_tracker_requests_total\{front="wsgi",kind="announce",result="passkey"\} (\S+)$', text, re.MULTILINE)
    assert refused and float(refused.group(1)) == 7  # counted by the tracker's process, read by the site's
    pids = {m.group(1) for m in (re.search(r"_(\d+)\.db$", f.name) for f in metrics_dir.iterdir()) if m}
    assert len(pids) >= 2  # files of more than one process were summed
    shutil.rmtree(metrics_dir)


@pytest.mark.django_db(transaction=True)
def test_the_tracker_pool_and_batches_are_measured_on_the_fast_path(asgi_client):
    if not fast_path_active():
        pytest.skip("the ASGI fast path (its asyncpg pool, its batches) runs on PostgreSQL")
    member, torrent = UserFactory(), TorrentFactory()
    batches = value("torrentpier_announce_batch_size_count")
    for n in range(3):
        reply = asgi_client.get(
            f"/announce?uk={member.passkey}&{announce_qs(torrent.info_hash, peer_id(n), left=5)}", REMOTE_ADDR="10.0.0.1"
        )
        assert b"failure reason" not in reply.content
    assert value("torrentpier_announce_batch_size_count") - batches >= 3
    idle = value("torrentpier_db_pool_connections", pool="tracker_asgi", state="idle")
    in_use = value("torrentpier_db_pool_connections", pool="tracker_asgi", state="in_use")
    assert idle >= 1 and in_use >= 0  # a statement's connection went back to the pool
