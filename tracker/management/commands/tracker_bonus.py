"""python manage.py tracker_bonus: pay members bonus points for the seed time since the last run (hourly, from cron)."""

from typing import Any

from django.core.management.base import BaseCommand
from django.utils import timezone

from tracker.policy.bonus import bonus_award


class Command(BaseCommand):
    help = "Pay bonus points for seeding: each second of seed time once, however often or late it runs."

    def handle(self, *args: Any, **options: Any) -> None:
        run = bonus_award(now=timezone.now())
        self.stdout.write(f"paid {run.members} member(s) {run.points} point(s)")
