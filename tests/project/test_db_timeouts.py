"""Django's PostgreSQL connections give up on a held lock or a runaway statement (issue 11).

One transaction holding a lock on a tracker_torrentstats row once stalled
every WSGI thread behind it. Each connection now sets `lock_timeout` and
`statement_timeout` (DB_LOCK_TIMEOUT_MS, DB_STATEMENT_TIMEOUT_MS).
"""

import json
import os
import subprocess
import sys
import threading
import time

import pytest
from django.conf import settings
from django.db import OperationalError, connection, transaction

from tests.factories import TorrentFactory
from tests.project.test_settings import BASE_DIR, _start
from tracker.models import TorrentStats

_OPTIONS = (
    "import json, django; django.setup(); from django.conf import settings;"
    " print(json.dumps(settings.DATABASES['default'].get('OPTIONS', {})))"
)


def _options(**env: str) -> dict:
    """The default database's OPTIONS as settings read them in a fresh interpreter with exactly `env`."""
    clean = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(BASE_DIR), "DJANGO_SETTINGS_MODULE": "torrentpier.settings"}
    result = subprocess.run([sys.executable, "-c", _OPTIONS], env=clean | env, capture_output=True, text=True, timeout=60, cwd=BASE_DIR)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_postgres_connections_get_both_timeouts_by_default():
    options = _options(SECRET_KEY="s", DATABASE_URL="postgres://root@127.0.0.1:5432/somedb")
    assert options["options"] == "-c statement_timeout=5000 -c lock_timeout=2000"


def test_the_timeouts_come_from_the_environment():
    options = _options(
        SECRET_KEY="s", DATABASE_URL="postgres://root@127.0.0.1:5432/somedb", DB_STATEMENT_TIMEOUT_MS="30000", DB_LOCK_TIMEOUT_MS="0"
    )
    assert options["options"] == "-c statement_timeout=30000 -c lock_timeout=0"


def test_sqlite_keeps_its_busy_timeout_and_gets_no_postgres_options():
    options = _options(SECRET_KEY="s", DATABASE_URL="sqlite:///db.sqlite3")
    assert "options" not in options
    assert options["timeout"] == 20


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"DB_STATEMENT_TIMEOUT_MS": "5s"}, "DB_STATEMENT_TIMEOUT_MS"),
        ({"DB_STATEMENT_TIMEOUT_MS": "-1"}, "DB_STATEMENT_TIMEOUT_MS"),
        ({"DB_LOCK_TIMEOUT_MS": "2000ms"}, "DB_LOCK_TIMEOUT_MS"),
        ({"DB_LOCK_TIMEOUT_MS": "-5"}, "DB_LOCK_TIMEOUT_MS"),
    ],
)
def test_a_bad_timeout_fails_at_start_naming_the_variable(env, variable):
    result = _start(SECRET_KEY="s", DATABASE_URL="postgres://root@127.0.0.1:5432/somedb", **env)
    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("django.core.exceptions.ImproperlyConfigured: ")
    assert variable in last_line


@pytest.fixture
def needs_postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("statement_timeout and lock_timeout are PostgreSQL settings (SQLite waits on its busy timeout)")


@pytest.mark.django_db
def test_django_connections_report_the_settings(needs_postgresql):
    with connection.cursor() as cursor:
        cursor.execute("SELECT name, setting FROM pg_settings WHERE name IN ('statement_timeout', 'lock_timeout')")
        found = dict(cursor.fetchall())
        cursor.execute("SHOW statement_timeout")
        shown = cursor.fetchone()[0]
    assert found == {"statement_timeout": str(settings.DB_STATEMENT_TIMEOUT_MS), "lock_timeout": str(settings.DB_LOCK_TIMEOUT_MS)}
    assert shown not in ("0", "")


@pytest.mark.django_db
def test_a_statement_running_too_long_is_cancelled(needs_postgresql):
    if not settings.DB_STATEMENT_TIMEOUT_MS:
        pytest.skip("DB_STATEMENT_TIMEOUT_MS=0: no statement timeout in this run")
    started = time.monotonic()
    with pytest.raises(OperationalError, match="statement timeout"), connection.cursor() as cursor:
        cursor.execute("SELECT pg_sleep(%s)", [settings.DB_STATEMENT_TIMEOUT_MS / 1000 + 10])
    assert time.monotonic() - started < settings.DB_STATEMENT_TIMEOUT_MS / 1000 + 5


@pytest.mark.django_db(transaction=True)
def test_a_held_row_lock_on_the_counts_fails_fast_instead_of_stalling(needs_postgresql):
    import psycopg

    if not settings.DB_LOCK_TIMEOUT_MS:
        pytest.skip("DB_LOCK_TIMEOUT_MS=0: no lock timeout in this run")
    torrent = TorrentFactory()
    params = connection.get_connection_params()
    params.pop("options", None)  # the holder is someone else's session, with no timeouts of ours
    holder = psycopg.connect(**params)
    # Were the wait unbounded, the test would still end: the holder lets go after this.
    release = threading.Timer(15, holder.rollback)
    try:
        holder.execute("SELECT 1 FROM tracker_torrentstats WHERE torrent_id = %s FOR UPDATE", [torrent.id])
        release.start()
        started = time.monotonic()
        with pytest.raises(OperationalError, match="lock timeout"), transaction.atomic():
            TorrentStats.objects.filter(torrent=torrent).update(seeders=1)
        waited = time.monotonic() - started
        assert waited < settings.DB_LOCK_TIMEOUT_MS / 1000 + 3
        # The connection is still usable afterwards.
        assert TorrentStats.objects.get(torrent=torrent).seeders == 0
    finally:
        release.cancel()
        holder.rollback()
        holder.close()
