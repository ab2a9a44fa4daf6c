"""Benchmark the announce: gunicorn + PostgreSQL + Redis against opentracker, same wrk load.

    python -m tests.perf.announce [--duration 12] [--connections 32] [--server asgi|wsgi|both] [--workers N]
    python -m tests.perf.announce --baseline REV [--rounds 2] [--duration 8] [--server asgi|wsgi|both]
    either with [--peers new|returning]: every announce a new peer's (the default), or live peers announcing again

Creates the PostgreSQL database `perf_tracker` afresh (and flushes Redis db 5),
registers 1,000 torrents and 200 users, starts gunicorn (the ASGI front on
uvicorn workers, as deployed; `--server wsgi` for the threaded WSGI front) and opentracker
(whitelist mode with the same hashes) on free ports on 127.0.0.1, loads each
with wrk for a bounded time, and prints announces per second, the ratio and
p50/p99 latency. It never passes or fails on time; it reports.

With `--baseline REV` it compares this checkout with REV (the previous main,
say) instead of opentracker: on a `git worktree` of REV, alternating
A-B-A-B-A (`--rounds` Bs), each run on a freshly built database, and prints
the medians of each side and this checkout's ratios to REV's: CPU per
announce (servers and PostgreSQL backends: what other work on a shared
machine moves least), the database's share, and announces per second.
The servers run as deployed, with PROMETHEUS_MULTIPROC_DIR set (the
metrics in files, summed by /metrics).
"""

import argparse
import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote_from_bytes

ROOT = Path(__file__).resolve().parents[3]
LUA = Path(__file__).with_name("announce.lua")
DB_NAME = "perf_tracker"
DB_URL = f"postgres://root@127.0.0.1:5432/{DB_NAME}"
REDIS_URL = "redis://127.0.0.1:6379/5"
TORRENTS = 1000
USERS = 200


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


METRICS_DIR = tempfile.mkdtemp(prefix="perf-announce-metrics-")


def server_env() -> dict[str, str]:
    return {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": METRICS_DIR,
        "DATABASE_URL": DB_URL,
        "REDIS_URL": REDIS_URL,
        "SECRET_KEY": "perf-only-secret-key",
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "LOG_LEVEL": "warning",
        "DB_CONN_MAX_AGE": "600",
    }


def prepare_database(root: Path = ROOT) -> tuple[list[bytes], list[str]]:
    """A fresh perf database with TORRENTS torrents and USERS users; returns (info hashes, passkeys)."""
    subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "root", "-d", "postgres", "-qc", f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)"], check=True
    )
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "root", "-d", "postgres", "-qc", f"CREATE DATABASE {DB_NAME}"], check=True)
    subprocess.run(["redis-cli", "-n", "5", "FLUSHDB"], check=True, stdout=subprocess.DEVNULL)
    env = server_env()
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=root, env=env, check=True)
    script = f"""
import hashlib
from accounts.models import User, generate_passkey
from tracker.models import Category, Forum, Torrent, TorrentStats
owner = User.objects.create(username="perf-owner", passkey=generate_passkey())
users = User.objects.bulk_create([User(username=f"perf{{i}}", passkey=generate_passkey(), password="!") for i in range({USERS})])
forum = Forum.objects.create(category=Category.objects.create(name="Perf"), name="Perf")
Torrent.objects.bulk_create([
    Torrent(forum=forum, uploader=owner, name=f"perf-{{i}}", info_hash=hashlib.sha1(f"perf-{{i}}".encode()).hexdigest(), metainfo=b"")
    for i in range({TORRENTS})
])
TorrentStats.objects.bulk_create([TorrentStats(torrent=t) for t in Torrent.objects.all()])
print(",".join(u.passkey for u in users))
"""
    out = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script], cwd=root, env=env, check=True, capture_output=True, text=True
    )
    passkeys = out.stdout.strip().splitlines()[-1].split(",")
    hashes = [hashlib.sha1(f"perf-{i}".encode()).digest() for i in range(TORRENTS)]
    return hashes, passkeys


def lua_script(directory: Path, hashes: list[bytes], passkeys: list[str], mode: str, peers: str = "new") -> Path:
    path = directory / f"announce-{mode}.lua"
    head = "hashes = {" + ",".join(f'"{quote_from_bytes(h, safe="")}"' for h in hashes) + "}\n"
    head += "passkeys = {" + ",".join(f'"{p}"' for p in passkeys) + "}\n"
    head += f'mode = "{mode}"\npeers = "{peers}"\n'
    path.write_text(head + LUA.read_text())
    return path


def wait_ready(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up within {timeout}s")


def process_cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds used so far by `pids` (from /proc; vanished processes count 0)."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def session_pids(sid: int) -> list[int]:
    """Processes in session `sid` (a server started with start_new_session)."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid:
            pids.append(int(stat.parent.name))
    return pids


def backend_pids() -> list[int]:
    """PostgreSQL backends connected to the benchmark database."""
    sql = f"SELECT pid FROM pg_stat_activity WHERE datname = '{DB_NAME}'"
    out = subprocess.run(["psql", "-h", "127.0.0.1", "-U", "root", "-d", "postgres", "-tAc", sql], capture_output=True, text=True)
    return [int(line) for line in out.stdout.split()]


def analyze_database() -> None:
    """Give PostgreSQL the statistics a running tracker has (autovacuum keeps them in production).

    The benchmark starts on empty swarms. Plans made then (each pooled
    connection caches a generic plan for the announce after a few runs) are
    costed for empty tables and can be far off for the measured load;
    ANALYZE after the warm-up invalidates them, as autovacuum's would.
    """
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "root", "-d", DB_NAME, "-qc", "VACUUM ANALYZE"], check=True)


def run_wrk(
    port: int,
    script: Path,
    *,
    duration: int,
    connections: int,
    threads: int,
    pids: Callable[[], list[int]],
    after_warmup: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Warm up for 2 s, then measure for `duration` s: requests/s, p50/p99 (ms), failures, server CPU ms per request."""
    base = f"http://127.0.0.1:{port}"
    subprocess.run(
        ["wrk", "-t", str(threads), "-c", str(connections), "-d", "2s", "-s", str(script), base], capture_output=True, timeout=30
    )
    if after_warmup is not None:
        after_warmup()
    cmd = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{duration}s", "--timeout", "5s", "-s", str(script), base]
    measured = pids()
    backends = backend_pids() if pids is not None and len(measured) > 1 else []
    cpu_before = process_cpu_seconds(measured)
    db_before = process_cpu_seconds(backends)
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60).stdout
    cpu = process_cpu_seconds(measured) - cpu_before
    db_cpu = process_cpu_seconds(backends) - db_before
    for line in out.splitlines():
        if line.startswith("FAILURE"):
            print(line)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    result = re.search(r"RESULT failures=(\d+) responses=(\d+) p50_ms=([\d.]+) p99_ms=([\d.]+)", out)
    assert result, out
    errors = re.search(r"Socket errors: (.*)", out)
    return {
        "rps": rps,
        "failures": int(result.group(1)),
        "responses": int(result.group(2)),
        "p50": float(result.group(3)),
        "p99": float(result.group(4)),
        "socket_errors": errors.group(1) if errors else "none",
        "cpu_ms": 1000 * cpu / max(1, int(result.group(2))),
        "db_cpu_ms": 1000 * db_cpu / max(1, int(result.group(2))),
    }


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def gunicorn_command(server: str, args: argparse.Namespace, port: int) -> list[str]:
    """The deployed way to serve the tracker: ASGI on uvicorn workers, or the threaded WSGI front."""
    base = [sys.executable, "-m", "gunicorn", "-b", f"127.0.0.1:{port}", "--backlog", "2048", "--log-level", "warning"]
    if server == "asgi":
        return [*base, "torrentpier.asgi", "-k", "uvicorn_worker.UvicornWorker", "-w", str(args.workers or 2)]
    return [*base, "torrentpier.wsgi", "-k", "gthread", "-w", str(args.workers or 6), "--threads", str(args.threads)]


def warm_lookups(port: int, passkeys: list[str], hashes: list[bytes]) -> None:
    """One announce per torrent and per passkey, so the run measures a warm tracker (every lookup cached).

    A real tracker runs warm: each passkey and hash misses the cache once per
    LOOKUP_TIMEOUT. Without this, the first seconds of load are mostly
    misses, and whichever server runs first pays for the other.
    """
    total = max(len(hashes), len(passkeys))
    for i in range(total):
        query = f"info_hash={quote_from_bytes(hashes[i % len(hashes)], safe='')}&peer_id=-WM0001-{i:012d}"
        query += "&port=6881&uploaded=0&downloaded=0&left=0&event=stopped"
        urllib.request.urlopen(f"http://127.0.0.1:{port}/announce/{passkeys[i % len(passkeys)]}?{query}", timeout=10).read()


def bench_django(
    server: str, args: argparse.Namespace, script: Path, passkeys: list[str], hashes: list[bytes], root: Path = ROOT
) -> dict[str, float]:
    port = free_port()
    cmd = gunicorn_command(server, args, port)
    proc = subprocess.Popen(cmd, cwd=root, env=server_env(), start_new_session=True)
    try:
        probe = f"http://127.0.0.1:{port}/announce/{passkeys[0]}?info_hash={quote_from_bytes(hashes[0], safe='')}"
        probe += "&peer_id=-PR0001-000000000000&port=6881&uploaded=0&downloaded=0&left=0&event=stopped"
        wait_ready(probe)
        warm_lookups(port, passkeys, hashes)
        servers = lambda: session_pids(proc.pid) + backend_pids()  # noqa: E731
        return run_wrk(
            port,
            script,
            duration=args.duration,
            connections=args.connections,
            threads=args.wrk_threads,
            pids=servers,
            after_warmup=analyze_database,
        )
    finally:
        stop(proc)


def bench_opentracker(args: argparse.Namespace, script: Path, hashes: list[bytes], workdir: Path) -> dict[str, float]:
    whitelist = workdir / "whitelist"
    whitelist.write_text("".join(h.hex() + "\n" for h in hashes))
    # opentracker drops root for `nobody` after chrooting into workdir: let it read the list.
    workdir.chmod(0o755)
    whitelist.chmod(0o644)
    port = free_port()
    # opentracker chroots into -d, so the whitelist is named relative to it.
    cmd = ["opentracker", "-i", "127.0.0.1", "-p", str(port), "-P", str(port), "-w", whitelist.name, "-d", str(workdir)]
    proc = subprocess.Popen(cmd, cwd=workdir, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_ready(f"http://127.0.0.1:{port}/stats")
        time.sleep(1)  # the whitelist loads in a thread
        return run_wrk(
            port, script, duration=args.duration, connections=args.connections, threads=args.wrk_threads, pids=lambda: [proc.pid]
        )
    finally:
        stop(proc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=12, help="seconds of measured load per server (default 12)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--wrk-threads", type=int, default=1)
    parser.add_argument("--server", choices=("asgi", "wsgi", "both"), default="asgi", help="which front to load (default asgi)")
    parser.add_argument("--workers", type=int, default=0, help="gunicorn workers (default 2 for asgi, 6 for wsgi)")
    parser.add_argument("--threads", type=int, default=4, help="threads per wsgi worker (default 4)")
    parser.add_argument("--baseline", help="a git revision to compare against, A-B-A, on a worktree of it (instead of opentracker)")
    parser.add_argument(
        "--peers",
        choices=("new", "returning"),
        default="new",
        help="new: every announce a new peer's started (the gate judges each; default); returning: live peers announcing again",
    )
    parser.add_argument("--rounds", type=int, default=2, help="with --baseline: runs of this checkout, between runs of REV (default 2)")
    args = parser.parse_args()
    if args.baseline:
        compare(args)
        return
    for tool in ("wrk", "opentracker", "psql", "redis-cli"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is not installed")
    hashes, passkeys = prepare_database()
    keep = os.environ.get("PERF_KEEP_DIR")
    with tempfile.TemporaryDirectory(prefix="perf-announce-", delete=not keep) as tmp:
        if keep:
            print("scripts in", tmp)
        workdir = Path(tmp)
        script = lua_script(workdir, hashes, passkeys, "django", args.peers)
        servers = ("asgi", "wsgi") if args.server == "both" else (args.server,)
        results = {server: bench_django(server, args, script, passkeys, hashes) for server in servers}
        opentracker = bench_opentracker(args, lua_script(workdir, hashes, passkeys, "opentracker", args.peers), hashes, workdir)
    load = "a new peer per announce" if args.peers == "new" else "live peers announcing again"
    print(f"\nload: wrk -t{args.wrk_threads} -c{args.connections} -d{args.duration}s, {TORRENTS} torrents, {load}")
    for server in servers:
        print(f"tracker ({server}): {' '.join(gunicorn_command(server, args, 0)[3:])}, PostgreSQL {DB_NAME} + Redis db 5")
    rows = [(f"tp-{server}", result) for server, result in results.items()] + [("opentracker", opentracker)]
    for name, r in rows:
        print(
            f"{name:12s} {r['rps']:10.0f} announces/s  p50 {r['p50']:.2f} ms  p99 {r['p99']:.2f} ms  "
            f"CPU {r['cpu_ms']:.3f} ms/announce (database {r['db_cpu_ms']:.3f})  "
            f"failures {r['failures']}/{r['responses']}  socket errors: {r['socket_errors']}"
        )
    for server, django in results.items():
        ratio = django["rps"] / opentracker["rps"] if opentracker["rps"] else 0.0
        print(f"ratio ({server}): {ratio:.3f} x opentracker (goal >= 0.12)")
        # Other work on a shared machine moves announces/s a lot; the CPU spent per
        # announce (server processes, and PostgreSQL backends for the tracker) less so.
        cpu_ratio = opentracker["cpu_ms"] / django["cpu_ms"] if django["cpu_ms"] else 0.0
        print(f"CPU-cost ratio ({server}): {cpu_ratio:.3f} (opentracker's CPU per announce / ours)")
    print(f"load average {os.getloadavg()[0]:.1f}")
    shutil.rmtree(METRICS_DIR, ignore_errors=True)


def _median(runs: list[dict[str, float]], key: str) -> float:
    values = sorted(run[key] for run in runs)
    return values[len(values) // 2] if len(values) % 2 else (values[len(values) // 2 - 1] + values[len(values) // 2]) / 2


def compare(args: argparse.Namespace) -> None:
    """This checkout (B) against `--baseline` (A), alternating A-B-A-B-A: medians and ratios (see the module docstring)."""
    for tool in ("wrk", "psql", "redis-cli", "git"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is not installed")
    worktree = Path(tempfile.mkdtemp(prefix="perf-announce-baseline-"))
    subprocess.run(["git", "worktree", "add", "--detach", str(worktree), args.baseline], cwd=ROOT, check=True, capture_output=True)
    servers = ("asgi", "wsgi") if args.server == "both" else (args.server,)
    runs: dict[tuple[str, str], list[dict[str, float]]] = {(side, server): [] for side in "AB" for server in servers}
    try:
        order = ["A"] + ["B", "A"] * args.rounds
        with tempfile.TemporaryDirectory(prefix="perf-announce-") as tmp:
            for n, side in enumerate(order):
                tree = worktree if side == "A" else ROOT
                for server in servers:
                    hashes, passkeys = prepare_database(tree)
                    script = lua_script(Path(tmp), hashes, passkeys, "django", args.peers)
                    result = bench_django(server, args, script, passkeys, hashes, root=tree)
                    runs[(side, server)].append(result)
                    print(
                        f"run {n + 1}/{len(order)} {side} {server}: {result['rps']:.0f} announces/s, "
                        f"CPU {result['cpu_ms']:.3f} ms/announce (database {result['db_cpu_ms']:.3f}), "
                        f"failures {result['failures']}/{result['responses']}",
                        flush=True,
                    )
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(worktree)], cwd=ROOT, check=False, capture_output=True)
        shutil.rmtree(METRICS_DIR, ignore_errors=True)
    wrk = f"wrk -t{args.wrk_threads} -c{args.connections} -d{args.duration}s"
    print(f"\nA = {args.baseline}, B = this checkout; {wrk}, {args.peers} peers, medians")
    for server in servers:
        a, b = runs[("A", server)], runs[("B", server)]
        for key, label in (("cpu_ms", "CPU ms/announce"), ("db_cpu_ms", "database CPU ms/announce"), ("rps", "announces/s")):
            ma, mb = _median(a, key), _median(b, key)
            print(f"{server} {label:26s} A {ma:9.3f}  B {mb:9.3f}  B/A {mb / ma if ma else 0:.3f}")
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
