"""BBCode in headless Chromium: a comment's Preview and the rendered comment, under the strict CSP."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import browser_tab, screenshot
from tests.factories import PASSWORD, TorrentFactory, UserFactory
from tracker.models import Comment

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TEXT = '[b]bold[/b] [quote="ann"]quoted[/quote] [spoiler="Ending"]hidden[/spoiler] [url=javascript:alert(1)]no link[/url]'


@pytest.mark.parametrize("java_script", [True, False])
def test_a_comment_is_previewed_then_posted_as_bbcode(live_server, chromium, problems, java_script):
    UserFactory(username="bea")
    torrent = TorrentFactory(description="[size=4]Big[/size] and [color=green]green[/color]")
    for page in browser_tab(chromium, problems, viewport={"width": 1024, "height": 800}, java_script_enabled=java_script):
        page.goto(f"{live_server.url}/login/")
        page.get_by_label("Username").fill("bea")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(f"{live_server.url}/")
        page.goto(f"{live_server.url}/torrents/{torrent.pk}/")
        expect(page.locator(".description .bb-size-l")).to_have_text("Big")
        page.get_by_label("Your comment").fill(TEXT)
        page.get_by_role("button", name="Preview").click()
        expect(page.locator(".preview__body strong")).to_have_text("bold")
        expect(page.locator(".preview__body blockquote cite")).to_have_text("ann wrote:")
        expect(page.locator(".preview__body a")).to_have_count(0)
        assert Comment.objects.count() == 0
        if java_script:
            screenshot(page, "comment-preview")
        page.get_by_role("button", name="Post comment").click()
        expect(page.locator(".comment__text strong")).to_have_text("bold")
        expect(page.locator(".comment__text details summary")).to_have_text("Ending")
        assert Comment.objects.count() == 1
        Comment.objects.all().delete()
    assert problems.errors == []
