"""The scheduled jobs: what each does, as counts for the log and the run's row.

Every job is safe to run late, twice or after a failed run: each pays,
settles or removes only what is still due (see each function's module).
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.db import connection

from tracker.policy.bonus import bonus_award
from tracker.policy.hnr import hnr_evaluate
from tracker.policy.members import ratio_watch_refresh
from tracker.swarm.maintenance import catalogue_totals_rebuild, peers_expire, torrent_counts_rebuild


@dataclass(frozen=True)
class Job:
    """A named job and what it runs: `run(now)` returns its counts (what it removed, paid, settled)."""

    name: str
    help: str
    run: Callable[[datetime], dict[str, float]]


def _expire(now: datetime) -> dict[str, float]:
    return {"expired": peers_expire(now=now)}


def _recount(now: datetime) -> dict[str, float]:
    if connection.vendor == "postgresql":
        # A full recount of a large catalogue runs longer than a request may (DB_STATEMENT_TIMEOUT_MS).
        with connection.cursor() as cursor:
            cursor.execute("SET statement_timeout = 0")
    try:
        return {"repaired": torrent_counts_rebuild(), "totals_repaired": catalogue_totals_rebuild()}
    finally:
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("RESET statement_timeout")


def _hnr(now: datetime) -> dict[str, float]:
    run = hnr_evaluate(now=now)
    return {"met": run.met, "failed": run.failed, "warnings": run.warnings}


def _bonus(now: datetime) -> dict[str, float]:
    run = bonus_award(now=now)
    return {"members": run.members, "points": float(run.points)}


def _standing(now: datetime) -> dict[str, float]:
    started, ended = ratio_watch_refresh(now=now)
    return {"started": started, "ended": ended}


# In the order a scheduler runs them when several are due at once.
JOBS: tuple[Job, ...] = (
    Job("expire_peers", "Remove peers not seen for TRACKER_PEER_EXPIRY seconds (the counts follow).", _expire),
    Job("hnr", "Settle pending hit-and-run requirements: met, or failed with a warning.", _hnr),
    Job("bonus", "Pay bonus points for seed time not yet paid.", _bonus),
    Job("standing", "Start and end ratio watches by the current bands.", _standing),
    Job("recount", "Repair seeders, leechers and completed from the peer and snatch tables.", _recount),
)
JOB_NAMES = tuple(job.name for job in JOBS)
