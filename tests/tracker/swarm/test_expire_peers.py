"""python manage.py expire_peers: stale peers go, counts follow exactly, live peers stay."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from tests.factories import TorrentFactory, UserFactory
from tests.tracker.announce.helpers import announce, peer_id
from tracker.models import Peer, Snatch

pytestmark = pytest.mark.django_db


def test_expire_peers_removes_stale_peers_and_fixes_counts(client, settings):
    torrent = TorrentFactory()
    stale_user, live_user = UserFactory(), UserFactory()
    announce(client, stale_user.passkey, torrent.info_hash, peer_id(1), left=0)
    announce(client, stale_user.passkey, torrent.info_hash, peer_id(2), left=10)
    announce(client, live_user.passkey, torrent.info_hash, peer_id(3), left=10)
    old = timezone.now() - timedelta(seconds=settings.TRACKER_PEER_EXPIRY + 5)
    Peer.objects.filter(user=stale_user).update(last_announce=old)
    out = StringIO()
    call_command("expire_peers", stdout=out)
    assert out.getvalue().strip() == "expired 2 peer(s)"
    torrent.refresh_from_db()
    assert (torrent.seeders, torrent.leechers) == (0, 1)
    assert list(Peer.objects.values_list("user_id", flat=True)) == [live_user.id]
    stale = Snatch.objects.get(user=stale_user)
    assert not stale.is_seeding and not stale.is_leeching
    assert Snatch.objects.get(user=live_user).is_leeching


def test_expire_peers_works_in_batches(client):
    from tracker.swarm.maintenance import peers_expire

    torrent = TorrentFactory()
    for n in range(5):  # five members: a member may have 3 peers on a torrent (the site's rules)
        announce(client, UserFactory().passkey, torrent.info_hash, peer_id(n), left=n)
    Peer.objects.update(last_announce=timezone.now() - timedelta(days=2))
    assert peers_expire(batch_size=2) == 5
    torrent.refresh_from_db()
    assert (torrent.seeders, torrent.leechers) == (0, 0)
