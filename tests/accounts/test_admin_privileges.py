"""The admin site: a staff member who is not a superuser raises no one's privileges (issue 11).

Such an operator may hold Django's user permissions (to ban members and reset
passkeys), but before this fix the user form let them tick "superuser" on
their own account, and change, ban or delete a superuser, which the API
already refused (tests/accounts/test_superusers.py).
"""

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from accounts.models import User
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator() -> User:
    """Staff, not a superuser, with every permission on users."""
    user = UserFactory(role="moderator", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="accounts", content_type__model="user"))
    return User.objects.get(pk=user.pk)


@pytest.fixture
def operator_site(operator: User) -> Client:
    client = Client()
    client.force_login(operator)
    return client


@pytest.fixture
def superuser() -> User:
    return UserFactory(role="admin", is_staff=True, is_superuser=True)


def _form(user: User, **changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "username": user.username,
        "email": user.email,
        "first_name": "",
        "last_name": "",
        "is_active": "on",
        "role": user.role,
        "invites": user.invites,
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
    }
    if user.is_staff:
        data["is_staff"] = "on"
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def test_an_operator_cannot_make_themselves_a_superuser(operator_site, operator):
    response = operator_site.post(
        f"/admin/accounts/user/{operator.pk}/change/",
        _form(operator, is_superuser="on", role="admin", user_permissions=[str(p.pk) for p in Permission.objects.all()]),
    )
    assert response.status_code in (200, 302)
    operator.refresh_from_db()
    assert not operator.is_superuser
    assert operator.role == "moderator"
    user_permissions = Permission.objects.filter(content_type__model="user", content_type__app_label="accounts")
    assert operator.user_permissions.count() == user_permissions.count()


def test_an_operator_cannot_make_another_member_staff_or_superuser(operator_site):
    member = UserFactory()
    form = _form(member, is_superuser="on", is_staff="on", is_banned="on", standing_reason="spam")
    response = operator_site.post(f"/admin/accounts/user/{member.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:1500]
    member.refresh_from_db()
    assert (member.is_superuser, member.is_staff) == (False, False)
    # what an operator is there for still works
    assert member.is_banned


@pytest.mark.parametrize("page", ["change", "password", "delete"])
def test_an_operator_cannot_change_a_superusers_account(operator_site, superuser, page):
    if page == "change":
        response = operator_site.post(f"/admin/accounts/user/{superuser.pk}/change/", _form(superuser, role="user", is_banned="on"))
        # the superuser's page is view-only for them: the post changes nothing
        assert response.status_code == 403
    elif page == "password":
        form = {"password1": "Another-pass-987", "password2": "Another-pass-987", "usable_password": "true"}
        response = operator_site.post(f"/admin/accounts/user/{superuser.pk}/password/", form)
        assert response.status_code == 403
    else:
        response = operator_site.post(f"/admin/accounts/user/{superuser.pk}/delete/", {"post": "yes"})
        assert response.status_code == 403
    after = User.objects.get(pk=superuser.pk)
    assert (after.role, after.is_banned, after.password) == ("admin", False, superuser.password)


@pytest.mark.parametrize("action", ["ban_users", "reset_passkeys", "delete_selected"])
def test_bulk_actions_leave_superusers_alone(operator_site, superuser, action):
    member = UserFactory()
    data = {"action": action, "_selected_action": [str(superuser.pk), str(member.pk)]}
    if action == "delete_selected":
        data["post"] = "yes"
    if action == "ban_users":
        data.update(apply="1", reason="spam")  # the confirmation page's form
    operator_site.post("/admin/accounts/user/", data)
    after = User.objects.get(pk=superuser.pk)
    assert (after.is_banned, after.passkey) == (False, superuser.passkey)
    if action == "ban_users":
        assert User.objects.get(pk=member.pk).is_banned
    if action == "reset_passkeys":
        assert User.objects.get(pk=member.pk).passkey != member.passkey


def test_a_superuser_still_changes_a_superuser(superuser):
    other = UserFactory(role="admin", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(superuser)
    response = client.post(
        f"/admin/accounts/user/{other.pk}/change/",
        _form(other, is_superuser="on", role="moderator", is_banned="on", standing_reason="stepped down"),
    )
    assert response.status_code == 302, response.content.decode()[:1500]
    other.refresh_from_db()
    assert (other.role, other.is_banned, other.is_superuser) == ("moderator", True, True)
