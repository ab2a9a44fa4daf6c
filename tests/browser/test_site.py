"""The site in headless Chromium: what a member does, start to finish."""

import hashlib
from pathlib import Path
from typing import Any

import pytest
from fastbencode import bdecode, bencode
from playwright.sync_api import expect

from tests.browser.conftest import browser_tab, screenshot
from tests.factories import PASSWORD, CategoryFactory, ForumFactory, TorrentFactory, UserFactory, make_metainfo
from tracker.models import Torrent, TorrentFile

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _catalogue(uploader: Any) -> dict[str, Any]:
    linux = CategoryFactory(name="Operating systems")
    distros = ForumFactory(category=linux, name="Linux distributions")
    bsd = ForumFactory(category=linux, name="BSD")
    media = ForumFactory(category=CategoryFactory(name="Media"), name="Public-domain films")
    debian = TorrentFactory(
        forum=distros,
        uploader=uploader,
        name="debian-13.0.0-amd64-netinst.iso",
        size=754_974_720,
        seeders=42,
        leechers=3,
        completed=1200,
        description="Debian 13 network installer.\n\nVerify the checksum before you burn it: <b>not bold</b>.",
    )
    TorrentFile.objects.create(torrent=debian, path="debian-13.0.0-amd64-netinst.iso", size=754_974_720)
    TorrentFactory(forum=distros, uploader=uploader, name="archlinux-2026.11.01-x86_64", size=1_205_862_400, seeders=17, leechers=9)
    TorrentFactory(forum=bsd, uploader=uploader, name="FreeBSD-15.0-RELEASE-amd64-disc1.iso", size=1_100_000_000, seeders=8, leechers=1)
    TorrentFactory(forum=media, uploader=uploader, name="Night of the Living Dead (1968)", size=1_400_245_000, seeders=5, leechers=12)
    return {"debian": debian, "distros": distros}


def test_a_member_logs_in_searches_downloads_uploads_resets_the_passkey_and_logs_out(live_server, page, problems, tmp_path: Path):
    member = UserFactory(username="alice", uploaded=5 * 1024**3, downloaded=2 * 1024**3)
    data = _catalogue(UserFactory(username="uploader"))
    old_passkey = member.passkey

    page.goto(f"{live_server.url}/")
    expect(page.get_by_role("heading", name="Torrents")).to_be_visible()
    screenshot(page, "browse-guest")

    page.get_by_role("link", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_text("Please enter a correct username and password")).to_be_visible()
    screenshot(page, "login-error")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/")
    expect(page.get_by_role("link", name="alice")).to_be_visible()

    page.get_by_role("searchbox").fill("debian")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("table tbody tr")).to_have_count(1)
    screenshot(page, "browse-search")

    page.get_by_role("link", name="debian-13.0.0-amd64-netinst.iso").click()
    page.wait_for_url(f"{live_server.url}/torrents/{data['debian'].pk}/")
    expect(page.get_by_text("<b>not bold</b>")).to_be_visible()
    page.get_by_label("Your comment").fill("Thanks! Seeding <for> a week.")
    page.get_by_role("button", name="Post comment").click()
    expect(page.get_by_text("Thanks! Seeding <for> a week.")).to_be_visible()
    page.get_by_role("button", name="☆ Bookmark").click()
    expect(page.get_by_role("button", name="★ Bookmarked · remove")).to_be_visible()
    screenshot(page, "torrent")

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download .torrent").click()
    download = download_info.value
    assert download.suggested_filename == "debian-13.0.0-amd64-netinst.iso.torrent"
    meta = bdecode(Path(download.path()).read_bytes())
    assert meta[b"announce"].decode().endswith(f"/announce?uk={old_passkey}")
    assert hashlib.sha1(bencode(meta[b"info"])).hexdigest() == data["debian"].info_hash

    metainfo, info_hash = make_metainfo("my-home-videos-2026", length=5_000_000)
    upload = tmp_path / "my-home-videos-2026.torrent"
    upload.write_bytes(metainfo)
    page.get_by_role("link", name="Upload", exact=True).click()
    page.wait_for_url(f"{live_server.url}/upload/")
    page.get_by_label("Forum").select_option(label="Linux distributions")
    page.get_by_label(".torrent file").set_input_files(str(upload))
    page.get_by_label("Description").fill("Family videos, public domain.")
    screenshot(page, "upload")
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_text("is registered")).to_be_visible()
    assert Torrent.objects.get(name="my-home-videos-2026").info_hash == info_hash
    page.get_by_role("link", name="Browse").click()
    page.wait_for_url(f"{live_server.url}/")
    expect(page.get_by_role("link", name="my-home-videos-2026")).to_be_visible()
    screenshot(page, "browse-member")

    page.get_by_role("link", name="Upload", exact=True).click()
    page.wait_for_url(f"{live_server.url}/upload/")
    page.get_by_label("Forum").select_option(label="Linux distributions")
    page.get_by_label(".torrent file").set_input_files(str(upload))
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_text("already registered")).to_be_visible()
    screenshot(page, "upload-error")

    page.get_by_role("link", name="alice").click()
    page.wait_for_url(f"{live_server.url}/profile/")
    expect(page.get_by_text(old_passkey).first).to_be_visible()
    expect(page.get_by_role("link", name="debian-13.0.0-amd64-netinst.iso")).to_be_visible()  # the bookmark
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page.get_by_role("button", name="Copy passkey").click()
    expect(page.get_by_role("button", name="Copy passkey")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == old_passkey
    screenshot(page, "profile")
    page.get_by_role("link", name="Reset passkey…").click()
    page.wait_for_url(f"{live_server.url}/profile/passkey/")
    page.get_by_role("button", name="Reset my passkey").click()
    expect(page.get_by_text("Tick the box to confirm.")).to_be_visible()
    page.get_by_label("I understand").check()
    screenshot(page, "passkey-reset")
    page.get_by_role("button", name="Reset my passkey").click()
    page.wait_for_url(f"{live_server.url}/profile/")
    expect(page.get_by_text("Your passkey was reset")).to_be_visible()
    member.refresh_from_db()
    assert member.passkey != old_passkey
    expect(page.get_by_text(member.passkey).first).to_be_visible()

    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("link", name="Log in")).to_be_visible()
    page.goto(f"{live_server.url}/profile/")
    page.wait_for_url(f"{live_server.url}/login/?next=/profile/")
    assert problems.errors == []


def test_pages_fit_a_phone(live_server, phone, problems):
    from accounts.services import api_key_create

    bob = UserFactory(username="bob")
    api_key_create(user=bob, name="Prowlarr on the living-room box", scopes=["read", "download", "feed"])  # the profile's keys table
    _catalogue(UserFactory(username="carol"))
    phone.goto(f"{live_server.url}/register/")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(phone, "phone-register")
    phone.goto(f"{live_server.url}/login/")
    screenshot(phone, "phone-login")
    phone.get_by_label("Username").fill("bob")
    phone.get_by_label("Password").fill(PASSWORD)
    phone.get_by_role("button", name="Log in").click()
    phone.wait_for_url(f"{live_server.url}/")
    for path, name in [("/", "phone-browse"), ("/profile/", "phone-profile")]:
        phone.goto(f"{live_server.url}{path}")
        # nothing wider than the screen: no sideways scrolling
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390
        screenshot(phone, name)
    phone.goto(f"{live_server.url}/")
    phone.get_by_role("link", name="Night of the Living Dead (1968)").click()
    expect(phone.get_by_role("heading", name="Night of the Living Dead (1968)")).to_be_visible()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(phone, "phone-torrent")
    assert problems.errors == []


def test_api_docs_render_under_the_content_security_policy(live_server, page, problems):
    page.goto(f"{live_server.url}/api/docs")
    page.locator(".swagger-ui .info .title").wait_for()
    assert "TorrentPier API" in page.locator(".swagger-ui .info .title").inner_text()
    screenshot(page, "api-docs", full_page=False)
    assert problems.errors == []


def test_the_admin_site_works_under_the_content_security_policy(live_server, page, problems):
    UserFactory(username="root", role="admin", is_staff=True, is_superuser=True)
    _catalogue(UserFactory(username="dave"))
    page.goto(f"{live_server.url}/login/?next=/admin/accounts/user/")
    page.get_by_label("Username").fill("root")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/admin/accounts/user/")
    expect(page.get_by_role("link", name="dave")).to_be_visible()
    page.get_by_role("link", name="dave").click()
    page.get_by_label("Username").wait_for()
    screenshot(page, "admin-user", full_page=False)
    assert problems.errors == []


def test_everything_works_without_javascript(live_server, chromium, problems):
    UserFactory(username="nojs")
    data = _catalogue(UserFactory(username="frank"))
    for page in browser_tab(chromium, problems, viewport={"width": 1024, "height": 800}, java_script_enabled=False):
        page.goto(f"{live_server.url}/login/")
        page.get_by_label("Username").fill("nojs")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(f"{live_server.url}/")
        page.get_by_label("Forum").select_option(label="BSD")
        page.get_by_role("button", name="Search").click()
        expect(page.locator("table tbody tr")).to_have_count(1)
        page.goto(f"{live_server.url}/torrents/{data['debian'].pk}/")
        page.get_by_role("button", name="☆ Bookmark").click()
        expect(page.get_by_role("button", name="★ Bookmarked · remove")).to_be_visible()
        page.get_by_label("Your comment").fill("no scripts here")
        page.get_by_role("button", name="Post comment").click()
        expect(page.get_by_text("no scripts here")).to_be_visible()
        page.goto(f"{live_server.url}/profile/")
        expect(page.get_by_role("button", name="Copy passkey")).to_have_count(0)
        page.get_by_role("button", name="Log out").click()
        expect(page.get_by_role("link", name="Log in")).to_be_visible()
    assert problems.errors == []
