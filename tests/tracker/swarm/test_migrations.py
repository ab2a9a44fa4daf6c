"""Data migrations of the swarm tables, run forward over existing rows."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from tests.factories import TorrentFactory, UserFactory
from tracker.models import SHUFFLE_END, Peer

BEFORE = [("tracker", "0007_lookup_generation")]


@pytest.mark.django_db(transaction=True)
def test_peers_announced_before_the_window_get_their_packed_address_and_a_random_place():
    torrent, user = TorrentFactory(), UserFactory()
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    try:
        OldPeer = executor.loader.project_state(BEFORE).apps.get_model("tracker", "Peer")
        for n, ip in enumerate(["10.0.0.1", "2001:db8::1", "10.0.0.3"]):
            OldPeer.objects.create(
                torrent_id=torrent.id, user_id=user.id, peer_id=b"-qB4650-%012d" % n, ip=ip, port=6881 + n,
                last_announce=timezone.now(),
            )  # fmt: skip
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
    peers = {p.ip: p for p in Peer.objects.all()}
    assert bytes(peers["10.0.0.1"].compact) == bytes([10, 0, 0, 1]) + (6881).to_bytes(2, "big")
    assert len(peers["2001:db8::1"].compact) == 18
    assert bytes(peers["10.0.0.3"].compact)[-2:] == (6883).to_bytes(2, "big")
    assert all(0 <= p.shuffle < SHUFFLE_END for p in peers.values())
    assert len({p.shuffle for p in peers.values()}) == 3
