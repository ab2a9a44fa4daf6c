"""Invites on the pages: the register page in each mode, the profile's Invites section, revoking, the moderators' tree."""

import re
from decimal import Decimal
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from accounts.invites import INVITE_INVALID, INVITE_REQUIRED, invite_create
from accounts.models import Invite, User, invite_code_hash
from tests.factories import UserFactory
from tracker.policy.models import LedgerEntry, LedgerKind

pytestmark = pytest.mark.django_db

NEW = {"username": "newbie", "email": "newbie@example.test", "password": "kettle-Orbit-42", "password_again": "kettle-Orbit-42"}


def _html(response: Any) -> str:
    return response.content.decode()


def _invite_input(html: str) -> str:
    """The register form's invite field, as rendered."""
    match = re.search(r'<input[^>]*name="invite"[^>]*>', html)
    assert match, html
    return match.group(0)


@pytest.fixture
def inviter(db: Any) -> Any:
    return UserFactory(invites=2)


@pytest.fixture
def inviter_page(inviter: Any) -> Client:
    client = Client()
    client.force_login(inviter)
    return client


@pytest.fixture
def invite_mode(settings: Any) -> None:
    settings.REGISTRATION_MODE = "invite"


# --- The register page ------------------------------------------------------------------------------------------


def test_the_mails_link_fills_in_the_code(invite_mode, inviter, client):
    new = invite_create(inviter=inviter, email="friend@example.test")
    response = client.get(new.link[new.link.index("/register/") :])
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]  # the page carries the code
    html = _html(response)
    assert f'value="{new.code}"' in _invite_input(html)
    assert 'id="invite-needed"' not in html
    created = client.post("/register/", {**NEW, "invite": new.code})
    assert created.status_code == 302 and created["Location"] == "/profile/"
    assert User.objects.get(username="newbie").invited_by == inviter
    assert "Welcome, newbie" in _html(client.get("/profile/"))


def test_invite_mode_without_a_code_says_an_invite_is_needed(invite_mode, client):
    html = _html(client.get("/register/"))
    assert 'id="invite-needed"' in html and "Registration needs an invite" in html
    assert 'value="' not in _invite_input(html)
    response = client.post("/register/", NEW)
    assert response.status_code == 422
    assert 'id="id_invite_error"' in _html(response) and INVITE_REQUIRED in _html(response)
    assert not User.objects.filter(username="newbie").exists()


def test_a_bad_code_is_shown_next_to_the_field(invite_mode, inviter, client):
    code = invite_create(inviter=inviter, email="friend@example.test").code
    Invite.objects.filter(code_hash=invite_code_hash(code)).update(revoked_at=timezone.now())
    response = client.post("/register/", {**NEW, "invite": code})
    assert response.status_code == 422
    html = _html(response)
    assert 'id="id_invite_error"' in html and INVITE_INVALID in html
    assert not User.objects.filter(username="newbie").exists()


def test_guessing_codes_on_the_page_is_throttled(invite_mode, settings):
    settings.INVITE_FAILURE_LIMIT = 2
    guest = Client(REMOTE_ADDR="192.0.2.30")
    for n in range(2):
        assert guest.post("/register/", {**NEW, "invite": f"tpi_guess{n}"}).status_code == 422
    held = guest.post("/register/", {**NEW, "invite": "tpi_guess9"})
    assert held.status_code == 429
    assert 1 <= int(held["Retry-After"]) <= 60
    assert "Too many invalid invite codes" in _html(held)
    assert Client(REMOTE_ADDR="192.0.2.31").post("/register/", {**NEW, "invite": "tpi_x"}).status_code == 422


def test_open_registration_honours_a_code(inviter, client, settings):
    settings.REGISTRATION_MODE = "open"
    assert 'id="invite-needed"' not in _html(client.get("/register/"))
    code = invite_create(inviter=inviter, email="friend@example.test").code
    assert client.post("/register/", {**NEW, "invite": code}).status_code == 302
    assert User.objects.get(username="newbie").invited_by == inviter


def test_closed_registration_hides_the_form(client, settings, inviter):
    settings.REGISTRATION_MODE = "closed"
    code = "tpi_" + "a" * 32
    response = client.get(f"/register/?invite={code}")
    assert response.status_code == 200
    html = _html(response)
    assert 'id="registration-closed"' in html and "<form" not in html.split("<main")[1].split("</main>")[0]
    assert client.post("/register/", {**NEW, "invite": code}).status_code == 403
    assert not User.objects.filter(username="newbie").exists()
    assert 'href="/register/"' not in _html(client.get("/"))


def test_the_register_form_needs_its_csrf_token(invite_mode, inviter, csrf_client):
    code = invite_create(inviter=inviter, email="friend@example.test").code
    assert csrf_client.post("/register/", {**NEW, "invite": code}).status_code == 403
    assert Invite.objects.get(code_hash=invite_code_hash(code)).used_at is None


# --- The profile's Invites section ----------------------------------------------------------------------------------


def test_the_profile_sends_an_invite_and_shows_its_code_once(invite_mode, inviter, inviter_page):
    profile = _html(inviter_page.get("/profile/"))
    assert 'id="invites-heading"' in profile and 'id="invites-left">2<' in profile
    response = inviter_page.post("/profile/invites/", {"email": "friend@example.test"})
    assert response.status_code == 201
    assert "no-store" in response["Cache-Control"]
    html = _html(response)
    code = re.search(r'id="invite-code"[^>]*>(tpi_[\w-]+)<', html).group(1)
    assert Invite.objects.get(code_hash=invite_code_hash(code)).inviter == inviter
    assert f"/register/?invite={code}" in html and 'id="mail-failed"' not in html
    assert len(mail.outbox) == 1 and code in mail.outbox[0].body and mail.outbox[0].to == ["friend@example.test"]
    after = _html(inviter_page.get("/profile/"))
    assert code not in after
    assert 'id="invites-left">1<' in after and "friend@example.test" in after and 'data-state="pending"' in after


def test_a_bad_address_or_no_invites_left_is_said_on_the_form(inviter, inviter_page):
    bad = inviter_page.post("/profile/invites/", {"email": "not-an-address"})
    assert bad.status_code == 422 and 'id="id_email_error"' in _html(bad)
    User.objects.filter(pk=inviter.pk).update(invites=0)
    profile = _html(inviter_page.get("/profile/"))
    assert 'action="/profile/invites/"' not in profile  # no form without invites
    refused = inviter_page.post("/profile/invites/", {"email": "friend@example.test"})
    assert refused.status_code == 409 and "You have no invites left." in _html(refused)
    assert not Invite.objects.exists() and mail.outbox == []


def test_staff_see_that_they_invite_without_spending(moderator_page_client, moderator):
    html = _html(moderator_page_client.get("/profile/"))
    assert "without spending any" in html and 'action="/profile/invites/"' in html
    assert moderator_page_client.post("/profile/invites/", {"email": "a@example.test"}).status_code == 201
    moderator.refresh_from_db()
    assert moderator.invites == 0


def test_revoking_from_the_profile_gives_the_invite_back(invite_mode, inviter, inviter_page):
    code = invite_create(inviter=inviter, email="friend@example.test").code
    invite = Invite.objects.get(code_hash=invite_code_hash(code))
    assert f'action="/profile/invites/{invite.pk}/revoke/"' in _html(inviter_page.get("/profile/"))
    response = inviter_page.post(f"/profile/invites/{invite.pk}/revoke/")
    assert response.status_code == 302 and response["Location"] == "/profile/"
    page = _html(inviter_page.get("/profile/"))
    assert "is revoked; you have it back" in page and 'data-state="revoked"' in page
    inviter.refresh_from_db()
    invite.refresh_from_db()
    assert inviter.invites == 2 and invite.revoked_at is not None


def test_a_used_invite_cannot_be_revoked_and_someone_elses_is_404(invite_mode, inviter, inviter_page, member_client):
    code = invite_create(inviter=inviter, email="friend@example.test").code
    assert Client().post("/register/", {**NEW, "invite": code}).status_code == 302
    invite = Invite.objects.get(code_hash=invite_code_hash(code))
    assert "used by newbie" in _html(inviter_page.get("/profile/"))
    used = inviter_page.post(f"/profile/invites/{invite.pk}/revoke/", follow=True)
    assert "This invite was used: it cannot be revoked." in _html(used)
    other = invite_create(inviter=inviter, email="other@example.test").invite
    assert member_client.post(f"/profile/invites/{other.pk}/revoke/").status_code == 404
    other.refresh_from_db()
    assert other.revoked_at is None


def test_sending_and_revoking_need_the_csrf_token(inviter):
    client = Client(enforce_csrf_checks=True)
    client.force_login(inviter)
    assert client.post("/profile/invites/", {"email": "friend@example.test"}).status_code == 403
    invite = invite_create(inviter=inviter, email="friend@example.test").invite
    assert client.post(f"/profile/invites/{invite.pk}/revoke/").status_code == 403
    invite.refresh_from_db()
    assert invite.revoked_at is None and Invite.objects.count() == 1


def test_guests_are_sent_to_log_in(client):
    assert client.post("/profile/invites/", {"email": "a@example.test"})["Location"].startswith("/login/")
    assert client.get("/invites/tree/")["Location"].startswith("/login/")


# --- The moderators' tree ----------------------------------------------------------------------------------------------


def test_moderators_see_the_tree_by_username_or_id(moderator_page_client):
    root = UserFactory(username="rootmember", uploaded=300, downloaded=100)
    child = UserFactory(username="childmember", invited_by=root, downloaded=100, ratio_watch_since=timezone.now())
    UserFactory(username="grandchild", invited_by=child, is_banned=True)
    for ref in ("rootmember", "ROOTMEMBER", str(root.pk)):
        response = moderator_page_client.get(f"/invites/tree/?root={ref}")
        assert response.status_code == 200, ref
        html = _html(response)
        assert all(name in html for name in ("rootmember", "childmember", "grandchild"))
        assert 'id="tree-nodes">3<' in html
    assert "on ratio watch since" in html and ">banned<" in html
    assert 'data-members="3"' in html and "1 on ratio watch, 1 banned" in html
    assert f'href="/invites/tree/?root={child.pk}"' in html


def test_the_tree_page_without_a_root_or_with_an_unknown_one(moderator_page_client):
    empty = moderator_page_client.get("/invites/tree/")
    assert empty.status_code == 200 and 'name="root"' in _html(empty)
    unknown = moderator_page_client.get("/invites/tree/?root=nobody-at-all")
    assert unknown.status_code == 404 and "No such member." in _html(unknown)
    assert moderator_page_client.get("/invites/tree/?root=").status_code == 422
    assert moderator_page_client.get("/invites/tree/?root=" + "x" * 500).status_code == 422
    assert moderator_page_client.get("/invites/tree/?root=%00").status_code in (404, 422)


def test_the_tree_page_is_for_moderators_and_linked_for_them(member_client, moderator_page_client):
    assert member_client.get("/invites/tree/?root=1").status_code == 403
    assert 'href="/invites/tree/"' not in _html(member_client.get("/profile/"))
    assert 'href="/invites/tree/"' in _html(moderator_page_client.get("/"))
    assert 'href="/invites/tree/"' in _html(moderator_page_client.get("/profile/"))


# --- The store page -------------------------------------------------------------------------------------------------------


def test_the_store_page_sells_invites_in_invite_mode(invite_mode, member_client, user):
    LedgerEntry.objects.create(user=user, amount=Decimal("6000"), kind=LedgerKind.ADJUST, created_at=timezone.now())
    User.objects.filter(pk=user.pk).update(bonus_points=Decimal("6000"))
    assert 'id="item-invite"' in _html(member_client.get("/store/"))
    response = member_client.post("/store/", {"item": "invite", "quantity": 1}, follow=True)
    assert "Bought 1 x 1 invite for 5000 points" in _html(response)
    assert 'id="invites">1<' in _html(response)
    user.refresh_from_db()
    assert (user.invites, user.bonus_points) == (1, Decimal("1000.00"))


def test_the_store_page_does_not_sell_invites_in_open_mode(member_client, settings):
    settings.REGISTRATION_MODE = "open"
    assert 'id="item-invite"' not in _html(member_client.get("/store/"))
