"""Template context every page needs."""

import math
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, NamedTuple

from django.http import HttpRequest
from django.utils import timezone
from django.utils.functional import SimpleLazyObject

from accounts.emails import email_confirmation_pending
from accounts.invites import CLOSED, registration_mode
from tracker.policy.standing import hundredths_text, ratio_below, ratio_text, required_ratio
from tracker.swarm.lookups import cached_policy

# A ratio less than this many hundredths above the requirement shows as "fair" (orange) in the header.
FAIR_MARGIN = 10
DAY = 86400


def site(request: HttpRequest) -> dict[str, Any]:
    """Whether registration is open (the header links to it only then), the member's bar of figures, and
    whether the member must still confirm their email address (the bar says so).

    The bar is lazy: it is worked out when a template shows it, so a page
    rendered without base.html (an admin page, say) pays nothing for it.
    """
    return {
        "registration_open": registration_mode() != CLOSED,  # REGISTRATION_MODE open or invite
        "member_bar": SimpleLazyObject(lambda: member_bar_for(request.user)),
        # A callable, which templates call when they show it: no page pays for it that does not.
        "email_unconfirmed": lambda: email_confirmation_pending(request.user),
    }


class MemberBar(NamedTuple):
    """The header's figures for a logged-in member: transfer, ratio against the requirement, ratio watch, points."""

    uploaded: int
    downloaded: int
    ratio: str  # two decimals rounded down, "∞" before any download (as the standing page and the API say it)
    ratio_class: str  # "good", "fair" (less than FAIR_MARGIN above the requirement) or "poor" (below it)
    required_ratio: str  # "" where no ratio is required
    watch_ends: datetime | None  # on ratio watch: when download rights end unless the ratio recovers
    watch_days_left: int | None  # whole days left of the watch, rounded up
    suspended: bool  # the watch ended with the ratio still below: new downloads are refused
    bonus_points: Decimal


def member_bar_for(user: Any, *, now: datetime | None = None) -> MemberBar | None:
    """The header's figures for `user` (None for a guest), from the row the request loaded and the cached rules.

    No query of its own: the rules come from the shared cache the announce
    reads too (tracker.swarm.lookups.cached_policy), and a member who has
    downloaded nothing needs no rules at all (their ratio is ∞). A cold cache
    is filled once, for every process and the announce alike. Active
    hit-and-run warnings, which need a count, are left to the standing page.
    """
    if not getattr(user, "is_authenticated", False):
        return None
    up, down, since = user.uploaded, user.downloaded, user.ratio_watch_since
    bar = MemberBar(up, down, ratio_text(up, down), "good", "", None, None, False, user.bonus_points)
    if down == 0:
        return bar
    rules = cached_policy()
    required = required_ratio(down, rules.ratio_bands)
    if required == 0:
        return bar
    bar = bar._replace(required_ratio=hundredths_text(required))
    if not ratio_below(up, down, required):
        return bar._replace(ratio_class="fair" if ratio_below(up, down, required + FAIR_MARGIN) else "good")
    moment = now or timezone.now()
    # Below the requirement with no watch recorded yet: it starts with the next credit or run of the standing job.
    ends = (since or moment) + timedelta(days=rules.watch_days)
    seconds_left = (ends - moment).total_seconds()
    return bar._replace(
        ratio_class="poor",
        watch_ends=ends,
        watch_days_left=max(0, math.ceil(seconds_left / DAY)),
        suspended=seconds_left <= 0,
    )
