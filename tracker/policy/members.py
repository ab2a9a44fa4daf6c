"""A member's standing under the site's rules, read for the API, the pages and the `.torrent` download.

The figures are the member's row and live peers as they are now, judged by
tracker.policy.standing with the announce's own snapshot of the rules (the
cached one, tracker.swarm.lookups.cached_policy), so a page, the API and the
announce's gate say the same thing.
"""

from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, NamedTuple

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from accounts.models import User
from core.errors import DownloadSuspended
from tracker.policy.models import HnrState, HnrWarning, TokenUse
from tracker.policy.snapshot import AnnouncePolicy
from tracker.policy.standing import download_refusal, hundredths_text, is_below, leech_slots, ratio_text, required_ratio, watch_ended
from tracker.swarm.lookups import cached_policy
from tracker.swarm.models import Peer, Snatch


class Standing(NamedTuple):
    """Everything GET /api/me/standing says (and the profile shows)."""

    uploaded: int
    downloaded: int
    ratio: str  # two decimals, rounded down; "∞" before any download
    required_ratio: str
    below_requirement: bool
    watch_since: datetime | None
    watch_ends: datetime | None
    can_download: bool
    refusal: str  # why not, the announce's own words ("" when it can)
    leeching: int  # torrents leeching now
    leech_slots: int | None  # None: no limit
    peers_per_torrent: int  # 0: no limit
    hnr_pending: int
    hnr_failed: int
    warnings: int  # active
    warnings_allowed: int  # active warnings that suspend download rights (0: never)
    bonus_points: Decimal
    freeleech_tokens: int
    freeleech_until: datetime | None  # personal freeleech
    tokens_running: int  # torrents with a freeleech token running now


def member_standing(user: Any, *, now: datetime | None = None, policy: AnnouncePolicy | None = None) -> Standing:
    """The member's standing now, from their row (read afresh) and live peers."""
    moment = now or timezone.now()
    rules = policy or cached_policy()
    row = (
        User.objects.filter(pk=user.pk)
        .values("uploaded", "downloaded", "ratio_watch_since", "bonus_points", "freeleech_tokens", "freeleech_until")
        .get()
    )
    up, down, since = row["uploaded"], row["downloaded"], row["ratio_watch_since"]
    below = is_below(up, down, rules.ratio_bands)
    if below and since is None:
        since = moment  # the watch starts with the next credit or the next run of the standing job: from now, at the latest
    warnings = warnings_active(user, now=moment).count()
    refusal = download_refusal(
        uploaded=up, downloaded=down, watch_since=since if below else None, now=moment, bands=rules.ratio_bands,
        watch_days=rules.watch_days, warnings=warnings, max_warnings=rules.max_warnings,
    )  # fmt: skip
    live = moment - timedelta(seconds=_expiry())
    hnr = Snatch.objects.filter(user_id=user.pk, hnr_state__in=[HnrState.PENDING, HnrState.FAILED]).aggregate(
        pending=Count("pk", filter=Q(hnr_state=HnrState.PENDING)), failed=Count("pk", filter=Q(hnr_state=HnrState.FAILED))
    )
    return Standing(
        uploaded=up,
        downloaded=down,
        ratio=ratio_text(up, down),
        required_ratio=hundredths_text(required_ratio(down, rules.ratio_bands)),
        below_requirement=below,
        watch_since=since if below else None,
        watch_ends=since + timedelta(days=rules.watch_days) if below and since else None,
        can_download=refusal is None,
        refusal=refusal.reason() if refusal else "",
        leeching=Peer.objects.filter(user_id=user.pk, is_seeder=False, last_announce__gte=live).values("torrent_id").distinct().count(),
        leech_slots=leech_slots(
            uploaded=up, downloaded=down, slots_after=rules.slots_after, slots_max=rules.slots_max, bands=rules.slot_bands
        ),
        peers_per_torrent=rules.peers_per_torrent,
        hnr_pending=hnr["pending"],
        hnr_failed=hnr["failed"],
        warnings=warnings,
        warnings_allowed=rules.max_warnings,
        bonus_points=row["bonus_points"],
        freeleech_tokens=row["freeleech_tokens"],
        freeleech_until=row["freeleech_until"] if row["freeleech_until"] and row["freeleech_until"] > moment else None,
        tokens_running=TokenUse.objects.filter(user_id=user.pk, expires_at__gt=moment).count(),
    )


def _expiry() -> int:
    from django.conf import settings

    return int(settings.TRACKER_PEER_EXPIRY)


def warnings_active(user: Any, *, now: datetime) -> QuerySet[HnrWarning]:
    """The member's hit-and-run warnings that count now: not cleared, not expired."""
    return HnrWarning.objects.filter(user_id=user.pk, cleared_at__isnull=True, expires_at__gt=now)


def download_rights_check(*, user: Any, torrent: Any, now: datetime | None = None) -> None:
    """Refuse a `.torrent` download to a member who lost download rights (DownloadSuspended, the announce's words).

    Seeding is always allowed: the torrent's uploader and members who
    completed it may still fetch its `.torrent` to seed it.
    """
    if getattr(user, "is_moderator", False) or torrent.uploader_id == user.pk:
        return
    moment = now or timezone.now()
    rules = cached_policy()
    # The member as this request loaded them (authentication reads the row).
    row = (user.uploaded, user.downloaded, user.ratio_watch_since)
    refusal = download_refusal(
        uploaded=row[0], downloaded=row[1], watch_since=row[2], now=moment, bands=rules.ratio_bands, watch_days=rules.watch_days,
        warnings=warnings_active(user, now=moment).count() if rules.max_warnings else 0, max_warnings=rules.max_warnings,
    )  # fmt: skip
    if refusal is None:
        return
    if Snatch.objects.filter(user_id=user.pk, torrent_id=torrent.pk, completed_at__isnull=False).exists():
        return
    raise DownloadSuspended(refusal.reason())


def members_on_watch() -> QuerySet[User]:
    """Members whose ratio watch is running or over (moderators' list), the longest-running first."""
    return User.objects.filter(ratio_watch_since__isnull=False, is_active=True).order_by("ratio_watch_since", "id")


def watch_rows(members: Iterable[Any], *, now: datetime | None = None, policy: AnnouncePolicy | None = None) -> list[dict[str, Any]]:
    """The moderators' watch list rows for members on watch: their figures, requirement, watch end and download rights."""
    moment = now or timezone.now()
    rules = policy or cached_policy()
    return [
        {
            "id": m.pk,
            "username": m.username,
            "uploaded": m.uploaded,
            "downloaded": m.downloaded,
            "ratio": ratio_text(m.uploaded, m.downloaded),
            "required_ratio": hundredths_text(required_ratio(m.downloaded, rules.ratio_bands)),
            "watch_since": m.ratio_watch_since,
            "watch_ends": m.ratio_watch_since + timedelta(days=rules.watch_days),
            "can_download": not watch_ended(
                uploaded=m.uploaded, downloaded=m.downloaded, watch_since=m.ratio_watch_since, now=moment,
                bands=rules.ratio_bands, watch_days=rules.watch_days,
            ),
        }
        for m in members
    ]  # fmt: skip


def ratio_watch_refresh(*, now: datetime | None = None, policy: AnnouncePolicy | None = None) -> tuple[int, int]:
    """Start and end ratio watches for every member by the current bands (after a change of bands; the standing job).

    The announce keeps the watch of members it credits; this catches the
    others. Returns (watches started, watches ended).
    """
    moment = now or timezone.now()
    rules = policy or cached_policy()
    started = ended = 0
    rows = User.objects.filter(Q(ratio_watch_since__isnull=False) | Q(downloaded__gt=0)).values_list(
        "pk", "uploaded", "downloaded", "ratio_watch_since"
    )
    start_ids, end_ids = [], []
    for pk, up, down, since in rows.iterator(chunk_size=2000):
        below = is_below(up, down, rules.ratio_bands)
        if below and since is None:
            start_ids.append(pk)
        elif not below and since is not None:
            end_ids.append(pk)
    for chunk in range(0, len(start_ids), 1000):
        started += User.objects.filter(pk__in=start_ids[chunk : chunk + 1000], ratio_watch_since__isnull=True).update(
            ratio_watch_since=moment
        )
    for chunk in range(0, len(end_ids), 1000):
        ended += User.objects.filter(pk__in=end_ids[chunk : chunk + 1000]).update(ratio_watch_since=None)
    return started, ended
