"""Issue 15 in Chromium at 1280 px: browse with the API's filters, sorting by a header (twice reverses it), the page
size, a bookmark from the row, and a click on an uploader's name to their member page."""

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import screenshot
from tests.factories import PASSWORD, ForumFactory, TorrentFactory, UserFactory
from tracker.catalogue.models import Bookmark

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
MIB = 1024**2


def _names(page: Any) -> list[str]:
    return [name.replace("\u200b", "") for name in page.locator("a.torrent-name").all_inner_texts()]


def test_a_member_filters_sorts_bookmarks_and_opens_an_uploaders_page(live_server, page, problems):
    viewer = UserFactory(username="frank")
    grace = UserFactory(username="grace", uploaded=3 * 1024**3, downloaded=1024**3)
    forum = ForumFactory(name="Linux")
    TorrentFactory(forum=forum, uploader=grace, name="alpha-small", size=100 * MIB, seeders=1)
    TorrentFactory(forum=forum, uploader=grace, name="beta-big", size=4000 * MIB, seeders=9, freeleech="gold")
    TorrentFactory(forum=forum, uploader=UserFactory(username="heidi"), name="gamma-mid", size=900 * MIB, seeders=4)

    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill(viewer.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/")

    page.get_by_label("Min size").fill("500 MiB")
    page.get_by_role("button", name="Search").click()
    assert sorted(_names(page)) == ["beta-big", "gamma-mid"]
    page.get_by_label("Freeleech").select_option("gold")
    page.get_by_role("button", name="Search").click()
    assert _names(page) == ["beta-big"]
    screenshot(page, "browse-filtered")

    page.goto(f"{live_server.url}/")
    page.get_by_role("link", name="Seeders").click()
    assert _names(page) == ["beta-big", "gamma-mid", "alpha-small"]  # most seeded first
    expect(page.locator("th[aria-sort='descending']")).to_contain_text("Seeders")
    page.get_by_role("link", name="Seeders").click()  # the same header again: reversed
    assert _names(page) == ["alpha-small", "gamma-mid", "beta-big"]
    expect(page.locator("th[aria-sort='ascending']")).to_contain_text("Seeders ▲")
    screenshot(page, "browse-sorted")

    page.get_by_label("Per page").select_option("25")
    page.get_by_role("button", name="Search").click()
    assert "per_page=25" in page.url and len(_names(page)) == 3

    row = page.locator("tr", has=page.locator("a.torrent-name", has_text="gamma-mid"))
    row.get_by_role("button", name="☆").click()
    assert Bookmark.objects.filter(user=viewer, torrent__name="gamma-mid").exists()

    page.goto(f"{live_server.url}/")
    page.locator("tr", has=page.locator("a.torrent-name", has_text="alpha-small")).get_by_role("link", name="grace", exact=True).click()
    page.wait_for_url(f"{live_server.url}/users/grace/")
    expect(page.get_by_role("heading", name="grace")).to_be_visible()
    expect(page.locator(".stats")).to_contain_text("3.0 GB")
    assert sorted(_names(page)) == ["alpha-small", "beta-big"]
    screenshot(page, "member-page")
    assert problems.errors == []
