"""A scrape of TRACKER_SCRAPE_MAX_HASHES (64) hashes is answered, not refused for its length (an HTML 414).

Sixty-four percent-encoded hashes make a request line of about 4,600 bytes,
past gunicorn's default `--limit-request-line` (4,094). The servers here are
started with the commands the README documents for deploying.
"""

import os
import re
import shlex
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from fastbencode import bdecode

from tests.factories import TorrentFactory
from tests.servers import gunicorn_start, process_stop
from tests.tracker.announce.helpers import reply, scrape_qs

# Module-wide: the ASGI case of a both_fronts test needs its transactional mark (fronts.py) to be the closest.
pytestmark = pytest.mark.django_db

BASE_DIR = Path(__file__).resolve().parents[3]
MAX = 64  # the documented default of TRACKER_SCRAPE_MAX_HASHES


def hashes(n: int) -> list[bytes]:
    """`n` distinct 20-byte hashes with no byte a client may leave unescaped: 60 bytes each in the query."""
    return [bytes([0x80 + i % 128]) * 19 + bytes([i // 128 + 0x80]) for i in range(n)]


def test_the_default_cap_is_the_documented_one():
    assert settings.TRACKER_SCRAPE_MAX_HASHES == MAX


@pytest.mark.both_fronts
def test_a_scrape_of_the_most_hashes_allowed_gets_a_bencoded_reply(client, user):
    torrents = [TorrentFactory(info_hash=h.hex()) for h in hashes(3)]
    query = scrape_qs(*hashes(MAX))
    assert len(f"GET /scrape/{user.passkey}?{query} HTTP/1.1") > 4094
    for url in (f"/scrape/{user.passkey}?{query}", f"/bt/scrape.php?uk={user.passkey}&{query}"):
        body = reply(client.get(url))
        assert set(body[b"files"]) == {bytes.fromhex(t.info_hash) for t in torrents}


def documented_commands() -> dict[str, list[str]]:
    """The README's deployment commands (`gunicorn torrentpier.asgi ...`, `gunicorn torrentpier.wsgi ...`), as argument lists."""
    readme = (BASE_DIR / "README.md").read_text()
    commands = {m[2]: shlex.split(m[1]) for m in re.finditer(r"`(gunicorn torrentpier\.(asgi|wsgi)\b[^`]*)`", readme)}
    assert set(commands) == {"asgi", "wsgi"}, commands
    return commands


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], str]:
    """The environment of a deployed server (a migrated SQLite file) and a member's passkey in it."""
    tmp = tmp_path_factory.mktemp("deployed")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(BASE_DIR),
        "DJANGO_SETTINGS_MODULE": "torrentpier.settings",
        "SECRET_KEY": "request-line-test",
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": f"sqlite:///{tmp / 'db.sqlite3'}",
    }
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=BASE_DIR, env=env, check=True, timeout=120)
    create = "import django; django.setup(); from accounts.models import User; print(User.objects.create(username='member').passkey)"
    passkey = subprocess.run([sys.executable, "-c", create], cwd=BASE_DIR, env=env, check=True, capture_output=True, text=True, timeout=60)
    return env, passkey.stdout.strip()


@pytest.fixture
def server(request: pytest.FixtureRequest, deployment: tuple[dict[str, str], str], tmp_path: Path) -> Iterator[tuple[str, str]]:
    """The documented command for `request.param` (asgi or wsgi), on a port the OS picks, one worker."""
    env, passkey = deployment
    command = documented_commands()[request.param]
    process, base = gunicorn_start(command[1:], env=env, log=tmp_path / "server.log", options=("--timeout", "30"))
    try:
        yield base, passkey
    finally:
        process_stop(process)


@pytest.mark.parametrize("server", ["wsgi", "asgi"], indirect=True)
def test_the_documented_servers_answer_a_scrape_of_the_most_hashes_allowed(server):
    base, passkey = server
    for url in (f"{base}/scrape/{passkey}?{scrape_qs(*hashes(MAX))}", f"{base}/bt/scrape.php?uk={passkey}&{scrape_qs(*hashes(MAX))}"):
        try:
            with urllib.request.urlopen(url, timeout=30) as response:
                status, body = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, body = error.code, error.read()
        assert status == 200, body[:300]
        assert bdecode(body) == {b"files": {}, b"flags": {b"min_request_interval": 300}}
