"""The drills' own services and servers: a PostgreSQL 15 cluster, a Redis, gunicorn on both fronts, a raw HTTP client.

Everything here is started in a temporary directory on free ports (never the
shared 5432/6379) and stopped and removed by `Stack.close`, which the
fixture calls even when a test fails. Nothing is mocked: the fronts are the
deployed commands (`gunicorn torrentpier.wsgi -k gthread`, `gunicorn
torrentpier.asgi -k uvicorn_worker.UvicornWorker`), the faults are the
cluster's own `pg_ctl` and the Redis process itself.
"""

import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote_from_bytes

import psycopg
from fastbencode import bdecode

BASE_DIR = Path(__file__).resolve().parents[2]
PG_BIN = Path("/usr/lib/postgresql/15/bin")
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
CLIENT_TIMEOUT = 10.0  # a request that takes longer than this hung


def free_port() -> int:
    """A TCP port nothing listens on now (and not a shared service's)."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port not in (5432, 6379):
            return port


def missing_tools() -> list[str]:
    """The system tools the drills need that this machine lacks."""
    wanted = [PG_BIN / "initdb", PG_BIN / "pg_ctl", Path(REDIS_SERVER)]
    return [str(path) for path in wanted if not os.access(path, os.X_OK)]


def _as_postgres(command: list[str]) -> list[str]:
    """initdb and the postmaster refuse to run as root: run them as `postgres` then."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


def _wait(predicate: Any, timeout: float, what: str, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"{what} within {timeout:.0f}s")


class Postgres:
    """A throwaway PostgreSQL 15 cluster: trust auth, superuser `root`, 127.0.0.1 on a free port."""

    def __init__(self, root: Path) -> None:
        self.dir = root / "pg"
        self.dir.mkdir()
        self.data = self.dir / "data"
        self.log = self.dir / "postgres.log"
        self.port = free_port()
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
            os.chmod(root, 0o755)
        self._run([str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "root", "-A", "trust", "-E", "UTF8", "--no-sync"])
        conf = (
            f"port = {self.port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{self.dir}'\n"
            "max_connections = 200\nfsync = off\nfull_page_writes = off\nsynchronous_commit = off\n"
            "shared_buffers = 64MB\nlog_min_messages = warning\n"
        )
        with (self.data / "postgresql.conf").open("a") as handle:
            handle.write(conf)
        self.start()

    def _run(self, command: list[str], timeout: float = 120) -> None:
        result = subprocess.run(_as_postgres(command), capture_output=True, text=True, timeout=timeout, cwd=self.dir)
        if result.returncode != 0:
            raise AssertionError(f"{command[0]} failed: {result.stdout}\n{result.stderr}")

    def pg_ctl(self, *args: str, timeout: float = 60) -> None:
        self._run([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), *args], timeout=timeout)

    def start(self) -> None:
        self.pg_ctl("start", "-w", "-t", "60")

    def stop(self, mode: str = "fast") -> None:
        self.pg_ctl("stop", "-m", mode, "-w", "-t", "60")

    def restart(self) -> None:
        self.pg_ctl("restart", "-m", "fast", "-w", "-t", "60")

    def url(self, database: str) -> str:
        return f"postgres://root@127.0.0.1:{self.port}/{database}"

    def connect(self, database: str, **kwargs: Any) -> psycopg.Connection:
        return psycopg.connect(host="127.0.0.1", port=self.port, user="root", dbname=database, **kwargs)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.stop("immediate")


class Redis:
    """A throwaway redis-server on a free port: no persistence, stopped and started by the drills."""

    def __init__(self, root: Path) -> None:
        self.port = free_port()
        self.log = root / "redis.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        handle = self.log.open("ab")
        self.process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)
        handle.close()
        _wait(self.answers, 15, "redis-server did not answer")

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def connections_received(self) -> int:
        """How many connections this Redis has accepted since it started (INFO stats)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as sock:
            sock.sendall(b"INFO stats\r\n")
            data = b""
            while b"total_connections_received:" not in data or not data.endswith(b"\r\n"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        match = re.search(rb"total_connections_received:(\d+)", data)
        assert match, data[:200]
        return int(match.group(1))

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def close(self) -> None:
        self.stop()


@dataclass
class Server:
    """One gunicorn server (master and its one worker) on a port of its own."""

    name: str
    front: str  # "wsgi" or "asgi"
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    def worker_pids(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            return [int(pid) for pid in children.read_text().split()]
        except OSError:  # no /proc children file: the workers gunicorn booted that still run
            booted = re.findall(r"Booting worker with pid: (\d+)", self.log.read_text(errors="replace"))
            return [int(pid) for pid in booted if Path(f"/proc/{pid}").exists()]

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


def server_env(database_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(BASE_DIR),
        "DJANGO_SETTINGS_MODULE": "torrentpier.settings",
        "SECRET_KEY": "drills-only-secret-key",
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "API_RATE_LIMIT_AUTHENTICATED": "1000000",
        "API_RATE_LIMIT_ANONYMOUS": "1000000",
        "LOG_LEVEL": "warning",
        **extra,
    }


def start_server(name: str, front: str, env: dict[str, str], directory: Path) -> Server:
    """gunicorn with one worker, as deployed for `front`; returns once it listens."""
    log = directory / f"server-{name}.log"
    command = [sys.executable, "-m", "gunicorn", "--bind", "127.0.0.1:0", "--workers", "1", "--no-control-socket"]
    command += ["--timeout", "60", "--backlog", "2048", "--log-level", "info"]
    if front == "wsgi":
        command += ["torrentpier.wsgi", "-k", "gthread", "--threads", "4", "--limit-request-line", "8190"]
    else:
        command += ["torrentpier.asgi", "-k", "uvicorn_worker.UvicornWorker"]
    with log.open("wb") as handle:
        process = subprocess.Popen(command, cwd=BASE_DIR, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)
    found: list[int] = []

    def listening() -> bool:
        match = re.search(r"Listening at: http://127\.0\.0\.1:(\d+)", log.read_text(errors="replace"))
        if match:
            found.append(int(match.group(1)))
        if process.poll() is not None:
            raise AssertionError(f"{name} exited:\n{log.read_text(errors='replace')}")
        return bool(found) and "Booting worker" in log.read_text(errors="replace")

    try:
        _wait(listening, 90, f"{name} did not start")
    except BaseException:
        Server(name, front, process, 0, log).stop()
        raise
    return Server(name, front, process, found[0], log)


# --- the database's contents -------------------------------------------------

_SEED = """
import hashlib, json
from accounts.models import User, generate_passkey
from tracker.models import Category, Forum, Torrent, TorrentStats
spec = json.loads('''{spec}''')
owner = User.objects.create(username="drill-owner", passkey=generate_passkey())
forum = Forum.objects.create(category=Category.objects.create(name="Drills"), name="Drills")
out = {{}}
for group, (members, torrents) in spec.items():
    users = User.objects.bulk_create(
        [User(username=f"{{group}}-{{i}}", passkey=generate_passkey(), password="!") for i in range(members)])
    rows = Torrent.objects.bulk_create([
        Torrent(forum=forum, uploader=owner, name=f"{{group}}-{{i}}", size=10**9,
                info_hash=hashlib.sha1(f"{{group}}-{{i}}".encode()).hexdigest(), metainfo=b"")
        for i in range(torrents)])
    TorrentStats.objects.bulk_create([TorrentStats(torrent=t) for t in rows])
    out[group] = {{"members": [[u.id, u.passkey] for u in users], "torrents": [[t.id, t.info_hash] for t in rows]}}
# The drills prove faults and exact credit: a storm's member leeches many torrents at once and the
# lock drill joins a torrent with a peer per server, so the leech slots and the peer limit (proven in
# tests/tracker/announce/test_rules_announce.py) are lifted here.
from tracker.policy.selectors import site_policy
policy = site_policy()
policy.leech_slots_after = 2**62
policy.peers_per_torrent = 0
policy.save()
print("SEEDED " + json.dumps(out))
"""


@dataclass
class Group:
    """A test's own members and torrents: (user id, passkey) and (torrent id, info hash hex)."""

    members: list[tuple[int, str]]
    torrents: list[tuple[int, str]]


def seed(env: dict[str, str], spec: dict[str, tuple[int, int]]) -> dict[str, Group]:
    script = _SEED.format(spec=json.dumps(spec))
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    line = next(line for line in result.stdout.splitlines() if line.startswith("SEEDED "))
    data = json.loads(line.removeprefix("SEEDED "))
    return {
        name: Group([(int(i), str(p)) for i, p in g["members"]], [(int(i), str(h)) for i, h in g["torrents"]]) for name, g in data.items()
    }


# --- the stack ----------------------------------------------------------------


@dataclass
class Stack:
    """The drills' PostgreSQL, Redis, database and four servers (two per front)."""

    root: Path
    pg: Postgres
    redis: Redis
    database: str
    env: dict[str, str]
    groups: dict[str, Group]
    servers: list[Server] = field(default_factory=list)
    extra: list[Server] = field(default_factory=list)

    @property
    def db_url(self) -> str:
        return self.pg.url(self.database)

    def front(self, front: str) -> list[Server]:
        return [server for server in self.servers if server.front == front]

    def start_extra(self, name: str, front: str, **env: str) -> Server:
        server = start_server(name, front, {**self.env, **env}, self.root)
        self.extra.append(server)
        return server

    def sql(self, query: str, params: Any = None) -> list[tuple[Any, ...]]:
        with self.pg.connect(self.database, autocommit=True) as conn:
            return conn.execute(query, params).fetchall()

    def close(self) -> None:
        for server in [*self.servers, *self.extra]:
            with contextlib.suppress(Exception):
                server.stop()
        self.redis.close()
        self.pg.close()
        shutil.rmtree(self.root, ignore_errors=True)


# Lock waits fail fast in the drills, so the held-lock drill is short; far above any announce's own wait.
DRILL_ENV = {"DB_LOCK_TIMEOUT_MS": "1000", "DB_STATEMENT_TIMEOUT_MS": "3000"}


@contextlib.contextmanager
def stack(spec: dict[str, tuple[int, int]]) -> Iterator[Stack]:
    root = Path(tempfile.mkdtemp(prefix="tp-drills-"))
    pg: Postgres | None = None
    redis: Redis | None = None
    built: Stack | None = None
    try:
        pg = Postgres(root)
        redis = Redis(root)
        database = "drills"
        with pg.connect("postgres", autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {database}")
        env = server_env(pg.url(database), redis.url, **DRILL_ENV)
        migrate = subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
            cwd=BASE_DIR,
            env={**env, "DB_STATEMENT_TIMEOUT_MS": "0"},
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert migrate.returncode == 0, migrate.stderr
        built = Stack(root, pg, redis, database, env, seed(env, spec))
        for name, front in (("wsgi-1", "wsgi"), ("wsgi-2", "wsgi"), ("asgi-1", "asgi"), ("asgi-2", "asgi")):
            built.servers.append(start_server(name, front, env, root))
        yield built
    finally:
        if built is not None:
            built.close()
        else:
            if redis is not None:
                redis.close()
            if pg is not None:
                pg.close()
            shutil.rmtree(root, ignore_errors=True)


# --- a raw HTTP client ----------------------------------------------------------


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float


def _dechunk(body: bytes) -> bytes:
    out = bytearray()
    while body:
        size_line, _, rest = body.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out += rest[:size]
        body = rest[size + 2 :]
    return bytes(out)


async def http_get(port: int, target: str, *, timeout: float = CLIENT_TIMEOUT) -> Reply:
    """GET `target` from 127.0.0.1:`port` on a fresh connection (Connection: close). Raises TimeoutError past `timeout`."""
    started = time.monotonic()
    async with asyncio.timeout(timeout):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: qBittorrent/4.6.5\r\nConnection: close\r\n\r\n".encode())
            data = await reader.read()
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    if not lines or len(lines[0].split(" ")) < 2:
        raise ConnectionError(f"no HTTP response: {data[:200]!r}")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = _dechunk(body)
    return Reply(status, headers, body, time.monotonic() - started)


def announce_target(passkey: str, info_hash_hex: str, peer: bytes, *, uploaded: int, downloaded: int, left: int, event: str = "") -> str:
    query = (
        f"info_hash={quote_from_bytes(bytes.fromhex(info_hash_hex), safe='')}&peer_id={quote_from_bytes(peer, safe='')}"
        f"&port=6881&uploaded={uploaded}&downloaded={downloaded}&left={left}&compact=1&numwant=5"
    )
    if event:
        query += f"&event={event}"
    return f"/announce/{passkey}?{query}"


def tracker_outcome(reply: Reply) -> tuple[str, str]:
    """("ok" | "failure" | "broken", detail) for a tracker reply: a failure is a bencoded `failure reason`."""
    if reply.status != 200 or b"Traceback" in reply.body:
        return "broken", f"HTTP {reply.status}: {reply.body[:120]!r}"
    try:
        decoded = bdecode(reply.body)
    except Exception:
        return "broken", f"not bencoded: {reply.body[:120]!r}"
    if not isinstance(decoded, dict):
        return "broken", f"not a dict: {reply.body[:120]!r}"
    if b"failure reason" in decoded:
        return "failure", decoded[b"failure reason"].decode("utf-8", "replace")
    if b"interval" not in decoded:
        return "broken", f"no interval: {reply.body[:120]!r}"
    return "ok", ""


def api_outcome(reply: Reply) -> tuple[str, str]:
    """("ok" | "error" | "broken", detail): an error is the JSON envelope with a 5xx (or 429) and no traceback."""
    try:
        body = json.loads(reply.body)
    except ValueError:
        return "broken", f"HTTP {reply.status}, not JSON: {reply.body[:120]!r}"
    if b"Traceback" in reply.body or not isinstance(body, dict):
        return "broken", f"HTTP {reply.status}: {reply.body[:120]!r}"
    if reply.status == 200 and body.get("success") is True:
        return "ok", ""
    error = body.get("error") or {}
    if body.get("success") is False and error.get("code") and (reply.status >= 500 or reply.status == 429):
        return "error", f"{reply.status} {error.get('code')}"
    return "broken", f"HTTP {reply.status}: {reply.body[:120]!r}"


def peer_id(group: str, n: int) -> bytes:
    """A 20-byte Azureus-style peer id of a client the site's rules allow (qBittorrent 4.6.5), distinct per group and number."""
    return (f"-qB4650-{group[:2]}" + f"{n:010d}").encode()[:20].ljust(20, b"0")


def proc_figures(pid: int) -> tuple[int, int]:
    """(VmRSS in KiB, open file descriptors) of a live process."""
    rss = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1])
    return rss, len(os.listdir(f"/proc/{pid}/fd"))
