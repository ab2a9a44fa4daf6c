"""Invites and REGISTRATION_MODE through the API: sending, listing, revoking, registering with a code, the tree, the store.

Every refusal is checked for what the client sees (status, code, the one
message for every bad code), and the races for real on PostgreSQL: one
invite left spent by two creations at once, one code used by two
registrations at once, a revocation racing a registration, parallel guesses.
"""

import logging
import os
import subprocess
import sys
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import invite_tree as tree_module
from accounts.invites import INVITE_INVALID, INVITE_REQUIRED, invite_create
from accounts.models import Invite, User, invite_code_hash
from accounts.services import api_key_create
from tests.accounts.email_helpers import mail_server_down
from tests.accounts.test_admin_privileges import _form as _admin_form
from tests.conftest import bearer
from tests.factories import PASSWORD, UserFactory
from tests.threads import released_together
from tracker.policy.models import LedgerEntry, LedgerKind, PolicyChange

pytestmark = pytest.mark.django_db

BASE_DIR = Path(__file__).resolve().parents[2]
NEW_PASSWORD = "kettle-Orbit-42"


def _register(code: str | None = None, *, username: str = "newbie", ip: str = "203.0.113.9", client: Any = None) -> Any:
    body = {"username": username, "email": f"{username}@example.test", "password": NEW_PASSWORD}
    if code is not None:
        body["invite"] = code
    return (client or APIClient(REMOTE_ADDR=ip)).post("/api/register", body, format="json")


def _error(response: Any) -> dict[str, Any]:
    return response.json()["error"]


def _code(inviter: Any, email: str = "friend@example.test") -> str:
    return invite_create(inviter=inviter, email=email).code


@pytest.fixture
def inviter(db: Any) -> Any:
    return UserFactory(invites=3)


@pytest.fixture
def inviter_client(inviter: Any) -> APIClient:
    return bearer(APIClient(), inviter)


@pytest.fixture
def invite_mode(settings: Any) -> None:
    settings.REGISTRATION_MODE = "invite"


@pytest.fixture
def postgres_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("row-lock concurrency needs PostgreSQL (SQLite serializes every writer)")


# --- Settings ------------------------------------------------------------------------------------------------


def _settings_of(**env: str) -> subprocess.CompletedProcess[str]:
    """The registration settings as a fresh process reads them from exactly `env`."""
    clean = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(BASE_DIR), "DJANGO_SETTINGS_MODULE": "torrentpier.settings"}
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.REGISTRATION_MODE, s.INVITE_EXPIRY_DAYS, s.INVITE_FAILURE_LIMIT, s.INVITES_UNLIMITED_FOR_STAFF)"
    )
    return subprocess.run([sys.executable, "-c", code], env=clean | {"DEBUG": "1"} | env, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(
    ("env", "printed"),
    [
        ({}, "open 7 5 True"),
        ({"REGISTRATION_OPEN": "0"}, "closed 7 5 True"),  # the older switch still closes
        ({"REGISTRATION_MODE": "invite", "INVITE_EXPIRY_DAYS": "3"}, "invite 3 5 True"),
        ({"REGISTRATION_MODE": "Closed", "INVITES_UNLIMITED_FOR_STAFF": "0", "INVITE_FAILURE_LIMIT": "9"}, "closed 7 9 False"),
        ({"REGISTRATION_OPEN": "0", "REGISTRATION_MODE": "closed"}, "closed 7 5 True"),
    ],
)
def test_the_registration_settings_come_from_the_environment(env, printed):
    result = _settings_of(**env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == printed


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"REGISTRATION_MODE": "sometimes"}, "REGISTRATION_MODE"),
        ({"REGISTRATION_OPEN": "0", "REGISTRATION_MODE": "open"}, "REGISTRATION_OPEN"),
        ({"INVITE_EXPIRY_DAYS": "0"}, "INVITE_EXPIRY_DAYS"),
        ({"INVITE_FAILURE_LIMIT": "x"}, "INVITE_FAILURE_LIMIT"),
        ({"INVITES_UNLIMITED_FOR_STAFF": "maybe"}, "INVITES_UNLIMITED_FOR_STAFF"),
    ],
)
def test_a_bad_registration_setting_stops_the_start(env, variable):
    result = _settings_of(**env)
    assert result.returncode != 0
    assert variable in result.stderr.strip().splitlines()[-1]


# --- Registering in each mode ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "code", "status", "field_message"),
    [
        ("open", None, 201, None),
        ("open", "good", 201, None),
        ("open", "bad", 422, INVITE_INVALID),
        ("open", "", 201, None),
        ("invite", None, 422, INVITE_REQUIRED),
        ("invite", "", 422, INVITE_REQUIRED),
        ("invite", "   ", 422, INVITE_REQUIRED),
        ("invite", "good", 201, None),
        ("invite", "bad", 422, INVITE_INVALID),
        ("closed", None, 403, None),
        ("closed", "good", 403, None),
        ("closed", "bad", 403, None),
    ],
)
def test_registration_in_each_mode_with_and_without_a_code(settings, inviter, mode, code, status, field_message):
    real = _code(inviter)
    settings.REGISTRATION_MODE = mode
    sent = {"good": real, "bad": "tpi_" + "x" * 32}.get(code or "", code)
    response = _register(sent)
    assert response.status_code == status, response.content
    user = User.objects.filter(username="newbie").first()
    if status == 201:
        data = response.json()["data"]
        assert data["invited_by"] == (inviter.username if code == "good" else None)
        assert user is not None and user.invited_by_id == (inviter.pk if code == "good" else None)
        assert Invite.objects.get(code_hash=invite_code_hash(real)).used_by_id == (user.pk if code == "good" else None)
        return
    assert user is None
    assert Invite.objects.get(code_hash=invite_code_hash(real)).used_at is None
    if status == 403:
        assert _error(response) == {"code": "FORBIDDEN", "message": "Registration is closed.", "details": {}}
    else:
        assert _error(response)["code"] == "VALIDATION_ERROR"
        assert _error(response)["details"] == {"invite": [field_message]}


def _bad_codes(inviter: Any, other: Any) -> dict[str, str]:
    """One code of each kind that must not open an account."""
    now = timezone.now()
    expired = _code(inviter, "late@example.test")
    Invite.objects.filter(code_hash=invite_code_hash(expired)).update(expires_at=now - timedelta(seconds=1))
    revoked = _code(inviter, "revoked@example.test")
    Invite.objects.filter(code_hash=invite_code_hash(revoked)).update(revoked_at=now)
    used = _code(inviter, "used@example.test")
    assert _register(used, username="first").status_code == 201
    from_banned = _code(other, "banned@example.test")
    User.objects.filter(pk=other.pk).update(is_banned=True)
    return {
        "unknown": "tpi_" + "A" * 32,
        "not a code": "hello",
        "expired": expired,
        "revoked": revoked,
        "used": used,
        "from a banned member": from_banned,
        "too long": "tpi_" + "a" * 96,
    }


def test_every_bad_code_gets_the_same_answer_and_opens_nothing(invite_mode, inviter):
    codes = _bad_codes(inviter, UserFactory(invites=1))
    answers = {}
    for n, (kind, code) in enumerate(codes.items()):
        response = _register(code, username=f"guess{n}", ip=f"198.51.100.{n + 1}")
        assert response.status_code == 422, kind
        answers[kind] = _error(response)
        assert not User.objects.filter(username=f"guess{n}").exists()
    same = {"code": "VALIDATION_ERROR", "message": "Validation failed", "details": {"invite": [INVITE_INVALID]}}
    assert all(answer == same for answer in answers.values()), answers
    assert Invite.objects.filter(used_at__isnull=False).count() == 1  # the one used above, by "first"


def test_a_code_opens_one_account_only(invite_mode, inviter):
    code = _code(inviter)
    assert _register(code, username="first").status_code == 201
    again = _register(code, username="second")
    assert again.status_code == 422
    assert _error(again)["details"] == {"invite": [INVITE_INVALID]}
    assert list(inviter.invitees.values_list("username", flat=True)) == ["first"]


def test_a_code_works_until_it_expires(invite_mode, inviter, settings):
    settings.INVITE_EXPIRY_DAYS = 2
    before = timezone.now()
    code = _code(inviter)
    invite = Invite.objects.get(code_hash=invite_code_hash(code))
    assert before + timedelta(days=2) <= invite.expires_at <= timezone.now() + timedelta(days=2)
    Invite.objects.filter(pk=invite.pk).update(expires_at=timezone.now() + timedelta(seconds=30))
    assert _register(code).status_code == 201


def test_a_registration_refused_for_another_reason_leaves_the_code_unused(invite_mode, inviter, user):
    code = _code(inviter)
    taken = _register(code, username=user.username.upper())
    assert taken.status_code == 409
    body = {"username": "fresh", "email": "f@example.test", "password": "123", "invite": code}
    weak = APIClient().post("/api/register", body, format="json")
    assert weak.status_code == 422 and "password" in _error(weak)["details"]
    assert Invite.objects.get(code_hash=invite_code_hash(code)).used_at is None
    assert _register(code, username="fresh").status_code == 201


# --- Sending ------------------------------------------------------------------------------------------------


def test_sending_an_invite_spends_one_mails_the_link_and_shows_the_code_once(inviter_client, inviter, settings):
    response = inviter_client.post("/api/me/invites", {"email": "Friend@Example.TEST"}, format="json")
    assert response.status_code == 201
    assert response["Cache-Control"].startswith("max-age=0") and "no-store" in response["Cache-Control"]
    data = response.json()["data"]
    code = data["code"]
    assert code.startswith("tpi_") and len(code) == 36
    assert data["link"] == f"{settings.TRACKER_ANNOUNCE_URL}/register/?invite={code}"
    assert (data["state"], data["email"], data["emailed"], data["invites_left"]) == ("pending", "Friend@example.test", True, 2)
    row = Invite.objects.get(pk=data["id"])
    assert row.code_hash == invite_code_hash(code) and code not in str(row.__dict__)
    assert (row.inviter_id, row.used_by_id) == (inviter.pk, None)
    inviter.refresh_from_db()
    assert inviter.invites == 2
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["Friend@example.test"]
    assert inviter.username in message.subject
    assert data["link"] in message.body
    assert inviter_client.get("/api/me").json()["data"]["invites"] == 2


def test_the_link_uses_site_url_when_it_is_set(inviter_client, settings):
    settings.SITE_URL = "https://tracker.example.org"
    data = inviter_client.post("/api/me/invites", {"email": "a@example.test"}, format="json").json()["data"]
    assert data["link"] == f"https://tracker.example.org/register/?invite={data['code']}"


def test_a_member_without_invites_left_is_refused(user_client, user):
    response = user_client.post("/api/me/invites", {"email": "friend@example.test"}, format="json")
    assert response.status_code == 409
    assert _error(response) == {"code": "INSUFFICIENT_INVITES", "message": "You have no invites left.", "details": {}}
    assert not Invite.objects.exists() and mail.outbox == []


def test_staff_invite_without_spending_unless_the_setting_says_otherwise(moderator_client, moderator, settings):
    for n in range(3):
        assert moderator_client.post("/api/me/invites", {"email": f"f{n}@example.test"}, format="json").status_code == 201
    moderator.refresh_from_db()
    assert moderator.invites == 0
    assert moderator_client.get("/api/me").json()["data"]["invites_unlimited"] is True
    settings.INVITES_UNLIMITED_FOR_STAFF = False
    response = moderator_client.post("/api/me/invites", {"email": "f9@example.test"}, format="json")
    assert response.status_code == 409 and _error(response)["code"] == "INSUFFICIENT_INVITES"


def test_no_invites_are_sent_while_registration_is_closed(inviter_client, inviter, settings):
    settings.REGISTRATION_MODE = "closed"
    response = inviter_client.post("/api/me/invites", {"email": "friend@example.test"}, format="json")
    assert response.status_code == 403
    inviter.refresh_from_db()
    assert inviter.invites == 3 and not Invite.objects.exists()


def test_a_mail_server_that_is_down_does_not_undo_the_invite_nor_log_its_code(inviter_client, inviter, settings, caplog):
    mail_server_down(settings)
    with caplog.at_level(logging.DEBUG):
        response = inviter_client.post("/api/me/invites", {"email": "friend@example.test"}, format="json")
    assert response.status_code == 201
    data = response.json()["data"]
    assert data["emailed"] is False
    assert Invite.objects.filter(pk=data["id"]).exists()
    warnings = [r for r in caplog.records if r.name == "accounts" and r.levelno == logging.WARNING]
    assert len(warnings) == 1 and f"invite {data['id']}" in warnings[0].getMessage()
    assert data["code"] not in caplog.text and "friend@example.test" not in caplog.text
    assert _register(data["code"], username="viaphone").status_code == 201  # passed on by hand


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"email": ""},
        {"email": "not-an-address"},
        {"email": "a\x00b@example.test"},
        {"email": "x" * 300 + "@example.test"},
        {"email": ["a@example.test", "b@example.test"]},
        {"email": {"$gt": ""}},
        {"email": 12},
    ],
)
def test_a_bad_address_is_422_and_spends_nothing(inviter_client, inviter, body):
    response = inviter_client.post("/api/me/invites", body, format="json")
    assert response.status_code == 422
    assert "email" in _error(response)["details"]
    inviter.refresh_from_db()
    assert inviter.invites == 3


@pytest.mark.parametrize(
    "invite",
    ["x" * 10_000, "tpi_\x00abc", ["tpi_a", "tpi_b"], {"code": "tpi_a"}, 12345, True, "tpi_" + "\u202e" * 32],
)
def test_hostile_invite_fields_are_422_never_500(invite_mode, invite):
    body = {"username": "newbie", "email": "n@example.test", "password": NEW_PASSWORD, "invite": invite}
    response = APIClient().post("/api/register", body, format="json")
    assert response.status_code == 422, response.content
    assert "invite" in _error(response)["details"]
    assert not User.objects.filter(username="newbie").exists()


def test_api_keys_may_not_send_or_revoke_invites(inviter, inviter_client):
    key = api_key_create(user=inviter, name="tool", scopes=["read", "upload"])[1]
    keyed = APIClient()
    keyed.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert keyed.post("/api/me/invites", {"email": "a@example.test"}, format="json").status_code == 403
    pk = inviter_client.post("/api/me/invites", {"email": "a@example.test"}, format="json").json()["data"]["id"]
    assert keyed.delete(f"/api/me/invites/{pk}").status_code == 403
    assert keyed.get("/api/me/invites").status_code == 200  # reading, with the read scope


def test_guests_may_not_send_invites(api_client):
    assert api_client.post("/api/me/invites", {"email": "a@example.test"}, format="json").status_code == 401
    assert api_client.get("/api/me/invites").status_code == 401


# --- Listing --------------------------------------------------------------------------------------------------


def test_the_list_shows_each_state_and_the_invitee_never_a_code(invite_mode, inviter, inviter_client):
    codes = [_code(inviter, f"f{n}@example.test") for n in range(3)]
    UserFactory(invites=5)  # someone else's invites are not in the list
    assert _register(codes[0], username="joined").status_code == 201
    Invite.objects.filter(code_hash=invite_code_hash(codes[1])).update(expires_at=timezone.now() - timedelta(hours=1))
    User.objects.filter(pk=inviter.pk).update(invites=1)
    inviter.refresh_from_db()
    pending = _code(inviter, "f3@example.test")
    revoked = Invite.objects.get(code_hash=invite_code_hash(pending))
    assert inviter_client.delete(f"/api/me/invites/{revoked.pk}").status_code == 204
    response = inviter_client.get("/api/me/invites")
    assert response.status_code == 200
    body = response.json()
    assert body["meta"] == {"current_page": 1, "per_page": 50, "total": 4, "total_pages": 1}
    states = {row["email"]: (row["state"], row["used_by"]) for row in body["data"]}
    assert states == {
        "f0@example.test": ("used", "joined"),
        "f1@example.test": ("expired", None),
        "f2@example.test": ("pending", None),
        "f3@example.test": ("revoked", None),
    }
    text = response.content.decode()
    assert all(code not in text for code in [*codes, pending]) and "code" not in body["data"][0]
    for state, email in [("used", "f0"), ("expired", "f1"), ("pending", "f2"), ("revoked", "f3")]:
        only = inviter_client.get(f"/api/me/invites?state={state}").json()["data"]
        assert [row["email"] for row in only] == [f"{email}@example.test"], state
    paged = inviter_client.get("/api/me/invites?per_page=1&page=2&sort=created_at&order=asc").json()
    assert [row["email"] for row in paged["data"]] == ["f1@example.test"] and paged["meta"]["total_pages"] == 4


@pytest.mark.parametrize("query", ["state=lost", "sort=code_hash", "order=up", "page=0", "per_page=x", "page=99999999999999999999"])
def test_a_bad_list_query_is_422(inviter_client, query):
    response = inviter_client.get(f"/api/me/invites?{query}")
    assert response.status_code == 422
    assert _error(response)["code"] == "VALIDATION_ERROR"


# --- Revoking -------------------------------------------------------------------------------------------------


def test_revoking_stops_the_code_and_gives_the_invite_back_once(invite_mode, inviter, inviter_client):
    code = _code(inviter)
    invite = Invite.objects.get(code_hash=invite_code_hash(code))
    assert inviter_client.delete(f"/api/me/invites/{invite.pk}").status_code == 204
    assert inviter_client.delete(f"/api/me/invites/{invite.pk}/").status_code == 204  # twice: nothing more
    inviter.refresh_from_db()
    assert inviter.invites == 3
    refused = _register(code)
    assert refused.status_code == 422 and _error(refused)["details"] == {"invite": [INVITE_INVALID]}


def test_an_expired_invite_may_be_revoked_to_get_it_back(inviter, inviter_client):
    code = _code(inviter)
    Invite.objects.filter(code_hash=invite_code_hash(code)).update(expires_at=timezone.now() - timedelta(days=1))
    pk = Invite.objects.get(code_hash=invite_code_hash(code)).pk
    assert inviter_client.delete(f"/api/me/invites/{pk}").status_code == 204
    inviter.refresh_from_db()
    assert inviter.invites == 3


def test_someone_elses_invite_is_404_and_a_used_one_409(inviter, inviter_client, user_client):
    theirs = Invite.objects.get(code_hash=invite_code_hash(_code(inviter)))
    response = user_client.delete(f"/api/me/invites/{theirs.pk}")
    assert response.status_code == 404 and _error(response)["code"] == "NOT_FOUND"
    theirs.refresh_from_db()
    assert theirs.revoked_at is None
    used = _code(inviter, "used@example.test")
    assert _register(used).status_code == 201
    used_pk = Invite.objects.get(code_hash=invite_code_hash(used)).pk
    conflict = inviter_client.delete(f"/api/me/invites/{used_pk}")
    assert conflict.status_code == 409 and _error(conflict)["code"] == "CONFLICT"
    for pk in ["999999", "0", "99999999999999999999"]:
        assert inviter_client.delete(f"/api/me/invites/{pk}").status_code == 404
    assert inviter_client.delete("/api/me/invites/abc").status_code == 404


def test_staff_revoking_get_nothing_back(moderator, moderator_client):
    pk = moderator_client.post("/api/me/invites", {"email": "a@example.test"}, format="json").json()["data"]["id"]
    assert moderator_client.delete(f"/api/me/invites/{pk}").status_code == 204
    moderator.refresh_from_db()
    assert moderator.invites == 0


# --- Guessing ---------------------------------------------------------------------------------------------------


def test_guessing_codes_is_throttled_per_ip_and_good_codes_do_not_count(invite_mode, inviter, settings):
    settings.INVITE_FAILURE_LIMIT = 3
    for n in range(3):  # good codes from one address: never held against it
        assert _register(_code(inviter, f"ok{n}@example.test"), username=f"good{n}", ip="192.0.2.1").status_code == 201
    for n in range(3):
        assert _register(f"tpi_guess{n}", username=f"bad{n}", ip="192.0.2.1").status_code == 422
    User.objects.filter(pk=inviter.pk).update(invites=1)
    inviter.refresh_from_db()
    good = _code(inviter, "late@example.test")
    held = _register(good, username="held", ip="192.0.2.1")
    assert held.status_code == 429
    assert _error(held)["code"] == "RATE_LIMIT_EXCEEDED"
    assert 1 <= int(held["Retry-After"]) <= 60
    assert not User.objects.filter(username="held").exists()  # not even a good code is checked now
    assert _register(good, username="elsewhere", ip="192.0.2.2").status_code == 201  # another address is not held


@pytest.mark.django_db(transaction=True)
def test_parallel_guesses_get_at_most_the_limit_of_checks(postgres_only, invite_mode, settings):
    settings.INVITE_FAILURE_LIMIT = 3
    results = released_together(8, lambda i: _register(f"tpi_guess{i}", username=f"guess{i}", ip="192.0.2.7").status_code)
    assert sorted(results) == [422] * 3 + [429] * 5


# --- Races ----------------------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_invites_sent_at_once_spend_exactly_the_invites_left(postgres_only):
    sender = UserFactory(invites=3)
    results = released_together(8, lambda i: invite_create(inviter=sender, email=f"f{i}@example.test"), raise_errors=False)
    assert sorted(type(r).__name__ for r in results) == ["NewInvite"] * 3 + ["NoInvitesLeft"] * 5
    sender.refresh_from_db()
    assert sender.invites == 0
    assert Invite.objects.filter(inviter=sender).count() == 3


@pytest.mark.django_db(transaction=True)
def test_one_code_used_by_two_registrations_at_once_opens_one_account(postgres_only, invite_mode):
    code = _code(UserFactory(invites=1))
    statuses = released_together(4, lambda i: _register(code, username=f"racer{i}", ip=f"198.51.100.{i + 1}").status_code)
    assert sorted(statuses) == [201, 422, 422, 422]
    assert User.objects.filter(username__startswith="racer").count() == 1
    invite = Invite.objects.get(code_hash=invite_code_hash(code))
    assert invite.used_by is not None and invite.used_by.username.startswith("racer")


@pytest.mark.django_db(transaction=True)
def test_a_revocation_racing_a_registration_leaves_one_outcome(postgres_only, invite_mode):
    sender = UserFactory(invites=1)
    code = _code(sender)
    pk = Invite.objects.get(code_hash=invite_code_hash(code)).pk
    client = bearer(APIClient(), sender)

    def act(i: int) -> int:
        return _register(code).status_code if i == 0 else client.delete(f"/api/me/invites/{pk}").status_code

    registered, revoked = released_together(2, act)
    sender.refresh_from_db()
    invite = Invite.objects.get(pk=pk)
    if registered == 201:
        assert revoked == 409 and invite.revoked_at is None and sender.invites == 0
    else:
        assert (registered, revoked) == (422, 204) and invite.used_at is None and sender.invites == 1
        assert not User.objects.filter(username="newbie").exists()


# --- Admins grant --------------------------------------------------------------------------------------------------


def test_admins_grant_invites_and_members_may_not(admin_client_api, admin_user, user, user_client):
    response = admin_client_api.patch(f"/api/users/{user.pk}", {"invites": 5}, format="json")
    assert response.status_code == 200
    assert response.json()["data"]["invites"] == 5
    user.refresh_from_db()
    assert user.invites == 5
    refused = user_client.patch(f"/api/users/{user.pk}", {"invites": 50}, format="json")
    assert refused.status_code == 403
    assert admin_client_api.patch(f"/api/users/{admin_user.pk}", {"invites": 50}, format="json").status_code == 403
    for bad in [-1, 10_001, "many", None, [3]]:
        assert admin_client_api.patch(f"/api/users/{user.pk}", {"invites": bad}, format="json").status_code == 422, bad
    user.refresh_from_db()
    assert user.invites == 5


def test_operators_grant_invites_on_the_member_form_and_it_is_audited(client, admin_user, inviter):
    client.force_login(admin_user)
    response = client.post(f"/admin/accounts/user/{inviter.pk}/change/", _admin_form(inviter, invites=10))
    assert response.status_code == 302, response.content.decode()[:2000]
    inviter.refresh_from_db()
    assert inviter.invites == 10
    change = PolicyChange.objects.get()
    assert (change.target, change.actor, change.changes) == (f"member {inviter.username}", admin_user, {"invites": [3, 10]})
    assert client.post(f"/admin/accounts/user/{inviter.pk}/change/", _admin_form(inviter, invites=-1)).status_code == 200  # refused
    inviter.refresh_from_db()
    assert inviter.invites == 10


def test_an_operator_cannot_give_themselves_invites(client):
    operator = UserFactory(role="moderator", is_staff=True)
    operator.user_permissions.set(Permission.objects.filter(content_type__app_label="accounts", content_type__model="user"))
    client.force_login(operator)
    assert 'name="invites"' not in client.get(f"/admin/accounts/user/{operator.pk}/change/").content.decode()
    client.post(f"/admin/accounts/user/{operator.pk}/change/", _admin_form(operator, invites=50))
    operator.refresh_from_db()
    assert operator.invites == 0


def test_the_user_admin_edits_invites_and_lists_invites_by_state(client, admin_user, inviter):
    client.force_login(admin_user)
    page = client.get(f"/admin/accounts/user/{inviter.pk}/change/")
    assert page.status_code == 200 and 'name="invites"' in page.content.decode()
    used, pending = _code(inviter, "used@example.test"), _code(inviter, "pending@example.test")
    assert _register(used).status_code == 201
    listing = client.get("/admin/accounts/invite/?state=pending")
    assert listing.status_code == 200
    html = listing.content.decode()
    assert "pending@example.test" in html and "used@example.test" not in html and pending not in html
    for state in ["used", "revoked", "expired"]:
        assert client.get(f"/admin/accounts/invite/?state={state}").status_code == 200
    invite = Invite.objects.get(code_hash=invite_code_hash(pending))
    client.post("/admin/accounts/invite/", {"action": "revoke_invites", "_selected_action": [invite.pk]})
    invite.refresh_from_db()
    inviter.refresh_from_db()
    assert invite.revoked_at is not None and inviter.invites == 2  # 3, two sent, one given back


# --- GET /api/me -------------------------------------------------------------------------------------------------


def test_me_says_invites_left_and_who_invited_me(invite_mode, inviter, inviter_client):
    assert _register(_code(inviter)).status_code == 201
    me = inviter_client.get("/api/me").json()["data"]
    assert (me["invites"], me["invites_unlimited"], me["invited_by"]) == (2, False, None)
    newbie = User.objects.get(username="newbie")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {_token(newbie)}")
    assert client.get("/api/me").json()["data"]["invited_by"] == inviter.username


def _token(user: User) -> str:
    response = APIClient().post("/api/login", {"username": user.username, "password": NEW_PASSWORD}, format="json")
    return str(response.json()["data"]["token"])


# --- The tree -------------------------------------------------------------------------------------------------------


def _family(root: User, *, children: int = 2, grandchildren: int = 2) -> list[User]:
    """`children` invitees of `root`, each with `grandchildren` of their own."""
    made = []
    for c in range(children):
        child = UserFactory(invited_by=root, uploaded=100, downloaded=200 if c == 0 else 0)
        made.append(child)
        for _g in range(grandchildren):
            made.append(UserFactory(invited_by=child, uploaded=50, downloaded=100))
    return made


def test_moderators_see_the_tree_with_each_branchs_standing(moderator_client):
    grandparent = UserFactory(username="grandpa")
    root = UserFactory(username="root", invited_by=grandparent, uploaded=1000, downloaded=500)
    _family(root)
    cheater = User.objects.filter(invited_by__invited_by=root).order_by("id").first()
    User.objects.filter(pk=cheater.pk).update(is_banned=True, ratio_watch_since=timezone.now())
    response = moderator_client.get(f"/api/users/{root.pk}/invitees")
    assert response.status_code == 200
    data = response.json()["data"]
    assert (data["invited_by"], data["nodes"], data["truncated"], data["max_depth"], data["max_nodes"]) == ("grandpa", 7, False, 10, 1000)
    top = data["root"]
    assert (top["username"], top["depth"], top["ratio"], top["on_ratio_watch"]) == ("root", 0, 2.0, False)
    assert top["branch"] == {"members": 7, "uploaded": 1400, "downloaded": 1100, "ratio": 1.273, "on_ratio_watch": 1, "banned": 1}
    first, second = top["invitees"]
    assert first["branch"] == {"members": 3, "uploaded": 200, "downloaded": 400, "ratio": 0.5, "on_ratio_watch": 1, "banned": 1}
    assert second["branch"] == {"members": 3, "uploaded": 200, "downloaded": 200, "ratio": 1.0, "on_ratio_watch": 0, "banned": 0}
    assert second["ratio"] is None  # nothing downloaded: no ratio
    banned = first["invitees"][0]
    assert (banned["is_banned"], banned["on_ratio_watch"], banned["depth"], banned["invitees"]) == (True, True, 2, [])
    assert "email" not in top and "passkey" not in response.content.decode()


def test_the_tree_is_for_moderators_only(user_client, api_client, user, moderator_client):
    response = user_client.get(f"/api/users/{user.pk}/invitees")
    assert response.status_code == 403 and _error(response)["code"] == "FORBIDDEN"
    assert api_client.get(f"/api/users/{user.pk}/invitees").status_code == 401
    assert moderator_client.get("/api/users/999999/invitees").status_code == 404
    UserFactory(username="424242")  # the API takes ids only, never a name that looks like one
    assert moderator_client.get("/api/users/424242/invitees").status_code == 404
    assert moderator_client.get("/api/users/99999999999999999999/invitees").status_code == 404


def test_the_tree_reads_one_level_per_query(moderator_client):
    small, large = UserFactory(), UserFactory()
    small_grandchild = _family(small, children=1, grandchildren=1)[-1]
    UserFactory(invited_by=small_grandchild)
    grandchildren = [u for u in _family(large, children=6, grandchildren=5) if u.invited_by_id != large.pk]
    for grandchild in grandchildren[:3]:
        UserFactory.create_batch(4, invited_by=grandchild)  # three levels under both roots: 3 members, or 48
    counts = []
    for root in (small, large):
        with CaptureQueriesContext(connection) as queries:
            assert moderator_client.get(f"/api/users/{root.pk}/invitees").json()["data"]["truncated"] is False
        counts.append(len(queries))
    assert counts[0] == counts[1]  # as many queries for 48 members as for 3
    tree_queries = [q for q in queries.captured_queries if '"invited_by_id" IN (' in q["sql"]]
    assert len(tree_queries) == 4  # one per level below the root, and one that finds nobody under the last


def test_the_tree_stops_at_its_limits_and_says_so(moderator_client, monkeypatch):
    root = UserFactory()
    _family(root, children=3, grandchildren=3)
    monkeypatch.setattr(tree_module, "INVITE_TREE_MAX_NODES", 5)
    data = moderator_client.get(f"/api/users/{root.pk}/invitees").json()["data"]
    assert (data["nodes"], data["truncated"], data["root"]["branch"]["members"]) == (5, True, 5)
    monkeypatch.setattr(tree_module, "INVITE_TREE_MAX_NODES", 1000)
    monkeypatch.setattr(tree_module, "INVITE_TREE_MAX_DEPTH", 1)
    data = moderator_client.get(f"/api/users/{root.pk}/invitees").json()["data"]
    assert (data["nodes"], data["truncated"]) == (4, True)
    assert all(child["invitees"] == [] for child in data["root"]["invitees"])
    monkeypatch.setattr(tree_module, "INVITE_TREE_MAX_DEPTH", 2)
    assert moderator_client.get(f"/api/users/{root.pk}/invitees").json()["data"]["truncated"] is False


def test_a_loop_made_in_the_admin_is_shown_once(moderator_client):
    a = UserFactory()
    b = UserFactory(invited_by=a)
    User.objects.filter(pk=a.pk).update(invited_by=b)
    data = moderator_client.get(f"/api/users/{a.pk}/invitees").json()["data"]
    assert data["nodes"] == 2 and data["root"]["invitees"][0]["invitees"] == []


# --- The store ----------------------------------------------------------------------------------------------------


def _with_points(user: User, points: str) -> None:
    LedgerEntry.objects.create(user=user, amount=Decimal(points), kind=LedgerKind.ADJUST, created_at=timezone.now())
    User.objects.filter(pk=user.pk).update(bonus_points=Decimal(points))


def test_an_invite_bought_with_points_is_added_in_the_same_purchase(invite_mode, user, user_client):
    _with_points(user, "12000")
    items = {item["item"]: item["price"] for item in user_client.get("/api/store").json()["data"]["items"]}
    assert items["invite"] == 5000
    response = user_client.post("/api/store/purchase", {"item": "invite", "quantity": 2}, format="json")
    assert response.status_code == 201
    data = response.json()["data"]
    assert (data["item"], data["quantity"], data["price"], data["balance"], data["invites"]) == ("invite", 2, "10000.00", "2000.00", 2)
    user.refresh_from_db()
    assert (user.invites, user.bonus_points) == (2, Decimal("2000.00"))
    assert LedgerEntry.objects.get(user=user, kind=LedgerKind.INVITE).amount == Decimal("-10000.00")
    assert user_client.get("/api/store").json()["data"]["invites"] == 2
    short = user_client.post("/api/store/purchase", {"item": "invite"}, format="json")
    assert short.status_code == 409 and _error(short)["code"] == "INSUFFICIENT_POINTS"


def test_invites_are_not_sold_unless_registration_is_by_invite(user, user_client, settings):
    _with_points(user, "12000")
    for mode in ("open", "closed"):
        settings.REGISTRATION_MODE = mode
        assert "invite" not in [item["item"] for item in user_client.get("/api/store").json()["data"]["items"]]
        response = user_client.post("/api/store/purchase", {"item": "invite"}, format="json")
        assert response.status_code == 409 and _error(response)["code"] == "CONFLICT"
    user.refresh_from_db()
    assert (user.invites, user.bonus_points) == (0, Decimal("12000.00"))


# --- Secrets stay secret -----------------------------------------------------------------------------------------------


def test_a_code_is_never_logged(invite_mode, inviter, inviter_client, caplog, settings):
    settings.INVITE_FAILURE_LIMIT = 1
    mail_server_down(settings)  # so that the invite's own warning is logged
    with caplog.at_level(logging.DEBUG):
        data = inviter_client.post("/api/me/invites", {"email": "friend@example.test"}, format="json").json()["data"]
        code = data["code"]
        inviter_client.get("/api/me/invites")
        Client().get(f"/register/?invite={code}")
        wrong = code[:-1] + ("y" if code.endswith("x") else "x")  # a code ending in "x" (1 in 64) stayed the right one
        assert _register(wrong, ip="192.0.2.50").status_code == 422
        assert _register(code, ip="192.0.2.50").status_code == 429
        assert _register(code, username="joiner").status_code == 201
        inviter_client.delete(f"/api/me/invites/{data['id']}")
    assert "accounts" in {record.name for record in caplog.records}  # the mail's failure was logged
    assert code not in caplog.text and code[:-1] not in caplog.text


def test_a_registered_member_keeps_the_password_they_chose(invite_mode, inviter):
    assert _register(_code(inviter)).status_code == 201
    assert User.objects.get(username="newbie").check_password(NEW_PASSWORD)
    assert not User.objects.get(username="newbie").check_password(PASSWORD)
