"""Benchmark: the torrent list, search and sorts on a million torrents in PostgreSQL.

    python -m tests.perf.catalogue [--rows 1000000] [--db perf_catalogue] [--repeat 15]

Builds (once; reused while it holds --rows torrents) a separate database
with `--rows` torrents, one file each, 1,000 users and 20 forums, generated
inside PostgreSQL with INSERT ... SELECT generate_series. Then it calls the
API in-process (Django's test client, no network) and prints, per case, the
median latency and its ratio to a plain `SELECT 1` round trip and to the
unfiltered first page. Never pass/fail: figures only.
"""

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

WORDS = [
    "ubuntu",
    "debian",
    "fedora",
    "arch",
    "mint",
    "gentoo",
    "slackware",
    "freebsd",
    "openbsd",
    "alpine",
    "concert",
    "lecture",
    "album",
    "documentary",
    "season",
    "remaster",
    "archive",
    "dataset",
    "podcast",
    "collection",
]


# The search indexes of migrations 0003/0004, dropped during the bulk load and built once after it.
TRGM_INDEXES = [
    ("torrent_name_trgm", "tracker_torrent", "name"),
    ("torrent_description_trgm", "tracker_torrent", "description"),
    ("torrent_files_text_trgm", "tracker_torrent", "files_text"),
]


def _configure(db: str, base_url: str) -> None:
    os.environ["DATABASE_URL"] = f"{base_url.rstrip('/')}/{db}"
    os.environ.setdefault("SECRET_KEY", "perf-only-secret-key")
    os.environ.setdefault("DEBUG", "0")
    os.environ.setdefault("ALLOWED_HOSTS", "testserver")
    os.environ.setdefault("API_RATE_LIMIT_ANONYMOUS", "100000000")
    os.environ.setdefault("API_RATE_LIMIT_AUTHENTICATED", "100000000")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "torrentpier.settings")
    os.environ.setdefault("DB_STATEMENT_TIMEOUT_MS", "0")  # the bulk load runs for minutes
    os.environ.setdefault("LOG_LEVEL", "warning")  # no request log line per call among the figures


def _create_database(db: str, base_url: str, *, fresh: bool) -> None:
    import psycopg

    with psycopg.connect(f"{base_url.rstrip('/')}/postgres", autocommit=True) as conn:
        if fresh:
            conn.execute(f'DROP DATABASE IF EXISTS "{db}"')
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{db}"')


def insert_members(cursor: Any, prefix: str, first: int, last: int, *, uploaded: str = "0", downloaded: str = "0") -> None:
    """Members `prefix || i` for i in first..last, one INSERT ... SELECT generate_series.

    Every column the model has gets its default (the statement names them
    all, so a field added later needs no change here); `uploaded` and
    `downloaded` are SQL expressions of `i`.
    """
    from accounts.models import User

    exprs = {
        "password": "'!'",
        "username": f"'{prefix}' || i",
        "first_name": "''",
        "last_name": "''",
        "email": "''",
        "date_joined": "now()",
        "passkey": f"md5('{prefix}' || i)",
        "uploaded": uploaded,
        "downloaded": downloaded,
    }
    columns, values, params = [], [], []
    for field in User._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(cursor.db.ops.quote_name(field.column))
        if field.column in exprs:
            values.append(exprs[field.column])
        elif field.has_default():
            values.append("%s")
            params.append(field.get_db_prep_save(field.get_default(), cursor.db))
        elif field.null:
            values.append("NULL")
        else:
            raise RuntimeError(f"accounts_user.{field.column} needs a value in the benchmark's members")
    cursor.execute(
        f"INSERT INTO accounts_user ({', '.join(columns)}) SELECT {', '.join(values)} FROM generate_series(%s, %s) AS i",
        [*params, first, last],
    )


def _generate(rows: int) -> None:
    """Fill the catalogue with `rows` torrents (skipped when it already holds that many)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM tracker_torrent")
        if cursor.fetchone()[0] >= rows:
            print(f"reusing the existing {rows:,} torrents")
            return
        started = time.perf_counter()
        # Building the trigram indexes once afterwards is far faster than maintaining them row by row.
        for name, _table, _column in TRGM_INDEXES:
            cursor.execute(f"DROP INDEX IF EXISTS {name}")
        words = "(ARRAY[" + ",".join(f"'{w}'" for w in WORDS) + "])"
        cursor.execute("TRUNCATE tracker_torrentfile, tracker_torrent, tracker_forum, tracker_category RESTART IDENTITY CASCADE")
        cursor.execute("DELETE FROM accounts_user WHERE username LIKE 'perf%'")
        insert_members(cursor, "perf", 1, 1000)
        cursor.execute("INSERT INTO tracker_category (name, \"order\") SELECT 'Category ' || i, i FROM generate_series(1, 4) AS i")
        cursor.execute(
            "INSERT INTO tracker_forum"
            ' (category_id, name, description, "order", allows_torrents, view_level, upload_level, download_level)'
            " SELECT (SELECT id FROM tracker_category ORDER BY id LIMIT 1 OFFSET (i % 4)), 'Forum ' || i, '', i, true,"
            " CASE WHEN i = 20 THEN 2 ELSE 0 END, 1, 1 FROM generate_series(1, 20) AS i"
        )
        cursor.execute(
            "INSERT INTO tracker_torrent (forum_id, uploader_id, name, description, info_hash, info_hash_v2, info_hash_v2_short,"
            " size, piece_length, file_count, is_private, metainfo, status, freeleech, created_at,"
            " updated_at, files_text)"
            " SELECT f.ids[1 + i % 20], u.ids[1 + i % 1000],"
            f" initcap({words}[1 + i % 20]) || '.' || {words}[1 + (i / 20) % 20] || '.' || (2000 + i % 25) || '.x' || i,"
            f" 'A ' || {words}[1 + (i / 7) % 20] || ' upload number ' || i,"
            " md5(i::text) || substr(md5('v' || i), 1, 8), NULL, NULL,"
            " (i % 100000) * 1048576 + i, 262144, 1, true, '\\x'::bytea,"
            " CASE WHEN i % 50 = 0 THEN 'not_approved' ELSE 'approved' END,"
            " CASE WHEN i % 97 = 0 THEN 'gold' ELSE 'none' END,"
            " now() - (i || ' seconds')::interval, now(),"
            f" 'disc' || (i % 9) || '/' || {words}[1 + (i / 3) % 20] || '-track-' || i || '.flac'"
            f" FROM generate_series(1::bigint, {int(rows)}) AS i,"
            " (SELECT array_agg(id ORDER BY id) AS ids FROM tracker_forum) AS f,"
            " (SELECT array_agg(id ORDER BY id) AS ids FROM accounts_user WHERE username LIKE 'perf%') AS u"
        )
        cursor.execute(
            "INSERT INTO tracker_torrentstats (torrent_id, seeders, leechers, completed)"
            " SELECT id, (id * 7919) % 300, (id * 104729) % 120, (id * 31) % 5000 FROM tracker_torrent"
        )
        cursor.execute("INSERT INTO tracker_torrentfile (torrent_id, path, size) SELECT id, files_text, size FROM tracker_torrent")
        cursor.execute("SET maintenance_work_mem = '512MB'")
        for name, table, column in TRGM_INDEXES:
            cursor.execute(f"CREATE INDEX {name} ON {table} USING gin ({column} gin_trgm_ops)")
        cursor.execute("ANALYZE")
        print(f"generated {rows:,} torrents and files in {time.perf_counter() - started:.1f} s")


def _median_ms(action: Callable[[], Any], repeat: int) -> float:
    action()  # warm connection and plan caches
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--db", default="perf_catalogue")
    parser.add_argument("--base-url", default=os.environ.get("PERF_POSTGRES_URL", "postgres://root@127.0.0.1:5432"))
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--fresh", action="store_true", help="drop and rebuild the benchmark database")
    args = parser.parse_args(argv)

    _configure(args.db, args.base_url)
    _create_database(args.db, args.base_url, fresh=args.fresh)
    import django

    django.setup()
    from django.core.cache import cache
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    call_command("migrate", verbosity=0)
    _generate(args.rows)

    client = Client()
    with connection.cursor() as cursor:
        cursor.execute("SELECT min(id), max(id) FROM tracker_torrent")
        low, high = cursor.fetchone()

    def select_one() -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()

    def get(path: str, *, cold_count: bool = False) -> Callable[[], None]:
        def call() -> None:
            if cold_count:
                cache.clear()
            response = client.get(path)
            assert response.status_code == 200, (path, response.content[:300])

        return call

    middle = (low + high) // 2 // 100 * 100 + 1  # an approved torrent in a public forum
    cases = [
        ("first page (default sort)", "/api/torrents", False),
        ("first page, count not cached", "/api/torrents", True),
        ("page 200", "/api/torrents?page=200", False),
        ("sort=name asc", "/api/torrents?sort=name&order=asc", False),
        ("sort=size desc", "/api/torrents?sort=size&order=desc", False),
        ("sort=seeders desc", "/api/torrents?sort=seeders", False),
        ("sort=completed asc", "/api/torrents?sort=completed&order=asc", False),
        ("forum filter", "/api/torrents?forum=3", False),
        ("seeded + min_size", "/api/torrents?seeded=true&min_size=50000000000", False),
        ("info_hash filter", f"/api/torrents?info_hash={'0' * 40}", False),
        ("search rare (one torrent)", f"/api/torrents?search=.x{middle}", False),
        ("search rare, count not cached", f"/api/torrents?search=.x{middle}", True),
        ("search common word", "/api/torrents?search=gentoo", False),
        ("search common, count not cached", "/api/torrents?search=gentoo", True),
        ("search file path", f"/api/torrents?search=track-{middle}.flac", False),
        ("search common + sort=seeders", "/api/torrents?search=slackware&sort=seeders", False),
        ("detail", f"/api/torrents/{middle}", False),
    ]
    baseline = _median_ms(select_one, args.repeat * 4)
    first_page = _median_ms(get("/api/torrents"), args.repeat)
    print(f"\n{args.rows:,} torrents in {connection.settings_dict['NAME']}; median of {args.repeat} runs, in-process client")
    print(f"baseline SELECT 1 round trip: {baseline:.3f} ms; unfiltered first page: {first_page:.1f} ms\n")
    print(f"{'case':40} {'ms':>9} {'x SELECT 1':>11} {'x page 1':>9}")
    for label, path, cold in cases:
        ms = _median_ms(get(path, cold_count=cold), args.repeat)
        print(f"{label:40} {ms:9.1f} {ms / baseline:11.0f} {ms / first_page:9.2f}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
