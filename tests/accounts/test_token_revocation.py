"""A password change or a ban revokes the member's outstanding API tokens (and other sessions) for good."""

from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import User
from accounts.services import user_set_banned
from tests.conftest import login_data
from tests.factories import PASSWORD, UserFactory

NEW_PASSWORD = "kettle-Orbit-42"


_tokens = login_data


def _me_with(access: str) -> Any:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client.get("/api/me")


def _refresh_with(refresh: str) -> Any:
    return APIClient().post("/api/token/refresh", {"refresh_token": refresh}, format="json")


def _assert_dead(tokens: dict[str, Any]) -> None:
    refreshed = _refresh_with(tokens["refresh_token"])
    assert refreshed.status_code == 401, f"the old refresh token still works: {refreshed.status_code}"
    assert refreshed.json()["error"]["code"] == "TOKEN_INVALID"
    me = _me_with(tokens["token"])
    assert me.status_code == 401, f"the old access token still works: {me.status_code}"
    assert me.json()["error"]["code"] == "TOKEN_INVALID"


def _change_password_on_the_page(client: Client) -> None:
    response = client.post("/password/", {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert response.status_code == 302, response.content


@pytest.mark.django_db
def test_a_password_change_on_the_page_revokes_the_api_tokens(user):
    tokens = _tokens(user)
    rotated = _refresh_with(tokens["refresh_token"]).json()["data"]  # a rotated pair is revoked too
    page = Client()
    page.force_login(user)
    _change_password_on_the_page(page)
    _assert_dead(rotated)
    # a new login with the new password gives tokens that work
    fresh = _tokens(user, NEW_PASSWORD)
    assert _me_with(fresh["token"]).status_code == 200
    assert _refresh_with(fresh["refresh_token"]).status_code == 200


@pytest.mark.django_db
def test_a_password_change_ends_the_other_sessions_and_keeps_this_one(user):
    here, elsewhere = Client(), Client()
    here.force_login(user)
    elsewhere.force_login(user)
    _change_password_on_the_page(here)
    assert here.get("/profile/").status_code == 200
    assert elsewhere.get("/profile/").status_code == 302
    assert APIClient().get("/api/me").status_code == 401


@pytest.mark.django_db
def test_any_saved_password_change_revokes_the_tokens(user):
    # the admin site's password form, `manage.py changepassword` and a reset all end in set_password + save
    tokens = _tokens(user)
    user.set_password(NEW_PASSWORD)
    user.save()
    _assert_dead(tokens)


@pytest.mark.django_db
def test_a_password_hash_upgrade_at_login_is_not_a_password_change(settings, monkeypatch, user):
    from django.contrib.auth.hashers import PBKDF2SHA1PasswordHasher

    tokens = _tokens(user)
    monkeypatch.setattr(PBKDF2SHA1PasswordHasher, "iterations", 1000)
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher", "django.contrib.auth.hashers.MD5PasswordHasher"]
    upgraded = _tokens(user)  # the login rehashes the password with the preferred hasher
    assert User.objects.get(pk=user.pk).password.startswith("pbkdf2_sha1$")
    assert _me_with(tokens["token"]).status_code == 200
    assert _me_with(upgraded["token"]).status_code == 200
    assert _refresh_with(upgraded["refresh_token"]).status_code == 200


@pytest.mark.django_db
def test_after_a_ban_and_an_unban_the_old_tokens_stay_dead(admin_client_api, user):
    tokens = _tokens(user)
    assert admin_client_api.patch(f"/api/users/{user.pk}", {"is_banned": True}, format="json").status_code == 200
    assert admin_client_api.patch(f"/api/users/{user.pk}", {"is_banned": False}, format="json").status_code == 200
    _assert_dead(tokens)
    assert _me_with(_tokens(user)["token"]).status_code == 200  # a new login works again


@pytest.mark.django_db
def test_after_a_ban_and_an_unban_the_old_sessions_stay_dead(user):
    page = Client()
    page.force_login(user)
    user_set_banned(user=user, banned=True)
    user_set_banned(user=user, banned=False)
    assert page.get("/profile/").status_code == 302


@pytest.mark.django_db
def test_a_banned_members_access_token_stops_at_once(user):
    tokens = _tokens(user)
    User.objects.filter(pk=user.pk).update(is_banned=True)  # even without the service
    assert _me_with(tokens["token"]).status_code == 401


@pytest.mark.django_db
def test_a_stale_copy_saved_after_a_ban_does_not_revive_the_tokens(user):
    tokens = _tokens(user)
    stale = User.objects.get(pk=user.pk)
    user_set_banned(user=user, banned=True)
    user_set_banned(user=user, banned=False)
    stale.hide_in_peers = True
    stale.save()  # a full save of a copy read before the ban
    _assert_dead(tokens)
    assert User.objects.get(pk=user.pk).hide_in_peers is True


@pytest.mark.django_db
def test_a_ban_through_the_admin_change_form_revokes_the_tokens(admin_user):
    member = UserFactory()
    tokens = _tokens(member)
    browser = Client()
    browser.force_login(admin_user)
    page = browser.get(f"/admin/accounts/user/{member.pk}/change/")
    form = page.context["adminform"].form
    data = {}
    for name, field in form.fields.items():
        if field.disabled:
            continue
        value = form[name].value()
        if value is None or value is False:
            continue
        data[name] = [str(v) for v in value] if isinstance(value, list | tuple) else str(value)
    data.update(is_banned="on", standing_reason="spam")
    data.update({"date_joined_0": member.date_joined.strftime("%Y-%m-%d"), "date_joined_1": member.date_joined.strftime("%H:%M:%S")})
    response = browser.post(f"/admin/accounts/user/{member.pk}/change/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else response.content
    assert User.objects.get(pk=member.pk).is_banned
    User.objects.filter(pk=member.pk).update(is_banned=False)
    _assert_dead(tokens)


@pytest.mark.django_db
def test_tokens_issued_before_any_revocation_keep_working(user):
    from rest_framework_simplejwt.tokens import RefreshToken

    legacy = RefreshToken.for_user(User.objects.get(pk=user.pk))
    User.objects.filter(pk=user.pk).update(token_version=0)
    # a token without the version claim (issued before the claim existed) counts as version 0
    assert _me_with(str(legacy.access_token)).status_code == 200
    assert _refresh_with(str(legacy)).status_code == 200
