"""python manage.py expire_peers: drop peers not seen for TRACKER_PEER_EXPIRY seconds (run it from cron)."""

from typing import Any

from django.core.management.base import BaseCommand

from tracker.swarm.maintenance import peers_expire


class Command(BaseCommand):
    help = "Remove peers that stopped announcing; torrents' seeders and leechers stay exact."

    def handle(self, *args: Any, **options: Any) -> None:
        removed = peers_expire()
        self.stdout.write(f"expired {removed} peer(s)")
