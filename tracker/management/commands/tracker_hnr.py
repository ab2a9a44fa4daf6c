"""python manage.py tracker_hnr: settle the pending hit-and-run requirements (run it from cron, every 15 minutes say)."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from tracker.policy.hnr import BATCH_SIZE, hnr_evaluate


class Command(BaseCommand):
    help = "Mark met hit-and-run requirements; fail the ones past deadline and grace, with one warning each."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=BATCH_SIZE, help=f"Snatches per transaction (default {BATCH_SIZE}).")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["batch_size"] < 1:
            self.stderr.write("--batch-size must be at least 1")
            raise SystemExit(2)
        run = hnr_evaluate(now=timezone.now(), batch_size=options["batch_size"])
        self.stdout.write(f"hit-and-run: {run.met} met, {run.failed} failed, {run.warnings} warning(s) written")
