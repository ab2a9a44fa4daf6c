"""POST /api/login, /api/token/refresh, /api/logout, GET /api/me."""

import pytest

from tests.factories import PASSWORD, UserFactory


@pytest.mark.django_db
def test_login_returns_a_bearer_token_that_works(api_client, user):
    response = api_client.post("/api/login", {"username": user.username, "password": PASSWORD}, format="json")
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["token_type"] == "Bearer"
    assert data["expires_in"] > 0
    assert data["user"]["username"] == user.username
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {data['token']}")
    me = api_client.get("/api/me")
    assert me.status_code == 200
    assert me.json()["data"]["passkey"] == user.passkey


@pytest.mark.django_db
def test_wrong_password_and_unknown_user_get_the_same_401(api_client, user):
    wrong = api_client.post("/api/login", {"username": user.username, "password": "nope"}, format="json")
    unknown = api_client.post("/api/login", {"username": "ghost", "password": "nope"}, format="json")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert wrong.json()["error"]["code"] == "INVALID_CREDENTIALS"


@pytest.mark.django_db
def test_banned_user_cannot_log_in(api_client):
    banned = UserFactory(is_banned=True)
    response = api_client.post("/api/login", {"username": banned.username, "password": PASSWORD}, format="json")
    assert response.status_code == 401


@pytest.mark.django_db
def test_me_without_auth_is_401(api_client):
    response = api_client.get("/api/me")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "UNAUTHORIZED"


@pytest.mark.django_db
def test_bad_token_is_token_invalid(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    response = api_client.get("/api/me")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "TOKEN_INVALID"


@pytest.mark.django_db
def test_refresh_then_logout_revokes(api_client, user):
    login = api_client.post("/api/login", {"username": user.username, "password": PASSWORD}, format="json").json()["data"]
    refreshed = api_client.post("/api/token/refresh", {"refresh_token": login["refresh_token"]}, format="json")
    assert refreshed.status_code == 200
    new = refreshed.json()["data"]
    # the old refresh token was rotated out
    again = api_client.post("/api/token/refresh", {"refresh_token": login["refresh_token"]}, format="json")
    assert again.status_code == 401
    assert again.json()["error"]["code"] == "TOKEN_INVALID"
    out = api_client.post("/api/logout", {"refresh_token": new["refresh_token"]}, format="json")
    assert out.status_code == 204
    assert out.content == b""
    after = api_client.post("/api/token/refresh", {"refresh_token": new["refresh_token"]}, format="json")
    assert after.status_code == 401
