"""GET /announce: the reply's shape and the peers it hands out (BEP 3, 7, 23, 24, 52)."""

import ipaddress

import pytest

from tests.factories import TorrentFactory, UserFactory, make_hybrid_hashes
from tests.tracker.announce.helpers import announce, announce_qs, peer_id
from tracker.models import Peer, Torrent

pytestmark = [pytest.mark.django_db, pytest.mark.both_fronts]


@pytest.fixture
def torrent():
    return TorrentFactory()


def join(client, torrent, n: int, *, left: int = 1000, remote: str | None = None, **params) -> dict:
    """Announce peer `n` of a fresh user from 10.0.0.n."""
    user = UserFactory()
    return announce(client, user.passkey, torrent.info_hash, peer_id(n), left=left, remote=remote or f"10.0.0.{n}", port=6000 + n, **params)


def compact_peers(raw: bytes) -> set[tuple[str, int]]:
    return {(str(ipaddress.ip_address(raw[i : i + 4])), int.from_bytes(raw[i + 4 : i + 6], "big")) for i in range(0, len(raw), 6)}


def test_the_reply_has_the_required_keys_sorted(client, user, torrent):
    response = client.get(f"/announce/{user.passkey}?{announce_qs(torrent.info_hash, peer_id(1))}", REMOTE_ADDR="10.0.0.1")
    raw = response.content
    keys = [b"complete", b"downloaded", b"external ip", b"incomplete", b"interval", b"min interval", b"peers", b"peers6"]
    positions = [raw.index(b"%d:%s" % (len(k), k)) for k in keys]
    assert positions == sorted(positions)
    from fastbencode import bdecode

    body = bdecode(raw)
    assert 1800 <= body[b"interval"] <= 1890
    assert body[b"min interval"] == 300


def test_compact_is_the_default_and_never_includes_the_requester(client, torrent):
    for n in range(1, 4):
        join(client, torrent, n)
    body = join(client, torrent, 4)
    assert compact_peers(body[b"peers"]) == {("10.0.0.1", 6001), ("10.0.0.2", 6002), ("10.0.0.3", 6003)}
    assert body[b"peers6"] == b""
    assert body[b"incomplete"] == 4


def test_the_dictionary_list_carries_peer_ids_unless_no_peer_id(client, torrent):
    join(client, torrent, 1)
    body = join(client, torrent, 2, compact=0)
    assert body[b"peers"] == [{b"ip": b"10.0.0.1", b"port": 6001, b"peer id": peer_id(1)}]
    body = join(client, torrent, 3, compact=0, no_peer_id=1)
    assert {b"ip": b"10.0.0.1", b"port": 6001} in body[b"peers"]
    assert all(b"peer id" not in p for p in body[b"peers"])


def test_ipv6_peers_come_in_peers6_and_external_ip_is_16_bytes(client, torrent):
    join(client, torrent, 1, remote="2001:db8::1")
    body = join(client, torrent, 2, remote="2001:db8::2")
    raw = body[b"peers6"]
    assert len(raw) == 18
    assert ipaddress.ip_address(raw[:16]) == ipaddress.ip_address("2001:db8::1")
    assert int.from_bytes(raw[16:], "big") == 6001
    assert body[b"external ip"] == ipaddress.ip_address("2001:db8::2").packed
    assert body[b"peers"] == b""


def test_seeders_get_only_leechers(client, torrent):
    join(client, torrent, 1, left=0)
    join(client, torrent, 2, left=0)
    join(client, torrent, 3, left=500)
    body = join(client, torrent, 4, left=0)
    assert compact_peers(body[b"peers"]) == {("10.0.0.3", 6003)}
    assert (body[b"complete"], body[b"incomplete"]) == (3, 1)
    leecher = join(client, torrent, 5, left=10)
    assert len(compact_peers(leecher[b"peers"])) == 4


def test_numwant_is_honoured_and_capped(client, torrent, settings):
    settings.TRACKER_NUMWANT_MAX = 5
    for n in range(1, 9):
        join(client, torrent, n)
    assert len(join(client, torrent, 20, numwant=2)[b"peers"]) == 2 * 6
    assert len(join(client, torrent, 21, numwant=500)[b"peers"]) == 5 * 6
    assert join(client, torrent, 22, numwant=0)[b"peers"] == b""


def test_peers_are_chosen_at_random(client, torrent, settings):
    settings.TRACKER_NUMWANT_MAX = 3
    for n in range(1, 13):
        join(client, torrent, n)
    user = UserFactory()
    seen = set()
    for _ in range(12):
        body = announce(client, user.passkey, torrent.info_hash, peer_id(99), remote="10.0.1.1")
        seen.add(body[b"peers"])
    assert len(seen) > 1


def test_stopped_removes_the_peer(client, user, torrent):
    announce(client, user.passkey, torrent.info_hash, peer_id(1))
    body = announce(client, user.passkey, torrent.info_hash, peer_id(1), event="stopped")
    assert body[b"incomplete"] == 0
    assert body[b"peers"] == b""
    assert not Peer.objects.exists()
    torrent.refresh_from_db()
    assert (torrent.seeders, torrent.leechers) == (0, 0)


def test_expired_peers_are_not_handed_out(client, torrent, settings):
    join(client, torrent, 1)
    Peer.objects.update(last_announce=Peer.objects.get().last_announce.replace(year=2000))
    assert join(client, torrent, 2)[b"peers"] == b""


def test_a_hybrid_torrent_is_found_by_either_hash_and_counts_one_peer(client, user):
    v1, v2 = make_hybrid_hashes("hybrid")
    torrent = TorrentFactory(info_hash=v1, info_hash_v2=v2)
    first = announce(client, user.passkey, v1, peer_id(1), event="started", left=1000)
    second = announce(client, user.passkey, v2[:40], peer_id(1), event="started", left=1000)
    assert first[b"incomplete"] == second[b"incomplete"] == 1
    assert Peer.objects.count() == 1
    announce(client, user.passkey, v1, peer_id(1), left=0, downloaded=1000, event="completed")
    announce(client, user.passkey, v2[:40], peer_id(1), left=0, downloaded=1000, event="completed")
    torrent.refresh_from_db()
    user.refresh_from_db()
    assert (torrent.seeders, torrent.leechers, torrent.completed) == (1, 0, 1)
    assert user.downloaded == 1000


def test_a_v2_only_torrent_is_found_by_its_truncated_hash(client, user):
    _, v2 = make_hybrid_hashes("v2only")
    torrent = Torrent.objects.create(forum=TorrentFactory().forum, uploader=user, name="v2", info_hash=None, info_hash_v2=v2, metainfo=b"")
    body = announce(client, user.passkey, v2[:40], peer_id(1))
    assert body[b"incomplete"] == 1
    assert Peer.objects.get().torrent_id == torrent.id


def test_under_a_hybrids_v2_hash_only_the_peers_that_announced_under_it_are_handed_out(client):
    """libtorrent 2 connects to the peers of its v2 announce's reply with a v2 handshake, which a v1-only client drops.

    (Seen with real clients, issue 17: a libtorrent seeder never reached an
    rTorrent leecher of a hybrid it had been handed under both hashes.)
    """
    v1, v2 = make_hybrid_hashes("handshakes")
    TorrentFactory(info_hash=v1, info_hash_v2=v2)
    v1_only, both, seeder = UserFactory(), UserFactory(), UserFactory()
    announce(client, v1_only.passkey, v1, peer_id(1), remote="10.0.0.1", port=6001, event="started")  # rTorrent, Transmission 3
    for info_hash in (v1, v2[:40]):  # libtorrent 2 (qBittorrent, Deluge): one announce under each hash
        announce(client, both.passkey, info_hash, peer_id(2), remote="10.0.0.2", port=6002, event="started")
    under_v2 = announce(client, seeder.passkey, v2[:40], peer_id(3), remote="10.0.0.3", port=6003, left=0, event="started")
    under_v1 = announce(client, seeder.passkey, v1, peer_id(3), remote="10.0.0.3", port=6003, left=0)
    assert compact_peers(under_v2[b"peers"]) == {("10.0.0.2", 6002)}
    assert compact_peers(under_v1[b"peers"]) == {("10.0.0.1", 6001), ("10.0.0.2", 6002)}
    # The counts are the torrent's, whichever hash: every peer, once.
    assert (under_v2[b"complete"], under_v2[b"incomplete"]) == (under_v1[b"complete"], under_v1[b"incomplete"]) == (1, 2)
    # A peer stays marked once it announced under the v2 hash, whatever its twin announces next.
    announce(client, both.passkey, v1, peer_id(2), remote="10.0.0.2", port=6002)
    assert list(Peer.objects.order_by("peer_id").values_list("v2", flat=True)) == [False, True, True]
    leecher = announce(client, UserFactory().passkey, v2[:40], peer_id(4), remote="10.0.0.4", port=6004, left=1000)
    assert compact_peers(leecher[b"peers"]) == {("10.0.0.2", 6002), ("10.0.0.3", 6003)}


def test_a_paused_partial_seed_counts_as_a_seeder_and_gets_leechers_only(client, torrent):
    join(client, torrent, 1, left=0)
    join(client, torrent, 2, left=500)
    body = join(client, torrent, 3, left=300, event="paused")
    assert compact_peers(body[b"peers"]) == {("10.0.0.2", 6002)}
    torrent.refresh_from_db()
    assert (torrent.seeders, torrent.leechers, torrent.completed) == (2, 1, 0)


def test_a_peer_that_moves_is_handed_out_at_its_new_address(client, torrent):
    # Within its address family; one that announces from the other family keeps its address in
    # this one while that announced within the expiry (a dual-stack client: test_dual_stack).
    user = UserFactory()
    announce(client, user.passkey, torrent.info_hash, peer_id(1), remote="2001:db8::1", port=6001)
    announce(client, user.passkey, torrent.info_hash, peer_id(1), remote="2001:db8::7", port=7001)
    body = join(client, torrent, 2)
    assert body[b"peers"] == b""
    assert body[b"peers6"] == ipaddress.ip_address("2001:db8::7").packed + (7001).to_bytes(2, "big")
    assert Peer.objects.get(peer_id=peer_id(1)).compact == body[b"peers6"]


def test_the_dictionary_list_carries_ipv6_peers_with_their_ids(client, torrent):
    join(client, torrent, 1, remote="2001:db8::1")
    join(client, torrent, 2, remote="10.0.0.2")
    body = join(client, torrent, 3, compact=0)
    assert sorted(body[b"peers"], key=lambda p: p[b"port"]) == [
        {b"ip": b"2001:db8::1", b"port": 6001, b"peer id": peer_id(1)},
        {b"ip": b"10.0.0.2", b"port": 6002, b"peer id": peer_id(2)},
    ]
    body = join(client, torrent, 4, compact=0, no_peer_id=1)
    assert {b"ip": b"2001:db8::1", b"port": 6001} in body[b"peers"]


def test_the_window_of_peers_wraps_round_the_swarm(client, torrent, settings):
    """Peers are handed out in shuffle order from a random start: any start still yields numwant peers."""
    settings.TRACKER_NUMWANT_MAX = 3
    for n in range(1, 6):
        join(client, torrent, n)
    Peer.objects.filter(peer_id=peer_id(1)).update(shuffle=0)
    Peer.objects.exclude(peer_id=peer_id(1)).update(shuffle=1000)
    user = UserFactory()
    for _ in range(8):
        body = announce(client, user.passkey, torrent.info_hash, peer_id(99), remote="10.0.1.1")
        assert len(compact_peers(body[b"peers"])) == 3
    # With the requester ruled out, a swarm smaller than numwant is handed out whole.
    settings.TRACKER_NUMWANT_MAX = 50
    body = announce(client, user.passkey, torrent.info_hash, peer_id(99), remote="10.0.1.1")
    assert len(compact_peers(body[b"peers"])) == 5
