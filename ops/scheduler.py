"""One scheduler for every periodic job, run by `manage.py run_jobs` (and by `make run`).

Time is cut into periods per job (`settings.JOB_PERIODS`, seconds, aligned
to the epoch: a 900-second job's periods start at :00, :15, :30, :45). A
scheduler runs a job once in each period: it claims the period by
inserting the job's JobRun row for it (unique on job and period), so with
one scheduler per node each job still runs once per period, wherever. On
PostgreSQL it also holds an advisory lock for the job while it runs, so a
run that outlasts its period is not overlapped by the next period's on
another node (that period is skipped). A failed run is recorded (`ok`
false, the error's type and message) and the next period runs the job
again; the jobs are idempotent, so nothing is done twice.
"""

import logging
import os
import socket
import time
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.db import IntegrityError, close_old_connections, connection, transaction
from django.utils import timezone

from ops.jobs import JOBS, Job
from ops.models import JobRun

logger = logging.getLogger("ops.jobs")

NODE = f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True)
class Outcome:
    """What a scheduler did with one due job: ran it (ok or failed), or found its period taken."""

    job: str
    slot: datetime
    ran: bool
    ok: bool | None = None
    counts: dict[str, float] | None = None
    duration_ms: int | None = None


def slot_of(now: datetime, period: int) -> datetime:
    """The start of the period of `period` seconds that `now` falls in."""
    epoch = int(now.timestamp())
    return datetime.fromtimestamp(epoch - epoch % period, tz=UTC)


def scheduled_jobs() -> list[tuple[Job, int]]:
    """The jobs with a period (seconds) in settings.JOB_PERIODS; a period of 0 turns a job off."""
    periods: dict[str, int] = settings.JOB_PERIODS
    return [(job, periods[job.name]) for job in JOBS if periods.get(job.name, 0) > 0]


_LOCK_CLASS = 0x6A6F62  # "job": the advisory locks' first key


def _job_lock_key(job: Job) -> int:
    """A stable int4 per job name: the advisory lock's second key."""
    return zlib.crc32(f"torrentpier.job.{job.name}".encode()) - 2**31


@contextmanager
def _exclusive(job: Job) -> Iterator[bool]:
    """On PostgreSQL, this job's advisory lock for the block (False: another node holds it); elsewhere always True."""
    if connection.vendor != "postgresql":
        yield True
        return
    key = _job_lock_key(job)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [_LOCK_CLASS, key])
        held = bool(cursor.fetchone()[0])
    try:
        yield held
    finally:
        if held:
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [_LOCK_CLASS, key])
            except Exception:  # the connection broke: its session, and the lock with it, is gone anyway
                logger.warning("job %s: could not release its lock (the connection broke)", job.name, exc_info=True)


def _claim(job: Job, slot: datetime, now: datetime) -> JobRun | None:
    """This period's row for `job`, inserted now; None if a scheduler (here or on another node) already has it."""
    try:
        with transaction.atomic():
            return JobRun.objects.create(job=job.name, slot=slot, node=NODE, started_at=now)
    except IntegrityError:
        return None


def _error_text(exc: BaseException) -> str:
    # The type and the first line of the message: enough to find it in the log, which has the traceback.
    first = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {first}"[:500]


def run_job(job: Job, slot: datetime, *, now: datetime | None = None) -> Outcome:
    """Claim `slot` for `job` and, if this scheduler got it, run the job and record how it went."""
    moment = now or timezone.now()
    with _exclusive(job) as held:
        if not held:
            logger.info("job %s skipped: another node is running it", job.name, extra={"job": job.name})
            return Outcome(job.name, slot, ran=False)
        run = _claim(job, slot, moment)
        if run is None:
            return Outcome(job.name, slot, ran=False)
        started = time.monotonic()
        try:
            counts = job.run(moment)
        except Exception as exc:
            duration = int((time.monotonic() - started) * 1000)
            JobRun.objects.filter(pk=run.pk).update(finished_at=timezone.now(), ok=False, duration_ms=duration, error=_error_text(exc))
            logger.exception(
                "job %s failed after %d ms; the next period runs it again", job.name, duration,
                extra={"job": job.name, "duration_ms": duration},
            )  # fmt: skip
            return Outcome(job.name, slot, ran=True, ok=False, duration_ms=duration)
        duration = int((time.monotonic() - started) * 1000)
        JobRun.objects.filter(pk=run.pk).update(finished_at=timezone.now(), ok=True, duration_ms=duration, counts=counts)
        logger.info(
            "job %s ran in %d ms: %s", job.name, duration, " ".join(f"{k}={v:g}" for k, v in counts.items()),
            extra={"job": job.name, "duration_ms": duration, "counts": counts},
        )  # fmt: skip
        return Outcome(job.name, slot, ran=True, ok=True, counts=counts, duration_ms=duration)


class Scheduler:
    """Runs each scheduled job once per period; remembers which periods it has seen so that idle ticks cost nothing."""

    def __init__(self, jobs: Iterable[tuple[Job, int]] | None = None) -> None:
        self.jobs = list(scheduled_jobs() if jobs is None else jobs)
        self.seen: dict[str, datetime] = {}

    def tick(self, now: datetime | None = None) -> list[Outcome]:
        """Run every job whose current period this scheduler has not tried yet."""
        moment = now or timezone.now()
        outcomes = []
        for job, period in self.jobs:
            slot = slot_of(moment, period)
            if self.seen.get(job.name) == slot:
                continue
            if not connection.in_atomic_block:  # (never inside a caller's transaction)
                close_old_connections()  # a connection that the database dropped meanwhile is replaced
            try:
                outcomes.append(run_job(job, slot, now=moment))
            except Exception:  # the database is down: the claim itself failed; try again on the next tick
                logger.exception("job %s could not be claimed; trying again shortly", job.name, extra={"job": job.name})
                continue
            self.seen[job.name] = slot
        return outcomes

    def seconds_to_next(self, now: datetime | None = None) -> float:
        """How long until the next period starts for any job (at most 30 seconds, so a retry after an outage comes soon)."""
        moment = (now or timezone.now()).timestamp()
        waits = [period - moment % period for _, period in self.jobs]
        return max(0.05, min([30.0, *waits]))
