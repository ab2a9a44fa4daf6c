"""Helpers for swarm tests."""

from django.db.models import Sum

from accounts.models import User
from tracker.models import Peer, Snatch, Torrent


def assert_counts_match_tables() -> None:
    """Torrent seeders/leechers/completed equal what the peer and snatch tables say; users' totals equal their snatches'."""
    for torrent in Torrent.objects.all():
        peers = Peer.objects.filter(torrent=torrent)
        expected = (
            peers.filter(is_seeder=True).count(),
            peers.filter(is_seeder=False).count(),
            Snatch.objects.filter(torrent=torrent, completed_at__isnull=False).count(),
        )
        assert (torrent.seeders, torrent.leechers, torrent.completed) == expected, torrent.name
    for user in User.objects.all():
        sums = Snatch.objects.filter(user=user).aggregate(up=Sum("uploaded"), down=Sum("downloaded"))
        assert (user.uploaded, user.downloaded) == (sums["up"] or 0, sums["down"] or 0), user.username
