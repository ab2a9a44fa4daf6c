"""Settings come from the environment; a bad value stops the process at start, naming the variable."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parents[2]


def _start(**env: str) -> subprocess.CompletedProcess[str]:
    """Import the settings in a fresh interpreter with exactly `env` (plus what Python needs)."""
    clean = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(BASE_DIR), "DJANGO_SETTINGS_MODULE": "torrentpier.settings"}
    code = "import django; django.setup(); from django.conf import settings; print(settings.DATABASES['default']['ENGINE'])"
    return subprocess.run([sys.executable, "-c", code], env=clean | env, capture_output=True, text=True, timeout=60, cwd=BASE_DIR)


def test_good_values_start():
    result = _start(SECRET_KEY="s", DEBUG="0", API_RATE_LIMIT_ANONYMOUS="20", TRUSTED_PROXIES="10.0.0.0/8, 192.0.2.1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "django.db.backends.sqlite3"


def test_postgres_urls_use_psycopg():
    result = _start(SECRET_KEY="s", DATABASE_URL="postgres://root@127.0.0.1:5432/somedb")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "django.db.backends.postgresql"


def test_debug_may_run_without_a_secret_key():
    assert _start(DEBUG="1").returncode == 0


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"SECRET_KEY": "s", "DEBUG": "maybe"}, "DEBUG"),
        ({"SECRET_KEY": "s", "API_RATE_LIMIT_ANONYMOUS": "abc"}, "API_RATE_LIMIT_ANONYMOUS"),
        ({"SECRET_KEY": "s", "API_RATE_LIMIT_AUTHENTICATED": "0"}, "API_RATE_LIMIT_AUTHENTICATED"),
        ({"SECRET_KEY": "s", "LOGIN_FAILURE_LIMIT": "-5"}, "LOGIN_FAILURE_LIMIT"),
        ({"SECRET_KEY": "s", "DATABASE_URL": "garbage"}, "DATABASE_URL"),
        ({"SECRET_KEY": "s", "DATABASE_URL": "mysql://u:hunter2@db/x"}, "DATABASE_URL"),
        ({"SECRET_KEY": "s", "DATABASE_URL": "postgres://"}, "DATABASE_URL"),
        ({"SECRET_KEY": "s", "REDIS_URL": "http://127.0.0.1:6379"}, "REDIS_URL"),
        ({"SECRET_KEY": "s", "TRUSTED_PROXIES": "10.0.0.0/8,not-an-ip"}, "TRUSTED_PROXIES"),
        ({"SECRET_KEY": "s", "LOG_LEVEL": "loud"}, "LOG_LEVEL"),
        ({"SECRET_KEY": "s", "TWO_FACTOR_REQUIRED_FOR_STAFF": "always"}, "TWO_FACTOR_REQUIRED_FOR_STAFF"),
        ({"SECRET_KEY": "s", "TWO_FACTOR_CHALLENGE_SECONDS": "10"}, "TWO_FACTOR_CHALLENGE_SECONDS"),
        ({"SECRET_KEY": "s", "TWO_FACTOR_ISSUER": "Tracker: main"}, "TWO_FACTOR_ISSUER"),
        ({"SECRET_KEY": "s", "TRACKER_ANNOUNCE_INTERVAL": "1.5"}, "TRACKER_ANNOUNCE_INTERVAL"),
        ({"DEBUG": "0"}, "SECRET_KEY"),
        ({"DEBUG": "0", "SECRET_KEY": ""}, "SECRET_KEY"),
    ],
)
def test_a_bad_value_fails_at_start_naming_the_variable(env, variable):
    result = _start(**env)
    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("django.core.exceptions.ImproperlyConfigured: ")
    assert variable in last_line
    assert "hunter2" not in result.stderr


WRITERS = textwrap.dedent(
    """
    import sys, threading
    import django
    django.setup()
    from django.core.management import call_command
    from django.db import connection, connections, transaction
    from tracker.models import Category

    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        print("journal_mode", cursor.fetchone()[0])
    errors = []

    def writer(n):
        try:
            for i in range(40):
                # read-then-write in one transaction: the pattern that deadlocks into
                # "database is locked" under SQLite's default deferred transactions
                with transaction.atomic():
                    Category.objects.count()
                    Category.objects.create(name=f"w{n}-{i}", order=i)
        except Exception as exc:
            errors.append(repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print("rows", Category.objects.count())
    print("errors", len(errors), errors[:3])
    sys.exit(1 if errors else 0)
    """
)


def test_sqlite_concurrent_writers_do_not_fail_with_database_is_locked(tmp_path):
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(BASE_DIR),
        "DJANGO_SETTINGS_MODULE": "torrentpier.settings",
        "SECRET_KEY": "s",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'concurrent.sqlite3'}",
    }
    result = subprocess.run([sys.executable, "-c", WRITERS], env=env, capture_output=True, text=True, timeout=180, cwd=BASE_DIR)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "journal_mode wal" in result.stdout
    assert "rows 320" in result.stdout
    assert "database is locked" not in result.stdout + result.stderr


def _announce_base(**env: str) -> str:
    clean = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(BASE_DIR), "DJANGO_SETTINGS_MODULE": "torrentpier.settings"}
    code = "import django; django.setup(); from django.conf import settings; print(settings.TRACKER_ANNOUNCE_URL)"
    result = subprocess.run(
        [sys.executable, "-c", code], env=clean | {"SECRET_KEY": "s"} | env, capture_output=True, text=True, timeout=60, cwd=BASE_DIR
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "http://127.0.0.1:8000"),
        # `make run PORT=8100` (issue 15): clients must be told the port that is served
        ({"PORT": "8100"}, "http://127.0.0.1:8100"),
        ({"HOST": "192.0.2.5", "PORT": "9000"}, "http://192.0.2.5:9000"),
        ({"HOST": "0.0.0.0", "PORT": "8100"}, "http://127.0.0.1:8100"),
        ({"HOST": "::1", "PORT": "8100"}, "http://[::1]:8100"),
        ({"PORT": "8100", "TRACKER_ANNOUNCE_URL": "https://tracker.example.org/"}, "https://tracker.example.org"),
    ],
)
def test_the_announce_base_follows_the_served_address_unless_set(env, expected):
    assert _announce_base(**env) == expected


def test_make_run_passes_host_and_port_to_the_server():
    recipe = (BASE_DIR / "Makefile").read_text().split("\nrun:", 1)[1].split("\n\n", 1)[0]
    runserver = next(line for line in recipe.splitlines() if "runserver" in line)
    assert "HOST=$(HOST) PORT=$(PORT)" in runserver and "runserver $(HOST):$(PORT)" in runserver
