"""The admin site lists peers and snatches."""

import pytest

from tests.factories import TorrentFactory
from tests.tracker.announce.helpers import announce, peer_id

pytestmark = pytest.mark.django_db


def test_admin_lists_peers_and_snatches(client, admin_user):
    torrent = TorrentFactory(name="adminswarm")
    announce(client, admin_user.passkey, torrent.info_hash, peer_id(1))
    client.force_login(admin_user)
    for url in ("/admin/tracker/peer/", "/admin/tracker/snatch/"):
        response = client.get(url)
        assert response.status_code == 200
        assert b"adminswarm" in response.content
    from tracker.models import Peer

    assert client.get(f"/admin/tracker/peer/{Peer.objects.get().pk}/change/").status_code == 200


def test_admin_is_for_staff_only(client, user):
    client.force_login(user)
    assert client.get("/admin/tracker/peer/").status_code == 302
