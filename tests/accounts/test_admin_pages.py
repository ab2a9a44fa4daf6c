"""Issue 15: the members' list and change form as operators read them."""

import re

import pytest
from django.contrib import admin

from accounts.models import ApiKey, User
from accounts.services import api_key_create
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

GIB = 1024**3


def test_the_members_list_shows_class_ratio_and_traffic_in_binary_units(site):
    UserFactory(username="seedbox", role="moderator", uploaded=3 * GIB, downloaded=2 * GIB)
    UserFactory(username="newcomer", uploaded=5 * 1024**2, downloaded=0)
    response = site.get("/admin/accounts/user/?q=seedbox")
    assert response.status_code == 200
    row = next(r for r in response.context["results"] if "seedbox" in "".join(r))
    cells = "".join(row)
    assert ">Moderator<" in cells and ">1.50<" in cells
    assert ">3.0 GiB<" in cells and ">2.0 GiB<" in cells
    fresh = site.get("/admin/accounts/user/?q=newcomer").content.decode()
    assert ">∞<" in fresh and ">5.0 MiB<" in fresh
    headers = [str(h["text"]).lower() for h in response.context["result_headers"]][1:]
    assert headers[:5] == ["username", "class", "ratio", "uploaded", "downloaded"]


def test_the_change_form_puts_the_tracker_first_and_groups_and_permissions_last_folded(site):
    member = UserFactory()
    fieldsets = admin.site.get_model_admin(User).get_fieldsets(None, member)  # type: ignore[arg-type]
    assert fieldsets[0][1]["fields"][:4] == ("username", "password", "email", "role")
    assert fieldsets[1][0] == "Tracker" and "passkey" in fieldsets[1][1]["fields"]
    assert fieldsets[-1] == ("Groups and permissions", {"classes": ("collapse",), "fields": ("groups", "user_permissions")})

    body = site.get(f"/admin/accounts/user/{member.pk}/change/").content.decode()
    assert body.index('name="role"') < body.index('name="invites"') < body.index('name="groups"')
    assert body.rindex("<details", 0, body.index('name="groups"')) > body.index('name="invites"')  # folded away
    assert member.passkey in body and member.announce_url in body  # read-only, shown
    assert 'name="passkey"' not in body
    link = re.search(r'href="(/admin/r/\d+/\d+/)" class="viewsitelink"', body)
    assert link, "no View on site link"
    assert site.get(link.group(1))["Location"].endswith(f"/users/{member.username}/")  # the member's page


def test_revoking_keys_says_how_many(site):
    member = UserFactory()
    keys = [api_key_create(user=member, name=f"k{i}", scopes=["read"])[0] for i in range(2)]
    data = {"action": "revoke_keys", "_selected_action": [str(k.pk) for k in keys]}
    response = site.post("/admin/accounts/apikey/", data, follow=True)
    assert [str(m) for m in response.context["messages"]] == ["2 key(s) revoked."]
    assert ApiKey.objects.filter(revoked_at__isnull=False).count() == 2
