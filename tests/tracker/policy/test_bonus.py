"""Bonus points: the formula, the hourly job (never paying a second twice), staff adjustments, the store and tokens."""

from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from core.errors import Conflict, Forbidden, InsufficientPoints, Invalid, NotFound
from tests.factories import ForumFactory, TorrentFactory, UserFactory
from tests.threads import released_together
from tracker.catalogue.models import AccessLevel, Freeleech, Torrent
from tracker.policy import bonus
from tracker.policy.bonus import (
    BonusRun,
    balance_check,
    bonus_award,
    points_adjust,
    seeding_points,
    store_buy,
    token_spend,
)
from tracker.policy.models import GIB, HnrWarning, LedgerEntry, PolicyChange, SitePolicy, TokenUse
from tracker.policy.selectors import site_policy
from tracker.swarm.models import Snatch

HOUR = 3600


def policy(**rates: str) -> SitePolicy:
    """A policy with the shipped rates, or the ones given (not saved: the formula only reads them)."""
    return SitePolicy(**{k: Decimal(v) for k, v in rates.items()})


def points(seconds: int = HOUR, size: int = GIB, days: float = 0, seeders: int = 1, **rates: str) -> Decimal:
    return seeding_points(seconds=seconds, size=size, age=timedelta(days=days), seeders=seeders, policy=policy(**rates))


# --- The formula ---------------------------------------------------------------------------------------------


def test_an_hour_of_a_fresh_gib_alone_earns_base_times_2_times_3():
    # size 1 + log2(1 + 1) = 2; age 1 + 0; need 1 + 2 / 1 = 3
    assert points() == Decimal("6")


def test_every_factor_of_the_formula():
    assert points(seconds=1800) == Decimal("3")  # half an hour
    assert points(size=0) == Decimal("3")  # size factor 1
    assert points(size=3 * GIB) == Decimal("9")  # 1 + log2(4) = 3
    assert points(days=365) == Decimal("12")  # age factor 2 ...
    assert points(days=3650) == Decimal("12")  # ... at most
    assert points(days=73) == Decimal("7.2")  # a fifth of a year: 1.2
    assert points(seeders=0) == points(seeders=1)  # max(seeders, 1)
    assert points(seeders=4) == Decimal("3")  # 1 + 2 / 4 = 1.5
    assert points(seconds=0) == 0


def test_the_formula_takes_the_policy_weights():
    # 1.5 x 2 h x (1 + log2(8)) x (1 + 1 x 0.2) x (1 + 2 / 4)
    assert points(seconds=2 * HOUR, size=7 * GIB, days=73, seeders=4, bonus_base="1.5") == Decimal("21.6")
    assert points(bonus_age_weight="0", days=365) == Decimal("6")
    assert points(bonus_need_weight="0") == Decimal("2")
    assert points(bonus_base="0") == 0


def test_larger_torrents_earn_more_with_diminishing_returns():
    one, ten, hundred = points(size=GIB), points(size=10 * GIB), points(size=100 * GIB)
    assert one < ten < hundred
    assert hundred - ten < (ten - one) * 10  # log, not linear


# --- The job -------------------------------------------------------------------------------------------------


@pytest.fixture
def now():
    return timezone.now().replace(minute=30, second=0, microsecond=0)


def seeding(user, *, now, seed_time, size=GIB, seeders=1, days=0, paid=0) -> Snatch:
    """A snatch of a new torrent of `size`, `days` old, with `seed_time` seconds seeded and `paid` of them paid."""
    torrent = TorrentFactory(size=size, seeders=seeders)
    Torrent.objects.filter(pk=torrent.pk).update(created_at=now - timedelta(days=days))
    return Snatch.objects.create(
        user=user, torrent=torrent, seed_time=seed_time, bonus_seed_time=paid, first_announce=now, last_announce=now
    )


def seed_more(snatch: Snatch, seconds: int) -> None:
    Snatch.objects.filter(pk=snatch.pk).update(seed_time=snatch.seed_time + seconds)
    snatch.refresh_from_db()


def assert_balanced(*users) -> None:
    for user in users:
        cached, total = balance_check(user)
        assert cached == total, user


def balance(user) -> Decimal:
    user.refresh_from_db()
    return user.bonus_points


@pytest.mark.django_db
def test_the_job_pays_unpaid_seed_time_into_one_row_of_the_hour(now):
    user = UserFactory()
    first = seeding(user, now=now, seed_time=HOUR)
    seeding(user, now=now, seed_time=2 * HOUR, seeders=4, size=3 * GIB)  # 2 h x 3 x 1.5 = 9

    assert bonus_award(now=now) == BonusRun(1, Decimal("15.00"))
    row = LedgerEntry.objects.get(user=user)
    assert (row.kind, row.amount, row.period) == ("seeding", Decimal("15.00"), now.replace(minute=0))
    assert balance(user) == Decimal("15.00")
    first.refresh_from_db()
    assert first.bonus_seed_time == HOUR
    assert_balanced(user)


@pytest.mark.django_db
def test_a_second_run_pays_nothing_and_a_later_one_in_the_hour_adds_to_its_row(now):
    user = UserFactory()
    snatch = seeding(user, now=now, seed_time=HOUR)
    bonus_award(now=now)
    assert bonus_award(now=now + timedelta(minutes=5)) == BonusRun(0, Decimal(0))
    assert balance(user) == Decimal("6.00")

    seed_more(snatch, 1800)
    assert bonus_award(now=now + timedelta(minutes=10)) == BonusRun(1, Decimal("3.00"))
    assert list(LedgerEntry.objects.values_list("amount", flat=True)) == [Decimal("9.00")]  # still one row
    seed_more(snatch, 1800)
    bonus_award(now=now + timedelta(hours=1))  # the next hour: a row of its own
    assert sorted(LedgerEntry.objects.values_list("amount", flat=True)) == [Decimal("3.00"), Decimal("9.00")]
    assert balance(user) == Decimal("12.00")
    assert_balanced(user)


@pytest.mark.django_db
def test_a_late_run_pays_all_the_accumulated_seed_time_at_once(now):
    SitePolicy.objects.filter(pk=site_policy().pk).update(bonus_age_weight=0)  # the torrent ages 5 h meanwhile: no matter
    user = UserFactory()
    snatch = seeding(user, now=now, seed_time=HOUR)
    bonus_award(now=now)
    seed_more(snatch, 5 * HOUR)  # the job did not run for five hours
    assert bonus_award(now=now + timedelta(hours=5)) == BonusRun(1, Decimal("30.00"))
    assert balance(user) == Decimal("36.00")
    assert LedgerEntry.objects.count() == 2
    assert_balanced(user)


@pytest.mark.django_db
def test_each_member_is_rounded_down_once_and_a_sub_cent_earning_waits(now):
    rich, poor, idle = UserFactory(), UserFactory(), UserFactory()
    for _ in range(3):
        seeding(rich, now=now, seed_time=1200, seeders=3)  # 1/3 h x 2 x (1 + 2/3) = 1.1111... each
    tiny = seeding(poor, now=now, seed_time=1)  # 6 / 3600 = 0.0016...: less than a cent
    seeding(idle, now=now, seed_time=HOUR, paid=HOUR)  # all paid already

    assert bonus_award(now=now) == BonusRun(1, Decimal("3.33"))  # 3.3333 once, not 1.11 three times
    assert balance(poor) == 0 and balance(idle) == 0
    tiny.refresh_from_db()
    assert tiny.bonus_seed_time == 0  # left for a later run, not lost
    seed_more(tiny, 9)
    assert bonus_award(now=now) == BonusRun(1, Decimal("0.01"))  # 10 s: 0.0166...
    assert_balanced(rich, poor, idle)


@pytest.mark.django_db
def test_the_job_walks_the_members_in_batches(now, monkeypatch):
    monkeypatch.setattr(bonus, "MEMBER_BATCH", 2)
    users = [UserFactory() for _ in range(5)]
    for user in users:
        seeding(user, now=now, seed_time=HOUR)
    assert bonus_award(now=now) == BonusRun(5, Decimal("30.00"))
    assert [balance(u) for u in users] == [Decimal("6.00")] * 5
    assert not Snatch.objects.exclude(bonus_seed_time=HOUR).exists()


@pytest.mark.django_db
def test_a_torrent_without_a_counts_row_counts_as_no_seeders(now):
    user = UserFactory()
    snatch = seeding(user, now=now, seed_time=HOUR, seeders=5)
    snatch.torrent.stats.delete()
    assert bonus_award(now=now).points == Decimal("6.00")  # as a lone seeder


@pytest.mark.django_db
def test_the_command_prints_what_it_paid(now):
    seeding(UserFactory(), now=now, seed_time=HOUR)
    out = StringIO()
    call_command("tracker_bonus", stdout=out)
    assert out.getvalue().strip().startswith("paid 1 member(s) 6.00")
    out = StringIO()
    call_command("tracker_bonus", stdout=out)
    assert out.getvalue().strip() == "paid 0 member(s) 0 point(s)"


@pytest.fixture
def postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("row-lock concurrency needs PostgreSQL (SQLite serializes every writer)")


@pytest.mark.django_db(transaction=True)
def test_concurrent_runs_pay_each_second_once(postgres_only, now, monkeypatch):
    monkeypatch.setattr(bonus, "MEMBER_BATCH", 3)  # many small transactions, so the runs interleave
    users = [UserFactory() for _ in range(8)]
    for user in users:
        for _ in range(3):
            seeding(user, now=now, seed_time=HOUR)
    runs = released_together(4, lambda i: bonus_award(now=now + timedelta(seconds=i)), raise_errors=False)
    assert not [r for r in runs if isinstance(r, Exception)], runs
    assert sum(r.members for r in runs) == 8
    assert sum(r.points for r in runs) == Decimal("144.00")  # 8 members x 3 h x 6
    assert [balance(u) for u in users] == [Decimal("18.00")] * 8
    assert LedgerEntry.objects.count() == 8
    assert_balanced(*users)

    for snatch in Snatch.objects.all():  # more seed time, and runs again at once: added to the hour's rows
        seed_more(snatch, HOUR)
    runs = released_together(4, lambda i: bonus_award(now=now + timedelta(minutes=1)), raise_errors=False)
    assert not [r for r in runs if isinstance(r, Exception)], runs
    assert sum(r.points for r in runs) == Decimal("144.00")
    assert LedgerEntry.objects.count() == 8
    assert [balance(u) for u in users] == [Decimal("36.00")] * 8
    assert_balanced(*users)


# --- Staff adjustments ---------------------------------------------------------------------------------------


@pytest.fixture
def staff(db):
    return UserFactory(role="admin", is_staff=True)


def give(user, amount: str, staff) -> None:
    points_adjust(user=user, amount=Decimal(amount), reason="test credit", actor=staff)


@pytest.mark.django_db
def test_staff_adjust_points_with_a_reason_in_the_ledger_and_the_audit(staff):
    user = UserFactory()
    entry = points_adjust(user=user, amount=Decimal("50"), reason="contest prize", actor=staff)
    assert (entry.kind, entry.amount, entry.note, entry.created_by) == ("adjust", Decimal("50"), "contest prize", staff)
    points_adjust(user=user, amount=Decimal("-20.50"), reason="abuse", actor=staff)
    assert balance(user) == Decimal("29.50")
    audit = PolicyChange.objects.filter(action="points_adjust").order_by("id")
    assert [(a.actor, a.target, a.changes, a.reason) for a in audit] == [
        (staff, f"member {user.username}", {"bonus_points": ["0.00", "50.00"]}, "contest prize"),
        (staff, f"member {user.username}", {"bonus_points": ["50.00", "29.50"]}, "abuse"),
    ]
    assert_balanced(user)


@pytest.mark.django_db
def test_an_adjustment_may_not_take_the_balance_below_zero(staff):
    user = UserFactory()
    give(user, "10", staff)
    with pytest.raises(Invalid) as refused:
        points_adjust(user=user, amount=Decimal("-10.01"), reason="too much", actor=staff)
    assert "amount" in refused.value.details
    points_adjust(user=user, amount=Decimal("-10"), reason="all of it", actor=staff)
    assert balance(user) == 0
    assert_balanced(user)


@pytest.mark.django_db
@pytest.mark.parametrize(("amount", "reason"), [("0", "nothing"), ("1.001", "a tenth of a cent"), ("5", " ")])
def test_an_adjustment_needs_an_amount_in_cents_and_a_reason(staff, amount, reason):
    with pytest.raises(Invalid):
        points_adjust(user=UserFactory(), amount=Decimal(amount), reason=reason, actor=staff)
    assert not LedgerEntry.objects.exists()


@pytest.mark.django_db
def test_members_may_not_adjust_points():
    member = UserFactory()
    with pytest.raises(Forbidden):
        points_adjust(user=member, amount=Decimal("100"), reason="for me", actor=member)
    assert balance(member) == 0


# --- The store -----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_buying_upload_credit(staff):
    user = UserFactory(uploaded=5)
    give(user, "350", staff)
    purchase = store_buy(user=user, item="upload_credit", quantity=3)
    assert (purchase.price, purchase.user.bonus_points, purchase.user.uploaded) == (Decimal(300), Decimal("50.00"), 5 + 3 * GIB)
    assert (purchase.entry.kind, purchase.entry.amount) == ("upload_credit", Decimal(-300))
    user.refresh_from_db()
    assert (user.uploaded, user.bonus_points) == (5 + 3 * GIB, Decimal("50.00"))
    assert_balanced(user)


@pytest.mark.django_db
def test_buying_tokens_at_the_policy_price(staff):
    SitePolicy.objects.filter(pk=site_policy().pk).update(price_token=40)
    user = UserFactory()
    give(user, "100", staff)
    store_buy(user=user, item="token", quantity=2)
    user.refresh_from_db()
    assert (user.freeleech_tokens, user.bonus_points) == (2, Decimal("20.00"))
    assert LedgerEntry.objects.filter(user=user, kind="token").get().amount == Decimal(-80)
    assert_balanced(user)


def warning(user, *, now, days_left=10, cleared=False) -> HnrWarning:
    return HnrWarning.objects.create(
        user=user, torrent_name="t", created_at=now - timedelta(days=1), expires_at=now + timedelta(days=days_left),
        cleared_at=now if cleared else None,
    )  # fmt: skip


@pytest.mark.django_db
def test_buying_the_clearing_of_a_warning_clears_the_longest_lasting_active_one(staff):
    now = timezone.now()
    user = UserFactory()
    give(user, "2500", staff)
    soon, later = warning(user, now=now, days_left=2), warning(user, now=now, days_left=20)
    expired, cleared = warning(user, now=now, days_left=-1), warning(user, now=now, cleared=True)
    others = warning(UserFactory(), now=now)

    store_buy(user=user, item="warning")
    later.refresh_from_db()
    assert later.cleared_at is not None and later.cleared_reason == "bought in the bonus store"
    store_buy(user=user, item="warning")
    with pytest.raises(Conflict) as refused:  # only the expired and the cleared ones are left
        store_buy(user=user, item="warning")
    assert "no active" in refused.value.message
    for w in (soon, expired, cleared, others):
        w.refresh_from_db()
    assert soon.cleared_at is not None
    assert expired.cleared_reason == cleared.cleared_reason == others.cleared_reason == ""
    assert others.cleared_at is None
    assert balance(user) == Decimal("500.00")  # the refused purchase cost nothing
    assert_balanced(user)


@pytest.mark.django_db
def test_nothing_to_clear_is_said_before_the_price(staff):
    user = UserFactory()
    with pytest.raises(Conflict) as refused:
        store_buy(user=user, item="warning")
    assert type(refused.value) is Conflict  # not InsufficientPoints: no points would help
    active = warning(user, now=timezone.now())
    with pytest.raises(InsufficientPoints):
        store_buy(user=user, item="warning")
    give(user, "1000", staff)
    with pytest.raises(Conflict) as refused:
        store_buy(user=user, item="warning", quantity=2)
    assert refused.value.details == {"active_warnings": 1}
    active.refresh_from_db()
    assert active.cleared_at is None
    assert balance(user) == Decimal("1000.00")


@pytest.mark.django_db
def test_a_purchase_the_points_do_not_cover_changes_nothing(staff):
    user = UserFactory()
    give(user, "499.99", staff)
    with pytest.raises(InsufficientPoints) as refused:
        store_buy(user=user, item="token")
    assert refused.value.details == {"price": "500", "balance": "499.99"}
    user.refresh_from_db()
    assert (user.freeleech_tokens, user.bonus_points) == (0, Decimal("499.99"))
    assert LedgerEntry.objects.filter(user=user).count() == 1
    assert_balanced(user)


@pytest.mark.django_db
@pytest.mark.parametrize(("item", "quantity", "field"), [("gold", 1, "item"), ("token", 0, "quantity"), ("token", 101, "quantity")])
def test_the_store_refuses_an_unknown_item_or_quantity(staff, item, quantity, field):
    user = UserFactory()
    give(user, "100000", staff)
    with pytest.raises(Invalid) as refused:
        store_buy(user=user, item=item, quantity=quantity)
    assert field in refused.value.details


@pytest.mark.django_db(transaction=True)
def test_two_purchases_at_once_cannot_spend_the_same_points(postgres_only):
    staff = UserFactory(role="admin", is_staff=True)
    user = UserFactory()
    give(user, "500", staff)  # one token's worth
    results = released_together(2, lambda i: store_buy(user=user, item="token"), raise_errors=False)
    assert sorted(type(r).__name__ for r in results) == ["InsufficientPoints", "Purchase"]
    user.refresh_from_db()
    assert (user.freeleech_tokens, user.bonus_points) == (1, 0)
    assert_balanced(user)


# --- Freeleech tokens ----------------------------------------------------------------------------------------


@pytest.fixture
def holder(db):
    return UserFactory(freeleech_tokens=2)


@pytest.mark.django_db
def test_spending_a_token_runs_it_for_the_policy_hours(holder):
    torrent = TorrentFactory()
    before = timezone.now()
    use = token_spend(user=holder, torrent=torrent)
    assert (use.user_id, use.torrent_id) == (holder.pk, torrent.pk)
    assert before + timedelta(hours=48) <= use.expires_at <= timezone.now() + timedelta(hours=48)
    assert use.user.freeleech_tokens == 1
    holder.refresh_from_db()
    assert holder.freeleech_tokens == 1


@pytest.mark.django_db
def test_a_token_running_on_the_torrent_is_a_double_spend(holder):
    torrent = TorrentFactory()
    token_spend(user=holder, torrent=torrent.pk)
    with pytest.raises(Conflict) as refused:
        token_spend(user=holder, torrent=torrent.pk)
    assert "running" in refused.value.message
    holder.refresh_from_db()
    assert holder.freeleech_tokens == 1
    token_spend(user=holder, torrent=TorrentFactory())  # another torrent is fine
    assert TokenUse.objects.filter(user=holder).count() == 2


@pytest.mark.django_db
def test_an_expired_token_on_the_torrent_is_replaced(holder):
    torrent = TorrentFactory()
    old = token_spend(user=holder, torrent=torrent)
    TokenUse.objects.filter(pk=old.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    new = token_spend(user=holder, torrent=torrent)
    assert new.pk == old.pk and new.expires_at > timezone.now() + timedelta(hours=47)
    assert TokenUse.objects.filter(user=holder, torrent=torrent).count() == 1
    holder.refresh_from_db()
    assert holder.freeleech_tokens == 0


@pytest.mark.django_db
def test_no_token_to_spend_is_a_conflict():
    with pytest.raises(Conflict) as refused:
        token_spend(user=UserFactory(), torrent=TorrentFactory())
    assert refused.value.message.startswith("You have no freeleech tokens")
    assert not TokenUse.objects.exists()


@pytest.mark.django_db
def test_a_token_needs_a_torrent_the_member_may_see_and_that_counts(holder):
    hidden = TorrentFactory(forum=ForumFactory(view_level=AccessLevel.MODERATOR))
    with pytest.raises(NotFound):
        token_spend(user=holder, torrent=hidden)
    with pytest.raises(Conflict):
        token_spend(user=holder, torrent=TorrentFactory(freeleech=Freeleech.GOLD))
    holder.refresh_from_db()
    assert holder.freeleech_tokens == 2 and not TokenUse.objects.exists()


@pytest.mark.django_db
def test_the_balance_is_the_ledger_sum_through_every_operation(staff, now):
    user = UserFactory()
    snatch = seeding(user, now=now, seed_time=HOUR)
    steps = [
        lambda: bonus_award(now=now),
        lambda: give(user, "1000", staff),
        lambda: store_buy(user=user, item="token"),
        lambda: seed_more(snatch, 7 * HOUR),
        lambda: bonus_award(now=now),
        lambda: store_buy(user=user, item="upload_credit", quantity=4),
        lambda: points_adjust(user=user, amount=Decimal("-0.01"), reason="a cent", actor=staff),
    ]
    for step in steps:
        step()
        assert_balanced(user)
    assert balance(user) == Decimal("1000") + 6 + 42 - 500 - 400 - Decimal("0.01")
