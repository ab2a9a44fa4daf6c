"""Announces in batches (tracker.swarm.batch): the same rules as one by one, all or nothing, and how the ASGI front forms them."""

import asyncio
from typing import Any

import pytest
from django.db import connection

from tests.factories import TorrentFactory, UserFactory
from tests.tracker.announce.fronts import AsgiClient, fast_path_active
from tests.tracker.announce.helpers import announce_qs, peer_id, reply
from tests.tracker.swarm.helpers import assert_counts_match_tables
from torrentpier.asgi import application
from tracker.models import Peer, Snatch, Torrent
from tracker.swarm.announce import announce_params, peer_announce
from tracker.swarm.batch import batch_args, batch_keys, batch_results, batch_sql
from tracker.swarm.sql import AnnounceResult


@pytest.fixture
def needs_postgresql():
    if not fast_path_active():
        pytest.skip("batches are the PostgreSQL fast path's (SQLite serializes every writer)")


def params(user: Any, torrent: Any, pid: bytes, **kw: Any) -> dict[str, Any]:
    fields: dict[str, Any] = dict(uploaded=0, downloaded=0, left=1000, event="started", ip="10.0.0.1", port=6881, numwant=50)
    fields.update(kw)
    fields.setdefault("is_seeder", fields["left"] == 0 or fields["event"] == "paused")
    return announce_params(user_id=user.id, torrent_id=torrent.id, freeleech=torrent.freeleech, peer_id=pid, **fields)


def run_batch(batch: list[dict[str, Any]]) -> list[AnnounceResult]:
    """PG_BATCH on the test's own connection (psycopg's RawCursor takes its $n placeholders)."""
    from psycopg import RawCursor

    connection.ensure_connection()
    with RawCursor(connection.connection) as cursor:
        cursor.execute(batch_sql(batch), batch_args(batch))
        return batch_results(cursor.fetchall(), len(batch))


# Rounds of announces for users 0-3 on torrents 0-1; within a round no peer or snatch twice.
# (user, torrent, peer, fields)
ROUNDS: list[list[tuple[int, int, int, dict[str, Any]]]] = [
    [
        (0, 0, 1, dict(left=1000)),
        (1, 0, 2, dict(left=0)),
        (2, 0, 3, dict(left=400, uploaded=10, downloaded=600)),
        (0, 1, 4, dict(left=1000)),
        (3, 1, 5, dict(left=0)),
    ],
    [
        (0, 0, 1, dict(left=600, uploaded=100, downloaded=400)),
        (1, 0, 2, dict(left=0, uploaded=700)),
        (2, 0, 3, dict(left=200, uploaded=5, downloaded=300)),  # a restart: counters went down
        (0, 1, 4, dict(left=0, uploaded=20, downloaded=1000, event="completed")),
        (2, 1, 5, dict(left=500)),  # user 3's peer_id: refused
        (3, 0, 9, dict(left=0, event="stopped")),  # stopping a peer that never announced
    ],
    [
        (0, 0, 1, dict(left=0, uploaded=300, downloaded=1000)),  # left reached 0: completes, as aria2 does
        (1, 0, 2, dict(left=0, uploaded=900, event="stopped")),
        (2, 0, 3, dict(left=0, uploaded=50, downloaded=500, event="completed")),
        (0, 1, 4, dict(left=0, uploaded=80, downloaded=1000)),
        (3, 1, 5, dict(left=0, uploaded=400, event="stopped")),
        (1, 1, 6, dict(left=1000)),
    ],
    [(1, 1, 6, dict(left=500, downloaded=500, event="paused")), (2, 1, 7, dict(left=1000))],  # a partial seed (BEP 21)
    [(1, 1, 6, dict(left=0, downloaded=1000)), (2, 1, 7, dict(left=900, downloaded=100))],  # completes, still a seeder
]


def world(freeleech: list[str]) -> tuple[list[Any], list[Any]]:
    return [UserFactory() for _ in range(4)], [TorrentFactory(size=1000, freeleech=f) for f in freeleech]


def state(users: list[Any], torrents: list[Any]) -> list[Any]:
    """Everything the announces changed, named by position in `users` / `torrents`, not by id."""
    uid = {u.id: n for n, u in enumerate(users)}
    tid = {t.id: n for n, t in enumerate(torrents)}
    stats = [Torrent.objects.filter(pk=t.pk).values_list("stats__seeders", "stats__leechers", "stats__completed").get() for t in torrents]
    totals = [type(u).objects.filter(pk=u.pk).values_list("uploaded", "downloaded").get() for u in users]
    snatches = sorted(
        (uid[s.user_id], tid[s.torrent_id], s.uploaded, s.downloaded, s.left, s.seed_time, s.is_seeding, s.is_leeching,
         s.times_completed, s.completed_at is not None)
        for s in Snatch.objects.filter(torrent__in=torrents)
    )  # fmt: skip
    peers = sorted(
        (uid[p.user_id], tid[p.torrent_id], bytes(p.peer_id), p.uploaded, p.downloaded, p.left, p.is_seeder, p.prev_uploaded,
         bytes(p.compact))
        for p in Peer.objects.filter(torrent__in=torrents)
    )  # fmt: skip
    return [stats, totals, snatches, peers]


@pytest.mark.django_db
@pytest.mark.parametrize("freeleech", [["", ""], ["gold", "silver"]])
def test_a_batch_leaves_the_state_that_the_same_announces_one_by_one_leave(needs_postgresql, freeleech):
    singles, batched = world(freeleech), world(freeleech)
    for round_ in ROUNDS:
        one_by_one = [peer_announce(params(singles[0][u], singles[1][t], peer_id(p), **kw)) for u, t, p, kw in round_]
        together = run_batch([params(batched[0][u], batched[1][t], peer_id(p), **kw) for u, t, p, kw in round_])
        assert [r.accepted for r in together] == [r.accepted for r in one_by_one]
        assert [r.fresh for r in together] == [True] * len(round_)
    assert state(*batched) == state(*singles)
    assert not run_batch([params(batched[0][2], batched[1][1], peer_id(4))])[0].accepted  # user 0's peer
    if freeleech == ["", ""]:
        assert_counts_match_tables()


@pytest.mark.django_db
def test_a_batch_answers_each_announce_with_its_swarm_and_the_counts_after_the_batch(needs_postgresql):
    users, torrents = world(["", ""])
    run_batch([params(users[n], torrents[0], peer_id(n), ip=f"10.0.0.{n + 1}", port=6001 + n) for n in range(3)])
    results = run_batch(
        [
            params(users[0], torrents[0], peer_id(0), left=0),  # now a seeder: gets leechers only
            params(users[3], torrents[0], peer_id(3), ip="2001:db8::4", port=6004),  # a new leecher: gets everyone else
            params(users[3], torrents[1], peer_id(7), numwant=0),
            params(users[1], torrents[1], peer_id(8), event="stopped", port=0),
        ]
    )
    seeder, leecher, quiet, stop = results
    assert (seeder.seeders, seeder.leechers) == (leecher.seeders, leecher.leechers) == (1, 3)
    assert sorted(seeder.peers4[i : i + 6] for i in range(0, 12, 6)) == [
        bytes([10, 0, 0, n]) + (6000 + n).to_bytes(2, "big") for n in (2, 3)
    ]
    assert len(leecher.peers4) == 3 * 6 and leecher.peers6 == b""
    assert quiet.peers4 == quiet.peers6 == b"" and (quiet.seeders, quiet.leechers) == (0, 1)
    assert stop.accepted and stop.peers4 == b""


@pytest.mark.django_db
def test_a_stale_generation_in_a_batch_writes_nothing_for_that_announce_only(needs_postgresql):
    from tracker.swarm.lookups import lookup_generation

    users, torrents = world(["", ""])
    current = lookup_generation()
    fresh, stale = run_batch(
        [
            announce_params(**_kw(users[0], torrents[0], 1), generation=current),
            announce_params(**_kw(users[1], torrents[0], 2), generation=current - 1),
        ]
    )
    assert (fresh.fresh, fresh.accepted) == (True, True)
    assert (stale.fresh, stale.generation) == (False, current)
    assert list(Peer.objects.values_list("user_id", flat=True)) == [users[0].id]


def _kw(user: Any, torrent: Any, n: int) -> dict[str, Any]:
    return dict(
        user_id=user.id, torrent_id=torrent.id, freeleech="", peer_id=peer_id(n), ip="10.0.0.1", port=6881, uploaded=0,
        downloaded=0, left=10, event="started", is_seeder=False, numwant=50,
    )  # fmt: skip


def test_batch_keys_are_the_peer_and_the_snatch():
    fields = {"t": 7, "u": 3, "pid": b"x" * 20}
    assert batch_keys(fields) == ((7, b"x" * 20), (3, 7))


# Through the ASGI front: batches form under concurrency.


def swarm_of(client: AsgiClient) -> Any:
    return client.run(application._connections())


@pytest.mark.django_db(transaction=True)
def test_concurrent_announces_go_in_batches_and_count_exactly(needs_postgresql, asgi_client):
    torrents = [TorrentFactory(size=1000) for _ in range(3)]
    users = [UserFactory() for _ in range(30)]
    batches = swarm_of(asgi_client).batches
    sent_before = batches.sent[0]

    async def burst(**fields: Any) -> list[dict]:
        responses = await asyncio.gather(
            *(
                asgi_client.request(
                    "GET", f"/announce/{user.passkey}?{announce_qs(torrents[n % 3].info_hash, peer_id(n), **fields)}", remote=f"10.1.0.{n}"
                )
                for n, user in enumerate(users)
            )
        )
        return [reply(r) for r in responses]

    for body in asgi_client.run(burst(event="started", left=1000)):
        assert b"failure reason" not in body
    asgi_client.run(burst(uploaded=100, downloaded=300, left=700))
    asgi_client.run(burst(uploaded=250, downloaded=1000, left=0, event="completed"))
    assert batches.sent[0] > sent_before  # some went together
    for user in users:
        user.refresh_from_db()
        assert (user.uploaded, user.downloaded) == (250, 1000)
    for torrent in torrents:
        torrent.refresh_from_db()
        assert (torrent.seeders, torrent.leechers, torrent.completed) == (10, 0, 10)
    assert_counts_match_tables()
    assert not batches.busy and not batches.waiting


@pytest.mark.django_db(transaction=True)
def test_a_failing_batch_is_sent_again_one_by_one_and_only_the_bad_announce_fails(needs_postgresql, asgi_client):
    torrent = TorrentFactory(size=1000)
    users = [UserFactory() for _ in range(6)]
    swarm = swarm_of(asgi_client)
    gone = Torrent.objects.order_by("-pk").values_list("pk", flat=True).first() + 1000  # no such torrent
    fields = [announce_params(**{**_kw(user, torrent, n), "torrent_id": gone if n == 3 else torrent.id}) for n, user in enumerate(users)]
    sent_before = swarm.batches.sent[0]

    async def together() -> list[Any]:
        return await asyncio.gather(*(swarm.batches.announce(f) for f in fields), return_exceptions=True)

    outcomes = asgi_client.run(together())
    assert swarm.batches.sent[0] > sent_before
    assert isinstance(outcomes[3], Exception) and "foreign key" in str(outcomes[3]).lower()
    assert all(isinstance(o, AnnounceResult) and o.accepted for n, o in enumerate(outcomes) if n != 3)
    assert Peer.objects.count() == 5
    torrent.refresh_from_db()
    assert torrent.leechers == 5


@pytest.mark.django_db(transaction=True)
def test_the_single_statement_locks_the_snatch_before_the_counts_as_batches_do(needs_postgresql):
    """Batches lock a snatch before its torrent's counts; a single statement must too, or the two deadlock."""
    import threading

    import psycopg

    from tracker.swarm.announce import pg_statement

    user, torrent = UserFactory(), TorrentFactory(size=1000)
    dsn = connection.get_connection_params()
    holder, single, probe = (psycopg.connect(**dsn) for _ in range(3))
    try:
        # Another transaction is inserting this user's snatch of the torrent (as a batch would).
        holder.execute(
            "INSERT INTO tracker_snatch (user_id, torrent_id, uploaded, downloaded, seed_time, is_seeding, is_leeching, "
            "first_announce, last_announce, times_completed) VALUES (%s, %s, 0, 0, 0, false, true, now(), now(), 0)",
            [user.id, torrent.id],
        )
        sql, values = pg_statement(params(user, torrent, peer_id(1)))  # a new leecher: counts change, nothing completes
        outcome: dict[str, Any] = {}
        waiting = threading.Thread(target=lambda: outcome.update(row=psycopg.RawCursor(single).execute(sql, values).fetchone()))
        waiting.start()
        waiting.join(1)
        assert waiting.is_alive()  # waiting for the snatch
        probe.execute("SET lock_timeout = '100ms'")
        probe.execute("SELECT 1 FROM tracker_torrentstats WHERE torrent_id = %s FOR UPDATE", [torrent.id])  # not taken yet
        probe.rollback()
        holder.rollback()
        waiting.join(10)
        assert outcome["row"][0] == 1  # then it went through
        single.commit()
    finally:
        for conn in (holder, single, probe):
            conn.close()
    torrent.refresh_from_db()
    assert torrent.leechers == 1
