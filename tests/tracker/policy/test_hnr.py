"""Hit-and-run: the job (met, overdue, failed, exempt; idempotent, concurrent), pardons, cleared and expiring warnings."""

from datetime import datetime, timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from core.errors import Conflict, Forbidden
from tests.factories import TorrentFactory, UserFactory
from tests.threads import released_together
from tracker.policy import hnr
from tracker.policy.models import HnrState, HnrWarning, PolicyChange, SitePolicy
from tracker.policy.selectors import site_policy
from tracker.swarm.models import Snatch

pytestmark = pytest.mark.django_db

HOUR = 3600


def now() -> datetime:
    return timezone.now().replace(microsecond=0)


def hnr_snatch(
    *, user: Any = None, torrent: Any = None, completed: datetime | None = None, seed: int | None = 72 * HOUR,
    ratio_pct: int | None = 100, due: datetime | None = None, state: str = HnrState.PENDING, seed_time: int = 0,
    uploaded: int = 0,
) -> Snatch:  # fmt: skip
    """A completed snatch carrying a frozen requirement, as the announce leaves it (due: 14 days after completion)."""
    torrent = torrent or TorrentFactory(size=1000)
    completed = completed or now() - timedelta(days=1)
    exempt = state == HnrState.NONE
    return Snatch.objects.create(
        user=user or UserFactory(),
        torrent=torrent,
        first_announce=completed - timedelta(hours=1),
        last_announce=completed,
        completed_at=completed,
        times_completed=1,
        left=0,
        downloaded=torrent.size,
        uploaded=uploaded,
        seed_time=seed_time,
        hnr_seed=None if exempt else seed,
        hnr_ratio_pct=None if exempt else ratio_pct,
        hnr_due=None if exempt else (due or completed + timedelta(days=14)),
        hnr_state=state,
    )


def state_of(snatch: Snatch) -> str:
    snatch.refresh_from_db()
    return snatch.hnr_state


# The rule


@pytest.mark.parametrize(
    ("seed_time", "uploaded", "ratio_pct", "met"),
    [
        (72 * HOUR, 0, 100, True),  # seeded exactly long enough
        (72 * HOUR - 1, 0, 100, False),
        (0, 1000, 100, True),  # uploaded exactly the torrent's size once
        (0, 999, 100, False),
        (0, 1500, 150, True),
        (0, 1499, 150, False),
        (0, 10**9, 0, False),  # ratio 0: seed time only
        (72 * HOUR, 0, 0, True),
    ],
)
def test_the_rule_in_python_and_in_sql_agree(seed_time: int, uploaded: int, ratio_pct: int, met: bool) -> None:
    snatch = hnr_snatch(seed_time=seed_time, uploaded=uploaded, ratio_pct=ratio_pct)
    python = hnr.requirement_met(seed_time=seed_time, uploaded=uploaded, size=1000, hnr_seed=72 * HOUR, hnr_ratio_pct=ratio_pct)
    sql = Snatch.objects.filter(hnr.met_q(), pk=snatch.pk).exists()
    assert python is sql is met


def test_the_ratio_is_measured_against_the_torrents_size_not_what_the_member_downloaded() -> None:
    # They downloaded only 100 bytes of a 1000-byte torrent here: 200 uploaded is ratio 2.0 on their download, 0.2 on the torrent.
    snatch = hnr_snatch(uploaded=200)
    Snatch.objects.filter(pk=snatch.pk).update(downloaded=100)
    assert hnr.hnr_evaluate(now=now()) == hnr.HnrRun(0, 0, 0)
    assert state_of(snatch) == HnrState.PENDING


# The job


def test_a_met_snatch_becomes_met_and_gets_no_warning() -> None:
    by_seeding = hnr_snatch(seed_time=72 * HOUR)
    by_ratio = hnr_snatch(uploaded=1000)
    unmet = hnr_snatch(seed_time=HOUR)
    run = hnr.hnr_evaluate(now=now())
    assert run == hnr.HnrRun(met=2, failed=0, warnings=0)
    assert (state_of(by_seeding), state_of(by_ratio), state_of(unmet)) == (HnrState.MET, HnrState.MET, HnrState.PENDING)
    assert not HnrWarning.objects.exists()


def test_an_overdue_snatch_within_the_grace_stays_pending_and_is_shown_overdue() -> None:
    t = now()
    snatch = hnr_snatch(due=t - timedelta(hours=5))  # grace: 24 hours
    assert hnr.hnr_evaluate(now=t) == hnr.HnrRun(0, 0, 0)
    assert state_of(snatch) == HnrState.PENDING
    entry = hnr.hnr_entry(Snatch.objects.select_related("torrent").get(pk=snatch.pk), now=t, grace=timedelta(hours=24))
    assert entry.state == "overdue"
    assert entry.time_left == 19 * HOUR
    assert entry.grace_ends == t + timedelta(hours=19)
    assert list(hnr.hnr_list(user=snatch.user, viewer=snatch.user, state="overdue", now=t)) == [snatch]
    assert list(hnr.hnr_list(user=snatch.user, viewer=snatch.user, state="pending", now=t)) == []


def test_a_snatch_past_the_grace_fails_with_one_warning() -> None:
    t = now()
    snatch = hnr_snatch(due=t - timedelta(hours=24), seed_time=HOUR, uploaded=500)  # the grace ends now
    still_in_grace = hnr_snatch(due=t - timedelta(hours=23))
    run = hnr.hnr_evaluate(now=t)
    assert run == hnr.HnrRun(met=0, failed=1, warnings=1)
    assert (state_of(snatch), state_of(still_in_grace)) == (HnrState.FAILED, HnrState.PENDING)
    warning = HnrWarning.objects.get()
    assert (warning.user, warning.snatch, warning.torrent_name) == (snatch.user, snatch, snatch.torrent.name)
    assert (warning.created_at, warning.expires_at) == (t, t + timedelta(days=30))


def test_a_snatch_met_during_the_grace_is_met_not_failed() -> None:
    t = now()
    snatch = hnr_snatch(due=t - timedelta(days=3), seed_time=72 * HOUR)
    assert hnr.hnr_evaluate(now=t) == hnr.HnrRun(met=1, failed=0, warnings=0)
    assert state_of(snatch) == HnrState.MET


def test_exempt_and_settled_snatches_are_left_alone() -> None:
    t = now()
    long_ago = t - timedelta(days=60)
    exempt = hnr_snatch(state=HnrState.NONE, completed=long_ago)
    settled = [hnr_snatch(state=s, completed=long_ago) for s in (HnrState.MET, HnrState.FAILED, HnrState.PARDONED)]
    assert hnr.hnr_evaluate(now=t) == hnr.HnrRun(0, 0, 0)
    assert state_of(exempt) == ""
    assert [state_of(s) for s in settled] == [HnrState.MET, HnrState.FAILED, HnrState.PARDONED]
    assert not HnrWarning.objects.exists()


def test_running_the_job_twice_writes_one_warning() -> None:
    t = now()
    snatch = hnr_snatch(due=t - timedelta(days=2))
    assert hnr.hnr_evaluate(now=t) == hnr.HnrRun(0, 1, 1)
    assert hnr.hnr_evaluate(now=t + timedelta(minutes=15)) == hnr.HnrRun(0, 0, 0)
    assert HnrWarning.objects.filter(snatch=snatch).count() == 1


def test_batches_settle_every_candidate_also_with_equal_deadlines() -> None:
    t = now()
    due = t - timedelta(days=2)
    user = UserFactory()
    failing = [hnr_snatch(user=user, due=due) for _ in range(5)]
    met = [hnr_snatch(user=user, due=due, seed_time=72 * HOUR) for _ in range(3)]
    waiting = [hnr_snatch(user=user, due=t + timedelta(days=1)) for _ in range(3)]
    run = hnr.hnr_evaluate(now=t, batch_size=2)
    assert run == hnr.HnrRun(met=3, failed=5, warnings=5)
    assert {state_of(s) for s in failing} == {HnrState.FAILED}
    assert {state_of(s) for s in met} == {HnrState.MET}
    assert {state_of(s) for s in waiting} == {HnrState.PENDING}
    assert sorted(HnrWarning.objects.values_list("snatch_id", flat=True)) == sorted(s.pk for s in failing)


def test_a_failed_snatch_that_has_a_warning_already_gets_no_second_one() -> None:
    t = now()
    snatch = hnr_snatch(due=t - timedelta(days=2))
    HnrWarning.objects.create(user=snatch.user, snatch=snatch, torrent_name="x", created_at=t, expires_at=t + timedelta(days=1))
    assert hnr.hnr_evaluate(now=t) == hnr.HnrRun(0, 1, 0)
    assert HnrWarning.objects.count() == 1


def test_changing_the_policy_after_completion_does_not_change_the_requirement() -> None:
    t = now()
    frozen_72h = hnr_snatch(seed_time=50 * HOUR)  # frozen at 72 h, seeded 50
    overdue = hnr_snatch(due=t - timedelta(hours=2))  # its deadline passed 2 hours ago; the grace is 24 h
    policy = site_policy()
    policy.hnr_seed_hours = 24  # a new download would be met after 24 hours
    policy.hnr_within_days = 1
    policy.hnr_ratio = 0
    policy.save()
    assert hnr.hnr_evaluate(now=t) == hnr.HnrRun(0, 0, 0)
    assert state_of(frozen_72h) == state_of(overdue) == HnrState.PENDING
    entry = hnr.hnr_entry(Snatch.objects.select_related("torrent").get(pk=frozen_72h.pk), now=t, grace=timedelta(hours=24))
    assert (entry.seed_required, entry.seed_remaining, entry.ratio_required) == (72 * HOUR, 22 * HOUR, 1.0)
    # and raising the requirement does not take a met one back
    Snatch.objects.filter(pk=frozen_72h.pk).update(seed_time=72 * HOUR)
    SitePolicy.objects.filter(pk=1).update(hnr_seed_hours=500)
    assert hnr.hnr_evaluate(now=t).met == 1
    assert state_of(frozen_72h) == HnrState.MET


def test_the_grace_and_warning_length_are_read_when_the_job_runs() -> None:
    t = now()
    snatch = hnr_snatch(due=t - timedelta(hours=2))
    SitePolicy.objects.filter(pk=site_policy().pk).update(hnr_grace_hours=1, hnr_warning_days=7)
    assert hnr.hnr_evaluate(now=t) == hnr.HnrRun(0, 1, 1)
    assert HnrWarning.objects.get(snatch=snatch).expires_at == t + timedelta(days=7)


def test_the_command_prints_what_it_did() -> None:
    hnr_snatch(due=now() - timedelta(days=3))
    hnr_snatch(seed_time=72 * HOUR)
    out = StringIO()
    call_command("tracker_hnr", stdout=out)
    assert out.getvalue().strip() == "hit-and-run: 1 met, 1 failed, 1 warning(s) written"


@pytest.fixture
def postgres_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("row-lock concurrency needs PostgreSQL (SQLite serializes every writer)")


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_runs_write_one_warning_per_snatch(postgres_only: None) -> None:
    t = now()
    user = UserFactory()
    torrent_size = 1000
    failing = [hnr_snatch(user=user, torrent=TorrentFactory(size=torrent_size), due=t - timedelta(days=2)) for _ in range(40)]
    met = [hnr_snatch(user=user, torrent=TorrentFactory(size=torrent_size), seed_time=72 * HOUR) for _ in range(10)]
    site_policy()
    runs: list[hnr.HnrRun] = released_together(2, lambda i: hnr.hnr_evaluate(now=t, batch_size=3))
    assert HnrWarning.objects.count() == 40
    assert sorted(HnrWarning.objects.values_list("snatch_id", flat=True)) == sorted(s.pk for s in failing)
    assert {state_of(s) for s in met} == {HnrState.MET}
    # Each row was settled by exactly one of the runs (the other skipped it or saw it settled); a third finds nothing.
    assert sum(r.failed for r in runs) == 40 and sum(r.warnings for r in runs) == 40 and sum(r.met for r in runs) == 10
    assert hnr.hnr_evaluate(now=t) == hnr.HnrRun(0, 0, 0)


# Pardons and cleared warnings


def test_a_moderator_pardons_a_failed_snatch_and_its_warning_is_cleared(moderator: Any) -> None:
    t = now()
    snatch = hnr_snatch(due=t - timedelta(days=2))
    hnr.hnr_evaluate(now=t)
    warning = HnrWarning.objects.get(snatch=snatch)
    pardoned = hnr.hnr_pardon(snatch=snatch, actor=moderator, reason="tracker outage")
    assert pardoned.hnr_state == state_of(snatch) == HnrState.PARDONED
    warning.refresh_from_db()
    assert (warning.cleared_by, warning.cleared_reason) == (moderator, "tracker outage")
    assert warning.cleared_at is not None
    assert hnr.warnings_count(snatch.user, timezone.now()) == 0
    change = PolicyChange.objects.get()
    assert (change.actor, change.action, change.reason) == (moderator, "hnr_pardon", "tracker outage")
    assert change.changes == {"hnr_state": ["failed", "pardoned"], "warning": [warning.pk, "cleared"]}
    assert snatch.torrent.name in change.target and snatch.user.username in change.target


def test_a_pardoned_pending_snatch_is_never_failed(moderator: Any) -> None:
    t = now()
    snatch = hnr_snatch(due=t + timedelta(days=1))
    hnr.hnr_pardon(snatch=snatch, actor=moderator, reason="ok")
    assert hnr.hnr_evaluate(now=t + timedelta(days=30)) == hnr.HnrRun(0, 0, 0)
    assert state_of(snatch) == HnrState.PARDONED
    assert not HnrWarning.objects.exists()


def test_pardoning_twice_changes_nothing_the_second_time(moderator: Any) -> None:
    snatch = hnr_snatch()
    hnr.hnr_pardon(snatch=snatch, actor=moderator, reason="once")
    hnr.hnr_pardon(snatch=snatch, actor=moderator, reason="twice")
    assert PolicyChange.objects.count() == 1


def test_an_expired_warning_stays_as_it_was_when_its_snatch_is_pardoned(moderator: Any) -> None:
    t = now()
    snatch = hnr_snatch(state=HnrState.FAILED)
    warning = HnrWarning.objects.create(
        user=snatch.user, snatch=snatch, created_at=t - timedelta(days=40), expires_at=t - timedelta(days=10)
    )
    hnr.hnr_pardon(snatch=snatch, actor=moderator, reason="late")
    warning.refresh_from_db()
    assert warning.cleared_at is None


@pytest.mark.parametrize("state", [HnrState.MET, HnrState.NONE])
def test_a_met_or_exempt_snatch_cannot_be_pardoned(moderator: Any, state: str) -> None:
    snatch = hnr_snatch(state=state)
    with pytest.raises(Conflict):
        hnr.hnr_pardon(snatch=snatch, actor=moderator, reason="x")
    assert state_of(snatch) == state
    assert not PolicyChange.objects.exists()


def test_a_member_may_not_pardon_or_clear(user: Any) -> None:
    t = now()
    snatch = hnr_snatch(user=user, state=HnrState.FAILED)
    warning = HnrWarning.objects.create(user=user, snatch=snatch, created_at=t, expires_at=t + timedelta(days=30))
    with pytest.raises(Forbidden):
        hnr.hnr_pardon(snatch=snatch, actor=user, reason="mine")
    with pytest.raises(Forbidden):
        hnr.warning_clear(warning=warning, actor=user, reason="mine")
    warning.refresh_from_db()
    assert (state_of(snatch), warning.cleared_at) == (HnrState.FAILED, None)
    assert not PolicyChange.objects.exists()


def test_a_moderator_clears_a_warning_once(moderator: Any) -> None:
    t = now()
    snatch = hnr_snatch(state=HnrState.FAILED)
    warning = HnrWarning.objects.create(
        user=snatch.user, snatch=snatch, torrent_name="Some.Release", created_at=t, expires_at=t + timedelta(days=30)
    )
    assert hnr.warnings_count(snatch.user, t) == 1
    cleared = hnr.warning_clear(warning=warning, actor=moderator, reason="seeded it since")
    assert (cleared.cleared_by, cleared.cleared_reason) == (moderator, "seeded it since")
    assert hnr.warnings_count(snatch.user, t) == 0
    assert state_of(snatch) == HnrState.FAILED  # the snatch's record stays; only the warning stops counting
    again = hnr.warning_clear(warning=warning, actor=moderator, reason="again")
    assert again.cleared_reason == "seeded it since"
    change = PolicyChange.objects.get()
    assert (change.action, change.reason) == ("warning_clear", "seeded it since")
    assert "Some.Release" in change.target


def test_warnings_expire(user: Any) -> None:
    t = now()
    HnrWarning.objects.create(user=user, created_at=t - timedelta(days=29), expires_at=t + timedelta(days=1))
    HnrWarning.objects.create(user=user, created_at=t - timedelta(days=10), expires_at=t + timedelta(days=20))
    HnrWarning.objects.create(user=UserFactory(), created_at=t, expires_at=t + timedelta(days=30))
    assert hnr.warnings_count(user, t) == 2
    assert hnr.warnings_count(user, t + timedelta(days=1)) == 1  # expires_at itself is past
    assert hnr.warnings_count(user.pk, t + timedelta(days=20)) == 0
    assert list(hnr.active_warnings(user, t + timedelta(days=2)).values_list("expires_at", flat=True)) == [t + timedelta(days=20)]


def test_members_with_hnr_counts_their_record() -> None:
    t = now()
    repeat, once, clean = UserFactory(), UserFactory(), UserFactory()
    for i in range(3):
        snatch = hnr_snatch(user=repeat, state=HnrState.FAILED)
        HnrWarning.objects.create(user=repeat, snatch=snatch, created_at=t, expires_at=t + timedelta(days=i))  # the first expires now
    snatch = hnr_snatch(user=once, state=HnrState.PARDONED)
    HnrWarning.objects.create(user=once, snatch=snatch, created_at=t, expires_at=t + timedelta(days=9), cleared_at=t)
    hnr_snatch(user=clean, state=HnrState.MET)
    rows = [(m.username, m.active_warnings, m.warnings, m.failed) for m in hnr.members_with_hnr(now=t)]
    assert rows == [(repeat.username, 2, 3, 3), (once.username, 0, 1, 0)]
    assert [m.username for m in hnr.members_with_hnr(now=t, search=once.username)] == [once.username]
