"""Two server processes against one Redis share one rate-limit count, exactly, under concurrency."""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import django_ratelimit.core
import pytest

from tests.api.ratelimit_helpers import in_one_window
from tests.servers import WSGI, gunicorn_start, process_stop

BASE_DIR = Path(__file__).resolve().parents[2]
# The run's own Redis when it has one; else a database number that suites run with
# REDIS_URL (whose per-test cache.clear() is a FLUSHDB) are unlikely to be using.
REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/15"


@pytest.fixture(autouse=True)
def _real_ratelimit_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """The servers count in windows of the real clock: so must this test's window arithmetic (in_one_window).

    tests/conftest.py holds django-ratelimit's clock still in the test's own
    process; here that would make `in_one_window` see one window forever and
    miss the servers' window ending mid-burst (their count then restarts, and
    more than the limit get through).
    """
    monkeypatch.setattr(django_ratelimit.core, "time", time)


def _redis_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@pytest.fixture
def redis_available() -> None:
    if not _redis_answers():
        if os.environ.get("REQUIRE_SYSTEM_TOOLS"):
            pytest.fail("Redis is not answering on 127.0.0.1:6379 and REQUIRE_SYSTEM_TOOLS is set")
        pytest.skip("Redis is not answering on 127.0.0.1:6379")


def _start_server(env: dict[str, str], log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """One server process, with threads enough to take the parallel clients at once."""
    return gunicorn_start([*WSGI, "--worker-class", "gthread", "--threads", "8"], env=env, log=log, options=("--timeout", "30"))


def _env(database: Path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(BASE_DIR),
        "DJANGO_SETTINGS_MODULE": "torrentpier.settings",
        "SECRET_KEY": "two-servers-test",
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": f"sqlite:///{database}",
        "REDIS_URL": REDIS_URL,
        # a prefix of its own: nothing else in this Redis shares the count
        "CACHE_KEY_PREFIX": f"test-{uuid.uuid4().hex}",
        "API_RATE_LIMIT_ANONYMOUS": "20",
        "API_RATE_LIMIT_AUTHENTICATED": "60",
    }


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database with a member in it, migrated once for the module; each test copies it."""
    database = tmp_path_factory.mktemp("shared") / "template.sqlite3"
    env = _env(database)
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=BASE_DIR, env=env, check=True, timeout=300)
    subprocess.run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "-c",
            f"from accounts.models import User; User.objects.create_user({MEMBER!r}, password={PASSWORD!r})",
        ],
        cwd=BASE_DIR,
        env=env,
        check=True,
        timeout=120,
    )
    return database


@pytest.fixture
def two_servers(migrated: Path, tmp_path: Path, redis_available: None) -> Iterator[list[str]]:
    database = tmp_path / "shared.sqlite3"
    shutil.copyfile(migrated, database)
    env = _env(database)
    servers = [_start_server(env, tmp_path / f"server-{name}.log") for name in ("a", "b")]
    try:
        yield [url for _, url in servers]
    finally:
        for process, _ in servers:
            process_stop(process)


MEMBER = "storm-member"
PASSWORD = "pass-Word-1234"


def _get(url: str, token: str | None = None) -> tuple[int, dict[str, str]]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers)


def test_two_processes_share_one_count(two_servers):
    server_a, server_b = two_servers

    def twelve_on_a_then_b_counts_on():
        remaining = []
        for n in range(20):
            status, headers = _get(f"{server_a if n < 12 else server_b}/api/hello")
            assert status == 200, (n, status)
            assert headers["X-RateLimit-Limit"] == "20"
            remaining.append(int(headers["X-RateLimit-Remaining"]))
        # 12 on A (19..8), then B goes on counting down from there (7..0)
        assert remaining == list(range(19, -1, -1))
        status, headers = _get(f"{server_b}/api/hello")
        assert status == 429
        assert 1 <= int(headers["Retry-After"]) <= 60
        status, _ = _get(f"{server_a}/api/hello")
        assert status == 429

    # The servers' Redis keys carry their own prefix; the next window starts a fresh count by itself.
    in_one_window("ip:127.0.0.1", twelve_on_a_then_b_counts_on, clear_cache=False)


def _in_parallel(urls: list[str], token: str | None = None) -> list[int]:
    with ThreadPoolExecutor(max_workers=32) as pool:
        return [status for status, _ in pool.map(lambda url: _get(url, token), urls)]


def test_parallel_guests_on_two_processes_get_exactly_the_limit(two_servers):
    def forty_at_once() -> None:
        statuses = _in_parallel([f"{two_servers[n % 2]}/api/hello" for n in range(40)])
        assert (statuses.count(200), statuses.count(429)) == (20, 20), statuses

    in_one_window("ip:127.0.0.1", forty_at_once, clear_cache=False, room=20)


def test_parallel_requests_of_one_member_on_two_processes_get_exactly_the_limit(two_servers):
    import json

    request = urllib.request.Request(
        f"{two_servers[0]}/api/login",
        data=json.dumps({"username": MEMBER, "password": PASSWORD}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        body = json.loads(response.read())
    token, member_id = body["data"]["token"], body["data"]["user"]["id"]

    def hundred_at_once() -> None:
        statuses = _in_parallel([f"{two_servers[n % 2]}/api/me" for n in range(100)], token)
        assert (statuses.count(200), statuses.count(429)) == (60, 40), statuses

    in_one_window(f"user:{member_id}", hundred_at_once, clear_cache=False, room=20)
