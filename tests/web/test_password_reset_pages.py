"""/password/reset/...: a forgotten password on the pages, on the same services, answers and budgets as the API."""

from typing import Any

import pytest
from django.core import mail
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import User
from accounts.services import user_set_banned
from tests.accounts.email_helpers import only_link
from tests.conftest import login_data
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "lantern-Quiver-77"
TWICE = {"new_password": NEW_PASSWORD, "new_password_again": NEW_PASSWORD}


def _ask(client: Client, email: str) -> Any:
    return client.post("/password/reset/", {"email": email})


def _link_path(client: Client, user: User) -> str:
    assert _ask(client, user.email)["Location"] == "/password/reset/sent/"
    return only_link("password/reset")["path"]


def _logs_in(username: str, password: str) -> bool:
    response = Client().post("/login/", {"username": username, "password": password})
    return response.status_code == 302


def test_the_login_page_links_to_the_reset(client):
    html = client.get("/login/").content.decode()
    assert 'href="/password/reset/"' in html
    assert "Forgot your password?" in html
    assert client.get("/password/reset/").status_code == 200


def test_the_whole_reset_on_the_pages(client, user):
    path = _link_path(client, user)
    sent = client.get("/password/reset/sent/")
    assert "If an account has this address" in sent.content.decode()
    form = client.get(path)
    assert form.status_code == 200
    assert 'name="new_password"' in form.content.decode()
    assert "no-store" in form["Cache-Control"]
    done = client.post(path, TWICE)
    assert done.status_code == 302
    assert done["Location"] == "/password/reset/done/"
    assert "Log in with it" in client.get("/password/reset/done/").content.decode()
    assert _logs_in(user.username, NEW_PASSWORD)
    assert not _logs_in(user.username, PASSWORD)


def test_existing_unknown_and_banned_addresses_get_the_same_pages(user):
    banned = UserFactory(email="banned@example.test")
    user_set_banned(user=banned, banned=True)
    answers = []
    for email in (user.email, "nobody@example.test", banned.email):
        browser = Client()
        response = _ask(browser, email)
        answers.append((response.status_code, response["Location"], browser.get(response["Location"]).content))
    assert len(set(answers)) == 1
    assert [m.to for m in mail.outbox] == [[user.email]]


def test_a_link_works_once_on_the_pages(client, user):
    path = _link_path(client, user)
    assert client.post(path, TWICE).status_code == 302
    for response in (client.get(path), client.post(path, {"new_password": "x-Another-99", "new_password_again": "x-Another-99"})):
        assert response.status_code == 422
        assert "This link is invalid or has expired" in response.content.decode()
    assert _logs_in(user.username, NEW_PASSWORD)


def test_the_pages_and_the_api_take_the_same_links(client, user):
    path = _link_path(client, user)
    uid, token = path.strip("/").split("/")[-2:]
    api = APIClient().post("/api/password/reset/confirm", {"uid": uid, "token": token, "new_password": NEW_PASSWORD}, format="json")
    assert api.status_code == 200
    assert client.get(path).status_code == 422


def test_a_weak_or_mistyped_password_keeps_the_link(client, user):
    path = _link_path(client, user)
    weak = client.post(path, {"new_password": "password", "new_password_again": "password"})
    assert weak.status_code == 422
    assert "This password is too common." in weak.content.decode()
    differ = client.post(path, {"new_password": NEW_PASSWORD, "new_password_again": NEW_PASSWORD + "x"})
    assert differ.status_code == 422
    assert "The two passwords differ." in differ.content.decode()
    assert client.post(path, TWICE).status_code == 302


def test_a_reset_on_the_pages_ends_the_other_sessions_and_tokens(client, user):
    before = login_data(user)
    other = Client()
    other.force_login(user)
    path = _link_path(client, user)
    assert client.post(path, TWICE).status_code == 302
    assert other.get("/profile/")["Location"].startswith("/login/")
    bearer = APIClient()
    bearer.credentials(HTTP_AUTHORIZATION=f"Bearer {before['token']}")
    assert bearer.get("/api/me").status_code == 401
    assert APIClient().post("/api/token/refresh", {"refresh_token": before["refresh_token"]}, format="json").status_code == 401


@pytest.mark.parametrize(
    "path",
    [
        "/password/reset/!!!/abc-def/",
        "/password/reset/Zm9v/abc-def/",
        "/password/reset/MQ/nodash/",
        "/password/reset/OTk5OTk5OTk5OTk5OTk5OTk5OTk5/abc-def/",
        "/password/reset/" + "x" * 5000 + "/abc-def/",
        "/password/reset/MQ/" + "y" * 5000 + "/",
        "/password/reset/%E2%80%AE/abc-def/",
    ],
)
def test_bad_links_are_422_pages_never_500(path):
    client = Client(raise_request_exception=False)
    assert client.get(path).status_code == 422
    assert client.post(path, TWICE).status_code == 422


def test_hostile_addresses_are_422_on_the_page(client):
    for email in ("not-an-address", "", "a@" + "x" * 10_000 + ".test"):
        assert _ask(client, email).status_code == 422
    # A repeated field is its last value, as every Django form reads it: no account has it.
    assert client.post("/password/reset/", {"email": ["a@example.test", "b@example.test"]}).status_code == 302
    assert mail.outbox == []


def test_requests_on_the_page_share_the_apis_budget(client, user, settings):
    settings.EMAIL_SEND_LIMIT = 2
    assert APIClient().post("/api/password/reset", {"email": "a@example.test"}, format="json").status_code == 200
    assert _ask(client, "b@example.test").status_code == 302
    refused = _ask(client, user.email)
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 3600
    assert "Too many password reset requests" in refused.content.decode()
    assert mail.outbox == []


def test_link_tries_on_the_page_are_limited(client, settings):
    settings.EMAIL_LINK_ATTEMPT_LIMIT = 2
    statuses = [client.get("/password/reset/MQ/abc-def/").status_code for _ in range(3)]
    assert statuses == [422, 422, 429]


def test_the_request_form_needs_its_csrf_token(csrf_client, user):
    assert csrf_client.post("/password/reset/", {"email": user.email}).status_code == 403
    assert mail.outbox == []
