"""The member's pages for the site's rules in headless Chromium: the header, the standing page, the store and a token."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.browser.conftest import screenshot
from tests.factories import PASSWORD, TorrentFactory, UserFactory
from tracker.policy.bonus import points_adjust
from tracker.policy.models import GIB, HnrState, TokenUse
from tracker.swarm.models import Snatch

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _log_in(page, base_url, username):
    page.goto(f"{base_url}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base_url}/")


def test_a_member_on_watch_reads_the_standing_buys_tokens_and_uses_one(live_server, page, problems):
    member = UserFactory(
        username="erin", uploaded=16 * GIB, downloaded=52 * GIB, ratio_watch_since=timezone.now() - timedelta(days=4, hours=1)
    )
    points_adjust(user=member, amount=Decimal(1200), reason="welcome", actor=UserFactory(role="admin", is_staff=True))
    torrent = TorrentFactory(name="ubuntu-26.04-desktop-amd64.iso", size=6 * GIB, seeders=3, leechers=1)
    now = timezone.now()
    Snatch.objects.create(
        user=member, torrent=TorrentFactory(name="fedora-44-workstation.iso", size=2 * GIB), first_announce=now, last_announce=now,
        completed_at=now - timedelta(hours=5), seed_time=3600, hnr_seed=72 * 3600, hnr_ratio_pct=100,
        hnr_due=now + timedelta(days=13), hnr_state=HnrState.PENDING,
    )  # fmt: skip

    _log_in(page, live_server.url, "erin")
    bar = page.locator(".member-bar")
    expect(bar.get_by_text("Ratio watch: 10 days left")).to_be_visible()
    expect(bar.locator(".member-bar__ratio.poor")).to_have_text("0.30")
    screenshot(page, "member-bar", full_page=False)

    bar.get_by_role("link", name="Your standing").click()
    page.wait_for_url(f"{live_server.url}/standing/")
    expect(page.get_by_role("heading", name="Your standing")).to_be_visible()
    expect(page.get_by_text("Uploading 15.2 GB more gets you there")).to_be_visible()
    expect(page.get_by_role("link", name="fedora-44-workstation.iso")).to_be_visible()
    screenshot(page, "standing")

    bar.get_by_role("link", name="1,200 points").click()
    page.wait_for_url(f"{live_server.url}/store/")
    page.get_by_label("Quantity of 1 freeleech token").fill("2")
    page.get_by_role("button", name="Buy 1 freeleech token").click()
    expect(page.get_by_text("Bought 2 x 1 freeleech token for 1000 points. Your balance is 200.00 points.")).to_be_visible()
    expect(page.locator("#ledger").get_by_text("2 x 1 freeleech token")).to_be_visible()
    expect(page.locator("#balance")).to_have_text("200.00")
    page.get_by_role("button", name="Buy 1 freeleech token").click()
    expect(page.get_by_text("This costs 500 points and you have 200.00.")).to_be_visible()
    screenshot(page, "store")

    page.goto(f"{live_server.url}/torrents/{torrent.pk}/")
    page.get_by_role("button", name="Use a freeleech token (2 left)").click()
    expect(page.get_by_text("Freeleech token used")).to_be_visible()
    expect(page.get_by_role("button", name="Use a freeleech token")).to_have_count(0)
    expect(page.locator("#own-token")).to_contain_text("runs on it until")
    assert TokenUse.objects.filter(user=member, torrent=torrent).exists()
    screenshot(page, "torrent-token")
    assert problems.errors == []


def test_the_standing_and_store_pages_fit_a_phone(live_server, phone, problems):
    member = UserFactory(username="fay", uploaded=GIB, downloaded=52 * GIB, ratio_watch_since=timezone.now() - timedelta(days=20))
    points_adjust(user=member, amount=Decimal("12345.67"), reason="welcome", actor=UserFactory(role="admin", is_staff=True))
    _log_in(phone, live_server.url, "fay")
    for path, name in [("/standing/", "phone-standing"), ("/store/", "phone-store")]:
        phone.goto(f"{live_server.url}{path}")
        expect(phone.get_by_text("Ratio watch over: download rights suspended")).to_be_visible()
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390
        screenshot(phone, name)
    assert problems.errors == []
