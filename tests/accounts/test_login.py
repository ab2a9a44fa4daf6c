"""POST /api/login, /api/token/refresh, /api/logout, GET /api/me."""

import pytest
from rest_framework.test import APIClient

from accounts.models import User
from tests.api.ratelimit_helpers import in_one_window
from tests.conftest import bearer
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
    # What the login page says, with its own code (issue 15: the API said "Invalid username or password")
    assert response.status_code == 403
    assert response.json()["error"] == {"code": "ACCOUNT_BANNED", "message": "This account is banned.", "details": {}}
    assert "data" not in response.json()


@pytest.mark.django_db
def test_a_banned_member_with_a_wrong_password_learns_nothing(api_client):
    banned = UserFactory(is_banned=True)
    response = api_client.post("/api/login", {"username": banned.username, "password": "wrong"}, format="json")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "INVALID_CREDENTIALS"


@pytest.mark.django_db
def test_the_api_and_the_page_say_the_same_to_a_banned_member(api_client, client):
    banned = UserFactory(is_banned=True)
    api = api_client.post("/api/login", {"username": banned.username, "password": PASSWORD}, format="json")
    page = client.post("/login/", {"username": banned.username, "password": PASSWORD})
    assert api.json()["error"]["message"] in page.content.decode()


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


def _login(client, user, **extra):
    return client.post("/api/login", {"username": user.username, "password": PASSWORD}, format="json", **extra)


@pytest.mark.django_db
def test_login_answers_the_documented_shape(api_client, user):
    data = _login(api_client, user).json()["data"]
    assert set(data) == {"token", "refresh_token", "token_type", "expires_in", "user"}
    assert data["expires_in"] == 15 * 60
    assert data["user"]["passkey"] == user.passkey


@pytest.mark.django_db
def test_login_accepts_a_form_body(api_client, user):
    response = api_client.post("/api/login", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 200


@pytest.mark.django_db
def test_inactive_user_cannot_log_in_and_gets_the_same_answer(api_client):
    inactive = UserFactory(is_active=False)
    response = _login(api_client, inactive)
    unknown = api_client.post("/api/login", {"username": "nobody-at-all", "password": PASSWORD}, format="json")
    assert response.status_code == 401
    assert response.json() == unknown.json()


@pytest.mark.django_db
def test_an_expired_access_token_is_token_invalid(api_client, user):
    from datetime import timedelta

    from django.utils import timezone
    from rest_framework_simplejwt.tokens import AccessToken

    token = AccessToken.for_user(user)
    token.set_exp(from_time=timezone.now() - timedelta(hours=1))
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    response = api_client.get("/api/me")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "TOKEN_INVALID"


@pytest.mark.django_db
def test_an_expired_refresh_token_is_token_invalid(api_client, user):
    from datetime import timedelta

    from django.utils import timezone
    from rest_framework_simplejwt.tokens import RefreshToken

    token = RefreshToken.for_user(user)
    token.set_exp(from_time=timezone.now() - timedelta(days=30))
    response = api_client.post("/api/token/refresh", {"refresh_token": str(token)}, format="json")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "TOKEN_INVALID"


@pytest.mark.django_db
def test_an_access_token_is_not_a_refresh_token(api_client, user):
    data = _login(api_client, user).json()["data"]
    response = api_client.post("/api/token/refresh", {"refresh_token": data["token"]}, format="json")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "TOKEN_INVALID"


@pytest.mark.django_db
def test_refresh_gives_a_token_that_works(api_client, user):
    data = _login(api_client, user).json()["data"]
    new = api_client.post("/api/token/refresh", {"refresh_token": data["refresh_token"]}, format="json").json()["data"]
    assert new["token_type"] == "Bearer"
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {new['token']}")
    assert api_client.get("/api/me").status_code == 200


@pytest.mark.django_db
def test_refresh_without_a_token_is_422(api_client):
    response = api_client.post("/api/token/refresh", {}, format="json")
    assert response.status_code == 422
    assert response.json()["error"]["details"] == {"refresh_token": ["This field is required."]}


@pytest.mark.django_db
def test_a_revoked_refresh_token_cannot_log_out_again(api_client, user):
    data = _login(api_client, user).json()["data"]
    assert api_client.post("/api/logout", {"refresh_token": data["refresh_token"]}, format="json").status_code == 204
    again = api_client.post("/api/logout", {"refresh_token": data["refresh_token"]}, format="json")
    assert again.status_code == 401
    assert again.json()["error"]["code"] == "TOKEN_INVALID"


@pytest.mark.django_db
def test_a_banned_users_token_and_refresh_stop_working(api_client, user):
    from accounts.services import user_set_banned

    data = _login(api_client, user).json()["data"]
    user_set_banned(user=user, banned=True)
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {data['token']}")
    assert api_client.get("/api/me").json()["error"]["code"] == "TOKEN_INVALID"
    api_client.credentials()
    refreshed = api_client.post("/api/token/refresh", {"refresh_token": data["refresh_token"]}, format="json")
    assert refreshed.json()["error"]["code"] == "TOKEN_INVALID"


@pytest.mark.django_db
def test_a_missing_login_is_401_with_a_bearer_challenge(api_client):
    # Bearer is the first authentication class, so DRF answers 401 (not 403) and says how to authenticate.
    response = api_client.get("/api/me")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


@pytest.mark.django_db
def test_after_five_failures_a_username_is_locked_out_from_any_ip(api_client, user):
    in_one_window(f"user:{user.username.lower()}", lambda: _check_username_lock_out(api_client, user))


def _check_username_lock_out(api_client, user):
    for n in range(5):
        response = api_client.post(
            "/api/login", {"username": user.username, "password": "wrong"}, format="json", REMOTE_ADDR=f"192.0.2.{n + 1}"
        )
        assert response.status_code == 401
    locked = _login(api_client, user, REMOTE_ADDR="192.0.2.99")
    assert locked.status_code == 429
    assert locked.json()["error"]["code"] == "RATE_LIMIT_EXCEEDED"
    assert 1 <= int(locked["Retry-After"]) <= 60
    # the same name in another case is the same account
    assert api_client.post("/api/login", {"username": user.username.upper(), "password": "x"}, format="json").status_code == 429


@pytest.mark.django_db
def test_after_five_failures_an_ip_is_locked_out_for_any_username(api_client, user):
    in_one_window("ip:198.51.100.7", lambda: _check_ip_lock_out(api_client, user))


def _check_ip_lock_out(api_client, user):
    for n in range(5):
        response = api_client.post("/api/login", {"username": f"guess{n}", "password": "wrong"}, format="json", REMOTE_ADDR="198.51.100.7")
        assert response.status_code == 401
    assert _login(api_client, user, REMOTE_ADDR="198.51.100.7").status_code == 429
    # another IP may still log in
    other = _login(api_client, user, REMOTE_ADDR="198.51.100.8")
    assert other.status_code == 200, other.content


def _five_wrong_guesses(api_client, remote: str, forwarded_for) -> None:
    """Five failed logins for five usernames from `remote`, the n-th saying X-Forwarded-For: forwarded_for(n)."""
    for n in range(5):
        response = api_client.post(
            "/api/login",
            {"username": f"guess{n}", "password": "wrong"},
            format="json",
            REMOTE_ADDR=remote,
            HTTP_X_FORWARDED_FOR=forwarded_for(n),
        )
        assert response.status_code == 401


@pytest.mark.django_db
def test_x_forwarded_for_from_an_untrusted_address_does_not_escape_the_ip_lock_out(api_client, user, settings):
    """A guesser behind no trusted proxy cannot pose as a new address per guess."""
    settings.TRUSTED_PROXIES = []

    def check() -> None:
        _five_wrong_guesses(api_client, "198.51.100.9", lambda n: f"203.0.113.{n + 1}")
        fresh = _login(api_client, user, REMOTE_ADDR="198.51.100.9", HTTP_X_FORWARDED_FOR="203.0.113.200")
        assert fresh.status_code == 429, fresh.content

    in_one_window("ip:198.51.100.9", check)


@pytest.mark.django_db
def test_x_forwarded_for_from_a_trusted_proxy_locks_out_the_client_not_the_proxy(api_client, user, settings):
    import ipaddress

    settings.TRUSTED_PROXIES = [ipaddress.ip_network("10.0.0.1/32")]

    def check() -> None:
        _five_wrong_guesses(api_client, "10.0.0.1", lambda n: "203.0.113.66")
        assert _login(api_client, user, REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.66").status_code == 429
        # another client behind the same proxy still logs in
        other = _login(api_client, user, REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.67")
        assert other.status_code == 200, other.content

    in_one_window("ip:203.0.113.66", check)


@pytest.mark.django_db
def test_four_failures_do_not_lock_out(api_client, user):
    for _ in range(4):
        api_client.post("/api/login", {"username": user.username, "password": "wrong"}, format="json")
    assert _login(api_client, user).status_code == 200


CSRF_SECRET = "a" * 32


@pytest.mark.django_db
def test_a_session_authenticates_the_api(user):
    client = APIClient(enforce_csrf_checks=True)
    assert client.login(username=user.username, password=PASSWORD)
    response = client.get("/api/me")
    assert response.status_code == 200
    assert response.json()["data"]["username"] == user.username


@pytest.mark.django_db
def test_a_session_write_without_csrf_token_is_403(user):
    client = APIClient(enforce_csrf_checks=True)
    client.login(username=user.username, password=PASSWORD)
    response = client.post("/api/logout", {}, format="json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "FORBIDDEN"
    assert "CSRF" in response.json()["error"]["message"]
    assert client.get("/api/me").status_code == 200  # still logged in


@pytest.mark.django_db
def test_a_session_write_with_csrf_token_works_and_logout_ends_the_session(user):
    client = APIClient(enforce_csrf_checks=True)
    client.login(username=user.username, password=PASSWORD)
    client.cookies["csrftoken"] = CSRF_SECRET
    response = client.post("/api/logout", {}, format="json", HTTP_X_CSRFTOKEN=CSRF_SECRET)
    assert response.status_code == 204
    after = client.get("/api/me")
    assert after.status_code == 401
    assert after.json()["error"]["code"] == "UNAUTHORIZED"


@pytest.mark.django_db
def test_bearer_requests_need_no_csrf_token(user):
    client = bearer(APIClient(enforce_csrf_checks=True), user)
    refresh = _login(client, user).json()["data"]["refresh_token"]
    assert client.post("/api/logout", {"refresh_token": refresh}, format="json").status_code == 204


@pytest.mark.django_db
def test_a_banned_users_session_counts_as_no_login(user):
    client = APIClient()
    client.login(username=user.username, password=PASSWORD)
    User.objects.filter(pk=user.pk).update(is_banned=True)
    assert client.get("/api/me").status_code == 401


@pytest.mark.django_db
def test_nobody_else_sees_a_passkey_in_the_login_answer(api_client, user):
    other = UserFactory()
    data = _login(api_client, other).json()["data"]
    assert data["user"]["passkey"] == other.passkey
    assert user.passkey not in str(data)


@pytest.mark.django_db
def test_me_costs_a_bounded_number_of_queries(user_client, django_assert_max_num_queries):
    # The session and the member (2), and their standing (tracker.policy.members): their row, warnings,
    # torrents leeching, hit-and-runs and tokens (5); the rules come from the cache.
    user_client.get("/api/me")  # the first read of the rules fills the cache
    with django_assert_max_num_queries(7):
        assert user_client.get("/api/me").status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("fmt", ["json", "multipart"])
def test_an_empty_refresh_token_is_no_refresh_token(user_client, fmt):
    # The same in every body format: a form field left empty never counted as given, and now
    # JSON's "" does not either (it was 422 "may not be blank" in JSON only, against the schema).
    assert user_client.post("/api/logout", {"refresh_token": ""}, format=fmt).status_code == 204


@pytest.mark.django_db
def test_an_empty_refresh_token_from_a_guest_is_401(api_client):
    response = api_client.post("/api/logout", {"refresh_token": ""}, format="json")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "TOKEN_INVALID"
