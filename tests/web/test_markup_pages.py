"""Descriptions and comments on the pages: the API's HTML, the Preview buttons, the CSP and MARKUP_IMAGE_HOSTS."""

import json
import os
import re
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.factories import TorrentFactory, make_metainfo
from tracker.catalogue.markup import markup_render
from tracker.models import Comment, Torrent

pytestmark = pytest.mark.django_db

HOSTILE = '[b]bold[/b] [url=javascript:alert(1)]x[/url] <script>alert(1)</script> [color=red" style="x]c[/color] https://example.org'


def _between(html: str, start: str) -> str:
    """The content of the element that opens with `start` (markup output holds no div of its own)."""
    match = re.search(re.escape(start) + "(.*?)</div>", html, re.DOTALL)
    assert match, start
    return match.group(1)


def _preview(html: str) -> str:
    return _between(html, '<div class="preview__body markup">')


@pytest.fixture
def own_torrent(forum, user):
    return TorrentFactory(forum=forum, uploader=user, description="[i]old[/i]")


def test_the_page_shows_the_api_description_html_byte_for_byte(member_client, user_client, forum):
    torrent = TorrentFactory(forum=forum, description=HOSTILE + '\n[quote="ann"]q[/quote]\n[list][*]a[*]b[/list]')
    page = member_client.get(f"/torrents/{torrent.pk}/").content.decode()
    api = user_client.get(f"/api/torrents/{torrent.pk}").json()["data"]["description_html"]
    assert _between(page, '<div class="description markup">') == api
    assert "<strong>bold</strong>" in api and "<script" not in api and "javascript:" not in api


def test_the_page_shows_each_comment_as_the_api_text_html(member_client, user_client, torrent, user):
    texts = [HOSTILE, "[spoiler]s[/spoiler]", "plain\ntwo lines"]
    for text in texts:
        Comment.objects.create(torrent=torrent, author=user, text=text)
    page = member_client.get(f"/torrents/{torrent.pk}/").content.decode()
    shown = re.findall(r'<div class="comment__text markup">(.*?)</div>', page, re.DOTALL)
    api = [c["text_html"] for c in user_client.get(f"/api/torrents/{torrent.pk}/comments").json()["data"]]
    assert shown == api == [markup_render(text) for text in texts]


def test_the_pages_keep_the_strict_csp_and_no_inline_style(member_client, torrent, user):
    Comment.objects.create(torrent=torrent, author=user, text=HOSTILE)
    home = member_client.get("/")["Content-Security-Policy"]
    for response in (
        member_client.get(f"/torrents/{torrent.pk}/"),
        member_client.post(f"/torrents/{torrent.pk}/comments/", {"text": HOSTILE, "preview": "1"}),
        member_client.post("/upload/", {"description": HOSTILE, "preview": "1"}),
    ):
        assert response["Content-Security-Policy"] == home
        assert "img-src 'self' data:;" in home
        html = response.content.decode()
        assert 'style="' not in html and "<style" not in html and html.count("<script") == 1  # the textarea holds it escaped


def test_comment_preview_shows_the_text_and_saves_nothing(member_client, torrent):
    before = Comment.objects.count()
    response = member_client.post(f"/torrents/{torrent.pk}/comments/", {"text": HOSTILE, "preview": "1"})
    assert response.status_code == 200
    html = response.content.decode()
    assert _preview(html) == markup_render(HOSTILE)
    assert "Post comment" in html and "[b]bold[/b]" in html  # the text is back in the form
    assert Comment.objects.count() == before


def test_comment_edit_preview_saves_nothing(member_client, torrent, user):
    comment = Comment.objects.create(torrent=torrent, author=user, text="first")
    response = member_client.post(f"/comments/{comment.pk}/edit/", {"text": "[u]second[/u]", "preview": "1"})
    assert response.status_code == 200
    assert _preview(response.content.decode()) == "<u>second</u>"
    comment.refresh_from_db()
    assert (comment.text, comment.edited_at) == ("first", None)


def test_torrent_edit_preview_saves_nothing(member_client, own_torrent, forum):
    name = own_torrent.name
    response = member_client.post(
        f"/torrents/{own_torrent.pk}/edit/", {"name": "renamed", "forum": forum.pk, "description": "[b]new[/b]", "preview": "1"}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert _preview(html) == "<strong>new</strong>"
    assert 'value="renamed"' in html
    own_torrent.refresh_from_db()
    assert (own_torrent.name, own_torrent.description) == (name, "[i]old[/i]")


def test_upload_preview_registers_nothing(member_client, forum):
    metainfo = SimpleUploadedFile("a.torrent", make_metainfo("a.iso")[0], content_type="application/x-bittorrent")
    before = Torrent.objects.count()
    response = member_client.post("/upload/", {"forum": forum.pk, "file": metainfo, "description": "[s]x[/s]", "preview": "1"})
    assert response.status_code == 200
    html = response.content.decode()
    assert _preview(html) == "<del>x</del>"
    assert "Choose the .torrent file again" in html
    assert Torrent.objects.count() == before


def test_a_form_without_preview_shows_none(member_client, torrent):
    html = member_client.get(f"/torrents/{torrent.pk}/").content.decode()
    assert "preview__body" not in html
    assert 'name="preview"' in html  # the button is there


def test_an_empty_preview_says_so(member_client, torrent):
    response = member_client.post(f"/torrents/{torrent.pk}/comments/", {"text": "", "preview": "1"})
    assert "Nothing to show." in _preview(response.content.decode())


def _settings_of(**env: str) -> subprocess.CompletedProcess[str]:
    code = "import json, django; from django.conf import settings; django.setup(); print(json.dumps(settings.SECURE_CSP['img-src']))"
    clean = {k: v for k, v in os.environ.items() if k != "MARKUP_IMAGE_HOSTS"}
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**clean, "DJANGO_SETTINGS_MODULE": "torrentpier.settings", "DEBUG": "1", **env},
        capture_output=True,
        text=True,
        cwd=settings.BASE_DIR,
    )


def test_image_hosts_are_added_to_the_csp_img_src():
    assert json.loads(_settings_of().stdout) == ["'self'", "data:"]
    result = _settings_of(MARKUP_IMAGE_HOSTS="img.example.org, Pics.Example.NET")
    assert json.loads(result.stdout) == ["'self'", "data:", "https://img.example.org", "https://pics.example.net"]


@pytest.mark.parametrize("hosts", ["*", "https://img.example.org", "img.example.org; script-src *", "localhost"])
def test_an_image_host_that_is_not_a_host_name_is_refused(hosts):
    result = _settings_of(MARKUP_IMAGE_HOSTS=hosts)
    assert result.returncode != 0
    assert "MARKUP_IMAGE_HOSTS must list host names" in result.stderr
