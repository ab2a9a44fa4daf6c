"""GET /scrape (BEP 48): figures per requested hash, unknown ones left out, a cap on hashes."""

import pytest
from fastbencode import bdecode

from tests.factories import TorrentFactory, UserFactory, make_hybrid_hashes
from tests.tracker.announce.helpers import announce, peer_id, reply, scrape_qs

pytestmark = [pytest.mark.django_db, pytest.mark.both_fronts]


def test_scrape_reports_each_known_hash(client, user):
    torrent = TorrentFactory()
    v1, v2 = make_hybrid_hashes("s")
    hybrid = TorrentFactory(info_hash=v1, info_hash_v2=v2)
    announce(client, user.passkey, torrent.info_hash, peer_id(1), left=0)
    announce(client, UserFactory().passkey, torrent.info_hash, peer_id(2), left=5)
    announce(client, user.passkey, hybrid.info_hash, peer_id(3), left=5)
    body = reply(client.get(f"/scrape/{user.passkey}?{scrape_qs(torrent.info_hash, v2[:40], 'ab' * 20)}"))
    files = body[b"files"]
    assert files == {
        bytes.fromhex(torrent.info_hash): {b"complete": 1, b"downloaded": 0, b"incomplete": 1},
        bytes.fromhex(v2[:40]): {b"complete": 0, b"downloaded": 0, b"incomplete": 1},
    }


def test_scrape_caps_the_number_of_hashes(client, user, settings):
    settings.TRACKER_SCRAPE_MAX_HASHES = 2
    body = reply(client.get(f"/scrape/{user.passkey}?{scrape_qs('aa' * 20, 'bb' * 20, 'cc' * 20)}"))
    assert body[b"failure reason"] == b"Too many info_hash values (at most 2)"


def test_scrape_refuses_a_bad_passkey_a_bad_hash_and_a_full_scrape(client, user):
    assert b"passkey not found" in reply(client.get(f"/scrape/{'1' * 32}?{scrape_qs('aa' * 20)}"))[b"failure reason"]
    assert reply(client.get(f"/scrape/{user.passkey}?info_hash=abc"))[b"failure reason"] == b"Invalid info_hash"
    assert b"full scrape" in reply(client.get(f"/scrape/{user.passkey}"))[b"failure reason"]
    banned = UserFactory(is_banned=True)
    assert reply(client.get(f"/scrape/{banned.passkey}?{scrape_qs('aa' * 20)}"))[b"failure reason"] == b"Your account is banned"


def test_the_torrentpier_scrape_alias(client, user):
    torrent = TorrentFactory()
    body = bdecode(client.get(f"/bt/scrape.php?uk={user.passkey}&{scrape_qs(torrent.info_hash)}").content)
    assert body[b"files"][bytes.fromhex(torrent.info_hash)][b"incomplete"] == 0


def test_a_torrent_without_its_counts_row_scrapes_as_zeros(client, user):
    from tracker.models import TorrentStats

    torrent, other = TorrentFactory(), TorrentFactory()
    announce(client, user.passkey, other.info_hash, peer_id(1), left=0)
    TorrentStats.objects.filter(pk=torrent.pk).delete()  # a bulk load that skipped Torrent.save, before recount_torrents
    body = reply(client.get(f"/scrape/{user.passkey}?{scrape_qs(torrent.info_hash, other.info_hash)}"))
    assert body[b"files"] == {
        bytes.fromhex(torrent.info_hash): {b"complete": 0, b"downloaded": 0, b"incomplete": 0},
        bytes.fromhex(other.info_hash): {b"complete": 1, b"downloaded": 0, b"incomplete": 0},
    }
