"""A dual-stack client: one peer announced from an IPv4 and an IPv6 address with one peer_id (issue 17).

qBittorrent and libtorrent announce once over each address family with the
same peer_id. The peer is one (counted once, its traffic credited once) and
reachable on both addresses: a reply hands out its IPv4 address in `peers`
and its IPv6 address in `peers6`, the one it announced from less recently
only while that announce is within the peer expiry. Through both fronts, on
either database.
"""

import ipaddress
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from tests.factories import TorrentFactory, UserFactory
from tests.tracker.announce.helpers import announce, peer_id
from tracker.models import Peer, Snatch

pytestmark = [pytest.mark.django_db, pytest.mark.both_fronts]

V4, V6 = "10.0.0.1", "2001:db8::1"
SEEDER = peer_id(1)


@pytest.fixture
def torrent():
    return TorrentFactory(size=1000)


def addresses(raw: bytes, size: int) -> set[tuple[str, int]]:
    """The (address, port) pairs of a compact list: 6-byte IPv4 entries (BEP 23) or 18-byte IPv6 ones (BEP 7)."""
    return {
        (str(ipaddress.ip_address(raw[i : i + size - 2])), int.from_bytes(raw[i + size - 2 : i + size], "big"))
        for i in range(0, len(raw), size)
    }


def leech(client, torrent, n: int, remote: str) -> tuple[dict, set[tuple[str, int]], set[tuple[str, int]]]:
    """A fresh member's leecher `n` announces from `remote`: the reply, its IPv4 peers and its IPv6 peers."""
    body = announce(client, UserFactory().passkey, torrent.info_hash, peer_id(n), remote=remote, port=7000 + n, event="started")
    return body, addresses(body[b"peers"], 6), addresses(body[b"peers6"], 18)


@pytest.mark.parametrize("first", [V4, V6])
def test_each_family_gets_the_dual_stack_seeders_address_of_its_own(client, user, torrent, first):
    second = V6 if first == V4 else V4
    for remote in (first, second):
        announce(client, user.passkey, torrent.info_hash, SEEDER, remote=remote, port=6001, left=0, event="started")
    assert Peer.objects.count() == 1
    body4, peers4, peers6 = leech(client, torrent, 2, "10.0.0.2")
    assert peers4 == {(V4, 6001)}
    assert (V6, 6001) in peers6
    body6, peers4, peers6 = leech(client, torrent, 3, "2001:db8::3")
    assert peers6 == {(V6, 6001)}
    assert (V4, 6001) in peers4
    # Counted once: one seeder, the two leechers.
    assert (body4[b"complete"], body4[b"incomplete"]) == (1, 1)
    assert (body6[b"complete"], body6[b"incomplete"]) == (1, 2)


def test_the_seeder_given_to_a_dual_stack_leecher_is_one_entry_per_family(client, user, torrent):
    announce(client, user.passkey, torrent.info_hash, SEEDER, remote=V4, port=6001, left=0, event="started")
    leecher = UserFactory()
    announce(client, leecher.passkey, torrent.info_hash, peer_id(2), remote="10.0.0.2", event="started")
    body = announce(client, leecher.passkey, torrent.info_hash, peer_id(2), remote="2001:db8::2")
    assert addresses(body[b"peers"], 6) == {(V4, 6001)}
    assert body[b"peers6"] == b""
    # The seeder, asking for leechers, gets the dual-stack leecher on both addresses, counted once.
    body = announce(client, user.passkey, torrent.info_hash, SEEDER, remote=V4, port=6001, left=0)
    assert addresses(body[b"peers"], 6) == {("10.0.0.2", 6881)}
    assert addresses(body[b"peers6"], 18) == {("2001:db8::2", 6881)}
    assert (body[b"complete"], body[b"incomplete"]) == (1, 1)


def test_announces_from_both_families_credit_each_byte_once(client, user, torrent):
    figures = [(0, 0, 1000), (0, 0, 1000), (300, 200, 800), (300, 200, 800), (700, 500, 500), (900, 1000, 0), (900, 1000, 0)]
    for n, (uploaded, downloaded, left) in enumerate(figures):
        announce(
            client, user.passkey, torrent.info_hash, SEEDER, remote=(V4, V6)[n % 2], uploaded=uploaded, downloaded=downloaded,
            left=left, event="started" if n < 2 else "",
        )  # fmt: skip
    user.refresh_from_db()
    assert (user.uploaded, user.downloaded) == (900, 1000)
    snatch = Snatch.objects.get()
    assert (snatch.uploaded, snatch.downloaded, snatch.times_completed) == (900, 1000, 1)
    torrent.stats.refresh_from_db()
    assert (torrent.stats.seeders, torrent.stats.leechers, torrent.stats.completed) == (1, 0, 1)


def test_a_same_family_announce_keeps_the_other_address(client, user, torrent):
    for remote in (V6, V4, "10.0.0.9"):  # the IPv4 address changes; the IPv6 one stays the peer's
        announce(client, user.passkey, torrent.info_hash, SEEDER, remote=remote, port=6001, left=0)
    _, peers4, peers6 = leech(client, torrent, 2, "2001:db8::2")
    assert (peers4, peers6) == ({("10.0.0.9", 6001)}, {(V6, 6001)})


def test_the_other_address_is_handed_out_only_while_it_announced_within_the_expiry(client, user, torrent):
    for remote in (V6, V4):
        announce(client, user.passkey, torrent.info_hash, SEEDER, remote=remote, port=6001, left=0)
    Peer.objects.update(alt_announce=timezone.now() - timedelta(seconds=settings.TRACKER_PEER_EXPIRY + 5))
    body, peers4, peers6 = leech(client, torrent, 2, "2001:db8::2")
    assert (peers4, peers6) == ({(V4, 6001)}, set())
    assert (body[b"complete"], body[b"incomplete"]) == (1, 1)
    # It announces from the IPv6 address again: reachable there again.
    announce(client, user.passkey, torrent.info_hash, SEEDER, remote=V6, port=6001, left=0)
    _, peers4, peers6 = leech(client, torrent, 3, "2001:db8::3")
    assert (peers4, peers6) == ({(V4, 6001)}, {(V6, 6001), ("2001:db8::2", 7002)})


def test_a_stop_from_either_family_ends_the_peer_once(client, user, torrent):
    for remote in (V4, V6):
        announce(client, user.passkey, torrent.info_hash, SEEDER, remote=remote, port=6001, left=0)
    for remote in (V4, V6):
        body = announce(client, user.passkey, torrent.info_hash, SEEDER, remote=remote, port=6001, left=0, event="stopped")
        assert (body[b"complete"], body[b"incomplete"]) == (0, 0)
    assert not Peer.objects.exists()
