"""Transfer accounting: deltas, restarts, brand-new peers, freeleech, snatches, completion, seed time."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from tests.factories import TorrentFactory, UserFactory
from tests.tracker.announce.helpers import announce, peer_id
from tracker.models import Peer, Snatch
from tracker.swarm.rules import download_credit, transfer_credit

pytestmark = [pytest.mark.django_db, pytest.mark.both_fronts]


@pytest.fixture
def torrent():
    return TorrentFactory(size=1000)


def totals(user) -> tuple[int, int]:
    user.refresh_from_db()
    return user.uploaded, user.downloaded


@pytest.mark.parametrize(("new", "previous", "credit"), [(10, None, 0), (10, 0, 10), (25, 10, 15), (10, 10, 0), (4, 10, 4), (0, 10, 0)])
def test_transfer_credit_rules(new, previous, credit):
    assert transfer_credit(new=new, previous=previous) == credit


def test_download_credit_under_freeleech():
    assert download_credit(delta=101, freeleech="none") == 101
    assert download_credit(delta=101, freeleech="silver") == 50
    assert download_credit(delta=101, freeleech="gold") == 0


def test_the_difference_since_the_last_announce_is_credited(client, user, torrent):
    announce(client, user.passkey, torrent.info_hash, peer_id(1), event="started")
    announce(client, user.passkey, torrent.info_hash, peer_id(1), uploaded=300, downloaded=200, left=800)
    announce(client, user.passkey, torrent.info_hash, peer_id(1), uploaded=500, downloaded=1000, left=0)
    assert totals(user) == (500, 1000)
    snatch = Snatch.objects.get()
    assert (snatch.uploaded, snatch.downloaded, snatch.left) == (500, 1000, 0)


def test_a_brand_new_peer_is_credited_nothing_for_its_starting_counters(client, user, torrent):
    announce(client, user.passkey, torrent.info_hash, peer_id(1), uploaded=10**12, downloaded=10**12, event="started")
    assert totals(user) == (0, 0)
    announce(client, user.passkey, torrent.info_hash, peer_id(1), uploaded=10**12 + 5, downloaded=10**12 + 7)
    assert totals(user) == (5, 7)


def test_a_counter_going_down_means_a_restart_and_credits_the_new_value(client, user, torrent):
    announce(client, user.passkey, torrent.info_hash, peer_id(1), event="started")
    announce(client, user.passkey, torrent.info_hash, peer_id(1), uploaded=1000, downloaded=100)
    announce(client, user.passkey, torrent.info_hash, peer_id(1), uploaded=30, downloaded=100)
    assert totals(user) == (1030, 100)


def test_a_repeated_announce_credits_nothing_more(client, user, torrent):
    announce(client, user.passkey, torrent.info_hash, peer_id(1), event="started")
    for _ in range(3):
        announce(client, user.passkey, torrent.info_hash, peer_id(1), uploaded=70, downloaded=40)
    assert totals(user) == (70, 40)


def test_stopped_credits_the_final_counters(client, user, torrent):
    announce(client, user.passkey, torrent.info_hash, peer_id(1), event="started")
    announce(client, user.passkey, torrent.info_hash, peer_id(1), uploaded=70, downloaded=40, event="stopped")
    announce(client, user.passkey, torrent.info_hash, peer_id(1), uploaded=90, downloaded=90, event="stopped")
    assert totals(user) == (70, 40)
    snatch = Snatch.objects.get()
    assert not snatch.is_leeching and not snatch.is_seeding


@pytest.mark.parametrize(("freeleech", "credited"), [("none", 800), ("silver", 400), ("gold", 0)])
def test_freeleech_reduces_the_credited_download_only(client, user, freeleech, credited):
    torrent = TorrentFactory(freeleech=freeleech)
    announce(client, user.passkey, torrent.info_hash, peer_id(1), event="started")
    announce(client, user.passkey, torrent.info_hash, peer_id(1), uploaded=300, downloaded=800)
    assert totals(user) == (300, credited)
    assert Snatch.objects.get().downloaded == 800  # the history keeps the real traffic


def test_completed_counts_once_per_user_and_torrent(client, user, torrent):
    announce(client, user.passkey, torrent.info_hash, peer_id(1), event="started")
    announce(client, user.passkey, torrent.info_hash, peer_id(1), left=0, downloaded=1000, event="completed")
    announce(client, user.passkey, torrent.info_hash, peer_id(1), left=0, downloaded=1000, event="completed")
    # the same user downloads it again with another client
    announce(client, user.passkey, torrent.info_hash, peer_id(2), event="started")
    announce(client, user.passkey, torrent.info_hash, peer_id(2), left=0, downloaded=1000, event="completed")
    torrent.refresh_from_db()
    assert torrent.completed == 1
    snatch = Snatch.objects.get()
    assert snatch.completed_at is not None
    assert snatch.times_completed == 2
    other = UserFactory()
    announce(client, other.passkey, torrent.info_hash, peer_id(3), event="started")
    announce(client, other.passkey, torrent.info_hash, peer_id(3), left=0, event="completed")
    torrent.refresh_from_db()
    assert torrent.completed == 2


def test_left_reaching_zero_completes_without_the_event_as_aria2_does(client, user, torrent):
    announce(client, user.passkey, torrent.info_hash, peer_id(1), event="started", left=1000)
    announce(client, user.passkey, torrent.info_hash, peer_id(1), event="stopped", left=0, downloaded=1000)
    torrent.refresh_from_db()
    assert torrent.completed == 1
    assert Snatch.objects.get().completed_at is not None


def test_a_seeder_that_never_downloaded_has_not_completed(client, user, torrent):
    announce(client, user.passkey, torrent.info_hash, peer_id(1), event="started", left=0)
    torrent.refresh_from_db()
    assert (torrent.seeders, torrent.completed) == (1, 0)
    assert Snatch.objects.get().completed_at is None


def test_a_restarted_client_that_finished_meanwhile_completes(client, user, torrent):
    announce(client, user.passkey, torrent.info_hash, peer_id(1), event="started", left=600)
    Peer.objects.all().delete()  # e.g. expired while the client was offline
    announce(client, user.passkey, torrent.info_hash, peer_id(2), event="started", left=0)
    assert Snatch.objects.get().completed_at is not None


def test_seed_time_accumulates_while_seeding_and_is_capped(client, user, torrent, settings):
    announce(client, user.passkey, torrent.info_hash, peer_id(1), event="started", left=0)
    Peer.objects.update(last_announce=timezone.now() - timedelta(seconds=600))
    announce(client, user.passkey, torrent.info_hash, peer_id(1), left=0)
    seed_time = Snatch.objects.get().seed_time
    assert 599 <= seed_time <= 605
    Peer.objects.update(last_announce=timezone.now() - timedelta(days=30))
    announce(client, user.passkey, torrent.info_hash, peer_id(1), left=0)
    assert Snatch.objects.get().seed_time - seed_time <= settings.TRACKER_PEER_EXPIRY + 1


def test_leeching_time_is_not_seed_time(client, user, torrent):
    announce(client, user.passkey, torrent.info_hash, peer_id(1), event="started", left=500)
    Peer.objects.update(last_announce=timezone.now() - timedelta(seconds=600))
    announce(client, user.passkey, torrent.info_hash, peer_id(1), left=100)
    assert Snatch.objects.get().seed_time == 0
    assert Snatch.objects.get().is_leeching


def test_an_announce_with_warm_caches_is_one_statement_on_postgresql(client, user, torrent, django_assert_max_num_queries):
    """PostgreSQL: one round trip. SQLite has no data-modifying CTEs; its in-process calls are not round trips."""
    announce(client, user.passkey, torrent.info_hash, peer_id(1), event="started")
    other = UserFactory()
    announce(client, other.passkey, torrent.info_hash, peer_id(2), event="started")
    # SQLite: 10 statements at most (the peer, the snatch, the member's totals, a freeleech token, three
    # writes, the counts, the peers), plus the SAVEPOINT pair the test transaction adds around atomic().
    bound = 1 if connection.vendor == "postgresql" else 12
    with django_assert_max_num_queries(bound):
        announce(client, user.passkey, torrent.info_hash, peer_id(1), uploaded=10, downloaded=10, left=0)
    with django_assert_max_num_queries(bound):
        announce(client, user.passkey, torrent.info_hash, peer_id(1), uploaded=20, left=0, event="stopped")
