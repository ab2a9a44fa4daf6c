"""The ASGI front (torrentpier.asgi): what it adds to the tracker views tested through both fronts elsewhere.

The announce, validation, peer and scrape suites already run every test
through this front too (their `both_fronts` mark, tests/tracker/announce/fronts.py). Here:
routing, the HTTP details, lifespan, and the PostgreSQL fast path's own
parts (its pool, its Redis reads and their fallback, concurrency).
"""

import asyncio

import pytest
from django.core.handlers.asgi import ASGIHandler
from django.db import connection
from django.test import override_settings

from accounts.services import user_passkey_reset, user_set_banned
from tests.factories import TorrentFactory, UserFactory, make_hybrid_hashes
from tests.tracker.announce.fronts import AsgiClient, fast_path_active
from tests.tracker.announce.helpers import announce, announce_qs, peer_id, reply
from tests.tracker.swarm.helpers import assert_counts_match_tables
from torrentpier.asgi import application
from tracker.announce.asgi import TrackerASGI
from tracker.catalogue.services import torrent_set_status
from tracker.models import Peer, Snatch, TorrentStatus
from tracker.swarm.lookups import lookup_generation, lookups_invalidate

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def needs_fast_path():
    if not fast_path_active():
        pytest.skip("the async fast path runs on PostgreSQL only (elsewhere Django's views answer, tested through both fronts)")


def test_the_deployed_asgi_application_fronts_django_with_the_tracker():
    assert isinstance(application, TrackerASGI)
    assert isinstance(application.application, ASGIHandler)


def test_other_paths_go_to_django(asgi_client):
    response = asgi_client.get("/api/hello")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert response["X-RateLimit-Limit"]
    missing = asgi_client.get("/announcements")
    assert missing.status_code == 404


def test_head_answers_with_the_headers_and_no_body(asgi_client, user):
    torrent = TorrentFactory()
    response = asgi_client.head(f"/announce/{user.passkey}?{announce_qs(torrent.info_hash, peer_id(1))}")
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    if fast_path_active():
        assert response.content == b""
        assert int(response["Content-Length"]) > 0


def test_lifespan_startup_and_shutdown_are_answered_and_shutdown_closes_the_pool(needs_fast_path):
    app = TrackerASGI(application.application)
    client = AsgiClient()

    async def lifespan_and_announce() -> list[str]:
        inbox: asyncio.Queue = asyncio.Queue()
        sent: list[str] = []

        async def send(message):
            sent.append(message["type"])

        task = asyncio.ensure_future(app({"type": "lifespan", "asgi": {"version": "3.0"}}, inbox.get, send))
        await inbox.put({"type": "lifespan.startup"})
        await asyncio.sleep(0.05)
        swarm = await app._connections()
        assert swarm.is_open
        await inbox.put({"type": "lifespan.shutdown"})
        await asyncio.wait_for(task, 10)
        assert not swarm.is_open and app._swarm is None
        return sent

    try:
        assert client.run(lifespan_and_announce()) == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    finally:
        client.close()


def test_the_fast_path_writes_through_its_own_pool(needs_fast_path, asgi_client, user):
    torrent = TorrentFactory()
    body = announce(asgi_client, user.passkey, torrent.info_hash, peer_id(1), remote="10.1.2.3")
    assert body[b"incomplete"] == 1
    assert Peer.objects.get().ip == "10.1.2.3"
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'torrentpier-tracker' AND datname = current_database()"
        )
        assert cursor.fetchone()[0] >= 1


def test_a_redis_outage_falls_back_to_the_database_lookup(needs_fast_path, user):
    torrent = TorrentFactory()
    # The fast path's own Redis client points at a closed port; Django's cache is untouched.
    with override_settings(REDIS_URL="redis://127.0.0.1:1/0"):
        client = AsgiClient()
        try:
            body = announce(client, user.passkey, torrent.info_hash, peer_id(1))
            assert b"failure reason" not in body and body[b"incomplete"] == 1
            bad = client.get(f"/announce/{'0' * 32}?{announce_qs(torrent.info_hash, peer_id(2))}")
            assert b"passkey not found" in reply(bad)[b"failure reason"]
        finally:
            client.close()


def _count_lookups(monkeypatch) -> list[str]:
    """Record each time the ASGI announce reads its lookups (from the shared cache or the database)."""
    calls: list[str] = []
    real = TrackerASGI._lookup

    async def counted(self, swarm, passkey, info_hash_hex):
        calls.append(passkey)
        return await real(self, swarm, passkey, info_hash_hex)

    monkeypatch.setattr(TrackerASGI, "_lookup", counted)
    return calls


def test_lookups_are_remembered_in_memory_once_the_generation_is_known(needs_fast_path, asgi_client, user, monkeypatch):
    torrent = TorrentFactory()
    calls = _count_lookups(monkeypatch)
    for n in range(1, 6):  # one peer re-announcing (a member may have 3 peers on a torrent)
        assert b"failure reason" not in announce(asgi_client, user.passkey, torrent.info_hash, peer_id(1), uploaded=n)
    # The first announce learns the generation, the second reads and keeps the lookups, the rest use them.
    assert len(calls) == 2
    assert application._swarm.memory.generation == lookup_generation()


def test_services_invalidate_remembered_lookups_for_the_very_next_announce(needs_fast_path, asgi_client, monkeypatch):
    user = UserFactory()
    torrent = TorrentFactory()
    for n in range(3):
        announce(asgi_client, user.passkey, torrent.info_hash, peer_id(1), uploaded=100 * n)
    before = lookup_generation()
    user_set_banned(user=user, banned=True)
    assert lookup_generation() == before + 1
    response = asgi_client.get(f"/announce/{user.passkey}?{announce_qs(torrent.info_hash, peer_id(1))}")
    assert reply(response)[b"failure reason"] == b"Your account is banned"
    user_set_banned(user=user, banned=False)
    for n in range(3, 5):
        announce(asgi_client, user.passkey, torrent.info_hash, peer_id(1), uploaded=100 * n)
    old = user.passkey
    user_passkey_reset(user=user)
    refused = reply(asgi_client.get(f"/announce/{old}?{announce_qs(torrent.info_hash, peer_id(1))}"))
    assert b"passkey not found" in refused[b"failure reason"]
    announce(asgi_client, user.passkey, torrent.info_hash, peer_id(1), uploaded=500)
    announce(asgi_client, user.passkey, torrent.info_hash, peer_id(1), uploaded=600)
    torrent_set_status(torrent=torrent, status=TorrentStatus.CLOSED, moderator=UserFactory(role="moderator"))
    frozen = reply(asgi_client.get(f"/announce/{user.passkey}?{announce_qs(torrent.info_hash, peer_id(1))}"))
    assert frozen[b"failure reason"] == b"Torrent frozen and can not be downloaded"


def test_a_stale_memory_is_refused_by_the_statement_and_the_announce_counts_once(needs_fast_path, asgi_client, user, monkeypatch):
    torrent = TorrentFactory()
    for n in range(3):
        announce(asgi_client, user.passkey, torrent.info_hash, peer_id(1), uploaded=10 * n)
    calls = _count_lookups(monkeypatch)
    # Something invalidated lookups behind this worker's back (another worker's ban, say).
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval('tracker_lookup_generation')")
    body = announce(asgi_client, user.passkey, torrent.info_hash, peer_id(1), uploaded=1000)
    assert b"failure reason" not in body
    assert calls == [user.passkey]  # the remembered lookups were refused, so they were read again
    user.refresh_from_db()
    assert user.uploaded == 10 + 10 + 980  # the last 980 once (twice would be 1,960)
    assert Snatch.objects.get().uploaded == 1000


def test_the_generation_advances_only_when_the_change_commits(needs_fast_path):
    from django.db import transaction

    before = lookup_generation()
    with pytest.raises(RuntimeError), transaction.atomic():
        lookups_invalidate("passkey:" + "0" * 32)
        raise RuntimeError("rolled back")
    assert lookup_generation() == before
    with transaction.atomic():
        lookups_invalidate("passkey:" + "0" * 32)
        assert lookup_generation() == before  # not yet: the change is not visible to anyone
    assert lookup_generation() == before + 1


def test_concurrent_duplicate_announces_through_the_fast_path_count_once(needs_fast_path, asgi_client):
    torrent = TorrentFactory(size=1000)
    user = UserFactory()
    v1, v2 = make_hybrid_hashes("asgi-dupe")
    hybrid = TorrentFactory(info_hash=v1, info_hash_v2=v2)

    async def burst(n: int, info_hashes: list[str], pid: bytes, **params) -> list[dict]:
        responses = await asyncio.gather(
            *(
                asgi_client.request("GET", f"/announce/{user.passkey}?{announce_qs(info_hashes[i % len(info_hashes)], pid, **params)}")
                for i in range(n)
            )
        )
        return [reply(r) for r in responses]

    for body in asgi_client.run(burst(12, [torrent.info_hash], peer_id(1), event="started", left=1000)):
        assert b"failure reason" not in body
    asgi_client.run(burst(12, [v1, v2[:40]], peer_id(2), event="started", left=1000))
    assert Peer.objects.count() == 2
    asgi_client.run(burst(16, [torrent.info_hash], peer_id(1), uploaded=300, downloaded=700, left=300))
    asgi_client.run(burst(16, [torrent.info_hash], peer_id(1), uploaded=900, downloaded=1000, left=0, event="completed"))
    asgi_client.run(burst(16, [v1, v2[:40]], peer_id(2), uploaded=50, downloaded=1000, left=0, event="completed"))
    user.refresh_from_db()
    assert (user.uploaded, user.downloaded) == (950, 2000)
    for t in (torrent, hybrid):
        t.refresh_from_db()
        assert (t.seeders, t.leechers, t.completed) == (1, 0, 1)
    assert Snatch.objects.get(torrent=torrent).times_completed == 1
    asgi_client.run(burst(8, [torrent.info_hash], peer_id(1), uploaded=1000, downloaded=1000, left=0, event="stopped"))
    user.refresh_from_db()
    assert user.uploaded == 1050
    assert_counts_match_tables()


def test_both_fronts_leave_the_same_state_after_the_same_announces(client, asgi_client):
    """The Django view and the fast path, fed the same sequence on twin torrents, agree to the byte."""
    user = UserFactory()
    twins = [TorrentFactory(size=1000, freeleech="silver") for _ in range(2)]
    steps = [
        dict(event="started", left=1000),
        dict(uploaded=100, downloaded=400, left=600),
        dict(uploaded=50, downloaded=500, left=500),  # a restart: counters went down
        dict(uploaded=300, downloaded=1000, left=0, event="completed"),
        dict(uploaded=900, downloaded=1000, left=0),
        dict(uploaded=950, downloaded=1000, left=0, event="stopped"),
    ]
    replies = []
    for front, torrent in zip((client, asgi_client), twins, strict=True):
        for n, params in enumerate(steps):
            pid = peer_id(10 + n // 3)
            body = announce(front, user.passkey, torrent.info_hash, pid, **params)
            replies.append({k: v for k, v in body.items() if k != b"interval"})
    half = len(replies) // 2
    assert replies[:half] == replies[half:]
    snatches = [Snatch.objects.get(torrent=t) for t in twins]
    fields = ("uploaded", "downloaded", "left", "seed_time", "is_seeding", "is_leeching", "times_completed")
    assert [getattr(snatches[0], f) for f in fields] == [getattr(snatches[1], f) for f in fields]
    for t in twins:
        t.refresh_from_db()
    assert (twins[0].seeders, twins[0].leechers, twins[0].completed) == (twins[1].seeders, twins[1].leechers, twins[1].completed)
    # Per front: uploads 100 + 50 (a restart) + 600 + 50, downloads (400 + 100) halved by silver freeleech.
    user.refresh_from_db()
    assert (user.uploaded, user.downloaded) == (2 * 800, 2 * 250)


def test_the_announce_statements_go_to_psycopg_unconverted():
    """psycopg caches its conversion of `%(name)s` queries only under 4 KiB and 50 parameters, and the announce
    statement is past both: the Django path sends it with PostgreSQL's own $n placeholders through a raw cursor,
    which converts nothing."""
    import psycopg

    from tracker.swarm.announce import _pg_cursor, announce_params, pg_statement

    params = announce_params(
        user_id=1, torrent_id=1, freeleech="none", peer_id=b"-qB4650-000000000001", ip="10.0.0.1", port=6881,
        uploaded=1, downloaded=1, left=1, event="", is_seeder=False, numwant=50,
    )  # fmt: skip
    sql, values = pg_statement(params)
    assert "%(" not in sql and "$1::" in sql
    assert all(type(v) is not int for v in values)  # every integer wrapped as int8: one prepared plan
    if connection.vendor == "postgresql":
        with _pg_cursor() as cursor:
            assert isinstance(cursor.cursor, psycopg.RawCursor)
