"""python manage.py tracker_standing: start and end ratio watches by the current bands (cron: hourly, and after editing the bands)."""

from typing import Any

from django.core.management.base import BaseCommand

from tracker.policy.members import ratio_watch_refresh


class Command(BaseCommand):
    help = "Start the ratio watch of members below their band's requirement, end it for those above (the announce keeps the rest)."

    def handle(self, *args: Any, **options: Any) -> None:
        started, ended = ratio_watch_refresh()
        self.stdout.write(f"ratio watch: {started} started, {ended} ended")
