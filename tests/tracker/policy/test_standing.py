"""A member's standing: the pure rules (tracker.policy.standing), the standing API and the moderators' watch list, the watch job."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.models import User
from tests.factories import UserFactory
from tracker.policy.models import HnrWarning, LeechSlotBand, RatioBand
from tracker.policy.selectors import site_policy
from tracker.policy.standing import (
    Refusal,
    download_refusal,
    hundredths,
    is_below,
    leech_slots,
    ratio_text,
    required_ratio,
    watch_since_after,
)

GIB = 1024**3
BANDS = ((0, 0), (5 * GIB, 15), (50 * GIB, 60))


@pytest.mark.parametrize(
    ("downloaded", "required"), [(0, 0), (5 * GIB - 1, 0), (5 * GIB, 15), (49 * GIB, 15), (50 * GIB, 60), (10**15, 60)]
)
def test_the_band_of_the_bytes_downloaded_sets_the_requirement(downloaded, required):
    assert required_ratio(downloaded, BANDS) == required


@pytest.mark.parametrize(
    ("uploaded", "downloaded", "below"),
    [(0, 0, False), (0, GIB, False), (0, 6 * GIB, True), (int(0.15 * 6 * GIB) + 1, 6 * GIB, False), (9 * GIB, 60 * GIB, True)],
)
def test_below_is_exact_in_integers(uploaded, downloaded, below):
    assert is_below(uploaded, downloaded, BANDS) is below


def test_the_watch_starts_when_falling_below_and_ends_on_recovery():
    now = timezone.now()
    assert watch_since_after(uploaded=0, downloaded=6 * GIB, watch_since=None, now=now, bands=BANDS) == now
    earlier = now - timedelta(days=3)
    assert watch_since_after(uploaded=0, downloaded=6 * GIB, watch_since=earlier, now=now, bands=BANDS) == earlier
    assert watch_since_after(uploaded=6 * GIB, downloaded=6 * GIB, watch_since=earlier, now=now, bands=BANDS) is None


def test_rights_go_at_the_watchs_end_and_come_back_with_the_ratio():
    now = timezone.now()
    kwargs = dict(downloaded=6 * GIB, now=now, bands=BANDS, watch_days=14, warnings=0, max_warnings=3)
    assert download_refusal(uploaded=0, watch_since=now - timedelta(days=13), **kwargs) is None
    refusal = download_refusal(uploaded=0, watch_since=now - timedelta(days=14), **kwargs)
    assert refusal == Refusal("ratio", (0, 6 * GIB, 15))
    assert "your ratio 0.00 is below the required 0.15" in refusal.reason()
    assert download_refusal(uploaded=GIB, watch_since=now - timedelta(days=30), **kwargs) is None  # recovered: at once
    assert download_refusal(uploaded=GIB, watch_since=None, **kwargs | {"warnings": 3}) == Refusal("warnings", (3, 3))
    assert download_refusal(uploaded=GIB, watch_since=None, **kwargs | {"warnings": 3, "max_warnings": 0}) is None


@pytest.mark.parametrize(
    ("ratio", "slots"), [(Decimal("0.10"), 1), (Decimal("0.39"), 1), (Decimal("0.40"), 2), (Decimal("0.55"), 3), (Decimal("0.60"), None)]
)
def test_leech_slots_scale_with_the_ratio(ratio, slots):
    bands = ((40, 1), (50, 2), (60, 3))
    down = 10 * GIB
    up = int(ratio * down)
    assert leech_slots(uploaded=up, downloaded=down, slots_after=5 * GIB, slots_max=0, bands=bands) == slots
    assert leech_slots(uploaded=up, downloaded=GIB, slots_after=5 * GIB, slots_max=0, bands=bands) is None  # new members: free
    assert leech_slots(uploaded=up, downloaded=down, slots_after=5 * GIB, slots_max=2, bands=bands) == min(slots or 2, 2)


def test_ratio_text_rounds_down():
    assert (ratio_text(1, 3), ratio_text(2, 3), ratio_text(5, 0), ratio_text(3, 3)) == ("0.33", "0.66", "∞", "1.00")
    assert hundredths(Decimal("0.15")) == 15 and Refusal.parse("slots 2 2") == Refusal("slots", (2, 2))


@pytest.mark.django_db
def test_the_policy_row_and_its_tables_are_created_with_the_defaults_on_first_use():
    policy = site_policy()
    assert (policy.peers_per_torrent, policy.ratio_watch_days, policy.client_mode) == (3, 14, "allow")
    assert RatioBand.objects.count() == 7 and LeechSlotBand.objects.count() == 3
    assert site_policy().pk == policy.pk and RatioBand.objects.count() == 7  # once


@pytest.mark.django_db
def test_the_standing_api_says_where_the_member_stands(api_client):
    member = UserFactory()
    User.objects.filter(pk=member.pk).update(
        uploaded=GIB, downloaded=60 * GIB, ratio_watch_since=timezone.now() - timedelta(days=15), freeleech_tokens=2
    )
    api_client.force_authenticate(member)
    body = api_client.get("/api/me/standing").json()
    assert body["success"] is True
    data = body["data"]
    assert (data["ratio"], data["required_ratio"], data["below_requirement"], data["can_download"]) == ("0.01", "0.60", True, False)
    assert "Download rights suspended: your ratio 0.01 is below the required 0.60" in data["refusal"]
    assert (data["leech_slots"], data["freeleech_tokens"], data["peers_per_torrent"]) == (1, 2, 3)
    me = api_client.get("/api/me").json()["data"]
    assert me["standing"]["refusal"] == data["refusal"]
    assert api_client.get("/api/v1/me/standing").status_code == 200


@pytest.mark.django_db
def test_warnings_show_in_the_standing(api_client):
    member = UserFactory()
    now = timezone.now()
    for days in (1, 2, 3):
        HnrWarning.objects.create(user=member, created_at=now, expires_at=now + timedelta(days=days))
    HnrWarning.objects.create(user=member, created_at=now, expires_at=now - timedelta(days=1))  # expired
    api_client.force_authenticate(member)
    data = api_client.get("/api/me/standing").json()["data"]
    assert (data["warnings"], data["can_download"]) == (3, False)


@pytest.mark.django_db
@pytest.mark.parametrize(("role", "status"), [(None, 401), ("user", 403), ("moderator", 200), ("admin", 200)])
def test_only_moderators_see_who_is_on_watch(api_client, role, status):
    watched = UserFactory()
    User.objects.filter(pk=watched.pk).update(uploaded=0, downloaded=10 * GIB, ratio_watch_since=timezone.now() - timedelta(days=20))
    UserFactory()  # not on watch
    if role:
        api_client.force_authenticate(UserFactory(role=role))
    response = api_client.get("/api/members/watch")
    assert response.status_code == status
    if status == 200:
        rows = response.json()["data"]
        assert [(r["username"], r["can_download"]) for r in rows] == [(watched.username, False)]
        assert response.json()["meta"]["total"] == 1


@pytest.mark.django_db
def test_the_standing_job_starts_and_ends_watches_by_the_current_bands(capsys):
    below, recovered, fine = UserFactory(), UserFactory(), UserFactory()
    User.objects.filter(pk=below.pk).update(uploaded=0, downloaded=10 * GIB)
    User.objects.filter(pk=recovered.pk).update(uploaded=10 * GIB, downloaded=10 * GIB, ratio_watch_since=timezone.now())
    User.objects.filter(pk=fine.pk).update(uploaded=10 * GIB, downloaded=10 * GIB)
    call_command("tracker_standing")
    assert "ratio watch: 1 started, 1 ended" in capsys.readouterr().out
    since = dict(User.objects.values_list("pk", "ratio_watch_since"))
    assert since[below.pk] is not None and since[recovered.pk] is None and since[fine.pk] is None
    call_command("tracker_standing")  # again: nothing to do
    assert "ratio watch: 0 started, 0 ended" in capsys.readouterr().out


@pytest.mark.django_db
def test_unreadable_blocked_ports_keep_the_default_ports_blocked(caplog):
    """A blocked-ports text the admin form would refuse (written around it) blocks the defaults, not nothing, and says so."""
    from tracker.policy.models import SitePolicy
    from tracker.policy.selectors import announce_policy
    from tracker.policy.snapshot import port_blocked

    site_policy()
    SitePolicy.objects.filter(pk=1).update(blocked_ports="6881, seven")
    with caplog.at_level("WARNING", logger="tracker.policy.snapshot"):
        policy = announce_policy()
    assert port_blocked(policy, 80) and port_blocked(policy, 6346)
    assert not port_blocked(policy, 6881)
    assert "'seven' is not a port" in caplog.text
