"""PATCH /api/users/{id}: a superuser may be changed only by a superuser."""

import pytest

from accounts.models import User
from tests.conftest import bearer
from tests.factories import UserFactory


@pytest.fixture
def role_admin_client(db):
    from rest_framework.test import APIClient

    return bearer(APIClient(), UserFactory(role="admin"))


@pytest.mark.django_db
@pytest.mark.parametrize("change", [{"is_banned": True}, {"role": "user"}, {"role": "moderator"}, {"role": "admin", "is_banned": True}])
def test_a_role_admin_may_not_ban_or_demote_a_superuser(role_admin_client, change):
    superuser = UserFactory(role="admin", is_staff=True, is_superuser=True)
    response = role_admin_client.patch(f"/api/users/{superuser.pk}", change, format="json")
    assert response.status_code == 403, response.content
    assert response.json()["error"]["code"] == "FORBIDDEN"
    superuser.refresh_from_db()
    assert (superuser.role, superuser.is_banned) == ("admin", False)


@pytest.mark.django_db
def test_a_role_admin_may_not_change_a_superuser_even_one_with_the_user_role(role_admin_client):
    superuser = UserFactory(role="user", is_superuser=True)
    assert role_admin_client.patch(f"/api/users/{superuser.pk}", {"role": "admin"}, format="json").status_code == 403
    assert User.objects.get(pk=superuser.pk).role == "user"


@pytest.mark.django_db
def test_a_role_admin_still_changes_other_members(role_admin_client):
    member = UserFactory()
    response = role_admin_client.patch(f"/api/users/{member.pk}", {"role": "moderator", "is_banned": True}, format="json")
    assert response.status_code == 200
    assert (response.json()["data"]["role"], response.json()["data"]["is_banned"]) == ("moderator", True)


@pytest.mark.django_db
def test_a_superuser_may_change_another_superuser(admin_client_api):
    other = UserFactory(role="admin", is_superuser=True)
    response = admin_client_api.patch(f"/api/users/{other.pk}", {"role": "moderator", "is_banned": True}, format="json")
    assert response.status_code == 200
    other.refresh_from_db()
    assert (other.role, other.is_banned) == ("moderator", True)
