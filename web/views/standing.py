"""The member's standing under the site's rules (/standing/), and their own state on a torrent page.

The figures are tracker.policy.members.member_standing's (what GET
/api/me/standing answers), judged with the cached rules the announce applies;
the hit-and-run list is tracker.policy.hnr's. These views only add the plain
words: what the figures mean and what to do about them.
"""

from datetime import datetime, timedelta
from typing import Any, NamedTuple

from django.db.models import FilteredRelation, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from core.errors import Invalid
from core.listing import ListQuery, parse_positive_int
from tracker.models import Freeleech, Torrent
from tracker.policy.hnr import HnrEntry, active_warnings, hnr_entry, hnr_page
from tracker.policy.members import Standing, member_standing
from tracker.policy.models import HnrState, TokenUse
from tracker.policy.selectors import site_policy
from tracker.policy.snapshot import AnnouncePolicy
from tracker.policy.standing import ratio_below, required_ratio
from tracker.swarm.lookups import cached_policy
from tracker.swarm.models import Snatch
from web.access import member_required

HNR_TABS = [
    ("all", "All"),
    ("pending", "Pending"),
    ("overdue", "Overdue"),
    ("failed", "Failed"),
    ("met", "Met"),
    ("pardoned", "Pardoned"),
]
HNR_ROWS = 25
WARNING_ROWS = 50
# A ratio less than this many hundredths above the requirement is "close" (the header shows it orange too).
CLOSE_MARGIN = 10


def page_number(request: HttpRequest) -> int:
    """The `page` query parameter; a page that cannot exist is a 404, as Django's own paginated views answer."""
    try:
        return parse_positive_int(request.GET, "page", 1)
    except Invalid:
        raise Http404("No such page.") from None


def _hundredths_text(value: int) -> str:
    return f"{value // 100}.{value % 100:02d}"


class RatioAdvice(NamedTuple):
    """What the standing page says about the ratio, beyond member_standing's figures."""

    required: int  # hundredths; 0: no ratio required at this much downloaded
    close: bool  # meets the requirement by less than CLOSE_MARGIN
    watch_over: bool  # below the requirement for the whole watch: download rights lost
    upload_needed: int  # bytes more to upload to reach the requirement (0 when met)
    first_band: tuple[int, str] | None  # (bytes downloaded, ratio) where a ratio is first required
    next_band: tuple[int, str] | None  # the next band with a higher requirement, for a member under it


def ratio_advice(standing: Standing, rules: AnnouncePolicy, now: datetime) -> RatioAdvice:
    """The requirement in figures a member can act on: how far off it is, and where the bands start and step up."""
    up, down = standing.uploaded, standing.downloaded
    required = required_ratio(down, rules.ratio_bands)
    demanding = [(minimum, ratio) for minimum, ratio in rules.ratio_bands if ratio > 0]
    first = demanding[0] if demanding else None
    step = next(((m, r) for m, r in demanding if m > down and r > required), None)
    return RatioAdvice(
        required=required,
        close=required > 0 and not ratio_below(up, down, required) and ratio_below(up, down, required + CLOSE_MARGIN),
        watch_over=standing.watch_ends is not None and standing.watch_ends <= now,
        upload_needed=max(0, -(-required * down // 100) - up),
        first_band=(first[0], _hundredths_text(first[1])) if first else None,
        next_band=(step[0], _hundredths_text(step[1])) if step else None,
    )


class SlotAdvice(NamedTuple):
    """Why the member may leech as many torrents at once as member_standing says."""

    by_ratio_below: str  # the slot band's ratio that sets the limit ("0.40"), "" when it is not the ratio
    site_cap: bool  # the limit is the site's cap for everyone
    not_yet: bool  # too little downloaded for the ratio to limit slots
    slots_after: int  # bytes downloaded from which the ratio limits slots
    full: bool  # leeching as many as allowed: a new download waits for a free slot


def slot_advice(standing: Standing, rules: AnnouncePolicy) -> SlotAdvice:
    """The reason behind the leech-slot figure: a ratio band, the site's cap, or none yet (tracker.policy.standing.leech_slots)."""
    up, down = standing.uploaded, standing.downloaded
    not_yet = down < rules.slots_after or down == 0
    band = None
    if not not_yet:
        band = next(((below, count) for below, count in rules.slot_bands if up * 100 < below * down), None)
    by_ratio = band is not None and standing.leech_slots == band[1]
    return SlotAdvice(
        by_ratio_below=_hundredths_text(band[0]) if band is not None and by_ratio else "",
        site_cap=standing.leech_slots is not None and not by_ratio,
        not_yet=not_yet and bool(rules.slot_bands),
        slots_after=rules.slots_after,
        full=standing.leech_slots is not None and standing.leeching >= standing.leech_slots,
    )


@member_required
@never_cache  # the member's own figures, which change with every announce
@require_GET
def standing(request: HttpRequest) -> HttpResponse:
    """GET /standing/: ratio and its requirement, ratio watch, leech slots, hit-and-runs (?hnr=<state>, paginated), warnings, points."""
    user = request.user
    now = timezone.now()
    rules = cached_policy()
    figures = member_standing(user, now=now, policy=rules)
    tab = request.GET.get("hnr", "all")
    if tab not in dict(HNR_TABS):
        tab = "all"
    query = ListQuery(page=page_number(request), per_page=HNR_ROWS)
    context = {
        "standing": figures,
        "ratio": ratio_advice(figures, rules, now),
        "slots": slot_advice(figures, rules),
        "hnr": hnr_page(user=user, viewer=user, state=None if tab == "all" else tab, query=query, now=now),  # type: ignore[arg-type]
        "hnr_tab": tab,
        "hnr_tabs": HNR_TABS,
        "warnings": list(active_warnings(user, now).select_related("snatch")[:WARNING_ROWS]),  # type: ignore[arg-type]
        "nav": "standing",
    }
    return render(request, "web/standing.html", context)


class TorrentStanding(NamedTuple):
    """The member's own state on one torrent: their snatch and its hit-and-run requirement, a token running, tokens left."""

    snatch: Snatch | None
    hnr: HnrEntry | None  # None: no requirement on this snatch (or no snatch)
    token_until: datetime | None  # a freeleech token of theirs runs on it until then
    tokens: int
    may_use_token: bool  # tokens left, none running here, and the torrent is not gold anyway
    freeleech_until: datetime | None  # the member's personal freeleech, while it runs


def torrent_standing(user: Any, torrent: Torrent, *, now: datetime | None = None) -> TorrentStanding:
    """`user`'s snatch of `torrent` (with its warning) and their token on it, in one query.

    One query because the torrent page's count is held to a bound: the
    snatch and the token use are each at most one row (both are unique per
    member and torrent), so two LEFT JOINs from the torrent's row cost one
    round trip. The hit-and-run grace is read from the policy only for a
    requirement past its deadline, the one case where it is shown.
    """
    moment = now or timezone.now()
    # django-stubs does not know FilteredRelation aliases, hence the ignore on select_related.
    row = (
        Torrent.objects.filter(pk=torrent.pk)  # type: ignore[misc]
        .annotate(
            mine=FilteredRelation("snatches", condition=Q(snatches__user_id=user.pk)),
            my_token=FilteredRelation("token_uses", condition=Q(token_uses__user_id=user.pk)),
        )
        .select_related("mine", "mine__hnr_warning", "my_token")
        .defer("metainfo", "files_text", "description")
        .get()
    )
    snatch: Snatch | None = getattr(row, "mine", None)
    use: TokenUse | None = getattr(row, "my_token", None)
    entry = None
    if snatch is not None:
        snatch.torrent = torrent
        if snatch.hnr_state:
            overdue = snatch.hnr_state == HnrState.PENDING and snatch.hnr_due is not None and snatch.hnr_due <= moment
            grace = timedelta(hours=site_policy().hnr_grace_hours) if overdue else timedelta(0)
            entry = hnr_entry(snatch, now=moment, grace=grace)
    token_until = use.expires_at if use is not None and use.expires_at > moment else None
    tokens = user.freeleech_tokens
    personal = user.freeleech_until if user.freeleech_until and user.freeleech_until > moment else None
    return TorrentStanding(
        snatch=snatch,
        hnr=entry,
        token_until=token_until,
        tokens=tokens,
        may_use_token=tokens > 0 and token_until is None and torrent.freeleech != Freeleech.GOLD,
        freeleech_until=personal,
    )
