"""python manage.py recount_torrents: repair seeders/leechers/completed from the peer and snatch tables, and the forums' totals."""

from typing import Any

from django.core.management.base import BaseCommand
from django.db import connection

from tracker.swarm.maintenance import catalogue_totals_rebuild, torrent_counts_rebuild


class Command(BaseCommand):
    help = "Recompute every torrent's seeders, leechers and completed from the peers and snatches (run it from cron, e.g. hourly)."

    def handle(self, *args: Any, **options: Any) -> None:
        if connection.vendor == "postgresql":
            # A full recount of a large catalogue runs longer than a request may
            # (DB_STATEMENT_TIMEOUT_MS); this job's own connection has no limit.
            with connection.cursor() as cursor:
                cursor.execute("SET statement_timeout = 0")
        changed = torrent_counts_rebuild()
        totals = catalogue_totals_rebuild()
        self.stdout.write(f"repaired {changed} torrent(s) and {totals} forum total(s)")
