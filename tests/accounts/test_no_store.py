"""API responses that carry secrets (tokens, passkeys, .torrent files with the passkey) are never stored by a cache."""

import pytest
from rest_framework.test import APIClient

from tests.factories import PASSWORD, TorrentFactory


def _no_store(response):
    assert "no-store" in response.get("Cache-Control", ""), f"Cache-Control: {response.get('Cache-Control')!r}"


@pytest.mark.django_db
def test_the_login_answer_is_not_stored(api_client, user):
    login = api_client.post("/api/login", {"username": user.username, "password": PASSWORD}, format="json")
    assert login.status_code == 200
    _no_store(login)


@pytest.mark.django_db
def test_the_refresh_answer_is_not_stored(api_client, user):
    login = api_client.post("/api/login", {"username": user.username, "password": PASSWORD}, format="json")
    refreshed = api_client.post("/api/token/refresh", {"refresh_token": login.json()["data"]["refresh_token"]}, format="json")
    assert refreshed.status_code == 200
    _no_store(refreshed)


@pytest.mark.django_db
def test_me_is_not_stored(user_client):
    me = user_client.get("/api/me")
    assert me.status_code == 200
    _no_store(me)


@pytest.mark.django_db
def test_the_passkey_reset_is_not_stored(user_client):
    passkey = user_client.post("/api/me/passkey")
    assert passkey.status_code == 200
    _no_store(passkey)


@pytest.mark.django_db
def test_the_registration_answer_with_the_passkey_is_not_stored(api_client):
    response = api_client.post(
        "/api/register", {"username": "fresh", "email": "f@example.test", "password": "c0rrect-Horse"}, format="json"
    )
    assert response.status_code == 201
    _no_store(response)


@pytest.mark.django_db
def test_the_torrent_download_is_not_stored(user_client):
    torrent = TorrentFactory()
    response = user_client.get(f"/api/torrents/{torrent.pk}/download")
    assert response.status_code == 200
    _no_store(response)


@pytest.mark.django_db
def test_public_reads_keep_their_caching(api_client):
    assert "no-store" not in APIClient().get("/api/hello").get("Cache-Control", "")
