"""GET/POST /login/, POST /logout/: session login with the API's lock-out."""

import pytest
from django.test import Client

from tests.factories import PASSWORD, UserFactory


@pytest.mark.django_db
def test_login_page_has_labelled_fields_and_a_csrf_token(client):
    response = client.get("/login/")
    assert response.status_code == 200
    html = response.content.decode()
    assert '<label for="id_username">' in html
    assert '<label for="id_password">' in html
    assert 'name="csrfmiddlewaretoken"' in html


@pytest.mark.django_db
def test_login_logs_in_and_follows_next(client, user):
    response = client.post("/login/", {"username": user.username, "password": PASSWORD, "next": "/profile/"})
    assert response.status_code == 302
    assert response["Location"] == "/profile/"
    assert client.get("/profile/").status_code == 200


@pytest.mark.django_db
def test_login_ignores_an_offsite_next(client, user):
    response = client.post("/login/", {"username": user.username, "password": PASSWORD, "next": "https://evil.example/"})
    assert response.status_code == 302
    assert response["Location"] == "/"


@pytest.mark.django_db
def test_wrong_password_is_422_with_the_message_and_no_session(client, user):
    response = client.post("/login/", {"username": user.username, "password": "wrong"})
    assert response.status_code == 422
    assert "Please enter a correct username and password" in response.content.decode()
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_empty_form_is_422_with_field_errors(client):
    response = client.post("/login/", {})
    assert response.status_code == 422
    assert response.content.decode().count("This field is required.") == 2


@pytest.mark.django_db
def test_banned_user_cannot_log_in(client):
    banned = UserFactory(is_banned=True)
    response = client.post("/login/", {"username": banned.username, "password": PASSWORD})
    assert response.status_code == 422
    assert "banned" in response.content.decode()
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_five_failures_lock_the_username_out_even_with_the_right_password(user):
    for n in range(5):
        # each attempt from a different address: the per-username count alone locks
        Client(REMOTE_ADDR=f"10.0.0.{n + 1}").post("/login/", {"username": user.username, "password": "wrong"})
    response = Client(REMOTE_ADDR="10.0.0.99").post("/login/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 429
    assert "Too many failed logins" in response.content.decode()


@pytest.mark.django_db
def test_five_failures_from_one_address_lock_that_address_out(user):
    browser = Client(REMOTE_ADDR="10.0.1.1")
    for n in range(5):
        browser.post("/login/", {"username": f"nobody{n}", "password": "wrong"})
    assert browser.post("/login/", {"username": user.username, "password": PASSWORD}).status_code == 429
    assert Client(REMOTE_ADDR="10.0.1.2").post("/login/", {"username": user.username, "password": PASSWORD}).status_code == 302


@pytest.mark.django_db
def test_the_page_and_the_api_share_one_lockout(api_client, user):
    for _ in range(5):
        Client().post("/login/", {"username": user.username, "password": "wrong"})
    response = api_client.post("/api/login", {"username": user.username, "password": PASSWORD}, format="json")
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "RATE_LIMIT_EXCEEDED"
    assert int(response["Retry-After"]) >= 1


@pytest.mark.django_db
def test_api_failures_lock_the_page_out(api_client, client, user):
    for _ in range(5):
        assert api_client.post("/api/login", {"username": user.username, "password": "x"}, format="json").status_code == 401
    assert client.post("/login/", {"username": user.username, "password": PASSWORD}).status_code == 429


@pytest.mark.django_db
def test_login_without_csrf_token_is_refused(csrf_client, user):
    response = csrf_client.post("/login/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 403
    assert "This form has expired" in response.content.decode()
    assert "_auth_user_id" not in csrf_client.session


@pytest.mark.django_db
def test_logout_is_a_post_and_ends_the_session(member_client):
    assert member_client.get("/logout/").status_code == 405
    response = member_client.post("/logout/")
    assert response.status_code == 302
    assert member_client.get("/profile/").status_code == 302


@pytest.mark.django_db
def test_logout_without_csrf_token_is_refused(csrf_client, user):
    csrf_client.force_login(user)
    assert csrf_client.post("/logout/").status_code == 403
    assert csrf_client.get("/profile/").status_code == 200


@pytest.mark.django_db
def test_the_admin_login_shares_the_lockout(admin_user):
    browser = Client(REMOTE_ADDR="10.0.2.1")
    for _ in range(5):
        assert browser.post("/admin/login/", {"username": admin_user.username, "password": "wrong"}).status_code == 200
    response = browser.post("/admin/login/", {"username": admin_user.username, "password": PASSWORD})
    assert "Too many failed logins" in response.content.decode()
    assert "_auth_user_id" not in browser.session
    assert Client(REMOTE_ADDR="10.0.2.2").post("/login/", {"username": admin_user.username, "password": PASSWORD}).status_code == 429


@pytest.mark.django_db
def test_the_admin_login_still_works(admin_user, user):
    browser = Client()
    response = browser.post("/admin/login/", {"username": admin_user.username, "password": PASSWORD, "next": "/admin/"})
    assert response.status_code == 302
    assert browser.get("/admin/").status_code == 200
    refused = Client().post("/admin/login/", {"username": user.username, "password": PASSWORD})
    assert "staff account" in refused.content.decode()
