"""python manage.py recount_torrents: repair seeders/leechers/completed from the peer and snatch tables."""

from typing import Any

from django.core.management.base import BaseCommand

from tracker.swarm.maintenance import torrent_counts_rebuild


class Command(BaseCommand):
    help = "Recompute every torrent's seeders, leechers and completed from the peers and snatches (run it from cron, e.g. hourly)."

    def handle(self, *args: Any, **options: Any) -> None:
        changed = torrent_counts_rebuild()
        self.stdout.write(f"repaired {changed} torrent(s)")
