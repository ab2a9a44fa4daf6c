"""/register/, /password/: opening an account and changing its password."""

import pytest
from django.test import Client

from accounts.models import User
from tests.factories import PASSWORD


@pytest.mark.django_db
def test_register_creates_the_account_and_logs_it_in(client):
    response = client.post(
        "/register/",
        {"username": "newbie", "email": "newbie@example.test", "password": "kettle-Orbit-42", "password_again": "kettle-Orbit-42"},
    )
    assert response.status_code == 302
    assert response["Location"] == "/profile/"
    user = User.objects.get(username="newbie")
    assert user.check_password("kettle-Orbit-42")
    assert len(user.passkey) == 32
    assert "Welcome, newbie" in client.get("/profile/").content.decode()


@pytest.mark.django_db
def test_register_shows_each_problem_next_to_its_field(client):
    form = {"username": "a b", "email": "not-an-email", "password": "password", "password_again": "other"}
    response = client.post("/register/", form)
    assert response.status_code == 422
    html = response.content.decode()
    assert 'id="id_username_error"' in html
    assert "Use only letters, digits and @ . + - _." in html
    assert "Enter a valid email address." in html
    assert "The two passwords differ." in html
    assert User.objects.count() == 0


@pytest.mark.django_db
def test_register_shows_the_services_conflict_on_the_username(client, user):
    form = {
        "username": user.username.upper(),
        "email": "x@example.test",
        "password": "kettle-Orbit-42",
        "password_again": "kettle-Orbit-42",
    }
    response = client.post("/register/", form)
    assert response.status_code == 422
    html = response.content.decode()
    assert 'id="id_username_error"' in html
    assert "This username is taken." in html
    assert User.objects.count() == 1


@pytest.mark.django_db
def test_register_refuses_a_common_password(client):
    response = client.post(
        "/register/", {"username": "bob", "email": "bob@example.test", "password": "password", "password_again": "password"}
    )
    assert response.status_code == 422
    html = response.content.decode()
    assert "This password is too common." in html
    assert 'id="id_password_error"' in html


@pytest.mark.django_db
def test_register_says_so_when_registration_is_closed(client, settings):
    settings.REGISTRATION_MODE = "closed"
    page = client.get("/register/")
    assert page.status_code == 200
    assert "Registration is closed" in page.content.decode() and 'name="username"' not in page.content.decode()
    assert client.post("/register/", {"username": "x"}).status_code == 403
    assert 'href="/register/"' not in client.get("/login/").content.decode()


@pytest.mark.django_db
def test_register_sends_a_member_to_their_profile(member_client):
    assert member_client.get("/register/")["Location"] == "/profile/"


@pytest.mark.django_db
def test_register_without_csrf_token_is_refused(csrf_client):
    response = csrf_client.post(
        "/register/", {"username": "a", "email": "a@example.test", "password": "kettle-Orbit-42", "password_again": "kettle-Orbit-42"}
    )
    assert response.status_code == 403
    assert not User.objects.filter(username="a").exists()


@pytest.mark.django_db
def test_password_change_needs_a_login(client):
    response = client.get("/password/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/password/"


@pytest.mark.django_db
def test_password_change_works_and_keeps_the_session(user):
    client = Client()
    client.force_login(user)
    response = client.post("/password/", {"old_password": PASSWORD, "new_password1": "kettle-Orbit-42", "new_password2": "kettle-Orbit-42"})
    assert response.status_code == 302
    assert response["Location"] == "/password/done/"
    user.refresh_from_db()
    assert user.check_password("kettle-Orbit-42")
    assert client.get("/profile/").status_code == 200


@pytest.mark.django_db
def test_password_change_with_a_wrong_old_password_is_422(member_client, user):
    response = member_client.post(
        "/password/", {"old_password": "nope", "new_password1": "kettle-Orbit-42", "new_password2": "kettle-Orbit-42"}
    )
    assert response.status_code == 422
    assert "Your old password was entered incorrectly" in response.content.decode()
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
