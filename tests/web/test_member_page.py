"""Members' public pages (/users/<name>/) and the profile's own lists, paginated; the privacy form; release names that wrap."""

from typing import Any

import factory
import pytest
from django.test import Client
from django.utils import timezone

from tests.factories import ForumFactory, TorrentFactory, UserFactory
from tracker.catalogue.models import Bookmark
from tracker.swarm.models import Snatch
from web.templatetags.web import breakable
from web.views.account import PROFILE_ROWS


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _names(html: str) -> str:
    return html.replace("<wbr>", "")


@pytest.mark.django_db
def test_a_guest_is_sent_to_log_in(user):
    response = Client().get(f"/users/{user.username}/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


@pytest.mark.django_db
def test_an_unknown_or_deactivated_member_is_404(member_client):
    assert member_client.get("/users/nobody-here/").status_code == 404
    gone = UserFactory(is_active=False)
    assert member_client.get(f"/users/{gone.username}/").status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("viewer_kind", "public", "visible"),
    [("self", False, True), ("member", True, True), ("member", False, False), ("moderator", False, True), ("admin", False, True)],
)
def test_the_member_page_shows_figures_as_the_member_chose(viewer_kind, public, visible):
    shown = UserFactory(username="ann.o-nymous", uploaded=5 * 1024**3, downloaded=1024**3, stats_public=public, role="moderator")
    viewer = shown if viewer_kind == "self" else UserFactory(role={"member": "user"}.get(viewer_kind, viewer_kind))
    response = _client(viewer).get(f"/users/{shown.username}/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "ann.o-nymous" in html and "Moderator" in html and shown.date_joined.strftime("%-d %b %Y") in html
    assert ("5.0\xa0GB" in html and "5.00" in html) is visible
    assert ("keeps their transfer figures to themselves" in html) is not visible
    assert shown.passkey not in html and shown.email not in html


@pytest.mark.django_db
def test_uploads_are_those_the_viewer_may_see(user, moderator):
    shown = UserFactory()
    TorrentFactory(uploader=shown, name="open-release")
    TorrentFactory(uploader=shown, name="waiting-release", status="not_approved")
    TorrentFactory(uploader=shown, name="staff-release", forum=ForumFactory(view_level=2))
    TorrentFactory(name="someone-elses-release")
    as_member = _names(_client(user).get(f"/users/{shown.username}/").content.decode())
    assert "open-release" in as_member and "waiting-release" not in as_member and "staff-release" not in as_member
    assert "someone-elses-release" not in as_member
    as_moderator = _names(_client(moderator).get(f"/users/{shown.username}/").content.decode())
    assert all(name in as_moderator for name in ("open-release", "waiting-release", "staff-release"))
    as_self = _names(_client(shown).get(f"/users/{shown.username}/").content.decode())
    assert "waiting-release" in as_self and "staff-release" not in as_self  # one's own pending upload, not a forum above one


@pytest.mark.django_db
def test_uploads_are_paginated_newest_first_in_bounded_queries(user, django_assert_max_num_queries):
    shown = UserFactory()
    torrents = TorrentFactory.create_batch(PROFILE_ROWS + 5, uploader=shown)
    client = _client(user)
    with django_assert_max_num_queries(5):  # session, viewer, member with their count, page, count
        first = _names(client.get(f"/users/{shown.username}/").content.decode())
    second = _names(client.get(f"/users/{shown.username}/", {"page": 2}).content.decode())
    newest = sorted(torrents, key=lambda t: (t.created_at, t.pk), reverse=True)
    assert all(t.name in first for t in newest[:PROFILE_ROWS]) and not any(t.name in first for t in newest[PROFILE_ROWS:])
    assert all(t.name in second for t in newest[PROFILE_ROWS:])
    assert "Page 1 of 2" in first and 'href="?page=2#uploads-heading"' in first
    assert client.get(f"/users/{shown.username}/", {"page": "x"}).status_code == 200  # a bad page is the first


@pytest.mark.django_db
def test_the_uploader_links_to_their_page_for_members_only(torrent, member_client):
    link = f'href="/users/{torrent.uploader.username}/"'
    assert link in member_client.get(f"/torrents/{torrent.pk}/").content.decode()
    guest = Client().get(f"/torrents/{torrent.pk}/").content.decode()
    assert torrent.uploader.username in guest and link not in guest  # the page would only send them to log in


@pytest.mark.django_db
def test_the_profile_pages_each_of_its_lists_on_its_own(member_client, user, django_assert_max_num_queries):
    now = timezone.now()
    uploads = TorrentFactory.create_batch(PROFILE_ROWS + 2, uploader=user, name=factory_name("up"))
    for torrent in TorrentFactory.create_batch(PROFILE_ROWS + 3, name=factory_name("snatched")):
        Snatch.objects.create(user=user, torrent=torrent, first_announce=now, last_announce=now, is_seeding=True)
    for torrent in TorrentFactory.create_batch(PROFILE_ROWS + 4, name=factory_name("marked")):
        Bookmark.objects.create(user=user, torrent=torrent)
    with django_assert_max_num_queries(11):  # session, member, 3 lists with their counts, keys, invites, two-factor
        html = member_client.get("/profile/").content.decode()
    assert html.count("Page 1 of 2") == 3
    assert 'href="?uploads_page=2#uploads-heading"' in html and 'href="?history_page=2#history-heading"' in html
    assert 'href="?bookmarks_page=2#bookmarks-heading"' in html
    later = _names(member_client.get("/profile/", {"uploads_page": 2, "history": "seeding", "history_page": 2}).content.decode())
    uploads_part = later.split('id="uploads-heading"')[1].split('id="history-heading"')[0]
    history_part = later.split('id="history-heading"')[1].split('id="bookmarks-heading"')[0]
    assert uploads_part.count("up-") == 2 and history_part.count("snatched-") == 3  # the other rows are on page 1
    assert 'href="?history=seeding&amp;history_page=1' not in later  # the first page drops its parameter, keeps the others
    assert 'href="?uploads_page=2&amp;history=seeding#history-heading"' in later  # history page 1 keeps the uploads page
    newest = sorted(uploads, key=lambda t: (t.created_at, t.pk))[:2]
    assert all(t.name in uploads_part for t in newest)


def factory_name(prefix: str) -> Any:
    return factory.Sequence(lambda n: f"{prefix}-{n:04d}")


@pytest.mark.django_db
@pytest.mark.parametrize(("stats_public", "hide_in_peers"), [(False, True), (True, False), (False, False)])
def test_the_privacy_form_saves_both_choices(member_client, user, stats_public, hide_in_peers):
    form = {k: "on" for k, v in (("stats_public", stats_public), ("hide_in_peers", hide_in_peers)) if v}
    response = member_client.post("/profile/privacy/", form)
    assert response.status_code == 302 and response["Location"] == "/profile/#privacy-heading"
    user.refresh_from_db()
    assert (user.stats_public, user.hide_in_peers) == (stats_public, hide_in_peers)
    html = member_client.get("/profile/").content.decode()
    assert ('name="stats_public" id="id_stats_public" checked' in html or 'name="stats_public" checked' in html) is stats_public


@pytest.mark.django_db
def test_the_privacy_form_needs_csrf_and_a_post(csrf_client, user, member_client):
    csrf_client.force_login(user)
    assert csrf_client.post("/profile/privacy/", {}).status_code == 403
    assert member_client.get("/profile/privacy/").status_code == 405
    assert Client().post("/profile/privacy/", {}).status_code == 302  # a guest: to the login page
    user.refresh_from_db()
    assert user.stats_public is True


@pytest.mark.parametrize(
    ("name", "html"),
    [
        ("Some.Release-2024_x264", "Some.<wbr>Release-<wbr>2024_<wbr>x264"),
        ("[Group] Show (1080p)", "[Group]<wbr> Show (1080p)<wbr>"),
        ("<script>a.b</script>", "&lt;script&gt;a.<wbr>b&lt;/script&gt;"),
        ("plainword", "plainword"),
    ],
)
def test_release_names_wrap_after_dots_and_dashes_only(name, html):
    assert str(breakable(name)) == html


@pytest.mark.django_db
@pytest.mark.parametrize("raw", ["²", "x", "-1", "0", "1.5", ""])
@pytest.mark.parametrize(
    ("path", "param"),
    [("/profile/", "uploads_page"), ("/profile/", "history_page"), ("/profile/", "bookmarks_page"), ("/users/{name}/", "page")],
)
def test_a_bad_page_number_is_the_first_page_never_a_500(member_client, user, path, param, raw):
    TorrentFactory(uploader=user, name="listed-upload")
    response = member_client.get(path.format(name=user.username), {param: raw})
    assert response.status_code == 200 and "listed-upload" in _names(response.content.decode())


@pytest.mark.django_db
def test_a_page_past_the_end_is_empty_not_an_error(member_client, user):
    TorrentFactory(uploader=user, name="listed-upload")
    for path in ("/profile/?uploads_page=" + "9" * 40, f"/users/{user.username}/?page=" + "9" * 40):
        response = member_client.get(path)
        assert response.status_code == 200 and "listed-upload" not in _names(response.content.decode())
