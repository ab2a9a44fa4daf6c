"""POST /api/password/reset and /api/password/reset/confirm: a link by mail, the same answer for any address,
a link that works once, and a reset that ends every other session and token."""

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient

from accounts.emails import reset_tokens, uid_encode
from accounts.models import User
from accounts.services import user_set_banned
from tests.accounts.email_helpers import mail_server_down, only_link
from tests.conftest import login_data
from tests.factories import PASSWORD, UserFactory
from tests.threads import released_together

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "lantern-Quiver-77"


def _request(email: Any, client: APIClient | None = None) -> Any:
    return (client or APIClient()).post("/api/password/reset", {"email": email}, format="json")


def _confirm(uid: Any, token: Any, new_password: Any = NEW_PASSWORD, client: APIClient | None = None) -> Any:
    body = {"uid": uid, "token": token, "new_password": new_password}
    return (client or APIClient()).post("/api/password/reset/confirm", body, format="json")


def _login(username: str, password: str) -> int:
    return APIClient().post("/api/login", {"username": username, "password": password}, format="json").status_code


def _reset_link(user: User) -> Any:
    assert _request(user.email).status_code == 200
    return only_link("password/reset")


# --- the request ----------------------------------------------------------------------


def test_a_member_gets_a_link_that_sets_a_new_password(user, settings):
    settings.SITE_URL = "https://tracker.example.org"
    link = _reset_link(user)
    message = mail.outbox[0]
    assert message.to == [user.email]
    assert message.subject == "Reset your TorrentPier password"
    assert link["base"] == "https://tracker.example.org"
    assert PASSWORD not in message.body
    response = _confirm(link["uid"], link["token"])
    assert response.status_code == 200, response.content
    assert "every other session" in response.json()["data"]["detail"]
    assert _login(user.username, NEW_PASSWORD) == 200
    assert _login(user.username, PASSWORD) == 401


def test_existing_unknown_and_banned_addresses_get_the_same_answer(user):
    banned = UserFactory(email="banned@example.test")
    user_set_banned(user=banned, banned=True)
    answers = [_request(email) for email in (user.email, "nobody@example.test", banned.email)]
    assert {a.status_code for a in answers} == {200}
    assert len({a.content for a in answers}) == 1
    assert [m.to for m in mail.outbox] == [[user.email]]


def test_an_inactive_account_gets_no_mail():
    inactive = UserFactory(is_active=False)
    assert _request(inactive.email).status_code == 200
    assert mail.outbox == []


def test_the_address_is_matched_in_any_case_and_the_mail_goes_to_the_stored_one(user):
    assert _request(user.email.upper()).status_code == 200
    assert mail.outbox[0].to == [user.email]


def test_each_account_at_one_address_gets_its_own_mail():
    first, second = UserFactory(email="shared@example.test"), UserFactory(email="Shared@example.test")
    assert _request("shared@example.test").status_code == 200
    assert sorted(m.to[0] for m in mail.outbox) == ["Shared@example.test", "shared@example.test"]
    for message, member in zip(sorted(mail.outbox, key=lambda m: m.to[0] != first.email), (first, second), strict=True):
        assert f"/password/reset/{uid_encode(member)}/" in message.body


def test_a_mail_server_that_is_down_changes_nothing_in_the_answer(user, settings):
    known = _request(user.email).content
    unknown = _request("nobody@example.test").content
    mail_server_down(settings)
    assert _request(user.email).status_code == 200
    assert _request(user.email).content == known == unknown


# --- the link ---------------------------------------------------------------------------


def test_a_link_works_once(user):
    link = _reset_link(user)
    assert _confirm(link["uid"], link["token"]).status_code == 200
    again = _confirm(link["uid"], link["token"], new_password="another-Secret-88")
    assert again.status_code == 422
    assert again.json()["error"]["details"]["token"] == ["This link is invalid or has expired, or it was used already. Ask for a new one."]
    assert _login(user.username, NEW_PASSWORD) == 200


def test_an_expired_link_is_refused(user, settings, monkeypatch):
    settings.PASSWORD_RESET_TIMEOUT = 600
    link = _reset_link(user)
    later = datetime.now() + timedelta(seconds=601)
    monkeypatch.setattr(reset_tokens, "_now", lambda: later)  # Django's hook for the generator's clock
    assert _confirm(link["uid"], link["token"]).status_code == 422
    assert _login(user.username, PASSWORD) == 200


def test_a_forged_or_borrowed_link_is_refused(user):
    link = _reset_link(user)
    other = UserFactory()
    assert _confirm(uid_encode(other), link["token"]).status_code == 422  # the right token for another member
    forged = link["token"][:-1] + ("0" if link["token"][-1] != "0" else "1")
    assert _confirm(link["uid"], forged).status_code == 422
    assert _login(other.username, PASSWORD) == 200
    assert _login(user.username, PASSWORD) == 200


def test_a_login_after_the_request_kills_the_link(user):
    link = _reset_link(user)
    assert _login(user.username, PASSWORD) == 200  # the member remembered it: the link is spent
    assert _confirm(link["uid"], link["token"]).status_code == 422


def test_a_banned_member_cannot_use_a_link_sent_before_the_ban(user):
    link = _reset_link(user)
    user_set_banned(user=user, banned=True)
    assert _confirm(link["uid"], link["token"]).status_code == 422


def test_a_weak_password_is_422_on_new_password_and_the_link_still_works(user):
    link = _reset_link(user)
    weak = _confirm(link["uid"], link["token"], new_password="password")
    assert weak.status_code == 422
    error = weak.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert "This password is too common." in error["details"]["new_password"]
    assert _confirm(link["uid"], link["token"]).status_code == 200


def test_the_reset_confirms_an_unconfirmed_address():
    member = UserFactory(email_confirmed_at=None)
    link = _reset_link(member)
    assert _confirm(link["uid"], link["token"]).status_code == 200
    member.refresh_from_db()
    assert member.email_confirmed_at is not None


def test_a_reset_ends_every_token_and_session_of_the_member(user):
    before = login_data(user)
    browser = Client()
    browser.force_login(user)
    assert browser.get("/profile/").status_code == 200
    link = _reset_link(user)
    assert _confirm(link["uid"], link["token"]).status_code == 200

    bearer = APIClient()
    bearer.credentials(HTTP_AUTHORIZATION=f"Bearer {before['token']}")
    me = bearer.get("/api/me")
    assert me.status_code == 401
    assert me.json()["error"]["code"] == "TOKEN_INVALID"
    refresh = APIClient().post("/api/token/refresh", {"refresh_token": before["refresh_token"]}, format="json")
    assert refresh.status_code == 401
    assert refresh.json()["error"]["code"] == "TOKEN_INVALID"
    profile = browser.get("/profile/")
    assert profile.status_code == 302
    assert profile["Location"].startswith("/login/")
    fresh = login_data(User.objects.get(pk=user.pk), NEW_PASSWORD)
    bearer.credentials(HTTP_AUTHORIZATION=f"Bearer {fresh['token']}")
    assert bearer.get("/api/me").status_code == 200


# --- abuse ------------------------------------------------------------------------------


def test_requests_are_limited_per_ip_whatever_the_address(user, settings):
    settings.EMAIL_SEND_LIMIT = 3
    client = APIClient()
    answers = [_request(f"guess{n}@example.test", client).status_code for n in range(3)]
    refused = _request(user.email, client)
    assert answers == [200, 200, 200]
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "RATE_LIMIT_EXCEEDED"
    assert 0 < int(refused["Retry-After"]) <= 3600
    assert mail.outbox == []
    assert _request(user.email, APIClient(REMOTE_ADDR="192.0.2.9")).status_code == 200


@pytest.mark.parametrize("known", [True, False], ids=["known address", "unknown address"])
def test_requests_are_limited_per_address_from_any_ip(known, settings):
    settings.EMAIL_SEND_LIMIT = 2
    email = UserFactory().email if known else "nobody@example.test"
    answers = [_request(email.upper() if n % 2 else email, APIClient(REMOTE_ADDR=f"192.0.2.{n + 1}")) for n in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert len(mail.outbox) == (2 if known else 0)


def test_link_tries_are_limited_per_ip(user, settings):
    settings.EMAIL_LINK_ATTEMPT_LIMIT = 2
    client = APIClient()
    assert [_confirm("MQ", "abc-def", client=client).status_code for _ in range(3)] == [422, 422, 429]
    link = _reset_link(user)
    assert _confirm(link["uid"], link["token"], client=client).status_code == 429  # no check at all past the limit
    assert _confirm(link["uid"], link["token"], client=APIClient(REMOTE_ADDR="192.0.2.50")).status_code == 200


@pytest.mark.parametrize(
    "email",
    [None, 42, ["a@example.test"], {"email": "a@example.test"}, "", "not-an-address", "a@" + "x" * 10_000 + ".test", "a\x00@example.test"],
)
def test_hostile_addresses_are_422_never_500(email):
    response = APIClient(raise_request_exception=False).post("/api/password/reset", {"email": email}, format="json")
    assert response.status_code == 422, response.content
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    assert mail.outbox == []


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"uid": "MQ", "token": "abc-def"},  # no new password
        {"uid": "%%%", "token": "abc-def", "new_password": NEW_PASSWORD},
        {"uid": "Zm9v", "token": "abc-def", "new_password": NEW_PASSWORD},
        {"uid": "x" * 100_000, "token": "abc-def", "new_password": NEW_PASSWORD},
        {"uid": "MQ", "token": "y" * 100_000, "new_password": NEW_PASSWORD},
        {"uid": "MQ", "token": "abc-def", "new_password": "z" * 100_000},
        {"uid": ["MQ"], "token": ["abc-def"], "new_password": [NEW_PASSWORD]},
        {"uid": 1, "token": 1.5, "new_password": True},
        {"uid": "MQ\x00", "token": "abc-def", "new_password": NEW_PASSWORD},
    ],
)
def test_hostile_confirmations_are_422_never_500(body):
    response = APIClient(raise_request_exception=False).post("/api/password/reset/confirm", body, format="json")
    assert response.status_code == 422, response.content
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"


def test_the_form_encoded_request_is_read_like_json(user):
    response = APIClient().post("/api/password/reset", {"email": user.email})
    assert response.status_code == 200
    assert len(mail.outbox) == 1


@pytest.mark.django_db(transaction=True)
def test_one_link_used_twice_at_once_sets_one_password():
    """The token is checked again on the locked row: of simultaneous uses of one link, one sets its password."""
    if connection.vendor != "postgresql":
        pytest.skip("the race needs PostgreSQL's row locks (SQLite serializes every writer; the test's in-memory one refuses them)")
    member = UserFactory()
    link = _reset_link(member)
    passwords = ["first-Lantern-71", "second-Quiver-72", "third-Marble-73", "fourth-Copper-74"]
    statuses = released_together(len(passwords), lambda i: _confirm(link["uid"], link["token"], new_password=passwords[i]).status_code)
    assert sorted(statuses) == [200, 422, 422, 422]
    winner = passwords[statuses.index(200)]
    assert [_login(member.username, p) for p in passwords] == [200 if p == winner else 401 for p in passwords]
