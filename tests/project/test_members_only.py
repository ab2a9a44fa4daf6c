"""SITE_MEMBERS_ONLY: every page and API read needs a login; guests reach only login, registration, password reset, confirmation."""

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from accounts.services import api_key_create
from tests.conftest import bearer
from tests.factories import PASSWORD, TorrentFactory, UserFactory
from tracker.models import Comment

pytestmark = pytest.mark.django_db

# What a guest of a members-only site still reaches (web.middleware._GUEST_OPEN).
OPEN_PAGES = ("login", "login-2fa", "logout", "register", "password-reset", "password-reset-sent", "password-reset-done",
              "password-reset-confirm", "email-confirm")  # fmt: skip
# Pages with checks of their own (a feed's key, a file's redirect): not the login page.
OWN_CHECKS = ("feed-torrents-rss", "feed-torrents-atom", "feed-bookmarks-rss", "feed-bookmarks-atom", "feed-download")


@pytest.fixture
def members_only(settings):
    settings.SITE_MEMBERS_ONLY = True


@pytest.fixture
def world():
    torrent = TorrentFactory()
    comment = Comment.objects.create(torrent=torrent, author=torrent.uploader, text="hello")
    ids = {"torrent_id": torrent.pk, "comment_id": comment.pk, "key_id": 1, "invite_id": 1, "uidb64": "MQ", "token": "x-y"}
    return {**ids, "username": torrent.uploader.username}


def _page_paths(world: dict) -> list[tuple[str, str]]:
    """Every page route of web.urls with its arguments filled in: (name, path)."""
    resolver = get_resolver()
    web = next(p for p in resolver.url_patterns if isinstance(p, URLResolver) and getattr(p, "app_name", None) == "web")
    paths = []
    for pattern in web.url_patterns:
        assert isinstance(pattern, URLPattern)
        if not pattern.name:
            continue
        from django.urls import reverse

        arguments = {name: world[name] for name in pattern.pattern.converters}
        paths.append((pattern.name, reverse(f"web:{pattern.name}", kwargs=arguments)))
    return paths


def test_every_page_sends_a_guest_to_the_login_page_but_the_open_ones(members_only, world):
    pages = _page_paths(world)
    assert len(pages) > 25 and {name for name, _ in pages} >= set(OPEN_PAGES)
    for name, path in pages:
        response = Client().get(path)
        location = response.get("Location", "")
        sent_to_login = response.status_code == 302 and location.startswith("/login/?next=")
        if name in OPEN_PAGES or name in OWN_CHECKS or name == "favicon.ico":
            assert not sent_to_login, (name, path)
        else:
            assert sent_to_login, (name, path, response.status_code, location)


def test_pages_are_open_to_guests_without_the_setting(world):
    for path in ("/", f"/torrents/{world['torrent_id']}/"):
        assert Client().get(path).status_code == 200


def test_a_member_reads_the_pages(members_only, world, client):
    member = UserFactory()
    client.force_login(member)
    assert client.get("/").status_code == 200
    assert client.get(f"/torrents/{world['torrent_id']}/").status_code == 200


def test_the_login_page_takes_a_guest_back_where_they_were(members_only, world):
    browser = Client()
    member = UserFactory()
    wanted = f"/torrents/{world['torrent_id']}/"
    assert browser.get(wanted)["Location"] == f"/login/?next={wanted}"
    response = browser.post(f"/login/?next={wanted}", {"username": member.username, "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == wanted
    assert browser.get(wanted).status_code == 200


GUEST_READS = ["/api/torrents", "/api/torrents/{torrent_id}", "/api/torrents/{torrent_id}/comments", "/api/forums",
               "/api/categories", "/api/stats", "/api/v1/torrents"]  # fmt: skip


@pytest.mark.parametrize("path", GUEST_READS)
def test_every_api_read_needs_a_login(members_only, world, path):
    url = path.format(**world)
    response = APIClient().get(url)
    assert response.status_code == 401, (url, response.status_code)
    assert response.json()["error"]["code"] == "UNAUTHORIZED"
    member = UserFactory()
    assert bearer(APIClient(), member).get(url).status_code == 200
    _, key = api_key_create(user=member, name="reader", scopes=["read"])
    assert APIClient().get(url, HTTP_X_API_KEY=key).status_code == 200


@pytest.mark.parametrize("path", GUEST_READS)
def test_api_reads_are_open_to_guests_without_the_setting(world, path):
    assert APIClient().get(path.format(**world)).status_code == 200


def test_what_a_guest_must_reach_stays_open(members_only, settings):
    member = UserFactory()
    api = APIClient()
    assert api.get("/api/hello").status_code == 200
    assert api.post("/api/login", {"username": member.username, "password": "wrong"}, format="json").json()["error"]["code"] == (
        "INVALID_CREDENTIALS"
    )
    tokens = api.post("/api/login", {"username": member.username, "password": PASSWORD}, format="json").json()["data"]
    assert api.post("/api/token/refresh", {"refresh_token": tokens["refresh_token"]}, format="json").status_code == 200
    assert api.post("/api/password/reset", {"email": member.email}, format="json").status_code == 200
    assert api.post("/api/email/confirm", {"uid": "MQ", "token": "bad"}, format="json").status_code == 422
    body = {"username": "newcomer", "email": "new@example.test", "password": "c0rrect-Horse-battery"}
    assert api.post("/api/register", body, format="json").status_code == 201
    assert api.get("/api/nothing-here").status_code == 404
