"""Hit-and-run: the evaluation job, pardons and cleared warnings, and the lists members and moderators read.

The requirement is frozen on the snatch when the download first completes
(the announce writes `hnr_seed`, `hnr_ratio_pct`, `hnr_due` and
`hnr_state="pending"`); nothing here reads the policy's seed hours, ratio or
deadline again, so a later change of the policy never moves a member's
target. What the job does read from the policy at run time is the grace
(`hnr_grace_hours`) and how long a new warning lasts (`hnr_warning_days`).

A requirement is *met* when the snatch has seeded `hnr_seed` seconds, or,
where `hnr_ratio_pct` > 0, when it has uploaded `hnr_ratio_pct`/100 times
the torrent's size (UNIT3D's rule: the ratio on that torrent is measured
against the torrent's size, not against what this member downloaded, so a
member who downloaded part of it elsewhere owes the same as everyone).

Between the deadline and the end of the grace a snatch is still "pending"
in the table but shown as "overdue", with the time left to the grace end;
after that the job marks it "failed" and writes one HnrWarning.
"""

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from django.db import transaction
from django.db.models import Count, F, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.db.models.lookups import GreaterThanOrEqual
from django.utils import timezone

from accounts.models import User
from core.errors import Conflict, Forbidden, Invalid, NotFound, pk_parse
from core.listing import ListQuery, ListSpec, Page, page_of
from tracker.catalogue.access import user_level
from tracker.catalogue.selectors import torrent_visible_q
from tracker.policy.audit import audit_record
from tracker.policy.models import HnrState, HnrWarning
from tracker.policy.selectors import site_policy
from tracker.swarm.models import Snatch

BATCH_SIZE = 500
# The states a member's list filters on: the stored ones, and "overdue" (pending, past the deadline, not met).
OVERDUE = "overdue"
LIST_STATES = (HnrState.PENDING.value, OVERDUE, HnrState.MET.value, HnrState.FAILED.value, HnrState.PARDONED.value)

HNR_LIST = ListSpec(sorts={"due": "hnr_due", "completed_at": "completed_at"}, default_sort="due", default_order="asc")
WARNING_LIST = ListSpec(sorts={"created_at": "created_at", "expires_at": "expires_at"}, default_sort="created_at", default_order="desc")
HNR_MEMBERS_LIST = ListSpec(
    search=True,
    sorts={"active_warnings": "active_warnings", "warnings": "warnings", "failed": "failed", "username": "username"},
    default_sort="active_warnings",
    default_order="desc",
)


# The rule


def requirement_met(*, seed_time: int, uploaded: int, size: int, hnr_seed: int | None, hnr_ratio_pct: int | None) -> bool:
    """Is a frozen requirement met: seeded long enough, or uploaded hnr_ratio_pct/100 x the torrent's size?"""
    if hnr_seed is not None and seed_time >= hnr_seed:
        return True
    if not hnr_ratio_pct:
        return False
    return uploaded * 100 >= hnr_ratio_pct * size


def met_q() -> Q:
    """requirement_met as a filter on snatches (the same comparisons, in integers, on the torrent's size)."""
    by_ratio = GreaterThanOrEqual(F("uploaded") * 100, F("hnr_ratio_pct") * F("torrent__size"))
    return Q(seed_time__gte=F("hnr_seed")) | (Q(hnr_ratio_pct__gt=0) & Q(by_ratio))


def moderator_required(actor: Any) -> None:
    """Pardons and cleared warnings are for moderators (and admins): Forbidden for anyone else."""
    if not getattr(actor, "is_moderator", False):
        raise Forbidden("Only moderators may pardon hit-and-runs or clear warnings.")


# The job


class HnrRun(NamedTuple):
    """What one run of the job did: snatches marked met, marked failed, warnings written."""

    met: int
    failed: int
    warnings: int


def hnr_evaluate(*, now: datetime, batch_size: int = BATCH_SIZE) -> HnrRun:
    """Settle the pending requirements: met ones become "met"; ones past deadline + grace and not met, "failed" with a warning.

    Walks the pending snatches by deadline (the partial index
    snatch_hnr_pending) in batches, each its own short transaction, and locks
    only the rows it will change, skipping rows another transaction holds
    (an announce updating that snatch, or a second run of this job): those
    are settled by the next run. A locked row that another run settled
    meanwhile no longer matches `hnr_state="pending"` and is left alone, so
    each snatch fails once and gets exactly one warning (HnrWarning.snatch is
    one-to-one as well).
    """
    policy = site_policy()
    grace_cutoff = now - timedelta(hours=policy.hnr_grace_hours)
    expires_at = now + timedelta(days=policy.hnr_warning_days)
    totals = HnrRun(0, 0, 0)
    after: tuple[datetime, int] | None = None
    while True:
        with transaction.atomic():
            batch = list(_candidates(grace_cutoff=grace_cutoff, after=after)[:batch_size])
            if not batch:
                return totals
            run = _settle(batch, grace_cutoff=grace_cutoff, now=now, expires_at=expires_at)
        totals = HnrRun(totals.met + run.met, totals.failed + run.failed, totals.warnings + run.warnings)
        after = (batch[-1].hnr_due, batch[-1].pk)  # type: ignore[assignment]  # never NULL here: _candidates


def _candidates(*, grace_cutoff: datetime, after: tuple[datetime, int] | None) -> QuerySet[Snatch]:
    """The pending snatches to settle (met, or past the grace end), locked when read, after the keyset `after`.

    Keyset pages on (hnr_due, id), so a run reads the pending index once
    however many rows it skips.
    """
    rows = Snatch.objects.filter(hnr_state=HnrState.PENDING, hnr_due__isnull=False).filter(met_q() | Q(hnr_due__lte=grace_cutoff))
    if after is not None:
        # The first term is the index's range; the second steps past the rows of the last batch with the same deadline.
        rows = rows.filter(hnr_due__gte=after[0]).filter(Q(hnr_due__gt=after[0]) | Q(id__gt=after[1]))
    return (
        rows.select_related("torrent")
        .only("id", "user_id", "seed_time", "uploaded", "hnr_seed", "hnr_ratio_pct", "hnr_due", "torrent__size", "torrent__name")
        .select_for_update(skip_locked=True, of=("self",))
        .order_by("hnr_due", "id")
    )


def _settle(batch: list[Snatch], *, grace_cutoff: datetime, now: datetime, expires_at: datetime) -> HnrRun:
    """Mark a locked batch's met and failed snatches, and warn for each failed one that has no warning yet."""
    met_ids, overdue = _split(batch, grace_cutoff=grace_cutoff)
    met = Snatch.objects.filter(pk__in=met_ids).update(hnr_state=HnrState.MET)
    failed = Snatch.objects.filter(pk__in=[s.pk for s in overdue]).update(hnr_state=HnrState.FAILED)
    warned = set(HnrWarning.objects.filter(snatch__in=overdue).values_list("snatch_id", flat=True))
    new = [
        HnrWarning(user_id=s.user_id, snatch=s, torrent_name=s.torrent.name, created_at=now, expires_at=expires_at)
        for s in overdue
        if s.pk not in warned
    ]
    return HnrRun(met=met, failed=failed, warnings=len(HnrWarning.objects.bulk_create(new)))


def _split(batch: list[Snatch], *, grace_cutoff: datetime) -> tuple[list[int], list[Snatch]]:
    """The batch's met snatches (ids) and its failed ones (past the grace end and not met), judged on the locked rows."""
    met_ids: list[int] = []
    overdue: list[Snatch] = []
    for snatch in batch:
        if requirement_met(
            seed_time=snatch.seed_time, uploaded=snatch.uploaded, size=snatch.torrent.size,
            hnr_seed=snatch.hnr_seed, hnr_ratio_pct=snatch.hnr_ratio_pct,
        ):  # fmt: skip
            met_ids.append(snatch.pk)
        elif snatch.hnr_due is not None and snatch.hnr_due <= grace_cutoff:
            overdue.append(snatch)
    return met_ids, overdue


# Services


def hnr_pardon(*, snatch: Snatch, actor: Any, reason: str) -> Snatch:
    """A moderator forgives a hit-and-run: the snatch becomes "pardoned" and its warning, if still active, is cleared.

    Pending (even overdue) and failed snatches may be pardoned; one already
    pardoned is returned as it is; one met, or without a requirement, is a
    Conflict. The row is locked first, so a job running meanwhile either
    failed it before (and its new warning is cleared here) or sees it pardoned.
    """
    moderator_required(actor)
    now = timezone.now()
    with transaction.atomic():
        locked = Snatch.objects.select_for_update(of=("self",)).select_related("torrent", "user").get(pk=snatch.pk)
        if locked.hnr_state == HnrState.PARDONED:
            return locked
        if locked.hnr_state not in (HnrState.PENDING, HnrState.FAILED):
            raise Conflict("The requirement is met already." if locked.hnr_state else "This download has no hit-and-run requirement.")
        changes: dict[str, list[Any]] = {"hnr_state": [locked.hnr_state, HnrState.PARDONED.value]}
        locked.hnr_state = HnrState.PARDONED
        locked.save(update_fields=["hnr_state"])
        warning = HnrWarning.objects.select_for_update().filter(snatch=locked).first()
        if warning is not None and warning_active(warning, now):
            _clear(warning, actor=actor, reason=reason, now=now)
            changes["warning"] = [warning.pk, "cleared"]
        audit_record(actor=actor, action="hnr_pardon", target=_snatch_target(locked), changes=changes, reason=reason)
    return locked


def warning_clear(*, warning: HnrWarning, actor: Any, reason: str) -> HnrWarning:
    """A moderator clears a warning: it stops counting at once (cleared_at, cleared_by, cleared_reason). Clearing twice changes nothing."""
    moderator_required(actor)
    now = timezone.now()
    with transaction.atomic():
        locked = HnrWarning.objects.select_for_update(of=("self",)).select_related("user").get(pk=warning.pk)
        if locked.cleared_at is not None:
            return locked
        _clear(locked, actor=actor, reason=reason, now=now)
        audit_record(
            actor=actor,
            action="warning_clear",
            target=f"member {locked.user.username}: warning {locked.pk} ({locked.torrent_name})",
            changes={"cleared_at": [None, now]},
            reason=reason,
        )
    return locked


def _clear(warning: HnrWarning, *, actor: Any, reason: str, now: datetime) -> None:
    warning.cleared_at = now
    warning.cleared_by = actor
    warning.cleared_reason = reason[:200]
    warning.save(update_fields=["cleared_at", "cleared_by", "cleared_reason"])


def _snatch_target(snatch: Snatch) -> str:
    return f"member {snatch.user.username}: snatch {snatch.pk} ({snatch.torrent.name})"


# Selectors: lookups


def member_for_viewer(*, viewer: Any, pk: Any = None) -> User:
    """Whose hit-and-runs or warnings: the viewer's own (pk None), or member `pk`'s for its owner and moderators.

    Unknown member: NotFound; someone else's, for a member: Forbidden.
    """
    if pk is None:
        return viewer
    owner = User.objects.filter(pk=pk_parse(pk)).first()
    if owner is None:
        raise NotFound("User not found.")
    if owner.pk != viewer.pk and not getattr(viewer, "is_moderator", False):
        raise Forbidden("Only the member and moderators may see this.")
    return owner


def snatch_get_visible(*, viewer: Any, pk: Any) -> Snatch:
    """Snatch `pk`, if its torrent is one `viewer` may see (the catalogue's rule); else NotFound."""
    visible = torrent_visible_q(level=user_level(viewer), user_id=viewer.pk, through="torrent__")
    snatch = Snatch.objects.filter(visible, pk=pk_parse(pk)).select_related("torrent", "user", "hnr_warning").first()
    if snatch is None:
        raise NotFound("No such snatch.")
    return snatch


def warning_get(*, pk: Any) -> HnrWarning:
    """Warning `pk`, else NotFound."""
    warning = HnrWarning.objects.filter(pk=pk_parse(pk)).first()
    if warning is None:
        raise NotFound("No such warning.")
    return warning


# Selectors: warnings


def active_q(now: datetime) -> Q:
    """An active warning, as a filter: not cleared and not expired."""
    return Q(cleared_at__isnull=True, expires_at__gt=now)


def warning_active(warning: HnrWarning, now: datetime) -> bool:
    """Does `warning` count now (not cleared, not expired)?"""
    return warning.cleared_at is None and warning.expires_at > now


def active_warnings(user: User | int, now: datetime) -> QuerySet[HnrWarning]:
    """`user`'s warnings that count now, newest first."""
    return HnrWarning.objects.filter(active_q(now), user=user).order_by("-created_at", "-id")


def warnings_count(user: User | int, now: datetime) -> int:
    """How many warnings count against `user` now (the download rights' limit compares this)."""
    return HnrWarning.objects.filter(active_q(now), user=user).count()


def warning_list(*, user: User) -> QuerySet[HnrWarning]:
    """All of `user`'s warnings, active and past, newest first. A member sees every warning that counts against them."""
    return HnrWarning.objects.filter(user=user).order_by("-created_at", "-id")


def members_with_hnr(*, now: datetime, search: str = "") -> QuerySet[User]:
    """Members with a hit-and-run record, each with `active_warnings`, `warnings` (ever) and `failed` (snatches) counts.

    Every failed snatch got a warning when it failed, so the members with a
    warning are the members with a record; the warnings table is small (one
    row per failure), the snatches table large.
    """
    warned = HnrWarning.objects.filter(user=OuterRef("pk"))
    failed = Snatch.objects.filter(user=OuterRef("pk"), hnr_state=HnrState.FAILED)
    members = User.objects.filter(pk__in=HnrWarning.objects.values("user_id")).annotate(
        active_warnings=_count(warned.filter(active_q(now))), warnings=_count(warned), failed=_count(failed)
    )
    if search:
        members = members.filter(username__icontains=search)
    return members.order_by("-active_warnings", "id")


def _count(rows: QuerySet[Any]) -> Coalesce:
    counted = rows.order_by().values("user_id").annotate(n=Count("pk")).values("n")[:1]
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


# Selectors: a member's hit-and-run list


class HnrEntry(NamedTuple):
    """One snatch's requirement as the member reads it. Durations in seconds; `time_left` runs to the deadline
    while "pending", to the grace end while "overdue", and is None once settled."""

    id: int
    torrent: dict[str, Any]
    state: str
    completed_at: datetime | None
    due: datetime | None
    grace_ends: datetime | None
    time_left: int | None
    seed_time: int
    seed_required: int
    seed_remaining: int
    uploaded: int
    ratio: float | None
    ratio_required: float | None
    warning: dict[str, Any] | None


def hnr_list(*, user: User, viewer: Any, state: str | None, now: datetime | None = None) -> QuerySet[Snatch]:
    """`user`'s snatches with a hit-and-run requirement, of torrents `viewer` may see, by deadline.

    `state` (None: all): "pending" (before the deadline, not met yet),
    "overdue" (past it, not met, the warning not written yet), "met" (met,
    whether or not the job has recorded it yet), "failed", "pardoned". The
    visibility rule is snatch_history's: the catalogue's, for the viewer.
    """
    now = now or timezone.now()
    visible = torrent_visible_q(level=user_level(viewer), user_id=viewer.pk, through="torrent__")
    qs = Snatch.objects.filter(visible, user=user).exclude(hnr_state=HnrState.NONE)
    pending = Q(hnr_state=HnrState.PENDING)
    if state == HnrState.PENDING:
        qs = qs.filter(pending, hnr_due__gt=now).exclude(met_q())
    elif state == OVERDUE:
        qs = qs.filter(pending, hnr_due__lte=now).exclude(met_q())
    elif state == HnrState.MET:
        qs = qs.filter(Q(hnr_state=HnrState.MET) | (pending & met_q()))
    elif state in (HnrState.FAILED, HnrState.PARDONED):
        qs = qs.filter(hnr_state=state)
    elif state:
        raise Invalid(details={"state": [f"Unknown state {state!r}. Allowed: {', '.join(LIST_STATES)}."]})
    return qs.select_related("torrent", "hnr_warning").order_by("hnr_due", "id")


def hnr_page(*, user: User, viewer: Any, state: str | None, query: ListQuery, now: datetime | None = None) -> Page:
    """A page of hnr_list, sorted as `query` asks, its items HnrEntry."""
    now = now or timezone.now()
    snatches = hnr_list(user=user, viewer=viewer, state=state, now=now).order_by(*query.ordering(HNR_LIST))
    page = page_of(snatches, page=query.page, per_page=query.per_page)
    grace = timedelta(hours=site_policy().hnr_grace_hours)
    return replace(page, items=[hnr_entry(s, now=now, grace=grace) for s in page.items])


def hnr_entry_now(snatch: Snatch) -> HnrEntry:
    """hnr_entry at this moment, under the policy's grace."""
    return hnr_entry(snatch, now=timezone.now(), grace=timedelta(hours=site_policy().hnr_grace_hours))


def hnr_entry(snatch: Snatch, *, now: datetime, grace: timedelta) -> HnrEntry:
    """`snatch`'s requirement now: its shown state, what is left to seed and the time left (torrent and warning loaded)."""
    size = snatch.torrent.size
    required = snatch.hnr_seed or 0
    met = requirement_met(
        seed_time=snatch.seed_time, uploaded=snatch.uploaded, size=size, hnr_seed=snatch.hnr_seed, hnr_ratio_pct=snatch.hnr_ratio_pct
    )
    state, time_left, grace_ends = snatch.hnr_state, None, None
    if state == HnrState.PENDING and met:
        state = HnrState.MET.value
    elif state == HnrState.PENDING and snatch.hnr_due is not None:
        grace_ends = snatch.hnr_due + grace
        if now < snatch.hnr_due:
            time_left = int((snatch.hnr_due - now).total_seconds())
        else:
            state, time_left = OVERDUE, max(0, int((grace_ends - now).total_seconds()))
    warning = getattr(snatch, "hnr_warning", None)
    return HnrEntry(
        id=snatch.pk,
        torrent={"id": snatch.torrent_id, "name": snatch.torrent.name},
        state=state,
        completed_at=snatch.completed_at,
        due=snatch.hnr_due,
        grace_ends=grace_ends,
        time_left=time_left,
        seed_time=snatch.seed_time,
        seed_required=required,
        seed_remaining=0 if met else max(0, required - snatch.seed_time),
        uploaded=snatch.uploaded,
        ratio=round(snatch.uploaded / size, 3) if size else None,
        ratio_required=snatch.hnr_ratio_pct / 100 if snatch.hnr_ratio_pct else None,
        warning={"id": warning.pk, "active": warning_active(warning, now)} if warning is not None else None,
    )
