"""The announce URL handed out suits strict clients, and every older form keeps working, on both fronts.

`/announce?uk=<passkey>`: its last path segment starts with "announce", so
Transmission derives the scrape URL `/scrape?uk=<passkey>` (BEP 48 read
strictly); its path starts with "/announce", which libtorrent's SSRF
mitigation demands of a tracker on the client's own machine.
"""

import pytest
from django.conf import settings

from accounts.models import announce_url_of
from tests.factories import TorrentFactory, UserFactory
from tests.tracker.announce.helpers import announce_qs, peer_id, reply, scrape_qs
from tests.tracker.announce.test_announce_wsgi import call
from tracker.announce.protocol import tracker_route
from tracker.catalogue.services import announce_url_for
from tracker.models import Peer

pytestmark = [pytest.mark.django_db, pytest.mark.both_fronts]

KEY = "0123456789abcdef" * 2


def transmission_scrape_url(announce_url: str) -> str | None:
    """The scrape URL Transmission derives from an announce URL (libtransmission's rule), or None."""
    slash = announce_url.rfind("/")
    if not announce_url[slash + 1 :].startswith("announce"):
        return None
    return announce_url[: slash + 1] + "scrape" + announce_url[slash + 1 + len("announce") :]


def test_the_rule_as_transmission_applies_it():
    assert transmission_scrape_url(f"http://t/announce/{KEY}") is None  # the old form: never scraped
    assert transmission_scrape_url(f"http://t/announce?uk={KEY}") == f"http://t/scrape?uk={KEY}"


@pytest.mark.parametrize(
    ("path", "route"),
    [
        ("/announce", ("announce", None)),
        ("/announce/", ("announce", None)),
        ("/scrape", ("scrape", None)),
        (f"/announce/{KEY}", ("announce", KEY)),
        (f"/scrape/{KEY}", ("scrape", KEY)),
        ("/bt/announce.php", ("announce", None)),
        ("/bt/scrape.php", ("scrape", None)),
        (f"/{KEY}/announce", None),
        ("/api/announce", None),
        ("/announcement", None),
    ],
)
def test_tracker_routes(path, route):
    assert tracker_route(path) == route


def test_the_handed_out_url_announces_and_its_derived_scrape_url_answers(client, user):
    url = announce_url_for(user)
    assert url == announce_url_of(user.passkey) == f"{settings.TRACKER_ANNOUNCE_URL}/announce?uk={user.passkey}"
    assert url.removeprefix(settings.TRACKER_ANNOUNCE_URL).startswith("/announce")  # libtorrent's SSRF rule
    path = url.removeprefix(settings.TRACKER_ANNOUNCE_URL)
    torrent = TorrentFactory()
    body = reply(client.get(f"{path}&{announce_qs(torrent.info_hash, peer_id(1), left=0)}", REMOTE_ADDR="10.0.0.1"))
    assert body[b"complete"] == 1 and b"failure reason" not in body
    scrape_path = transmission_scrape_url(url).removeprefix(settings.TRACKER_ANNOUNCE_URL)
    files = reply(client.get(f"{scrape_path}&{scrape_qs(torrent.info_hash)}"))[b"files"]
    assert files == {bytes.fromhex(torrent.info_hash): {b"complete": 1, b"downloaded": 0, b"incomplete": 0}}


def test_every_form_is_the_same_peer(client):
    member = UserFactory()
    torrent = TorrentFactory()
    forms = [f"/announce?uk={member.passkey}&", f"/announce/{member.passkey}?", f"/bt/announce.php?uk={member.passkey}&"]
    for n, prefix in enumerate(forms):
        qs = announce_qs(torrent.info_hash, peer_id(7), left=10, uploaded=100 * (n + 1))
        assert b"failure reason" not in reply(client.get(f"{prefix}{qs}", REMOTE_ADDR="10.0.0.2"))
    assert Peer.objects.filter(torrent=torrent, user=member).count() == 1
    member.refresh_from_db()
    assert member.uploaded == 200  # the deltas after the peer's first announce, whichever the form


def test_a_bad_or_missing_uk_gets_a_reason(client):
    torrent = TorrentFactory()
    assert b"passkey" in reply(client.get(f"/announce?uk=XYZ&{announce_qs(torrent.info_hash, peer_id(1))}"))[b"failure reason"]
    assert b"passkey" in reply(client.get(f"/announce?{announce_qs(torrent.info_hash, peer_id(1))}"))[b"failure reason"]
    assert b"passkey not found" in reply(client.get(f"/scrape?uk={'1' * 32}&{scrape_qs(torrent.info_hash)}"))[b"failure reason"]


def test_the_deployed_wsgi_front_takes_the_handed_out_form(user):
    torrent = TorrentFactory()
    status, _, body = call("/announce", f"uk={user.passkey}&{announce_qs(torrent.info_hash, peer_id(3), left=0)}")
    assert status.startswith("200") and b"failure reason" not in body
    status, _, body = call("/scrape", f"uk={user.passkey}&{scrape_qs(torrent.info_hash)}")
    assert status.startswith("200") and bytes.fromhex(torrent.info_hash) in body
