"""Counts stay exact: concurrent duplicate announces (PostgreSQL), random sequences with stops and expiry."""

import random
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.utils import timezone

from tests.factories import TorrentFactory, UserFactory, make_hybrid_hashes
from tests.threads import released_together
from tests.tracker.announce.helpers import announce, peer_id
from tests.tracker.swarm.helpers import assert_counts_match_tables
from tracker.models import Peer, Snatch


@pytest.fixture
def postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("row-lock concurrency needs PostgreSQL (SQLite serializes every writer)")


@pytest.mark.django_db(transaction=True)
def test_parallel_duplicate_announces_of_one_peer_count_once(postgres_only):
    torrent = TorrentFactory(size=1000)
    user = UserFactory()
    v1, v2 = make_hybrid_hashes("dupe")
    hybrid = TorrentFactory(info_hash=v1, info_hash_v2=v2)

    # brand-new peer, announced 12 times at once (and half of them under the hybrid's other hash)
    released_together(12, lambda i: announce(Client(), user.passkey, torrent.info_hash, peer_id(1), event="started", left=1000))
    released_together(12, lambda i: announce(Client(), user.passkey, (v1, v2[:40])[i % 2], peer_id(2), event="started", left=1000))
    assert Peer.objects.count() == 2
    # the same progress and the same completion, 16 times at once
    released_together(16, lambda i: announce(Client(), user.passkey, torrent.info_hash, peer_id(1), uploaded=300, downloaded=700, left=300))
    released_together(
        16,
        lambda i: announce(Client(), user.passkey, torrent.info_hash, peer_id(1), uploaded=900, downloaded=1000, left=0, event="completed"),
    )
    released_together(
        16,
        lambda i: announce(
            Client(), user.passkey, (v1, v2[:40])[i % 2], peer_id(2), uploaded=50, downloaded=1000, left=0, event="completed"
        ),
    )
    user.refresh_from_db()
    assert (user.uploaded, user.downloaded) == (950, 2000)
    for t in (torrent, hybrid):
        t.refresh_from_db()
        assert (t.seeders, t.leechers, t.completed) == (1, 0, 1)
    snatch = Snatch.objects.get(torrent=torrent)
    assert (snatch.uploaded, snatch.downloaded, snatch.times_completed) == (900, 1000, 1)
    # and the same stop, 8 times at once
    released_together(
        8,
        lambda i: announce(Client(), user.passkey, torrent.info_hash, peer_id(1), uploaded=1000, downloaded=1000, left=0, event="stopped"),
    )
    user.refresh_from_db()
    assert user.uploaded == 1050
    torrent.refresh_from_db()
    assert (torrent.seeders, torrent.leechers) == (0, 0)
    assert_counts_match_tables()


@pytest.mark.django_db(transaction=True)
def test_parallel_announces_of_many_peers_and_an_expiry_keep_counts_exact(postgres_only):
    torrents = [TorrentFactory(size=1000) for _ in range(3)]
    users = [UserFactory() for _ in range(4)]
    for n in range(8):
        announce(Client(), users[n % 4].passkey, torrents[n % 3].info_hash, peer_id(n), left=1000, event="started")
    Peer.objects.filter(id__in=Peer.objects.order_by("id").values("id")[:4]).update(last_announce=timezone.now() - timedelta(days=1))

    def step(i: int) -> None:
        if i == 0:
            call_command("expire_peers", verbosity=0)
            return
        n = i % 8
        left = random.choice([0, 500])
        event = random.choice(["", "completed", "stopped", "started"])
        announce(
            Client(), users[n % 4].passkey, torrents[n % 3].info_hash, peer_id(n), left=left, uploaded=i * 10, downloaded=i, event=event
        )

    released_together(24, step)
    assert_counts_match_tables()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_announce_sequences_keep_counts_equal_to_the_tables(seed, client):
    rng = random.Random(seed)
    torrents = [TorrentFactory(size=1000) for _ in range(3)]
    users = [UserFactory() for _ in range(4)]
    counters: dict[tuple[int, int], list[int]] = {}
    for step in range(150):
        u = rng.randrange(4)
        t = rng.randrange(3)
        n = rng.randrange(3)
        state = counters.setdefault((u, n), [0, 0, 1000])
        roll = rng.random()
        if roll < 0.05:
            Peer.objects.filter(id__in=Peer.objects.order_by("?").values("id")[:2]).update(last_announce=timezone.now() - timedelta(days=1))
            call_command("expire_peers", verbosity=0)
        elif roll < 0.10:  # client restart: counters start over
            counters[(u, n)] = [0, 0, state[2]]
        else:
            state[0] += rng.randrange(0, 500)
            step_down = rng.randrange(0, 400)
            state[1] += step_down
            state[2] = max(0, state[2] - step_down)
            event = rng.choice(["", "", "", "started", "completed", "stopped", "paused"])
            announce(
                client, users[u].passkey, torrents[t].info_hash, peer_id(u * 10 + n),
                uploaded=state[0], downloaded=state[1], left=state[2], event=event,
            )  # fmt: skip
            if state[2] == 0 and rng.random() < 0.3:
                counters[(u, n)] = [0, 0, 1000]  # starts downloading anew
        if step % 10 == 0:
            assert_counts_match_tables()
    assert_counts_match_tables()
