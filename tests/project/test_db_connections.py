"""Under load, a server holds a bounded number of PostgreSQL connections (issue 11).

A probe found that the ASGI deployment the README recommends leaked a
connection per request thread: Django's sync views run there in short-lived
threads, and with persistent connections (CONN_MAX_AGE) each thread kept its
own, so four concurrent clients filled PostgreSQL's 100 slots. Under ASGI a
connection now lives for one request; under WSGI one per thread is kept; with
DB_POOL_MAX_SIZE each process draws from a psycopg pool of that many.

The servers here run on a database of their own, migrated for the test, and
the count is read from pg_stat_activity while 24 clients keep them busy.
"""

import os
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

from tests.servers import ASGI, WSGI, gunicorn_start, process_stop

BASE_DIR = Path(__file__).resolve().parents[2]
WORKERS = 2
THREADS = 4
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


def _start(front: list[str], url: str, log: Path, pool: str) -> tuple[subprocess.Popen[bytes], str]:
    env = {**_base_env(), "DATABASE_URL": url, **({"DB_POOL_MAX_SIZE": pool} if pool != "default" else {})}
    return gunicorn_start(front, env=env, log=log, workers=WORKERS)


def _connections(url: str) -> int:
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (name,)).fetchone()
    return int(row[0]) if row else 0


FRONTS = {"wsgi": [*WSGI, "-k", "gthread", "--threads", str(THREADS)], "asgi": ASGI}
# Per worker process: a connection per thread (WSGI without a pool), or the pool (ASGI's
# default, or either front's with DB_POOL_MAX_SIZE).
BOUND = {("wsgi", "default"): THREADS, ("asgi", "default"): 8, ("wsgi", "3"): 3, ("asgi", "3"): 3}


@pytest.mark.parametrize(("front", "pool"), sorted(BOUND))
def test_connections_stay_bounded_under_concurrent_load(database, front, pool, tmp_path):
    log = tmp_path / "server.log"
    process, base = _start(FRONTS[front], database, log, pool)
    try:
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
        # Nothing leaks per thread or per request.
        assert 0 < peak <= WORKERS * BOUND[front, pool], (peak, statuses)
        assert "Traceback" not in log.read_text()
    finally:
        process_stop(process)
