"""Two-factor login (TOTP) on the API: enrolment, the login challenge, recovery codes, turning it off, and their abuse."""

import logging
import time
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.core import signing
from django.db import connection
from django.test import Client
from prometheus_client import REGISTRY
from rest_framework.test import APIClient

from accounts.models import RecoveryCode, TwoFactorDevice, recovery_code_hash
from accounts.services import api_key_create
from accounts.twofactor import login_challenge_issue
from tests.conftest import bearer
from tests.factories import PASSWORD, UserFactory
from tests.twofactor import enrol, totp, wait_for_fresh_step

pytestmark = pytest.mark.django_db

NO_STORE = "no-store"


@pytest.fixture(autouse=True)
def _fresh_step() -> None:
    wait_for_fresh_step()


def _login(user: Any, password: str = PASSWORD, client: APIClient | None = None) -> Any:
    return (client or APIClient()).post("/api/login", {"username": user.username, "password": password}, format="json")


def _challenge(user: Any) -> str:
    response = _login(user)
    assert response.status_code == 401, response.content
    return response.json()["error"]["details"]["challenge"]


def _second_step(challenge: str, code: str, client: APIClient | None = None) -> Any:
    return (client or APIClient()).post("/api/login/2fa", {"challenge": challenge, "code": code}, format="json")


def _error(response: Any) -> str:
    return response.json()["error"]["code"]


def _set_up(client: APIClient, password: str = PASSWORD) -> Any:
    return client.post("/api/me/2fa", {"password": password}, format="json")


def _failures(reason: str) -> float:
    """torrentpier_login_failures_total for `reason` so far (the counter lives in the process during tests)."""
    return REGISTRY.get_sample_value("torrentpier_login_failures_total", {"reason": reason}) or 0.0


# --- Enrolment -------------------------------------------------------------------------------


def test_setting_up_shows_the_secret_its_uri_and_a_qr_code_and_changes_nothing_until_confirmed(user_client, user):
    response = _set_up(user_client)
    assert response.status_code == 201
    assert NO_STORE in response["Cache-Control"]
    data = response.json()["data"]
    assert len(data["secret"]) == 32
    host = urlsplit(settings.TRACKER_ANNOUNCE_URL).hostname  # the issuer unless TWO_FACTOR_ISSUER is set
    assert data["otpauth_uri"].startswith(f"otpauth://totp/{host}:{user.username}?secret={data['secret']}")
    assert f"issuer={host}" in data["otpauth_uri"]
    assert data["qr_code"].startswith("data:image/svg+xml")
    status = user_client.get("/api/me/2fa").json()["data"]
    assert status == {"enabled": False, "enabled_at": None, "recovery_codes_left": 0, "enrolment_required": False}
    assert user_client.get("/api/me").json()["data"]["two_factor_enabled"] is False
    assert _login(user).status_code == 200  # not in force before it is confirmed


def test_the_issuer_is_the_setting_when_set(user_client, settings):
    settings.TWO_FACTOR_ISSUER = "My Tracker"
    uri = _set_up(user_client).json()["data"]["otpauth_uri"]
    assert uri.startswith("otpauth://totp/My%20Tracker:") and "issuer=My%20Tracker" in uri


def test_a_wrong_code_does_not_turn_it_on(user_client, user):
    secret = _set_up(user_client).json()["data"]["secret"]
    wrong = f"{(int(totp(secret)) + 1) % 1_000_000:06d}"
    response = user_client.post("/api/me/2fa/confirm", {"code": wrong}, format="json")
    assert response.status_code == 422
    assert list(response.json()["error"]["details"]) == ["code"]
    assert user_client.get("/api/me/2fa").json()["data"]["enabled"] is False


def test_the_right_code_turns_it_on_with_ten_recovery_codes_shown_once_and_stored_hashed(user_client, user):
    secret = _set_up(user_client).json()["data"]["secret"]
    response = user_client.post("/api/me/2fa/confirm", {"code": totp(secret)}, format="json")
    assert response.status_code == 200
    assert NO_STORE in response["Cache-Control"]
    codes = response.json()["data"]["recovery_codes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    assert all(len(code) == 14 and code[4] == code[9] == "-" for code in codes)
    stored = set(RecoveryCode.objects.filter(user=user).values_list("code_hash", flat=True))
    assert stored == {recovery_code_hash(code.replace("-", "")) for code in codes}
    assert not any(code.replace("-", "") in str(row.__dict__) for row in RecoveryCode.objects.all() for code in codes)
    status = user_client.get("/api/me/2fa").json()["data"]
    assert status["enabled"] is True and status["recovery_codes_left"] == 10 and status["enabled_at"]
    assert "secret" not in str(status) and secret not in str(user_client.get("/api/me").json())
    assert user_client.get("/api/me").json()["data"]["two_factor_enabled"] is True
    # Once on, the secret is never shown again, and a second set-up or confirmation is refused.
    assert _set_up(user_client).status_code == 409
    assert user_client.post("/api/me/2fa/confirm", {"code": totp(secret, 1)}, format="json").status_code == 409


def test_confirming_without_a_set_up_is_409(user_client):
    response = user_client.post("/api/me/2fa/confirm", {"code": "123456"}, format="json")
    assert response.status_code == 409
    assert _error(response) == "CONFLICT"


def test_a_new_set_up_replaces_one_left_unconfirmed(user_client):
    first = _set_up(user_client).json()["data"]["secret"]
    second = _set_up(user_client).json()["data"]["secret"]
    assert first != second
    assert user_client.post("/api/me/2fa/confirm", {"code": totp(first)}, format="json").status_code == 422
    assert user_client.post("/api/me/2fa/confirm", {"code": totp(second)}, format="json").status_code == 200


def test_guessing_the_code_of_an_unfinished_set_up_is_locked_out(user_client, settings):
    """A stolen session cannot guess its way into a set-up the member left unconfirmed: codes count as login attempts."""
    settings.LOGIN_FAILURE_LIMIT = 3
    secret = _set_up(user_client).json()["data"]["secret"]
    wrong = f"{(int(totp(secret)) + 500_000) % 1_000_000:06d}"
    statuses = [user_client.post("/api/me/2fa/confirm", {"code": wrong}, format="json").status_code for _ in range(4)]
    assert statuses == [422, 422, 422, 429]
    locked = user_client.post("/api/me/2fa/confirm", {"code": totp(secret)}, format="json")
    assert locked.status_code == 429 and locked["Retry-After"]  # even the right code waits for the lock-out to end


@pytest.mark.parametrize(
    "body",
    [
        None,
        {},
        {"password": ""},
        {"password": None},
        {"password": ["a", "b"]},
        {"password": {"x": 1}},
        {"password": "x" * 5000},
        {"password": "a\x00b"},
        {"code": "123456"},
    ],
)
def test_setting_up_without_a_password_is_422_on_password_never_500(user_client, user, body):
    response = user_client.post("/api/me/2fa", body, format="json")
    assert response.status_code == 422, response.content
    assert _error(response) == "VALIDATION_ERROR"
    assert "password" in response.json()["error"]["details"]
    assert "data" not in response.json()
    assert not TwoFactorDevice.objects.filter(user=user).exists()  # no secret made, none shown


def test_setting_up_with_a_wrong_password_is_422_and_one_password_failure(user_client, user):
    before = {reason: _failures(reason) for reason in ("password", "code")}
    response = _set_up(user_client, "wrong password")
    assert response.status_code == 422
    assert _error(response) == "VALIDATION_ERROR"
    assert response.json()["error"]["details"] == {"password": ["Your password is wrong."]}
    assert "data" not in response.json()
    assert not TwoFactorDevice.objects.filter(user=user).exists()
    assert _failures("password") == before["password"] + 1  # once: check_password sends no user_login_failed
    assert _failures("code") == before["code"]
    assert _set_up(user_client).status_code == 201


def test_guessing_the_password_to_set_it_up_meets_the_login_lock_out(user_client, user):
    for _ in range(5):
        assert _set_up(user_client, "guess").status_code == 422
    locked = _set_up(user_client)  # the right one, too late
    assert locked.status_code == 429
    assert _error(locked) == "RATE_LIMIT_EXCEEDED"
    assert int(locked["Retry-After"]) >= 1
    assert not TwoFactorDevice.objects.filter(user=user).exists()
    # The same counts as logging in: the API's login and the login page are locked out too.
    assert _login(user, client=APIClient(REMOTE_ADDR="198.51.100.98")).status_code == 429
    assert Client(REMOTE_ADDR="198.51.100.97").post("/login/", {"username": user.username, "password": PASSWORD}).status_code == 429


def test_the_right_password_at_set_up_is_no_failure(user_client):
    for _ in range(6):  # past LOGIN_FAILURE_LIMIT, had they counted
        assert _set_up(user_client).status_code == 201


# --- Login ---------------------------------------------------------------------------------


def test_the_right_password_of_an_enrolled_member_gets_a_challenge_not_a_token(user):
    enrol(user)
    response = _login(user)
    assert response.status_code == 401
    body = response.json()
    assert body["error"]["code"] == "TWO_FACTOR_REQUIRED"
    assert set(body["error"]["details"]) == {"challenge", "expires_in"}
    assert body["error"]["details"]["expires_in"] == 300
    assert "data" not in body
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert NO_STORE in response["Cache-Control"]
    # A wrong password says nothing about two-factor login.
    wrong = _login(user, "wrong password")
    assert wrong.status_code == 401 and _error(wrong) == "INVALID_CREDENTIALS"
    assert "details" not in wrong.json()["error"] or wrong.json()["error"]["details"] == {}


def test_the_challenge_and_a_code_give_the_tokens_and_the_refresh_flow_is_unchanged(user):
    secret, _ = enrol(user)
    response = _second_step(_challenge(user), totp(secret))
    assert response.status_code == 200, response.content
    assert NO_STORE in response["Cache-Control"]
    data = response.json()["data"]
    assert data["token_type"] == "Bearer" and data["user"]["username"] == user.username
    assert data["user"]["two_factor_enabled"] is True
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {data['token']}")
    assert client.get("/api/me").json()["data"]["username"] == user.username
    refreshed = APIClient().post("/api/token/refresh", {"refresh_token": data["refresh_token"]}, format="json")
    assert refreshed.status_code == 200  # no code needed to refresh: the refresh token is the login's
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {refreshed.json()['data']['token']}")
    assert client.get("/api/me").status_code == 200
    user.refresh_from_db()
    assert user.last_login is not None


def test_a_code_used_once_is_refused_within_its_window(user):
    secret, _ = enrol(user)
    code = totp(secret)
    assert _second_step(_challenge(user), code).status_code == 200
    replay = _second_step(_challenge(user), code)
    assert replay.status_code == 401
    assert _error(replay) == "INVALID_CREDENTIALS"
    # An older step's code is refused too once a later one was used.
    assert _second_step(_challenge(user), totp(secret, 1)).status_code == 200
    assert _error(_second_step(_challenge(user), code)) == "INVALID_CREDENTIALS"


def test_a_challenge_completes_one_login_only(user):
    secret, _ = enrol(user)
    challenge = _challenge(user)
    assert _second_step(challenge, totp(secret)).status_code == 200
    again = _second_step(challenge, totp(secret, 1))
    assert again.status_code == 401
    assert _error(again) == "TOKEN_INVALID"


def test_a_forged_tampered_or_foreign_challenge_is_token_invalid(user):
    secret, _ = enrol(user)
    other = UserFactory()
    enrol(other)
    challenge = _challenge(user)
    payload = {"u": other.pk, "v": other.token_version, "l": ""}
    forged = [
        challenge[:-2] + ("aa" if not challenge.endswith("aa") else "bb"),  # a changed signature
        signing.dumps(payload),  # signed with our key, but not as a login challenge
        signing.dumps(payload, salt="accounts.twofactor.login-challenge", key="another key"),
        "not a challenge",
        "",
    ]
    for value in forged:
        response = _second_step(value, totp(secret))
        assert response.status_code in (401, 422), value
        if response.status_code == 401:
            assert _error(response) == "TOKEN_INVALID"
    assert _second_step(challenge, totp(secret)).status_code == 200  # none of that spent the code


def test_an_expired_challenge_is_token_invalid(user, monkeypatch):
    secret, _ = enrol(user)
    issued_at = time.time() - 301
    monkeypatch.setattr(signing.time, "time", lambda: issued_at)  # issued 301 s ago (TWO_FACTOR_CHALLENGE_SECONDS: 300)
    challenge = login_challenge_issue(user=user)
    monkeypatch.undo()
    response = _second_step(challenge, totp(secret))
    assert response.status_code == 401 and _error(response) == "TOKEN_INVALID"


def test_a_password_change_or_a_ban_voids_a_challenge(user):
    secret, _ = enrol(user)
    challenge = _challenge(user)
    user.set_password("another-Pass-5678")
    user.save()
    assert _error(_second_step(challenge, totp(secret))) == "TOKEN_INVALID"
    banned = UserFactory()
    secret_b, _ = enrol(banned)
    challenge_b = _challenge(banned)
    banned.is_banned = True
    banned.save()
    assert _error(_second_step(challenge_b, totp(secret_b))) == "TOKEN_INVALID"


def test_another_members_code_does_not_complete_a_login(user):
    secret, _ = enrol(user)
    other = UserFactory()
    other_secret, _ = enrol(other)
    response = _second_step(_challenge(other), totp(secret))
    assert response.status_code == 401 and _error(response) == "INVALID_CREDENTIALS"
    # The challenge names its member: the right code logs in that member, never the code's owner.
    data = _second_step(_challenge(other), totp(other_secret)).json()["data"]
    assert data["user"]["username"] == other.username


def test_a_recovery_code_logs_in_once(user):
    _, codes = enrol(user)
    response = _second_step(_challenge(user), codes[0])
    assert response.status_code == 200
    again = _second_step(_challenge(user), codes[0])
    assert again.status_code == 401 and _error(again) == "INVALID_CREDENTIALS"
    # Typed loosely (capitals, no dashes, spaces around): still the code.
    assert _second_step(_challenge(user), f"  {codes[1].replace('-', '').upper()} ").status_code == 200
    assert RecoveryCode.objects.filter(user=user, used_at__isnull=True).count() == 8
    assert bearer(APIClient(), UserFactory()).get("/api/me").status_code == 200  # other members unaffected


def test_wrong_codes_lock_out_after_the_limit_and_the_page_and_the_password_login_share_it(user):
    secret, _ = enrol(user)
    last_step = TwoFactorDevice.objects.get(user=user).last_step
    challenge = _challenge(user)
    for n in range(5):
        # each from another address: the per-username count alone locks
        client = APIClient(REMOTE_ADDR=f"198.51.100.{n + 1}")
        assert _error(_second_step(challenge, "000000" if totp(secret) != "000000" else "111111", client)) == "INVALID_CREDENTIALS"
    locked = _second_step(challenge, totp(secret), APIClient(REMOTE_ADDR="198.51.100.99"))
    assert locked.status_code == 429
    assert _error(locked) == "RATE_LIMIT_EXCEEDED"
    assert int(locked["Retry-After"]) >= 1
    assert _login(user, client=APIClient(REMOTE_ADDR="198.51.100.98")).status_code == 429
    page = Client(REMOTE_ADDR="198.51.100.97").post("/login/", {"username": user.username, "password": PASSWORD})
    assert page.status_code == 429
    assert TwoFactorDevice.objects.get(user=user).last_step == last_step  # the right code was not even checked


def test_wrong_codes_and_passwords_are_counted_once_each_in_the_metric(user):
    secret, _ = enrol(user)
    before = {reason: _failures(reason) for reason in ("password", "code")}
    assert _error(_second_step(_challenge(user), "12345")) == "INVALID_CREDENTIALS"  # a wrong code at login
    client = bearer_with_code(user, totp(secret))  # right password and code: nothing counted
    assert client.post("/api/me/2fa/disable", {"password": PASSWORD, "code": "12345"}, format="json").status_code == 422
    assert _failures("code") == before["code"] + 2
    assert _failures("password") == before["password"]
    assert client.post("/api/me/2fa/disable", {"password": "wrong", "code": totp(secret, 1)}, format="json").status_code == 422
    assert client.post("/api/me/2fa/recovery-codes", {"password": "wrong", "code": totp(secret, 1)}, format="json").status_code == 422
    assert _failures("password") == before["password"] + 2
    assert _failures("code") == before["code"] + 2  # a wrong password leaves the code unchecked


def test_an_api_key_keeps_working_for_an_enrolled_member(user):
    raw = api_key_create(user=user, name="script", scopes=["read"])[1]
    enrol(user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.get("/api/me").status_code == 200
    client.credentials(HTTP_X_API_KEY=raw)
    assert client.get("/api/torrents").status_code == 200


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/me/2fa"),
        ("post", "/api/me/2fa"),
        ("post", "/api/me/2fa/confirm"),
        ("post", "/api/me/2fa/disable"),
        ("post", "/api/me/2fa/recovery-codes"),
    ],
)
def test_api_keys_are_refused_on_two_factor_settings(user, method, path):
    raw = api_key_create(user=user, name="all", scopes=["read", "download", "upload", "feed"])[1]
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=raw)
    response = getattr(client, method)(path, {"code": "123456", "password": PASSWORD}, format="json")
    assert response.status_code == 403
    assert _error(response) == "FORBIDDEN"
    assert not TwoFactorDevice.objects.filter(user=user).exists()


# --- Turning it off, new recovery codes ---------------------------------------------------------


def test_turning_it_off_needs_the_password_and_a_code(user):
    secret, _ = enrol(user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {_second_step(_challenge(user), totp(secret)).json()['data']['token']}")
    wrong_password = client.post("/api/me/2fa/disable", {"password": "wrong", "code": totp(secret, 1)}, format="json")
    assert wrong_password.status_code == 422 and list(wrong_password.json()["error"]["details"]) == ["password"]
    wrong_code = client.post("/api/me/2fa/disable", {"password": PASSWORD, "code": "12345"}, format="json")
    assert wrong_code.status_code == 422 and list(wrong_code.json()["error"]["details"]) == ["code"]
    missing = client.post("/api/me/2fa/disable", {"password": PASSWORD}, format="json")
    assert missing.status_code == 422 and "code" in missing.json()["error"]["details"]
    assert client.post("/api/me/2fa/disable", {"password": PASSWORD, "code": totp(secret, 1)}, format="json").status_code == 204
    assert not TwoFactorDevice.objects.filter(user=user).exists() and not RecoveryCode.objects.filter(user=user).exists()
    assert client.get("/api/me/2fa").json()["data"]["enabled"] is False
    assert _login(user).status_code == 200  # the password alone again
    assert client.post("/api/me/2fa/disable", {"password": PASSWORD, "code": "123456"}, format="json").status_code == 409


def test_a_recovery_code_can_turn_it_off(user):
    _, codes = enrol(user)
    client = bearer_with_code(user, codes[0])
    assert client.post("/api/me/2fa/disable", {"password": PASSWORD, "code": codes[1]}, format="json").status_code == 204


def bearer_with_code(user: Any, code: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {_second_step(_challenge(user), code).json()['data']['token']}")
    return client


def test_new_recovery_codes_need_both_factors_and_void_the_old_ones(user):
    secret, old = enrol(user)
    client = bearer_with_code(user, old[0])
    assert client.post("/api/me/2fa/recovery-codes", {"password": "wrong", "code": totp(secret)}, format="json").status_code == 422
    response = client.post("/api/me/2fa/recovery-codes", {"password": PASSWORD, "code": totp(secret)}, format="json")
    assert response.status_code == 200
    assert NO_STORE in response["Cache-Control"]
    new = response.json()["data"]["recovery_codes"]
    assert len(new) == 10 and not set(new) & set(old)
    assert _error(_second_step(_challenge(user), old[1])) == "INVALID_CREDENTIALS"
    assert _second_step(_challenge(user), new[0]).status_code == 200
    assert client.get("/api/me/2fa").json()["data"]["recovery_codes_left"] == 9


def test_guessing_the_password_to_turn_it_off_meets_the_lock_out(user):
    secret, codes = enrol(user)
    client = bearer_with_code(user, codes[0])
    for _ in range(5):
        assert client.post("/api/me/2fa/disable", {"password": "guess", "code": totp(secret)}, format="json").status_code == 422
    locked = client.post("/api/me/2fa/disable", {"password": PASSWORD, "code": totp(secret)}, format="json")
    assert locked.status_code == 429 and int(locked["Retry-After"]) >= 1
    assert TwoFactorDevice.objects.filter(user=user, confirmed_at__isnull=False).exists()


# --- Staff requirement ---------------------------------------------------------------------


@pytest.fixture
def required_for_staff(settings: Any) -> None:
    settings.TWO_FACTOR_REQUIRED_FOR_STAFF = True


@pytest.mark.usefixtures("required_for_staff")
def test_staff_without_two_factor_may_only_set_it_up(moderator):
    response = _login(moderator)
    assert response.status_code == 200  # they may log in...
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['data']['token']}")
    refused = client.get("/api/torrents")
    assert refused.status_code == 403 and _error(refused) == "FORBIDDEN"
    assert "two-factor" in refused.json()["error"]["message"]
    assert client.post("/api/me/passkey").status_code == 403
    assert client.get("/api/me").status_code == 200  # ...read who they are...
    status = client.get("/api/me/2fa").json()["data"]
    assert status["enrolment_required"] is True
    secret = _set_up(client).json()["data"]["secret"]  # ...and set it up, with the password
    assert client.post("/api/me/2fa/confirm", {"code": totp(secret)}, format="json").status_code == 200
    assert client.get("/api/torrents").status_code == 200
    assert client.get("/api/me/2fa").json()["data"]["enrolment_required"] is False


@pytest.mark.usefixtures("required_for_staff")
def test_staff_keys_and_sessions_are_held_too_and_members_are_not(moderator, user):
    raw = api_key_create(user=moderator, name="tool", scopes=["read"])[1]
    key_client = APIClient()
    key_client.credentials(HTTP_X_API_KEY=raw)
    assert key_client.get("/api/torrents").status_code == 403
    session = APIClient()
    session.force_login(moderator)
    assert session.get("/api/torrents").status_code == 403
    assert session.get("/api/me").status_code == 200
    assert bearer(APIClient(), user).get("/api/torrents").status_code == 200
    admin = UserFactory(is_staff=True)
    assert bearer(APIClient(), admin).get("/api/stats").status_code == 403


@pytest.mark.usefixtures("required_for_staff")
def test_staff_without_two_factor_may_log_out(moderator):
    tokens = _login(moderator).json()["data"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['token']}")
    assert client.post("/api/logout", {"refresh_token": tokens["refresh_token"]}, format="json").status_code == 204


def test_without_the_setting_staff_need_no_two_factor(moderator):
    assert bearer(APIClient(), moderator).get("/api/torrents").status_code == 200


# --- Hostile input -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({}, 422),
        ({"challenge": "x"}, 422),
        ({"code": "123456"}, 422),
        ({"challenge": ["a", "b"], "code": {"x": 1}}, 422),
        ({"challenge": None, "code": None}, 422),
        ({"challenge": "x" * 5000, "code": "1" * 5000}, 422),
        ({"challenge": "a\x00b", "code": "12\x0034"}, 422),
        ({"challenge": 12, "code": 123456}, 401),  # numbers are taken as text, as everywhere: no such challenge
        ({"challenge": "e30:1uAbCd:" + "A" * 43, "code": "123456"}, 401),  # looks signed, is not
    ],
)
def test_hostile_second_steps_are_refused_never_500(body, status):
    response = APIClient().post("/api/login/2fa", body, format="json")
    assert response.status_code == status, response.content
    assert _error(response) == ("VALIDATION_ERROR" if status == 422 else "TOKEN_INVALID")


@pytest.mark.parametrize(
    "code",
    [
        "\uff11\uff12\uff13\uff14\uff15\uff16",
        "12345",
        "1234567",
        "abcdef",
        "0x1234",
        "-12345",
        "12 34 56 78",
        "ø" * 64,
        "%00",
        "' OR 1=1 --",
    ],
)
def test_odd_codes_are_just_wrong(user, code):
    secret, _ = enrol(user)
    response = _second_step(_challenge(user), code)
    assert response.status_code == 401 and _error(response) == "INVALID_CREDENTIALS"
    client = bearer_with_code(user, totp(secret))
    assert client.post("/api/me/2fa/disable", {"password": PASSWORD, "code": code}, format="json").status_code == 422


@pytest.mark.parametrize("body", [{}, {"code": ["1"]}, {"code": "9" * 65}, {"code": None}, {"code": "\x00"}])
def test_hostile_confirmations_are_422(user_client, body):
    _set_up(user_client)
    response = user_client.post("/api/me/2fa/confirm", body, format="json")
    assert response.status_code == 422


def test_a_form_body_works_like_json(user):
    secret, _ = enrol(user)
    challenge = _challenge(user)
    response = APIClient().post("/api/login/2fa", {"challenge": challenge, "code": totp(secret)})  # multipart, as a form
    assert response.status_code == 200


# --- Secrets stay out of the logs ------------------------------------------------------------


def test_no_secret_code_or_challenge_reaches_the_log(caplog, user_client, user):
    caplog.set_level(logging.DEBUG)
    enrolment = _set_up(user_client).json()["data"]
    first = totp(enrolment["secret"])
    codes = user_client.post("/api/me/2fa/confirm", {"code": first}, format="json").json()["data"]["recovery_codes"]
    challenge = _challenge(user)
    _second_step(challenge, "000000")
    second = totp(enrolment["secret"], 1)
    client = bearer_with_code(user, second)
    _second_step(_challenge(user), codes[0])
    fresh = client.post("/api/me/2fa/recovery-codes", {"password": PASSWORD, "code": codes[1]}, format="json").json()["data"]
    client.post("/api/me/2fa/disable", {"password": PASSWORD, "code": fresh["recovery_codes"][0]}, format="json")
    logged = caplog.text
    assert "two-factor login turned on" in logged  # the log says what happened...
    secrets_seen = [enrolment["secret"], first, second, challenge, PASSWORD, *codes, *fresh["recovery_codes"]]
    for secret in secrets_seen:  # ...never with what
        assert secret not in logged
        assert secret.replace("-", "") not in logged


# --- Races ------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_one_code_sent_at_once_from_many_places_works_once(user):
    if connection.vendor != "postgresql":  # as the other races: SQLite serializes writers, and its threads meet "table is locked"
        pytest.skip("the race runs on PostgreSQL's row locks")
    from accounts.twofactor import two_factor_code_valid
    from tests.threads import released_together

    secret, codes = enrol(user)
    code = totp(secret)
    assert released_together(8, lambda i: two_factor_code_valid(user=user, code=code)).count(True) == 1
    assert released_together(8, lambda i: two_factor_code_valid(user=user, code=codes[0])).count(True) == 1
