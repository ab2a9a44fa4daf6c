"""Two-factor login on the pages: the two-step login, the admin's login, the staff requirement, and the profile's pages."""

import re
from typing import Any

import pytest
from django.test import Client
from prometheus_client import REGISTRY
from rest_framework.test import APIClient

from accounts.models import RecoveryCode, TwoFactorDevice
from tests.factories import PASSWORD, UserFactory
from tests.twofactor import enrol, totp, wait_for_fresh_step
from web.views.twofactor import PENDING_LOGIN

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_step() -> None:
    wait_for_fresh_step()


def _failures(reason: str) -> float:
    return REGISTRY.get_sample_value("torrentpier_login_failures_total", {"reason": reason}) or 0.0


def _password_step(client: Client, user: Any, next_url: str = "") -> Any:
    data = {"username": user.username, "password": PASSWORD}
    if next_url:
        data["next"] = next_url
    return client.post("/login/", data)


# --- The login's two steps -------------------------------------------------------------------


def test_the_password_alone_logs_no_one_in_and_the_code_completes_the_login(client, user):
    secret, _ = enrol(user)
    response = _password_step(client, user, "/profile/")
    assert response.status_code == 302 and response["Location"] == "/login/2fa/"
    assert "_auth_user_id" not in client.session  # no session is half logged in
    assert PENDING_LOGIN in client.session
    assert client.get("/profile/").status_code == 302  # still a guest
    page = client.get("/login/2fa/")
    assert page.status_code == 200
    assert 'autocomplete="one-time-code"' in page.content.decode()
    assert "no-store" in page["Cache-Control"]
    anonymous_key = client.session.session_key
    codes_failed = _failures("code")
    wrong = client.post("/login/2fa/", {"code": "000000" if totp(secret) != "000000" else "111111"})
    assert wrong.status_code == 422
    assert _failures("code") == codes_failed + 1
    assert "wrong, expired or used" in wrong.content.decode()
    assert "_auth_user_id" not in client.session
    done = client.post("/login/2fa/", {"code": totp(secret)})
    assert done.status_code == 302 and done["Location"] == "/profile/"
    assert client.session["_auth_user_id"] == str(user.pk)
    assert PENDING_LOGIN not in client.session
    assert client.session.session_key != anonymous_key  # a new session key at login
    assert client.get("/profile/").status_code == 200


def test_a_recovery_code_logs_in_once_on_the_page(client, user):
    _, codes = enrol(user)
    _password_step(client, user)
    assert client.post("/login/2fa/", {"code": codes[0]}).status_code == 302
    client.post("/logout/")
    browser = Client()
    _password_step(browser, user)
    assert browser.post("/login/2fa/", {"code": codes[0]}).status_code == 422
    assert "_auth_user_id" not in browser.session


def test_the_second_step_without_a_password_is_the_login_page(client, user):
    enrol(user)
    assert client.get("/login/2fa/")["Location"] == "/login/"
    assert client.post("/login/2fa/", {"code": "123456"})["Location"] == "/login/"
    assert "_auth_user_id" not in client.session


def test_a_replayed_code_does_not_log_in_another_browser(user):
    secret, _ = enrol(user)
    first, second = Client(), Client()
    _password_step(first, user)
    _password_step(second, user)
    code = totp(secret)
    assert first.post("/login/2fa/", {"code": code}).status_code == 302
    # The first login voided every pending challenge of the member; a new one still refuses the spent code.
    assert second.post("/login/2fa/", {"code": code})["Location"] == "/login/"
    _password_step(second, user)
    assert second.post("/login/2fa/", {"code": code}).status_code == 422


def test_members_without_two_factor_log_in_as_before(client, user):
    response = _password_step(client, user, "/profile/")
    assert response["Location"] == "/profile/"
    assert client.session["_auth_user_id"] == str(user.pk)


def test_an_offsite_next_is_ignored_after_the_code(client, user):
    secret, _ = enrol(user)
    _password_step(client, user, "https://evil.example/")
    assert client.post("/login/2fa/", {"code": totp(secret)})["Location"] == "/"


def test_wrong_codes_on_the_page_lock_out_the_page_and_the_api(user):
    secret, _ = enrol(user)
    browser = Client(REMOTE_ADDR="192.0.2.10")
    _password_step(browser, user)
    for _ in range(5):
        assert browser.post("/login/2fa/", {"code": "abcdefgh"}).status_code == 422
    locked = browser.post("/login/2fa/", {"code": totp(secret)})
    assert locked.status_code == 429
    assert int(locked["Retry-After"]) >= 1
    assert "Too many failed logins" in locked.content.decode()
    assert "_auth_user_id" not in browser.session
    api = APIClient(REMOTE_ADDR="192.0.2.11").post("/api/login", {"username": user.username, "password": PASSWORD}, format="json")
    assert api.status_code == 429


def test_the_second_step_needs_the_csrf_token(csrf_client, user):
    enrol(user)
    page = csrf_client.get("/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)
    data = {"username": user.username, "password": PASSWORD, "csrfmiddlewaretoken": token}
    assert csrf_client.post("/login/", data).status_code == 302
    assert csrf_client.post("/login/2fa/", {"code": "123456"}).status_code == 403


# --- The admin's login --------------------------------------------------------------------


def test_the_admin_login_asks_an_enrolled_operator_for_a_code(admin_user):
    secret, codes = enrol(admin_user)
    browser = Client()
    page = browser.get("/admin/login/")
    assert 'name="code"' in page.content.decode()
    password_only = browser.post("/admin/login/", {"username": admin_user.username, "password": PASSWORD, "next": "/admin/"})
    assert password_only.status_code == 200
    assert "Enter a right two-factor code" in password_only.content.decode()
    assert "_auth_user_id" not in browser.session
    assert browser.get("/admin/").status_code == 302
    failed = {reason: _failures(reason) for reason in ("code", "password")}
    wrong = browser.post("/admin/login/", {"username": admin_user.username, "password": PASSWORD, "code": "12345", "next": "/admin/"})
    assert "_auth_user_id" not in browser.session and wrong.status_code == 200
    assert _failures("code") == failed["code"] + 1 and _failures("password") == failed["password"]
    right = browser.post("/admin/login/", {"username": admin_user.username, "password": PASSWORD, "code": totp(secret), "next": "/admin/"})
    assert right.status_code == 302 and right["Location"] == "/admin/"
    assert browser.get("/admin/").status_code == 200
    other = Client()
    assert other.post("/admin/login/", {"username": admin_user.username, "password": PASSWORD, "code": codes[0]}).status_code == 302


def test_wrong_codes_at_the_admin_count_as_failed_logins(admin_user):
    secret, _ = enrol(admin_user)
    browser = Client()
    for _ in range(5):
        browser.post("/admin/login/", {"username": admin_user.username, "password": PASSWORD, "code": "999999"})
    locked = browser.post("/admin/login/", {"username": admin_user.username, "password": PASSWORD, "code": totp(secret)})
    assert "Too many failed logins" in locked.content.decode()
    assert "_auth_user_id" not in browser.session


def test_the_admin_login_without_two_factor_works_as_before(admin_user):
    browser = Client()
    response = browser.post("/admin/login/", {"username": admin_user.username, "password": PASSWORD, "next": "/admin/"})
    assert response.status_code == 302


def test_an_operator_turns_off_two_factor_for_a_member_who_lost_app_and_codes(admin_user, user):
    enrol(user)
    operator = Client()
    operator.force_login(admin_user)
    response = operator.post("/admin/accounts/user/", {"action": "turn_off_two_factor", "_selected_action": [str(user.pk)]})
    assert response.status_code == 302
    assert not TwoFactorDevice.objects.filter(user=user).exists() and not RecoveryCode.objects.filter(user=user).exists()
    assert _password_step(Client(), user)["Location"] == "/"  # the password alone again


# --- Staff must turn it on -------------------------------------------------------------------


@pytest.fixture
def required_for_staff(settings: Any) -> None:
    settings.TWO_FACTOR_REQUIRED_FOR_STAFF = True


@pytest.mark.usefixtures("required_for_staff")
def test_staff_without_two_factor_are_sent_to_set_it_up_from_every_page(moderator_page_client, moderator, torrent):
    for path in ("/", "/profile/", f"/torrents/{torrent.pk}/", "/upload/", "/standing/", "/admin/"):
        response = moderator_page_client.get(path)
        assert response.status_code == 302 and response["Location"] == "/profile/2fa/", path
    page = moderator_page_client.get("/profile/2fa/")
    assert page.status_code == 200
    assert "requires two-factor login of staff" in page.content.decode()
    setup = moderator_page_client.post("/profile/2fa/setup/", {"setup-password": PASSWORD})
    assert setup.status_code == 200
    secret = TwoFactorDevice.objects.get(user=moderator).secret
    assert moderator_page_client.post("/profile/2fa/confirm/", {"code": totp(secret)}).status_code == 200
    assert moderator_page_client.get("/").status_code == 200


@pytest.mark.usefixtures("required_for_staff")
def test_staff_without_two_factor_may_log_in_and_out_and_members_are_not_held(moderator, member_client):
    browser = Client()
    assert _password_step(browser, moderator)["Location"] == "/"
    assert browser.get("/")["Location"] == "/profile/2fa/"
    assert browser.post("/logout/").status_code == 302
    assert "_auth_user_id" not in browser.session
    assert member_client.get("/").status_code == 200


@pytest.mark.usefixtures("required_for_staff")
def test_the_admin_refuses_staff_without_two_factor(admin_user):
    browser = Client()
    response = browser.post("/admin/login/", {"username": admin_user.username, "password": PASSWORD})
    assert response.status_code == 200
    assert "must turn on two-factor login first" in response.content.decode()
    assert "_auth_user_id" not in browser.session


@pytest.mark.usefixtures("required_for_staff")
def test_staff_feed_keys_wait_for_two_factor(moderator):
    from accounts.services import api_key_create

    raw = api_key_create(user=moderator, name="rss", scopes=["feed"])[1]
    assert Client().get("/feeds/torrents.rss", {"key": raw}).status_code == 403
    enrol(moderator)
    assert Client().get("/feeds/torrents.rss", {"key": raw}).status_code == 200


# --- The profile's pages ----------------------------------------------------------------------


def test_the_profile_says_whether_it_is_on(member_client, user):
    html = member_client.get("/profile/").content.decode()
    assert "Two-factor login" in html and "Set up two-factor login" in html
    enrol(user)
    html = member_client.get("/profile/").content.decode()
    assert "10 recovery codes left" in html


def test_setting_it_up_on_the_pages(member_client, user):
    page = member_client.get("/profile/2fa/")
    assert page.status_code == 200 and "Set up two-factor login" in page.content.decode()
    setup = member_client.post("/profile/2fa/setup/", {"setup-password": PASSWORD})
    assert setup.status_code == 200
    assert "no-store" in setup["Cache-Control"]
    html = setup.content.decode()
    secret = TwoFactorDevice.objects.get(user=user).secret
    assert secret in html
    assert re.search(r'<img class="qr" src="data:image/svg\+xml[^"]+"', html)
    assert "<script" not in html.split("</head>")[1]  # nothing inline: the CSP allows none
    wrong = member_client.post("/profile/2fa/confirm/", {"code": "12345"})
    assert wrong.status_code == 422
    assert secret in wrong.content.decode()  # the same set-up again, with the error
    done = member_client.post("/profile/2fa/confirm/", {"code": totp(secret)})
    assert done.status_code == 200
    assert "no-store" in done["Cache-Control"]
    codes = re.findall(r"<li><code>([0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4})</code></li>", done.content.decode())
    assert len(codes) == 10
    state = member_client.get("/profile/2fa/").content.decode()
    assert "10</strong> recovery codes left" in state
    assert secret not in state
    assert member_client.post("/profile/2fa/setup/", {"setup-password": PASSWORD})["Location"] == "/profile/2fa/"  # on already
    assert member_client.post("/profile/2fa/setup/")["Location"] == "/profile/2fa/"  # and no password asked to say so
    assert TwoFactorDevice.objects.get(user=user).secret == secret


def test_the_set_up_asks_for_the_password_before_showing_any_secret(member_client, user):
    page = member_client.get("/profile/2fa/").content.decode()
    assert re.search(r'<input type="password" name="setup-password" autocomplete="current-password"[^>]*>', page)
    assert 'class="qr"' not in page
    for data in ({}, {"setup-password": ""}, {"setup-password": "x" * 5000}, {"setup-password": ["a", "b"]}, {"setup-password": "\x00"}):
        refused = member_client.post("/profile/2fa/setup/", data)
        assert refused.status_code == 422, data
        assert 'class="qr"' not in refused.content.decode()
    assert "This field is required" in member_client.post("/profile/2fa/setup/").content.decode()
    assert not TwoFactorDevice.objects.filter(user=user).exists()


def test_a_wrong_password_at_set_up_shows_no_secret_and_is_one_password_failure(member_client, user):
    failed = {reason: _failures(reason) for reason in ("code", "password")}
    wrong = member_client.post("/profile/2fa/setup/", {"setup-password": "wrong password"})
    assert wrong.status_code == 422
    html = wrong.content.decode()
    assert "Your password is wrong" in html and 'class="qr"' not in html
    assert "wrong password" not in html  # the password field is never filled in again
    assert not TwoFactorDevice.objects.filter(user=user).exists()
    assert _failures("password") == failed["password"] + 1 and _failures("code") == failed["code"]


def test_guessing_the_password_at_set_up_meets_the_login_lock_out(member_client, user):
    for _ in range(5):
        assert member_client.post("/profile/2fa/setup/", {"setup-password": "guess"}).status_code == 422
    locked = member_client.post("/profile/2fa/setup/", {"setup-password": PASSWORD})
    assert locked.status_code == 429
    assert int(locked["Retry-After"]) >= 1
    assert "Too many failed logins" in locked.content.decode()
    assert not TwoFactorDevice.objects.filter(user=user).exists()
    api = APIClient(REMOTE_ADDR="192.0.2.11").post("/api/login", {"username": user.username, "password": PASSWORD}, format="json")
    assert api.status_code == 429


def test_another_session_is_not_shown_a_set_up_it_gave_no_password_for(member_client, user):
    member_client.post("/profile/2fa/setup/", {"setup-password": PASSWORD})
    secret = TwoFactorDevice.objects.get(user=user).secret
    stolen = Client()
    stolen.force_login(user)
    refused = stolen.post("/profile/2fa/confirm/", {"code": "12345"}, follow=True)
    assert refused.redirect_chain == [("/profile/2fa/", 302)]
    assert secret not in refused.content.decode() and "Start the set-up again" in refused.content.decode()
    # Nor one begun on the API; the session that gave the password still sees its own.
    wrong = member_client.post("/profile/2fa/confirm/", {"code": "12345"})
    assert wrong.status_code == 422 and secret in wrong.content.decode()
    api_secret = bearer_setup(user)
    assert member_client.post("/profile/2fa/confirm/", {"code": "12345"})["Location"] == "/profile/2fa/"
    assert api_secret not in member_client.get("/profile/2fa/").content.decode()
    assert member_client.post("/profile/2fa/confirm/", {"code": totp(api_secret)}).status_code == 200  # the right code still works


def bearer_setup(user: Any) -> str:
    from tests.conftest import bearer

    response = bearer(APIClient(), user).post("/api/me/2fa", {"password": PASSWORD}, format="json")
    assert response.status_code == 201
    return response.json()["data"]["secret"]


def test_turning_it_off_on_the_page_needs_both_factors(member_client, user):
    secret, _ = enrol(user)
    failed = _failures("password")
    wrong = member_client.post("/profile/2fa/disable/", {"disable-password": "wrong", "disable-code": totp(secret)})
    assert wrong.status_code == 422 and "Your password is wrong" in wrong.content.decode()
    assert _failures("password") == failed + 1
    missing = member_client.post("/profile/2fa/disable/", {"disable-password": PASSWORD})
    assert missing.status_code == 422
    done = member_client.post("/profile/2fa/disable/", {"disable-password": PASSWORD, "disable-code": totp(secret)})
    assert done.status_code == 302 and done["Location"] == "/profile/2fa/"
    assert not TwoFactorDevice.objects.filter(user=user).exists()
    assert "Two-factor login is off" in member_client.get("/profile/2fa/").content.decode()


def test_new_recovery_codes_on_the_page(member_client, user):
    _, old = enrol(user)
    response = member_client.post("/profile/2fa/recovery-codes/", {"renew-password": PASSWORD, "renew-code": old[0]})
    assert response.status_code == 200
    new = re.findall(r"<li><code>([0-9a-z-]{14})</code></li>", response.content.decode())
    assert len(new) == 10 and not set(new) & set(old)
    assert RecoveryCode.objects.filter(user=user, used_at__isnull=True).count() == 10


def test_the_profile_pages_need_a_login_and_the_csrf_token(client, csrf_client, user):
    assert client.get("/profile/2fa/")["Location"].startswith("/login/")
    assert client.post("/profile/2fa/setup/")["Location"].startswith("/login/")
    csrf_client.force_login(user)
    assert csrf_client.post("/profile/2fa/setup/", {"setup-password": PASSWORD}).status_code == 403
    assert csrf_client.post("/profile/2fa/disable/", {"disable-password": PASSWORD, "disable-code": "123456"}).status_code == 403
    assert not TwoFactorDevice.objects.filter(user=user).exists()
    assert csrf_client.get("/profile/2fa/setup/").status_code == 405


def test_hostile_page_input_is_a_form_error_never_a_500(member_client, user):
    enrol(user)
    for data in ({"disable-code": "x" * 10_000}, {"disable-password": "\x00", "disable-code": "\x00"}, {"disable-code": ["1", "2"]}):
        assert member_client.post("/profile/2fa/disable/", data).status_code == 422
    browser = Client()
    _password_step(browser, user)
    for code in ("x" * 10_000, "\x00", "\uff11\uff12\uff13\uff14\uff15\uff16"):
        assert browser.post("/login/2fa/", {"code": code}).status_code == 422
    other = UserFactory()
    assert Client().post("/login/", {"username": other.username, "password": PASSWORD}).status_code == 302
