"""GET /api/users, GET/PATCH /api/users/{id}, POST /api/register, POST /api/me/passkey, GET /api/stats."""

import pytest
from django.core.cache import cache
from django.test import override_settings
from rest_framework.test import APIClient

from accounts.models import User
from tests.conftest import bearer
from tests.factories import TorrentFactory, UserFactory
from tracker.models import Torrent, TorrentStatus
from tracker.swarm.lookups import passkey_cache_key

pytestmark = pytest.mark.django_db


def test_the_user_list_needs_a_login_and_searches_usernames(api_client, user_client, user, django_assert_max_num_queries):
    UserFactory(username="alice")
    UserFactory(username="malice")
    for _ in range(10):
        UserFactory()
    assert api_client.get("/api/users").status_code == 401
    with django_assert_max_num_queries(3):
        response = user_client.get("/api/users?search=alice&sort=username")
    assert [u["username"] for u in response.json()["data"]] == ["alice", "malice"]
    assert user_client.get("/api/users?sort=email").status_code == 422


def test_a_search_with_a_nul_character_is_422_not_a_500(user_client):
    response = user_client.get("/api/users?search=al%00ice")
    assert response.status_code == 422
    assert "search" in response.json()["error"]["details"]


def test_profiles_never_show_email_or_passkey(user_client, moderator):
    TorrentFactory(uploader=moderator)
    TorrentFactory(uploader=moderator, status=TorrentStatus.NOT_APPROVED)
    response = user_client.get(f"/api/users/{moderator.pk}")
    data = response.json()["data"]
    assert data["username"] == moderator.username
    assert data["role"] == "moderator"
    assert data["torrents_uploaded"] == 1
    assert set(data) == {"id", "username", "role", "joined", "uploaded", "downloaded", "ratio", "torrents_uploaded"}
    listing = user_client.get("/api/users").content.decode()
    assert moderator.email not in listing and moderator.passkey not in listing


def test_unknown_users_are_404(user_client):
    assert user_client.get("/api/users/99999").status_code == 404
    assert user_client.get("/api/users/x").status_code == 404


def test_admins_change_role_and_ban(admin_client_api):
    target = UserFactory()
    cache.set(passkey_cache_key(target.passkey), target.pk, 600)
    response = admin_client_api.patch(f"/api/users/{target.pk}", {"role": "moderator", "is_banned": True}, format="json")
    assert response.status_code == 200
    assert (response.json()["data"]["role"], response.json()["data"]["is_banned"]) == ("moderator", True)
    target.refresh_from_db()
    assert target.is_banned and target.role == "moderator"
    assert cache.get(passkey_cache_key(target.passkey)) is None
    unban = admin_client_api.patch(f"/api/users/{target.pk}", {"is_banned": False}, format="json")
    assert unban.json()["data"]["is_banned"] is False


def test_user_admin_edits_validate_and_need_an_admin(admin_client_api, admin_user, user_client, moderator_client, api_client):
    target = UserFactory()
    assert admin_client_api.patch(f"/api/users/{target.pk}", {"role": "king"}, format="json").status_code == 422
    assert admin_client_api.patch(f"/api/users/{admin_user.pk}", {"is_banned": True}, format="json").status_code == 403
    assert user_client.patch(f"/api/users/{target.pk}", {"is_banned": True}, format="json").status_code == 403
    assert moderator_client.patch(f"/api/users/{target.pk}", {"is_banned": True}, format="json").status_code == 403
    assert api_client.patch(f"/api/users/{target.pk}", {"is_banned": True}, format="json").status_code == 401


def test_a_banned_users_token_stops_working(admin_client_api, user, user_client):
    admin_client_api.patch(f"/api/users/{user.pk}", {"is_banned": True}, format="json")
    assert user_client.get("/api/me").status_code == 401


def test_register_creates_a_user_who_can_log_in(api_client):
    payload = {"username": "newbie", "email": "n@example.test", "password": "c0rrect-Horse"}
    response = api_client.post("/api/register", payload, format="json")
    assert response.status_code == 201
    data = response.json()["data"]
    assert data["username"] == "newbie" and data["role"] == "user" and len(data["passkey"]) == 32
    assert "password" not in data
    login = api_client.post("/api/login", {"username": "newbie", "password": "c0rrect-Horse"}, format="json")
    assert login.status_code == 200


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"username": "ab", "email": "a@b.test", "password": "c0rrect-Horse"}, "username"),
        ({"username": "bad name!", "email": "a@b.test", "password": "c0rrect-Horse"}, "username"),
        ({"username": "okname", "email": "nope", "password": "c0rrect-Horse"}, "email"),
        ({"username": "okname", "email": "a@b.test", "password": "123"}, "password"),
        ({"username": "okname", "email": "a@b.test", "password": "password"}, "password"),
        ({"username": "okname", "email": "a@b.test", "password": "oknameok"}, "password"),
        ({}, "username"),
    ],
)
def test_register_validation_is_422(api_client, payload, field):
    response = api_client.post("/api/register", payload, format="json")
    assert response.status_code == 422
    assert field in response.json()["error"]["details"]


def test_register_a_taken_username_is_409(api_client, user):
    payload = {"username": user.username.upper(), "email": "x@y.test", "password": "c0rrect-Horse"}
    assert api_client.post("/api/register", payload, format="json").status_code == 409


@override_settings(REGISTRATION_MODE="closed")
def test_register_when_closed_is_403(api_client):
    response = api_client.post("/api/register", {"username": "late", "email": "l@x.test", "password": "c0rrect-Horse"}, format="json")
    assert response.status_code == 403
    assert not User.objects.filter(username="late").exists()


def test_passkey_reset_gives_a_new_one_and_forgets_the_old(user, user_client, settings):
    old = user.passkey
    cache.set(passkey_cache_key(old), user.pk, 600)
    response = user_client.post("/api/me/passkey")
    assert response.status_code == 200
    new = response.json()["data"]["passkey"]
    assert new != old and len(new) == 32
    assert response.json()["data"]["announce_url"] == f"{settings.TRACKER_ANNOUNCE_URL}/announce?uk={new}"
    assert cache.get(passkey_cache_key(old)) is None
    assert not User.objects.filter(passkey=old).exists()


def test_passkey_reset_needs_a_login(api_client):
    assert api_client.post("/api/me/passkey").status_code == 401


def test_stats(api_client, django_assert_max_num_queries):
    TorrentFactory(size=100, seeders=2, leechers=1)
    TorrentFactory(size=50, seeders=1)
    with django_assert_max_num_queries(3):
        response = api_client.get("/api/stats")
    assert response.json()["data"] == {"users": 2, "torrents": 2, "total_size": 150, "seeders": 3, "leechers": 1, "peers": 0}
    assert Torrent.objects.count() == 2
    client = bearer(APIClient(), UserFactory())
    assert client.get("/api/stats").status_code == 200


def test_profile_queries_are_bounded(user_client, moderator, django_assert_max_num_queries):
    TorrentFactory.create_batch(3, uploader=moderator)
    with django_assert_max_num_queries(2):  # the caller, the profile with its count
        assert user_client.get(f"/api/users/{moderator.pk}").json()["data"]["torrents_uploaded"] == 3
