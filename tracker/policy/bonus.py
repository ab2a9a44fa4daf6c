"""Bonus points: what seeding earns (the formula, the hourly job), what the store sells, and the ledger.

A member's balance (`User.bonus_points`) is the sum of their `LedgerEntry`
rows: every write here changes both in one transaction, under the member's
row lock, so the two never disagree (`balance_check` compares them).

Earning: `bonus_award` (hourly, `manage.py tracker_bonus`) pays each snatch's
seed time not paid yet, `seed_time - bonus_seed_time`, and moves the marker
up to what it paid. The marker and the payment change under the snatch's row
lock in the same transaction, so however often the job runs, and from however
many processes at once, each second of seed time is paid once.

Spending: the store (`store_buy`) sells upload credit, freeleech tokens,
the clearing of a hit-and-run warning and (while registration is by invite)
invites; a token is spent on one torrent
(`token_spend`), whose download the announce then counts as nothing until
the TokenUse expires.
"""

import functools
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any, NamedTuple

from django.db import transaction
from django.db.models import F, QuerySet, Sum
from django.utils import timezone

from accounts.invites import INVITE, registration_mode
from accounts.models import User
from core.errors import Conflict, Forbidden, InsufficientPoints, Invalid
from core.listing import ListSpec
from tracker.catalogue.models import Freeleech, Torrent
from tracker.catalogue.selectors import torrent_get_visible
from tracker.policy.audit import audit_record
from tracker.policy.models import GIB, HnrWarning, LedgerEntry, LedgerKind, SitePolicy, TokenUse
from tracker.policy.selectors import site_policy
from tracker.swarm.models import Snatch

CENT = Decimal("0.01")
# The formula's result is rounded to this first, so that a result exact in arithmetic (21.6) is not a hair
# below it after log2 and divisions (21.5999...), which the job's rounding down would make 21.59.
PRECISION = Decimal("1e-10")
LN2 = Decimal(2).ln()
YEAR_SECONDS = 365 * 86400
# The job locks and pays this many members per transaction, reading their snatches this many rows at a time.
MEMBER_BATCH = 100
SNATCH_CHUNK = 2000
QUANTITY_MAX = 100

# The member's ledger (GET /api/me/ledger): newest first by default.
LEDGER_LIST = ListSpec(sorts={"created_at": "created_at", "amount": "amount"}, default_sort="created_at", default_order="desc")


# --- The formula ---------------------------------------------------------------------------------------------


def seeding_points(*, seconds: int, size: int, age: timedelta, seeders: int, policy: SitePolicy) -> Decimal:
    """Points for seeding one torrent for `seconds`, to 10 places (the job rounds each member's sum down to the cent).

    points = bonus_base * hours * size_factor * age_factor * need_factor, where
      size_factor = 1 + log2(1 + size in GiB): larger torrents earn more, with diminishing returns;
      age_factor  = 1 + bonus_age_weight * min(age in days / 365, 1): older torrents earn more, up to a year;
      need_factor = 1 + bonus_need_weight / max(seeders, 1): a lone seeder gets the whole extra.
    """
    if seconds <= 0:
        return Decimal(0)
    hours = Decimal(seconds) / 3600
    age_seconds = max(age.days * 86400 + age.seconds, 0)
    age_factor = 1 + policy.bonus_age_weight * min(Decimal(age_seconds) / YEAR_SECONDS, Decimal(1))
    need_factor = 1 + policy.bonus_need_weight / max(seeders, 1)
    return (policy.bonus_base * hours * size_factor(size) * age_factor * need_factor).quantize(PRECISION)


@functools.lru_cache(maxsize=4096)
def size_factor(size: int) -> Decimal:
    """1 + log2(1 + size in GiB) (cached: the job asks it for every snatch, and sizes repeat)."""
    return 1 + (1 + Decimal(max(size, 0)) / GIB).ln() / LN2


# --- The job -------------------------------------------------------------------------------------------------


class BonusRun(NamedTuple):
    """What one run of the job paid: how many members, how many points in all."""

    members: int
    points: Decimal


def bonus_award(*, now: datetime) -> BonusRun:
    """Pay every member the points their snatches' unpaid seed time earned; see the module docstring.

    Members are paid in batches of MEMBER_BATCH, one transaction each, so a
    million snatches are never loaded at once. Each member gets one
    LedgerEntry per hour: a second run in the same hour adds to that row.
    A member whose unpaid time earns less than a cent is left for a later run.
    """
    policy = site_policy()
    period = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    members, points, after = 0, Decimal(0), 0
    while user_ids := _members_unpaid(after=after):
        after = user_ids[-1]
        paid = _award_batch(user_ids=user_ids, now=now, period=period, policy=policy)
        members += len(paid)
        points += sum(paid.values(), Decimal(0))
    return BonusRun(members, points)


def _members_unpaid(*, after: int) -> list[int]:
    """The next MEMBER_BATCH ids above `after` of members with seed time not paid yet."""
    unpaid = Snatch.objects.filter(user_id__gt=after, seed_time__gt=F("bonus_seed_time"))
    return list(unpaid.order_by("user_id").values_list("user_id", flat=True).distinct()[:MEMBER_BATCH])


def _award_batch(*, user_ids: list[int], now: datetime, period: datetime, policy: SitePolicy) -> dict[int, Decimal]:
    """Pay the members `user_ids` in one transaction; {member id: points paid}.

    Locks are taken in one order, the announce's: the snatches first (sorted,
    so two runs at once wait on each other instead of deadlocking), then the
    members' rows. A snatch paid meanwhile by another run no longer matches
    `seed_time > bonus_seed_time` once its lock is granted (PostgreSQL checks
    the row again), and a member's hourly row is written under their lock.
    """
    with transaction.atomic():
        snatches = (
            Snatch.objects.select_for_update(of=("self",))  # not the torrents' rows: edits and other runs need them
            .filter(user_id__in=user_ids, seed_time__gt=F("bonus_seed_time"))
            .select_related("torrent", "torrent__stats")
            .only("user_id", "seed_time", "bonus_seed_time", "torrent__size", "torrent__created_at", "torrent__stats__seeders")
            .order_by("user_id", "torrent_id")
        )
        earned: dict[int, Decimal] = {}
        marks: dict[int, list[Snatch]] = {}
        for snatch in snatches.iterator(chunk_size=SNATCH_CHUNK):
            torrent = snatch.torrent
            stats = getattr(torrent, "stats", None)  # no counts row (a bulk load before recount_torrents): no seeders
            points = seeding_points(
                seconds=snatch.seed_time - snatch.bonus_seed_time,
                size=torrent.size,
                age=now - torrent.created_at,
                seeders=stats.seeders if stats is not None else 0,
                policy=policy,
            )
            earned[snatch.user_id] = earned.get(snatch.user_id, Decimal(0)) + points
            marks.setdefault(snatch.user_id, []).append(Snatch(pk=snatch.pk, bonus_seed_time=snatch.seed_time))
        amounts = {u: e.quantize(CENT, rounding=ROUND_DOWN) for u, e in sorted(earned.items())}
        amounts = {u: a for u, a in amounts.items() if a > 0}
        list(User.objects.select_for_update().filter(pk__in=amounts).order_by("pk").values_list("pk", flat=True))
        for user_id, amount in amounts.items():
            _seeding_credit(user_id=user_id, amount=amount, period=period, now=now)
            Snatch.objects.bulk_update(marks[user_id], ["bonus_seed_time"], batch_size=500)
    return amounts


def _seeding_credit(*, user_id: int, amount: Decimal, period: datetime, now: datetime) -> None:
    """Add `amount` to the member's seeding row of `period` (created by the hour's first run) and to their balance.

    The caller holds the member's row lock, so a run of another process
    waits, then sees this hour's row and adds to it: never two inserts.
    """
    row = LedgerEntry.objects.filter(user_id=user_id, kind=LedgerKind.SEEDING, period=period)
    if not row.update(amount=F("amount") + amount):
        LedgerEntry.objects.create(user_id=user_id, kind=LedgerKind.SEEDING, period=period, amount=amount, created_at=now)
    User.objects.filter(pk=user_id).update(bonus_points=F("bonus_points") + amount)


# --- Services ------------------------------------------------------------------------------------------------


def points_adjust(*, user: User, amount: Decimal, reason: str, actor: Any) -> LedgerEntry:
    """Staff add (or take, with a negative `amount`) points, with a reason; never below a balance of 0. Audited."""
    if not (getattr(actor, "is_staff", False) or getattr(actor, "is_admin", False)):
        raise Forbidden("Only staff may adjust bonus points.")
    amount = Decimal(amount)
    if amount == 0 or amount != amount.quantize(CENT):
        raise Invalid(details={"amount": ["The amount must be a non-zero number of points with at most 2 decimals."]})
    if not reason.strip():
        raise Invalid(details={"reason": ["Say why the points are adjusted."]})
    with transaction.atomic():
        member = _member_locked(user)
        before = member.bonus_points
        if before + amount < 0:
            raise Invalid(details={"amount": [f"The balance is {before}: it may not go below 0."]})
        entry = LedgerEntry.objects.create(
            user=member, amount=amount, kind=LedgerKind.ADJUST, note=reason[:200], created_at=timezone.now(), created_by=actor
        )
        User.objects.filter(pk=member.pk).update(bonus_points=F("bonus_points") + amount)
        audit_record(
            actor=actor,
            action="points_adjust",
            target=f"member {member.username}",
            changes={"bonus_points": [before, before + amount]},
            reason=reason,
        )
    return entry


class StoreItem(NamedTuple):
    """One thing the store sells: its key, what one unit is, and the SitePolicy field with its price."""

    item: str
    name: str
    price_field: str


STORE_ITEMS = {
    LedgerKind.UPLOAD_CREDIT.value: StoreItem(LedgerKind.UPLOAD_CREDIT.value, "1 GiB of upload credit", "price_upload_gib"),
    LedgerKind.TOKEN.value: StoreItem(LedgerKind.TOKEN.value, "1 freeleech token", "price_token"),
    LedgerKind.WARNING.value: StoreItem(LedgerKind.WARNING.value, "Clear 1 active hit-and-run warning", "price_warning"),
    # Sold only while registration is by invite (REGISTRATION_MODE=invite): otherwise an invite would buy nothing.
    LedgerKind.INVITE.value: StoreItem(LedgerKind.INVITE.value, "1 invite", "price_invite"),
}


def _on_sale(item: str) -> bool:
    """Whether the store sells `item` now: everything, invites only while registration is by invite."""
    return item != LedgerKind.INVITE or registration_mode() == INVITE


class Purchase(NamedTuple):
    """A purchase done: its ledger row and the member as it is now (balance, upload, tokens)."""

    entry: LedgerEntry
    user: User
    quantity: int
    price: Decimal


def store_buy(*, user: User, item: str, quantity: int = 1) -> Purchase:
    """Buy `quantity` of a store item with bonus points (InsufficientPoints if they do not cover it).

    The member's row is locked first, so two purchases at once cannot spend
    the same points: the second sees the balance the first left. An invite
    outside REGISTRATION_MODE=invite is Conflict: it could not be used.
    """
    offer = STORE_ITEMS.get(item)
    if offer is None:
        raise Invalid(details={"item": [f"No such item. Items: {', '.join(STORE_ITEMS)}."]})
    if not _on_sale(item):
        raise Conflict("Invites are sold only while registration is by invite.")
    if not 1 <= quantity <= QUANTITY_MAX:
        raise Invalid(details={"quantity": [f"The quantity must be between 1 and {QUANTITY_MAX}."]})
    price = Decimal(getattr(site_policy(), offer.price_field)) * quantity
    now = timezone.now()
    with transaction.atomic():
        member = _member_locked(user)
        clearing = _warnings_to_clear(user=member, count=quantity, now=now) if item == LedgerKind.WARNING else []
        if member.bonus_points < price:
            raise InsufficientPoints(
                f"This costs {price} points and you have {member.bonus_points}.",
                details={"price": str(price), "balance": str(member.bonus_points)},
            )
        changes: dict[str, Any] = {"bonus_points": F("bonus_points") - price}
        if item == LedgerKind.UPLOAD_CREDIT:
            changes["uploaded"] = F("uploaded") + quantity * GIB
        elif item == LedgerKind.TOKEN:
            changes["freeleech_tokens"] = F("freeleech_tokens") + quantity
        elif item == LedgerKind.INVITE:
            changes["invites"] = F("invites") + quantity
        else:
            HnrWarning.objects.filter(pk__in=clearing).update(cleared_at=now, cleared_reason="bought in the bonus store")
        entry = LedgerEntry.objects.create(user=member, amount=-price, kind=item, note=f"{quantity} x {offer.name}", created_at=now)
        User.objects.filter(pk=member.pk).update(**changes)
        member.refresh_from_db(fields=["bonus_points", "uploaded", "freeleech_tokens", "invites"])
    return Purchase(entry, member, quantity, price)


def _warnings_to_clear(*, user: User, count: int, now: datetime) -> list[int]:
    """Ids of `count` of the member's active warnings, locked, those that would last longest first (Conflict if fewer)."""
    active = list(
        warnings_active(user=user, now=now).select_for_update().order_by("-expires_at", "-id").values_list("pk", flat=True)[:count]
    )
    if len(active) < count:
        message = (
            f"You have {len(active)} active hit-and-run warnings, fewer than {count}."
            if active
            else "You have no active hit-and-run warning to clear."
        )
        raise Conflict(message, details={"active_warnings": len(active)})
    return active


def token_spend(*, user: User, torrent: Torrent | int | str) -> TokenUse:
    """Spend one of the member's freeleech tokens on a torrent they may see (NotFound if not): its download counts nothing for token_hours.

    Conflict when a token of theirs is running on it already (no double
    spend), when the torrent is gold anyway, or when they have no tokens. A
    TokenUse of theirs on it that has expired is renewed in place.
    """
    visible = torrent_get_visible(user=user, pk=torrent.pk if isinstance(torrent, Torrent) else torrent)
    if visible.freeleech == Freeleech.GOLD:
        raise Conflict("This torrent is gold: its download counts nothing without a token.")
    hours = site_policy().token_hours
    now = timezone.now()
    with transaction.atomic():
        member = _member_locked(user)
        use = TokenUse.objects.select_for_update().filter(user=member, torrent=visible).first()
        if use is not None and use.expires_at > now:
            raise Conflict(
                f"A freeleech token is running on this torrent until {use.expires_at.isoformat()}.",
                details={"expires_at": use.expires_at.isoformat()},
            )
        if member.freeleech_tokens < 1:
            raise Conflict("You have no freeleech tokens. Buy one in the bonus store.")
        if use is None:
            use = TokenUse(user=member, torrent=visible)
        use.created_at, use.expires_at = now, now + timedelta(hours=hours)
        use.save()
        User.objects.filter(pk=member.pk).update(freeleech_tokens=F("freeleech_tokens") - 1)
        member.refresh_from_db(fields=["freeleech_tokens"])
    use.user = member
    return use


def _member_locked(user: User) -> User:
    """The member's row, read again under its row lock (held until the transaction ends)."""
    return User.objects.select_for_update().get(pk=user.pk)


# --- Selectors -----------------------------------------------------------------------------------------------


def ledger_entries(*, user: User) -> QuerySet[LedgerEntry]:
    """The member's ledger, newest first."""
    return LedgerEntry.objects.filter(user=user).order_by("-created_at", "-id")


def balance_check(user: User) -> tuple[Decimal, Decimal]:
    """(the cached balance, the sum of the member's ledger rows): the two are equal unless something is wrong."""
    cached = User.objects.filter(pk=user.pk).values_list("bonus_points", flat=True).get()
    total = LedgerEntry.objects.filter(user=user).aggregate(total=Sum("amount"))["total"]
    return cached, total or Decimal("0.00")


def warnings_active(*, user: User, now: datetime | None = None) -> QuerySet[HnrWarning]:
    """The member's hit-and-run warnings neither expired nor cleared."""
    return HnrWarning.objects.filter(user=user, cleared_at__isnull=True, expires_at__gt=now or timezone.now())


class StoreOffer(NamedTuple):
    """An item as the store shows it: its key, what a unit is and the price of one unit in points."""

    item: str
    name: str
    price: int


def store_offers(policy: SitePolicy | None = None) -> list[StoreOffer]:
    """What the store sells now and for how much (the prices are the site policy's; invites only in invite mode)."""
    policy = policy or site_policy()
    return [StoreOffer(i.item, i.name, getattr(policy, i.price_field)) for i in STORE_ITEMS.values() if _on_sale(i.item)]
