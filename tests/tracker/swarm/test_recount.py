"""`manage.py recount_torrents` repairs counts that drifted outside the announce."""

import io

import pytest
from django.core.management import call_command
from django.test import Client

from tests.factories import TorrentFactory, UserFactory
from tests.tracker.announce.helpers import announce, peer_id
from tracker.models import Torrent, TorrentStats
from tracker.swarm.maintenance import torrent_counts_rebuild


def _recount() -> str:
    out = io.StringIO()
    call_command("recount_torrents", stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_a_deleted_accounts_peers_leave_the_counts_after_a_recount():
    torrent = TorrentFactory()
    seeder, leecher, leaver = UserFactory(), UserFactory(), UserFactory()
    announce(Client(), seeder.passkey, torrent.info_hash, peer_id(1), left=0, event="completed")
    announce(Client(), leecher.passkey, torrent.info_hash, peer_id(2), left=10)
    announce(Client(), leaver.passkey, torrent.info_hash, peer_id(3), left=10)
    torrent.refresh_from_db()
    assert (torrent.seeders, torrent.leechers, torrent.completed) == (1, 2, 1)

    leaver.delete()  # the cascade removes the peer behind the announce's back
    torrent.refresh_from_db()
    assert torrent.leechers == 2

    assert "repaired 1 torrent(s)" in _recount()
    torrent.refresh_from_db()
    assert (torrent.seeders, torrent.leechers, torrent.completed) == (1, 1, 1)
    assert "repaired 0 torrent(s)" in _recount()


@pytest.mark.django_db
def test_it_zeroes_counts_of_an_empty_swarm_and_leaves_exact_ones_alone():
    drifted = TorrentFactory()
    TorrentStats.objects.filter(pk=drifted.pk).update(seeders=5, leechers=7, completed=3)
    exact = TorrentFactory()
    assert torrent_counts_rebuild() == 1
    assert TorrentStats.objects.filter(pk=drifted.pk).values_list("seeders", "leechers", "completed").get() == (0, 0, 0)
    assert TorrentStats.objects.filter(pk=exact.pk).values_list("seeders", "leechers", "completed").get() == (0, 0, 0)


@pytest.mark.django_db
def test_a_torrent_missing_its_counts_row_gets_one_with_the_swarms_counts():
    torrent = TorrentFactory()
    user = UserFactory()
    announce(Client(), user.passkey, torrent.info_hash, peer_id(1), left=10)
    TorrentStats.objects.filter(pk=torrent.pk).delete()  # e.g. a bulk load that skipped Torrent.save
    assert torrent_counts_rebuild() == 1
    assert TorrentStats.objects.filter(pk=torrent.pk).values_list("seeders", "leechers", "completed").get() == (0, 1, 0)
    assert torrent_counts_rebuild() == 0


@pytest.mark.django_db
def test_every_new_torrent_gets_a_zero_counts_row():
    torrent = Torrent.objects.create(forum=TorrentFactory().forum, uploader=UserFactory(), name="plain", info_hash="ab" * 20, metainfo=b"")
    assert TorrentStats.objects.filter(pk=torrent.pk).values_list("seeders", "leechers", "completed").get() == (0, 0, 0)
    assert (torrent.seeders, torrent.leechers, torrent.completed) == (0, 0, 0)
