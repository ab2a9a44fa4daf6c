"""The scheduler: each job once per period, on one node or several; a failed run recorded and retried; the command."""

import logging
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection, connections
from django.utils import timezone

from ops.jobs import JOB_NAMES, JOBS, Job
from ops.models import JobRun
from ops.scheduler import _LOCK_CLASS, Scheduler, _job_lock_key, run_job, scheduled_jobs, slot_of
from tests.factories import TorrentFactory, UserFactory
from tests.threads import released_together
from tests.tracker.announce.helpers import announce, peer_id
from torrentpier.env import env_periods
from tracker.models import Peer

BASE_DIR = Path(__file__).resolve().parents[2]
# A moment well inside a 3600-second period (and so inside every shorter one that divides it).
NOON = datetime(2026, 12, 2, 12, 0, 10, tzinfo=UTC)


def _stale_peer(client, settings, *, at: datetime | None = None) -> Peer:
    """A peer expired as seen from ``at`` (the tick's clock; now by default)."""
    torrent = TorrentFactory()
    announce(client, UserFactory().passkey, torrent.info_hash, peer_id(1), left=10)
    seen = (at or timezone.now()) - timedelta(seconds=settings.TRACKER_PEER_EXPIRY + 5)
    Peer.objects.update(last_announce=seen)
    return Peer.objects.get()


def test_periods_align_to_the_epoch():
    assert slot_of(NOON, 900) == datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    assert slot_of(NOON + timedelta(minutes=14, seconds=49), 900) == datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    assert slot_of(NOON + timedelta(minutes=14, seconds=50), 900) == datetime(2026, 12, 2, 12, 15, tzinfo=UTC)


def test_every_job_is_scheduled_by_default(settings):
    assert [job.name for job, _ in scheduled_jobs()] == list(JOB_NAMES) == ["expire_peers", "hnr", "bonus", "standing", "recount"]
    settings.JOB_PERIODS = {**settings.JOB_PERIODS, "recount": 0}
    assert "recount" not in [job.name for job, _ in scheduled_jobs()]


@pytest.mark.django_db
def test_a_tick_runs_each_job_once_per_period_and_again_in_the_next(client, settings, caplog):
    _stale_peer(client, settings)
    scheduler = Scheduler()
    with caplog.at_level(logging.INFO, logger="ops.jobs"):
        first = scheduler.tick(now=timezone.now())
    assert [(o.job, o.ran, o.ok) for o in first] == [(name, True, True) for name in JOB_NAMES]
    assert not Peer.objects.exists()  # the expiry ran for real
    expire = JobRun.objects.get(job="expire_peers")
    assert expire.ok and expire.counts == {"expired": 1} and expire.finished_at and expire.duration_ms is not None
    assert "job expire_peers ran in" in caplog.text and "expired=1" in caplog.text
    assert scheduler.tick(now=timezone.now()) == []  # the same periods: nothing to do, no query
    later = scheduler.tick(now=timezone.now() + timedelta(seconds=3600))
    assert {o.job for o in later if o.ran} == set(JOB_NAMES)
    assert JobRun.objects.filter(job="recount").count() == 2


@pytest.mark.django_db
def test_a_second_scheduler_finds_the_period_taken():
    one, two = Scheduler(), Scheduler()
    assert all(o.ran for o in one.tick(now=NOON))
    assert [o.ran for o in two.tick(now=NOON + timedelta(seconds=30))] == [False] * len(JOBS)
    assert JobRun.objects.count() == len(JOBS)


@pytest.mark.django_db
def test_a_failed_run_is_recorded_and_retried_in_the_next_period(caplog):
    calls: list[datetime] = []

    def flaky(now: datetime) -> dict[str, float]:
        calls.append(now)
        if len(calls) == 1:
            raise RuntimeError("database went away\nsecond line")
        return {"done": 1}

    scheduler = Scheduler([(Job("flaky", "fails once", flaky), 900)])
    with caplog.at_level(logging.ERROR, logger="ops.jobs"):
        (failed,) = scheduler.tick(now=NOON)
    assert (failed.ran, failed.ok) == (True, False)
    row = JobRun.objects.get()
    assert (row.ok, row.error) == (False, "RuntimeError: database went away") and row.finished_at is not None
    assert "job flaky failed" in caplog.text and caplog.records[-1].exc_info
    assert scheduler.tick(now=NOON + timedelta(seconds=60)) == []  # not twice in the failed period
    (retried,) = scheduler.tick(now=NOON + timedelta(seconds=900))
    assert retried.ok and len(calls) == 2
    assert list(JobRun.objects.order_by("slot").values_list("ok", flat=True)) == [False, True]


def test_job_periods_from_the_environment(monkeypatch):
    defaults = {"hnr": 900, "bonus": 3600}
    monkeypatch.setenv("JOB_PERIODS", "hnr=120, bonus=0")
    assert env_periods("JOB_PERIODS", defaults) == {"hnr": 120, "bonus": 0}
    for bad, words in [("hnr", "name=seconds"), ("nope=60", "name=seconds"), ("hnr=ten", "whole number"), ("hnr=5", "60 to 604800")]:
        monkeypatch.setenv("JOB_PERIODS", bad)
        with pytest.raises(ImproperlyConfigured, match=words):
            env_periods("JOB_PERIODS", defaults)


@pytest.mark.django_db
def test_the_command_once_and_list():
    out = StringIO()
    call_command("run_jobs", "--once", stdout=out)
    assert out.getvalue().splitlines() == [f"{name}: ok" for name in JOB_NAMES]
    out = StringIO()
    call_command("run_jobs", "--once", stdout=out)
    assert out.getvalue().splitlines() == [f"{name}: already ran in this period" for name in JOB_NAMES]
    out = StringIO()
    call_command("run_jobs", "--list", stdout=out)
    assert out.getvalue().splitlines()[0].split()[:3] == ["expire_peers", "every", "300"]


def test_the_scheduler_runs_as_a_process_and_stops_on_sigterm(tmp_path):
    """`manage.py run_jobs` (what `make run` and the systemd unit start): runs the due jobs at once, exits 0 on SIGTERM."""
    db = tmp_path / "jobs.sqlite3"
    env = {**os.environ, "DEBUG": "1", "DATABASE_URL": f"sqlite:///{db}", "JOB_PERIODS": "recount=0"}
    env.pop("REDIS_URL", None)
    manage = [sys.executable, str(BASE_DIR / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], env=env, check=True, cwd=BASE_DIR, timeout=300)
    process = subprocess.Popen([*manage, "run_jobs"], env=env, cwd=BASE_DIR, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        done = 0
        while time.monotonic() < deadline and done < 4:
            time.sleep(0.5)
            with sqlite3.connect(db) as reader:  # the scheduler's own database, as another process sees it
                done = reader.execute("SELECT count(*) FROM ops_jobrun WHERE ok").fetchone()[0]
        assert done == 4
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, output
    assert b"scheduler running 4 job(s)" in output and b"job expire_peers ran in" in output


def test_make_run_starts_the_scheduler_beside_the_server():
    recipe = (BASE_DIR / "Makefile").read_text().split("\nrun:", 1)[1].split("\n\n", 1)[0]
    line = next(line for line in recipe.splitlines() if "run_jobs &" in line)
    assert "manage.py run_jobs &" in line and "trap 'kill $$jobs" in line


@pytest.fixture
def postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("several nodes' schedulers race on PostgreSQL (SQLite serializes every writer)")


@pytest.mark.django_db(transaction=True)
def test_schedulers_on_several_nodes_run_each_job_once(postgres_only, client, settings):
    _stale_peer(client, settings, at=NOON)  # stale at the ticks' fixed clock, whatever today's date (it failed once NOON had passed)
    outcomes = released_together(4, lambda i: Scheduler().tick(now=NOON + timedelta(seconds=i)))
    ran = [(o.job, o.ok) for node in outcomes for o in node if o.ran]
    assert sorted(ran) == sorted((name, True) for name in JOB_NAMES)  # each job once, wherever
    assert JobRun.objects.count() == len(JOBS) and not Peer.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_run_still_going_elsewhere_is_not_overlapped(postgres_only):
    (job,) = [j for j in JOBS if j.name == "standing"]
    other = connections.create_connection("default")  # another node's scheduler, mid-run: it holds the job's lock
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s, %s)", [_LOCK_CLASS, _job_lock_key(job)])
        outcome = run_job(job, slot_of(NOON, 3600), now=NOON)
        assert not outcome.ran and not JobRun.objects.exists()  # skipped, and the period left unclaimed
        with other.cursor() as cursor:  # the other run ends (unlocked now: a closed session's locks go only once the server notices)
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [_LOCK_CLASS, _job_lock_key(job)])
    finally:
        other.close()
    assert run_job(job, slot_of(NOON, 3600), now=NOON).ran  # once it finished, this period can still run
