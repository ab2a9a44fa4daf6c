"""Issue 15 on a phone (390 x 844): the torrent page's order, release names that wrap at their dots, the profile's
command box, the member page; nothing wider than the screen."""

from typing import Any

import pytest

from tests.browser.conftest import screenshot
from tests.factories import PASSWORD, TorrentFactory, UserFactory
from tracker.catalogue.models import Comment

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTH = 390
LONG_NAME = "The.Extraordinarily.Long.Release.Name.of.a.Documentary.Series.S01E01.2160p.WEB-DL.DDP5.1.Atmos.HDR.H.265-GROUPNAME"


def _log_in(page: Any, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base_url}/")


def _top(page: Any, selector: str) -> float:
    box = page.locator(selector).first.bounding_box()
    assert box is not None, f"{selector} is not shown"
    return box["y"]


def _fits(page: Any) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH  # no sideways scrolling


def test_the_torrent_page_puts_getting_it_first_and_wraps_the_name_at_its_dots(live_server, phone, problems):
    member = UserFactory(username="dana")
    torrent = TorrentFactory(name=LONG_NAME, uploader=UserFactory(username="uploader.with-a-long-name"), description="About it.")
    Comment.objects.create(torrent=torrent, author=member, text="Thanks!")
    _log_in(phone, live_server.url, "dana")
    phone.goto(f"{live_server.url}/torrents/{torrent.pk}/")
    _fits(phone)
    order = [
        _top(phone, "a:has-text('Download .torrent')"),
        _top(phone, "#swarm-heading"),
        _top(phone, "#details-heading"),
        _top(phone, "#description-heading"),
        _top(phone, "#comments-heading"),
    ]
    assert order == sorted(order), order  # download, swarm, details, then the description and comments
    # Every line of the heading ends at a dot, a dash or the end: the name never breaks inside a word.
    lines = phone.evaluate(
        """() => {
            const h = document.querySelector('h1'); const range = document.createRange();
            const out = []; let line = ''; let top = null;
            for (const node of h.childNodes) {
              if (node.nodeType !== Node.TEXT_NODE) continue;
              range.selectNodeContents(node); const rect = range.getClientRects()[0];
              if (top !== null && rect.top > top + 1) { out.push(line); line = ''; }
              top = rect.top; line += node.textContent;
            }
            out.push(line); return out;
        }"""
    )
    assert len(lines) > 1 and "".join(lines) == LONG_NAME
    assert all(line[-1] in ".-" for line in lines[:-1]), lines
    box = phone.locator("h1").bounding_box()
    assert box is not None and box["x"] + box["width"] <= WIDTH
    screenshot(phone, "phone-torrent-long-name")
    assert problems.errors == []


def test_the_profile_and_member_pages_fit_with_nothing_hidden_on_the_right(live_server, phone, problems):
    member = UserFactory(username="erin.with-a-rather-long-username")
    for n in range(3):
        TorrentFactory(uploader=member, name=f"{LONG_NAME}.{n}")
    _log_in(phone, live_server.url, member.username)
    phone.goto(f"{live_server.url}/profile/")
    _fits(phone)
    # The curl command wraps inside its box rather than running off to the right of it.
    hidden = phone.evaluate("() => { const pre = document.querySelector('pre.code'); return pre.scrollWidth - pre.clientWidth; }")
    assert hidden <= 0
    screenshot(phone, "phone-profile-curl")
    phone.goto(f"{live_server.url}/users/{member.username}/")
    _fits(phone)
    assert phone.get_by_role("heading", name="Uploads").is_visible()
    screenshot(phone, "phone-member")
    assert problems.errors == []
