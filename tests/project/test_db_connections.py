"""Under load, a server holds no more PostgreSQL connections than its pool allows (issue 11).

A probe found that the ASGI deployment the README recommends leaked a
connection per request thread: Django's sync views run there in short-lived
threads, and with persistent connections (CONN_MAX_AGE) each thread kept its
own, so four concurrent clients filled PostgreSQL's 100 slots. Each process
now draws from one psycopg pool of DB_POOL_MAX_SIZE connections.

The servers here run on a database of their own, migrated for the test, and
the count is read from pg_stat_activity while 24 clients keep them busy.
"""

import os
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from django.conf import settings

BASE_DIR = Path(__file__).resolve().parents[2]
POOL_SIZE = 3
WORKERS = 2
CLIENTS = 24


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    """A database of the test's own on the PostgreSQL server the run uses; its URL."""
    default = settings.DATABASES["default"]
    if default["ENGINE"] != "django.db.backends.postgresql":
        pytest.skip("connection pooling is a PostgreSQL setting")
    name = f"tp_conns_{uuid.uuid4().hex[:12]}"
    conninfo = {"host": default["HOST"] or "127.0.0.1", "port": default["PORT"] or 5432, "user": default["USER"]}
    with psycopg.connect(dbname="postgres", autocommit=True, **conninfo) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = f"postgres://{conninfo['user']}@{conninfo['host']}:{conninfo['port']}/{name}"
    try:
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
            cwd=BASE_DIR,
            env={**_base_env(), "DATABASE_URL": url},
            check=True,
            timeout=300,
        )
        yield url
    finally:
        with psycopg.connect(dbname="postgres", autocommit=True, **conninfo) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _base_env() -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(BASE_DIR),
        "DJANGO_SETTINGS_MODULE": "torrentpier.settings",
        "SECRET_KEY": "connections-test",
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "API_RATE_LIMIT_ANONYMOUS": "1000000",
        "API_RATE_LIMIT_AUTHENTICATED": "1000000",
    }


def _start(front: list[str], url: str, log: Path) -> subprocess.Popen[bytes]:
    handle = log.open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "gunicorn", *front, "--bind", "127.0.0.1:0", "--workers", str(WORKERS), "--no-control-socket"],
        cwd=BASE_DIR,
        env={**_base_env(), "DATABASE_URL": url, "DB_POOL_MAX_SIZE": str(POOL_SIZE)},
        stdout=handle,
        stderr=subprocess.STDOUT,
    )


def _base_url(process: subprocess.Popen[bytes], log: Path) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        match = re.search(r"Listening at: (http://127\.0\.0\.1:\d+)", log.read_text())
        if match:
            return match.group(1)
        if process.poll() is not None:
            break
        time.sleep(0.1)
    raise AssertionError(f"server did not start:\n{log.read_text()}")


def _connections(url: str) -> int:
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (name,)).fetchone()
    return int(row[0]) if row else 0


FRONTS = {
    "wsgi": ["torrentpier.wsgi:application", "-k", "gthread", "--threads", "8"],
    "asgi": ["torrentpier.asgi:application", "-k", "uvicorn_worker.UvicornWorker"],
}


@pytest.mark.parametrize("front", sorted(FRONTS))
def test_connections_stay_within_the_pools_under_concurrent_load(database, front, tmp_path):
    log = tmp_path / "server.log"
    process = _start(FRONTS[front], database, log)
    try:
        base = _base_url(process, log)
        stop = threading.Event()
        statuses: dict[int, int] = {}
        lock = threading.Lock()

        def client() -> None:
            while not stop.is_set():
                try:
                    with urllib.request.urlopen(f"{base}/api/torrents?per_page=5", timeout=30) as response:
                        status = response.status
                except urllib.error.HTTPError as error:
                    status = error.code
                with lock:
                    statuses[status] = statuses.get(status, 0) + 1

        threads = [threading.Thread(target=client, daemon=True) for _ in range(CLIENTS)]
        for thread in threads:
            thread.start()
        peak = 0
        deadline = time.monotonic() + 6
        while time.monotonic() < deadline:
            peak = max(peak, _connections(database))
            time.sleep(0.05)
        stop.set()
        for thread in threads:
            thread.join(timeout=40)
        answered = sum(statuses.values())
        assert statuses.get(200, 0) == answered and answered >= CLIENTS, statuses
        # Every worker process keeps at most its pool; nothing leaks per thread or per request.
        assert 0 < peak <= WORKERS * POOL_SIZE, (peak, statuses)
        assert "Traceback" not in log.read_text()
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
