"""The documented deployment, run: Debian's nginx with deploy/nginx/torrentpier.conf in front of both gunicorn services.

nginx serves the collected static files, sends /announce, /scrape and /bt/
to the tracker (ASGI) and the rest to the site (WSGI), sets X-Forwarded-For
and X-Request-ID. Through it: the pages, a login with CSRF, the API (login,
upload, download), two real libtorrent clients swarming on the downloaded
.torrent files, scrape, and /metrics. On a PostgreSQL run the services use
a database of their own on the same server (made and dropped here), so the
tracker takes its fast path.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from http.cookiejar import CookieJar
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.conf import settings
from fastbencode import bdecode

from tests.e2e.swarm import add, free_ports, make_torrent, multipart, session, tool, wait_for
from tests.factories import PASSWORD
from tests.servers import ASGI, WSGI, gunicorn_start, process_stop

BASE_DIR = Path(__file__).resolve().parents[2]
SITE_CONF = BASE_DIR / "deploy" / "nginx" / "torrentpier.conf"
GUNICORN_CONF = BASE_DIR / "deploy" / "gunicorn.conf.py"
SIZE = 2 * 1024 * 1024 + 777

pytestmark = pytest.mark.e2e


def site_conf(*, port: int, site: str, tracker: str, static: Path) -> str:
    """The deployed server block with only its ports and paths replaced (each must be there: the file is what we test)."""
    text = SITE_CONF.read_text()
    for old, new in (
        ("listen 80;", f"listen 127.0.0.1:{port};"),
        ("listen [::]:80;", f"listen [::1]:{port};"),
        ("server 127.0.0.1:8000;", f"server {site};"),
        ("server 127.0.0.1:8001;", f"server {tracker};"),
        ("alias /srv/torrentpier/staticfiles/;", f"alias {static}/;"),
    ):
        assert text.count(old) == 1, f"deploy/nginx/torrentpier.conf no longer has {old!r}"
        text = text.replace(old, new)
    return text


def main_conf(tmp: Path) -> str:
    """What Debian's /etc/nginx/nginx.conf provides around a site, in the test's own directory."""
    user = "user root;\n" if os.geteuid() == 0 else ""  # workers must read the test's files
    temps = "".join(f"    {kind}_temp_path {tmp}/{kind};\n" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return (
        f"{user}daemon off;\nworker_processes 1;\npid {tmp}/nginx.pid;\nerror_log {tmp}/error.log warn;\n"
        "events { worker_connections 256; }\n"
        f"http {{\n    include /etc/nginx/mime.types;\n    access_log {tmp}/access.log;\n{temps}"
        f"    include {tmp}/torrentpier.conf;\n}}\n"
    )


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """A database of the services' own: a SQLite file, or on a PostgreSQL run a fresh database on the same server."""
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        yield f"sqlite:///{tmp_path / 'site.sqlite3'}"
        return
    import psycopg

    name = f"nginx_e2e_{uuid.uuid4().hex[:12]}"
    params = {"host": db["HOST"] or "127.0.0.1", "port": db["PORT"] or 5432, "user": db["USER"], "dbname": "postgres", "autocommit": True}
    with psycopg.connect(**params) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgres://{db['USER']}@{params['host']}:{params['port']}/{name}"
    finally:
        with psycopg.connect(**params) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Browser:
    """urllib with a cookie jar: what a member's browser sends, through nginx."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def open(self, path: str, data: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        request = urllib.request.Request(self.base + path, data=data, headers=headers or {})
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()

    def cookie(self, name: str) -> str:
        return next(c.value for c in self.jar if c.name == name)


def test_a_member_a_client_and_the_api_through_nginx(tmp_path, database_url):
    nginx = tool("nginx")
    (nginx_port,) = free_ports(1)
    base = f"http://127.0.0.1:{nginx_port}"
    static = tmp_path / "static"
    metrics = tmp_path / "metrics"
    metrics.mkdir()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(BASE_DIR),
        "DJANGO_SETTINGS_MODULE": "torrentpier.settings",
        "SECRET_KEY": "nginx-e2e-" + "x" * 40,
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": database_url,
        "TRUSTED_PROXIES": "127.0.0.1,::1",
        "TRACKER_ANNOUNCE_URL": base,
        "SECURE_COOKIES": "0",
        "STATIC_ROOT": str(static),
        "PROMETHEUS_MULTIPROC_DIR": str(metrics),
        "API_RATE_LIMIT_AUTHENTICATED": "1000",
        "API_RATE_LIMIT_ANONYMOUS": "1000",
    }
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "--noinput", "-v0"], cwd=BASE_DIR, env=env, check=True, timeout=300)
    subprocess.run([*manage, "collectstatic", "--noinput", "-v0"], cwd=BASE_DIR, env=env, check=True, timeout=300)
    script = (
        "from django.utils import timezone; from accounts.models import User; from tracker.models import Category, Forum; "
        f"[User.objects.create_user(n, f'{{n}}@example.test', {PASSWORD!r}, email_confirmed_at=timezone.now())"
        " for n in ('uploader', 'leecher')]; "
        "print(Forum.objects.create(name='Linux', category=Category.objects.create(name='Software')).pk)"
    )
    forum_id = subprocess.run(
        [*manage, "shell", "-c", script], cwd=BASE_DIR, env=env, check=True, capture_output=True, text=True, timeout=120
    )
    forum = forum_id.stdout.strip().splitlines()[-1]
    conf = ("-c", str(GUNICORN_CONF))
    site, site_url = gunicorn_start([*WSGI, *conf], env=env, log=tmp_path / "site.log", workers=2)
    tracker = nginx_process = None
    sessions: list = []
    try:
        tracker, tracker_url = gunicorn_start([*ASGI, *conf], env=env, log=tmp_path / "tracker.log")
        (tmp_path / "torrentpier.conf").write_text(
            site_conf(port=nginx_port, site=site_url.removeprefix("http://"), tracker=tracker_url.removeprefix("http://"), static=static)
        )
        (tmp_path / "nginx.conf").write_text(main_conf(tmp_path))
        subprocess.run([nginx, "-t", "-c", str(tmp_path / "nginx.conf")], check=True, capture_output=True, timeout=30)
        nginx_process = subprocess.Popen([nginx, "-c", str(tmp_path / "nginx.conf")], stderr=subprocess.STDOUT, stdout=subprocess.PIPE)
        browser = Browser(base)
        wait_for(lambda: browser.open("/api/hello")[0] == 200, "nginx to answer")

        # The pages, the static files nginx serves itself, the request id it sets.
        status, headers, body = browser.open("/", headers={"X-Request-ID": "forged-by-the-client"})
        assert status == 200 and headers["Server"].startswith("nginx") and b"<html" in body
        assert re.fullmatch(r"[0-9a-f]{32}", headers["X-Request-ID"])  # nginx's $request_id, not the client's
        status, headers, body = browser.open("/static/css/site.css")
        assert status == 200 and headers["Cache-Control"] == "max-age=604800"
        assert body == (static / "css" / "site.css").read_bytes()
        # A login through the page, with its CSRF token: the session cookie works behind the proxy.
        status, _, page = browser.open("/login/")
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1).decode()
        form = urlencode({"csrfmiddlewaretoken": token, "username": "leecher", "password": PASSWORD}).encode()
        status, _, page = browser.open("/login/", form, {"Content-Type": "application/x-www-form-urlencoded", "Referer": f"{base}/login/"})
        assert status == 200 and b"leecher" in page and b"Log out" in page

        # The API: log in, upload, download (the announce URL points at nginx).
        def api(path: str, user: str | None = None, data: bytes | None = None, content_type: str = "application/json") -> tuple[int, bytes]:
            headers = {"Content-Type": content_type}
            if user:
                headers["Authorization"] = f"Bearer {tokens[user]}"
            status, _, body = Browser(base).open(path, data, headers)
            return status, body

        tokens: dict[str, str] = {}
        for name in ("uploader", "leecher"):
            status, body = api("/api/login", data=json.dumps({"username": name, "password": PASSWORD}).encode())
            assert status == 200, body
            tokens[name] = json.loads(body)["data"]["token"]
        (tmp_path / "seed").mkdir()
        metainfo, data = make_torrent(tmp_path / "seed", "through-nginx.bin", size=SIZE, v1_only=True)
        payload, content_type = multipart({"forum": forum}, {"file": ("through-nginx.torrent", metainfo)})
        status, body = api("/api/torrents", "uploader", payload, content_type)
        assert status == 201, body
        torrent_id = json.loads(body)["data"]["id"]
        files = {}
        for name in ("uploader", "leecher"):
            status, files[name] = api(f"/api/torrents/{torrent_id}/download", name)
            assert status == 200 and bdecode(files[name])[b"announce"].startswith(f"{base}/announce?uk=".encode())

        # Two real clients swarm through nginx.
        seed_ses, leech_ses = session(), session()
        sessions = [seed_ses, leech_ses]
        seed = add(seed_ses, files["uploader"], tmp_path / "seed")
        wait_for(lambda: seed.status().is_seeding and _seeders(api, torrent_id) == 1, "the seeder's announce", sessions=tuple(sessions))
        leech = add(leech_ses, files["leecher"], tmp_path / "leech")
        wait_for(lambda: leech.status().is_seeding, "the leecher to download", sessions=tuple(sessions))
        wait_for(lambda: _seeders(api, torrent_id) == 2, "the leecher's completed announce", sessions=tuple(sessions))
        assert (tmp_path / "leech" / "through-nginx.bin").read_bytes() == data.read_bytes()
        passkey = bdecode(files["leecher"])[b"announce"].decode().split("uk=")[1]
        info_hash = bdecode(files["leecher"])[b"info"]
        import hashlib

        from fastbencode import bencode

        digest = hashlib.sha1(bencode(info_hash)).digest()
        status, _, body = browser.open(f"/scrape?uk={passkey}&info_hash=" + "".join(f"%{b:02X}" for b in digest))
        assert status == 200 and bdecode(body)[b"files"][digest][b"complete"] == 2

        # /metrics, from this host: the tracker's workers counted, read through the site.
        status, _, body = browser.open("/metrics")
        text = body.decode()
        assert status == 200
        ok = re.findall(r'^torrentpier_tracker_requests_total\{front="\w+",kind="announce",result="ok"\} (\S+)$', text, re.MULTILINE)
        assert ok and sum(map(float, ok)) >= 2
    finally:
        for ses in sessions:
            for handle in ses.get_torrents():
                ses.remove_torrent(handle)
        if nginx_process is not None:
            nginx_process.terminate()
            nginx_process.wait(timeout=30)
        for process in (tracker, site):
            if process is not None:
                process_stop(process)
        shutil.rmtree(metrics, ignore_errors=True)


def _seeders(api, torrent_id: int) -> int:
    status, body = api(f"/api/torrents/{torrent_id}")
    return json.loads(body)["data"]["seeders"] if status == 200 else -1
