"""python manage.py run_jobs: the scheduler (peer expiry, hit-and-run, bonus, standing, recount), one per node."""

import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from ops.jobs import JOBS
from ops.scheduler import Scheduler, scheduled_jobs


class Command(BaseCommand):
    help = "Run the periodic jobs, each once per period across every node running this command (settings.JOB_PERIODS)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="Run the jobs whose current period has not run yet, then exit (for cron).")
        parser.add_argument("--list", action="store_true", help="List the jobs and their periods, then exit.")

    def handle(self, *args: Any, **options: Any) -> None:
        jobs = scheduled_jobs()
        if options["list"]:
            periods = dict((job.name, period) for job, period in jobs)
            for job in JOBS:
                every = f"every {periods[job.name]} s" if job.name in periods else "off"
                self.stdout.write(f"{job.name:<14} {every:<14} {job.help}")
            return
        scheduler = Scheduler(jobs)
        if options["once"]:
            for outcome in scheduler.tick():
                state = "ok" if outcome.ok else "FAILED" if outcome.ran else "already ran in this period"
                self.stdout.write(f"{outcome.job}: {state}")
            return
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        self.stdout.write(f"scheduler running {len(jobs)} job(s): " + ", ".join(f"{job.name} every {p} s" for job, p in jobs))
        while not stop.is_set():
            scheduler.tick()
            stop.wait(scheduler.seconds_to_next())
