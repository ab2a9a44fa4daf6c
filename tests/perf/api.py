"""Benchmark: the API and the browse page under concurrent load, through gunicorn, with wrk.

    python -m tests.perf.api [--rows 1000000] [--members 100000] [--duration 8]
                             [--connections 16] [--baseline REV] [--only hello,list,...]

On the catalogue benchmark's database (`tests/perf/catalogue.py`: a million
torrents, built once and reused) with `--members` members added, it serves
the site with `gunicorn torrentpier.wsgi -k gthread -w 2 --threads 4` on
Redis (db 6) and loads each request with `wrk -t1 -c16` for `--duration`
seconds, one after the other, printing requests/s, p50 and p99, and each
request's throughput as a ratio to `GET /api/hello` in the same run (the
trivial endpoint: what the machine gives at all), and how the two workers
shared the CPU. Each worker takes at most `--connections` less one
thread pool per other worker (`_worker_connections`: 12 of the 16), so no
worker is left without connections to serve.

With `--baseline REV` it runs the same table A-B-A: on a `git worktree` of
REV (the previous main, say), on this checkout, then on REV again, and
prints this checkout's req/s against the mean of the two baseline runs. The
machine is shared, so read ratios, not absolute figures. Never pass/fail.
"""

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tests.servers import WSGI, gunicorn_start, process_stop

BASE_DIR = Path(__file__).resolve().parents[2]
REDIS_URL = "redis://127.0.0.1:6379/6"
PASSWORD = "bench-Pass-1234"


@dataclass
class Case:
    key: str
    label: str
    path: str
    member: bool = False


def _cases(detail_id: int) -> list[Case]:
    return [
        Case("hello", "GET /api/hello", "/api/hello"),
        Case("list", "GET /api/torrents (50 rows)", "/api/torrents"),
        Case("list10", "GET /api/torrents?per_page=10", "/api/torrents?per_page=10"),
        Case("list100", "GET /api/torrents?per_page=100", "/api/torrents?per_page=100"),
        Case("sorted", "?sort=seeders&order=desc", "/api/torrents?sort=seeders&order=desc"),
        Case("search", "?search=ubuntu", "/api/torrents?search=ubuntu"),
        Case("deep", "?page=200", "/api/torrents?page=200"),
        Case("member", "GET /api/torrents as a member", "/api/torrents", member=True),
        Case("detail", "GET /api/torrents/{id}", f"/api/torrents/{detail_id}"),
        Case("download", "GET /api/torrents/{id}/download (member)", f"/api/torrents/{detail_id}/download", member=True),
        Case("browse", "GET / (browse page)", "/"),
    ]


def _prepare(args: argparse.Namespace) -> int:
    """Build or reuse the database; return the id of the torrent the detail and download cases ask for."""
    from tests.perf import catalogue

    catalogue._configure(args.db, args.base_url)
    catalogue._create_database(args.db, args.base_url, fresh=args.fresh)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from accounts.models import User
    from tests.factories import make_metainfo

    call_command("migrate", verbosity=0)
    catalogue._generate(args.rows)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM accounts_user WHERE username LIKE 'bench%%'")
        have = cursor.fetchone()[0]
        if have < args.members:
            catalogue.insert_members(cursor, "bench", have + 1, args.members, uploaded="i * 1000", downloaded="i * 500")
            cursor.execute("ANALYZE accounts_user")
            print(f"added {args.members - have:,} members")
        cursor.execute("SELECT min(id), max(id) FROM tracker_torrent")
        low, high = cursor.fetchone()
        detail_id = (low + high) // 2 // 100 * 100 + 1  # approved, in a public forum
        # The generated torrents carry no metainfo; the one the download case fetches gets a real one.
        metainfo, info_hash = make_metainfo(f"bench-download-{detail_id}")
        cursor.execute("UPDATE tracker_torrent SET metainfo = %s, info_hash = %s WHERE id = %s", [metainfo, info_hash, detail_id])
    member, _ = User.objects.get_or_create(username="bench-member")
    member.set_password(PASSWORD)
    # A confirmed address: an unconfirmed member's every download is a 403 (accounts.emails.email_confirmed_check).
    member.email, member.email_confirmed_at = "bench-member@example.invalid", timezone.now()
    member.save()
    connection.close()
    return detail_id


def _server_env(args: argparse.Namespace) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "DJANGO_SETTINGS_MODULE": "torrentpier.settings",
        "SECRET_KEY": "perf-only-secret-key",
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_COOKIES": "0",
        "DATABASE_URL": f"{args.base_url.rstrip('/')}/{args.db}",
        "REDIS_URL": REDIS_URL,
        "API_RATE_LIMIT_ANONYMOUS": "100000000",
        "API_RATE_LIMIT_AUTHENTICATED": "100000000",
        "LOG_LEVEL": "warning",
    }


def _start(tree: Path, args: argparse.Namespace, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """The site from `tree` (this checkout or the baseline's worktree), as the README deploys it."""
    app = [*WSGI, "-k", "gthread", "--threads", str(args.threads)]
    env = {**_server_env(args), "PYTHONPATH": str(tree)}
    options = ("--limit-request-line", "8190", "--worker-connections", str(_worker_connections(args)))
    process, base = gunicorn_start(app, env=env, log=log, workers=args.workers, cwd=tree, options=options)
    time.sleep(1.0)  # every worker booted
    return process, base


def _worker_connections(args: argparse.Namespace) -> int:
    """Each worker's cap on connections: room for all of wrk's but one thread's worth per other worker.

    A gthread worker accepts as long as it is under its cap (gunicorn's
    default is 1,000), and wrk's keep-alive connections stay where they were
    accepted: without a cap, all 16 could sit in one worker, and a cheap
    request then ran at one worker's speed, half of what the same code gave in
    the next run. Under this cap every other worker holds at least `--threads`
    of them, enough to keep its core busy, so both sides of an A-B run are
    served by every worker. (`workers' CPU` shows the split each time.)
    """
    return max(args.threads + 1, args.connections - (args.workers - 1) * args.threads)


def _token(base: str) -> str:
    import json

    request = urllib.request.Request(
        f"{base}/api/login",
        data=json.dumps({"username": "bench-member", "password": PASSWORD}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return str(json.loads(response.read())["data"]["token"])


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


def _ms(text: str) -> float:
    """wrk's latency figure (`812.00us`, `1.20s`, `1.00m`) in milliseconds; NaN if it printed none."""
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text)
    return float(match[1]) * _UNITS[match[2]] if match else float("nan")


def _wrk(url: str, args: argparse.Namespace, token: str | None) -> tuple[float, float, float, int]:
    """(requests/s, p50 ms, p99 ms, non-2xx answers) of one wrk run."""
    command = ["wrk", "-t1", f"-c{args.connections}", f"-d{args.duration}s", "--latency", "--timeout", "10s"]
    if token:
        command += ["-H", f"Authorization: Bearer {token}"]
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True, timeout=args.duration + 60).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50, p99 = (_ms(found[1]) if (found := re.search(rf"{q}%\s+(\S+)", output)) else float("nan") for q in (50, 99))
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    return rps, p50, p99, int(bad.group(1)) if bad else 0


def _worker_ticks(master: int) -> dict[int, int]:
    """CPU clock ticks (user + system) of each gunicorn worker, the master's children."""
    ticks = {}
    children = Path(f"/proc/{master}/task/{master}/children")
    for pid in (int(p) for p in children.read_text().split()) if children.exists() else ():
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks[pid] = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return ticks


def _split(before: dict[int, int], after: dict[int, int]) -> str:
    """Each worker's share of the workers' CPU during a load, busiest first ("52/48").

    wrk's keep-alive connections stay with the worker that accepted them, and
    a gthread worker accepts as long as it can, so one worker may hold most of
    them: a cheap request then runs at one worker's speed, about half.
    """
    used = sorted((after[pid] - before.get(pid, 0) for pid in after), reverse=True)
    total = sum(used) or 1
    return "/".join(f"{100 * n / total:.0f}" for n in used)


def _round(tree: Path, cases: list[Case], args: argparse.Namespace, label: str) -> dict[str, tuple[float, float, float, int]]:
    with tempfile.TemporaryDirectory() as tmp:
        process, base = _start(tree, args, Path(tmp) / "server.log")
        try:
            token = _token(base)
            results = {}
            for case in cases:
                # warm the workers' connections and caches, then measure
                subprocess.run(["wrk", "-t1", "-c4", "-d1s", f"{base}{case.path}"], capture_output=True, check=True)
                before = _worker_ticks(process.pid)
                results[case.key] = _wrk(f"{base}{case.path}", args, token if case.member else None)
                split = _split(before, _worker_ticks(process.pid))
                rps, p50, p99, bad = results[case.key]
                errors = f"  ({bad} errors)" if bad else ""
                print(f"  [{label}] {case.label:44} {rps:8.1f} req/s  p50 {p50:7.1f} ms  p99 {p99:7.1f} ms  workers' CPU {split}{errors}")
                sys.stdout.flush()
            return results
        finally:
            process_stop(process)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--db", default="perf_catalogue")
    parser.add_argument("--base-url", default=os.environ.get("PERF_POSTGRES_URL", "postgres://root@127.0.0.1:5432"))
    parser.add_argument("--fresh", action="store_true", help="drop and rebuild the benchmark database")
    parser.add_argument("--duration", type=int, default=8, help="seconds of load per request")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--baseline", help="a git revision to compare against, A-B-A, on a worktree of it")
    parser.add_argument("--only", help="comma-separated case keys (hello is always run)")
    args = parser.parse_args(argv)
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk)")

    detail_id = _prepare(args)
    cases = _cases(detail_id)
    if args.only:
        wanted = {"hello", *args.only.split(",")}
        cases = [case for case in cases if case.key in wanted]
    print(
        f"\n{args.rows:,} torrents, {args.members:,} members; gunicorn -w {args.workers} --threads {args.threads}"
        f" --worker-connections {_worker_connections(args)}, wrk -c{args.connections} -d{args.duration}s"
    )

    if not args.baseline:
        results = _round(BASE_DIR, cases, args, "this checkout")
        hello = results["hello"][0]
        print("\n| request | req/s | p50 | p99 | x /api/hello |\n| --- | --- | --- | --- | --- |")
        for case in cases:
            rps, p50, p99, _ = results[case.key]
            print(f"| `{case.label}` | {rps:.0f} | {p50:.1f} ms | {p99:.1f} ms | {rps / hello:.3f} |")
        return

    worktree = Path(tempfile.mkdtemp(prefix="perf-api-baseline-"))
    subprocess.run(["git", "worktree", "add", "--detach", str(worktree), args.baseline], cwd=BASE_DIR, check=True, capture_output=True)
    try:
        first = _round(worktree, cases, args, f"A {args.baseline}")
        current = _round(BASE_DIR, cases, args, "B this checkout")
        second = _round(worktree, cases, args, f"A {args.baseline}")
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(worktree)], cwd=BASE_DIR, check=False)
        subprocess.run(["git", "worktree", "prune"], cwd=BASE_DIR, check=False)
    print(f"\n| request | {args.baseline} req/s (A, A) | this checkout req/s | ratio | p50 (A, B) | p99 (A, B) | x /api/hello (B) |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for case in cases:
        base_rps = statistics.mean([first[case.key][0], second[case.key][0]])
        rps, p50, p99, _ = current[case.key]
        print(
            f"| `{case.label}` | {first[case.key][0]:.0f}, {second[case.key][0]:.0f} | {rps:.0f} | {rps / base_rps:.2f} |"
            f" {first[case.key][1]:.0f}, {p50:.0f} ms | {first[case.key][2]:.0f}, {p99:.0f} ms | {rps / current['hello'][0]:.3f} |"
        )


if __name__ == "__main__":
    main()
