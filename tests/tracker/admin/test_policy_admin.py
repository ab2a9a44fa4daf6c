"""The operators' pages for the site's rules (tracker.admin.policy): the policy, its tables, the members' standing, the trail."""

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.admin.utils import flatten_fieldsets
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import timezone

from accounts.models import User
from tests.factories import UserFactory
from tracker.admin.policy import POLICY_FIELDSETS
from tracker.policy.models import (
    GIB,
    ClientRule,
    HnrWarning,
    LedgerEntry,
    LedgerKind,
    LeechSlotBand,
    PolicyChange,
    RatioBand,
    SiteEvent,
    SitePolicy,
)
from tracker.policy.selectors import site_policy

pytestmark = pytest.mark.django_db

POLICY_URL = "/admin/tracker/sitepolicy/1/change/"
BANDS = (("ratioband", RatioBand, ["min_downloaded", "required_ratio"]), ("leechslotband", LeechSlotBand, ["ratio_below", "slots"]))


def _staff_with(*codenames: str, **fields: Any) -> Client:
    """A client logged in as staff (not a superuser) holding exactly these permissions."""
    user = UserFactory(is_staff=True, **fields)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    client = Client()
    client.force_login(user)
    return client


def _policy_form(**changes: Any) -> dict[str, Any]:
    """What the policy's page posts when saved unchanged (every field, both bands' tables), with `changes` on top."""
    policy = site_policy()
    data: dict[str, Any] = {}
    for name in flatten_fieldsets(POLICY_FIELDSETS):
        value = getattr(policy, name)
        if value is not False:
            data[name] = "on" if value is True else str(value)
    for prefix, model, fields in BANDS:
        rows = list(model.objects.all())
        data |= {f"{prefix}-TOTAL_FORMS": str(len(rows)), f"{prefix}-INITIAL_FORMS": str(len(rows))}
        for i, row in enumerate(rows):
            data[f"{prefix}-{i}-id"] = str(row.pk)
            data |= {f"{prefix}-{i}-{field}": str(getattr(row, field)) for field in fields}
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def _band_added(data: dict[str, Any], prefix: str, **fields: Any) -> dict[str, Any]:
    i = int(data[f"{prefix}-TOTAL_FORMS"])
    data[f"{prefix}-TOTAL_FORMS"] = str(i + 1)
    data |= {f"{prefix}-{i}-{name}": str(value) for name, value in fields.items()}
    return data


# The policy's page


def test_the_policy_list_goes_to_the_one_policys_page(site):
    SitePolicy.objects.all().delete()
    response = site.get("/admin/tracker/sitepolicy/")
    assert response.status_code == 302
    assert response["Location"] == POLICY_URL
    page = site.get(POLICY_URL)
    assert page.status_code == 200
    html = page.content.decode()
    for title in (
        "Ratio standing",
        "Leech slots and peers",
        "Client rules",
        "Hit-and-run",
        "Freeleech tokens",
        "Bonus points and store prices",
    ):
        assert title in html
    assert "Days a member below the required ratio has to recover" in html  # the model's help texts
    assert 'name="ratioband-0-min_downloaded"' in html and 'name="leechslotband-0-slots"' in html
    # one row: no add, no delete
    assert "/admin/tracker/sitepolicy/add/" not in html
    assert site.get("/admin/tracker/sitepolicy/add/").status_code == 403
    assert site.post("/admin/tracker/sitepolicy/1/delete/", {"post": "yes"}).status_code == 403
    assert SitePolicy.objects.count() == 1


def test_saving_the_policy_changes_it_and_writes_before_and_after(site, admin_user):
    response = site.post(POLICY_URL, _policy_form(ratio_watch_days="21", hnr_ratio="1.5", hnr_exempt_uploader=None))
    assert response.status_code == 302, response.content.decode()[:2000]
    policy = SitePolicy.objects.get()
    assert (policy.ratio_watch_days, policy.hnr_ratio, policy.hnr_exempt_uploader) == (21, Decimal("1.50"), False)
    change = PolicyChange.objects.get()
    assert (change.actor, change.action, change.target) == (admin_user, "change", "site policy")
    assert change.changes == {"ratio_watch_days": [14, 21], "hnr_ratio": ["1.00", "1.50"], "hnr_exempt_uploader": [True, False]}


def test_saving_the_policy_unchanged_writes_no_trail(site):
    assert site.post(POLICY_URL, _policy_form()).status_code == 302
    assert not PolicyChange.objects.exists()


def test_bad_blocked_ports_show_the_parsers_message_and_change_nothing(site):
    before = site_policy().blocked_ports
    response = site.post(POLICY_URL, _policy_form(blocked_ports="6881, 70000", ratio_watch_days="30"))
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["blocked_ports"] == ["'70000' is not a range within 1-65535"]
    assert "is not a range within 1-65535" in response.content.decode()
    policy = SitePolicy.objects.get()
    assert (policy.blocked_ports, policy.ratio_watch_days) == (before, 14)
    assert not PolicyChange.objects.exists()


def test_a_band_added_changed_and_deleted_on_the_policy_page_is_audited(site, admin_user):
    data = _band_added(_policy_form(), "ratioband", min_downloaded=100 * GIB, required_ratio="0.75")
    slot = LeechSlotBand.objects.get(ratio_below=Decimal("0.40"))
    i = list(LeechSlotBand.objects.all()).index(slot)
    data[f"leechslotband-{i}-slots"] = "2"
    five = RatioBand.objects.get(min_downloaded=5 * GIB)
    j = list(RatioBand.objects.all()).index(five)
    data[f"ratioband-{j}-DELETE"] = "on"
    response = site.post(POLICY_URL, data)
    assert response.status_code == 302, response.content.decode()[:2000]

    added = RatioBand.objects.get(min_downloaded=100 * GIB)
    assert added.required_ratio == Decimal("0.75")
    assert LeechSlotBand.objects.get(pk=slot.pk).slots == 2
    assert not RatioBand.objects.filter(pk=five.pk).exists()
    trail = {(c.action, c.target): c.changes for c in PolicyChange.objects.filter(actor=admin_user)}
    assert trail[("add", f"ratio band #{added.pk} from 100 GiB: 0.75")] == {
        "min_downloaded": [None, 100 * GIB],
        "required_ratio": [None, "0.75"],
    }
    assert trail[("change", f"leech slot band #{slot.pk} ratio below 0.40: 2 slots")] == {"slots": [1, 2]}
    assert trail[("delete", f"ratio band #{five.pk} from 5 GiB: 0.15")] == {
        "min_downloaded": [5 * GIB, None],
        "required_ratio": ["0.15", None],
    }
    assert len(trail) == 3


def test_a_bad_band_is_refused_with_the_page(site):
    data = _band_added(_policy_form(ratio_watch_days="30"), "ratioband", min_downloaded=5 * GIB, required_ratio="0.9")
    response = site.post(POLICY_URL, data)
    assert response.status_code == 200  # 5 GiB has its band already
    assert RatioBand.objects.filter(min_downloaded=5 * GIB).count() == 1
    assert SitePolicy.objects.get().ratio_watch_days == 14
    assert not PolicyChange.objects.exists()


# Permissions


def test_staff_with_only_the_view_permission_see_the_policy_read_only():
    site_policy()
    client = _staff_with("view_sitepolicy", "view_ratioband", "view_leechslotband")
    assert client.get("/admin/tracker/sitepolicy/").status_code == 302
    page = client.get(POLICY_URL)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="ratio_watch_days"' not in html and 'name="_save"' not in html
    assert client.post(POLICY_URL, _policy_form(ratio_watch_days="30")).status_code == 403
    assert SitePolicy.objects.get().ratio_watch_days == 14
    assert not PolicyChange.objects.exists()


def test_staff_without_permissions_on_the_policy_cannot_open_it():
    site_policy()
    client = _staff_with()
    assert client.get("/admin/tracker/sitepolicy/").status_code == 403
    assert client.get(POLICY_URL).status_code == 403
    assert client.post(POLICY_URL, _policy_form(ratio_watch_days="30")).status_code == 403
    assert SitePolicy.objects.get().ratio_watch_days == 14


def test_staff_who_may_change_the_policy_but_only_view_the_bands_change_no_band():
    site_policy()
    client = _staff_with("view_sitepolicy", "change_sitepolicy", "view_ratioband", "view_leechslotband")
    data = _band_added(_policy_form(ratio_watch_days="30"), "ratioband", min_downloaded=100 * GIB, required_ratio="0.75")
    data["ratioband-1-required_ratio"] = "0.99"
    assert client.post(POLICY_URL, data).status_code == 302
    assert SitePolicy.objects.get().ratio_watch_days == 30
    assert not RatioBand.objects.filter(min_downloaded=100 * GIB).exists()
    assert RatioBand.objects.get(min_downloaded=5 * GIB).required_ratio == Decimal("0.15")
    assert [c.target for c in PolicyChange.objects.all()] == ["site policy"]


# Every page opens


@pytest.mark.parametrize(
    "model",
    [
        "tracker/sitepolicy",
        "tracker/clientrule",
        "tracker/siteevent",
        "tracker/hnrwarning",
        "tracker/ledgerentry",
        "tracker/policychange",
        "accounts/user",
    ],
)
def test_every_list_and_page_opens(site, admin_user, model):
    site_policy()
    member = UserFactory()
    rows = {
        "tracker/clientrule": lambda: ClientRule.objects.first(),
        "tracker/siteevent": lambda: SiteEvent.objects.create(
            kind="freeleech", starts_at=timezone.now(), ends_at=timezone.now() + timedelta(days=1)
        ),
        "tracker/hnrwarning": lambda: _warning(member),
        "tracker/ledgerentry": lambda: LedgerEntry.objects.create(
            user=member, amount=5, kind=LedgerKind.SEEDING, created_at=timezone.now()
        ),
        "tracker/policychange": lambda: PolicyChange.objects.create(
            at=timezone.now(), actor=admin_user, action="change", target="x", changes={"a": [1, 2]}
        ),
        "tracker/sitepolicy": lambda: SitePolicy.objects.get(),
        "accounts/user": lambda: member,
    }
    obj = rows[model]()
    base = f"/admin/{model}/"
    listing = site.get(base, follow=True)
    assert listing.status_code == 200
    assert site.get(f"{base}{obj.pk}/change/").status_code == 200


def test_the_member_page_shows_the_rules_fields(site):
    member = UserFactory(freeleech_tokens=3)
    html = site.get(f"/admin/accounts/user/{member.pk}/change/").content.decode()
    assert 'name="freeleech_until_0"' in html  # editable
    for readonly in ("ratio_watch_since", "freeleech_tokens", "bonus_points"):
        assert f'name="{readonly}"' not in html
        assert f"field-{readonly}" in html


def test_the_ledger_and_the_trail_are_read_only(site, admin_user):
    entry = LedgerEntry.objects.create(user=admin_user, amount=5, kind=LedgerKind.SEEDING, created_at=timezone.now())
    change = PolicyChange.objects.create(at=timezone.now(), actor=admin_user, action="change", target="site policy", changes={"a": [1, 2]})
    for url in ("/admin/tracker/ledgerentry/", "/admin/tracker/policychange/"):
        assert site.get(f"{url}add/").status_code == 403
    assert site.post(f"/admin/tracker/ledgerentry/{entry.pk}/change/", {"amount": "500"}).status_code == 403
    assert site.post(f"/admin/tracker/ledgerentry/{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    assert site.post(f"/admin/tracker/policychange/{change.pk}/delete/", {"post": "yes"}).status_code == 403
    assert LedgerEntry.objects.get().amount == 5 and PolicyChange.objects.count() == 1
    # the trail, pretty-printed
    listing = site.get("/admin/tracker/policychange/?action=change").content.decode()
    assert "a: 1 → 2" in listing
    assert "&quot;a&quot;: [\n    1," in site.get(f"/admin/tracker/policychange/{change.pk}/change/").content.decode()


# Client rules


def _rule(**changes: Any) -> dict[str, Any]:
    data = {"name": "Tixati", "prefix": "TIX", "min_version": "", "max_version": "", "user_agent": "", "allow": "on", "enabled": "on"}
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"min_version": "4.x"}, "min_version", "not a version: '4.x'"),
        ({"max_version": "1..2"}, "max_version", "not a version"),
        ({"user_agent": "Tixati/(\\d+"}, "user_agent", "Not a regular expression: missing ), unterminated subpattern"),
        ({"min_version": "3.1", "max_version": "3.0.9"}, "max_version", "older than the oldest"),
    ],
)
def test_client_rule_validation(site, changes, field, message):
    response = site.post("/admin/tracker/clientrule/add/", _rule(**changes))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert list(errors) == [field] and message in errors[field][0]
    assert not ClientRule.objects.filter(name="Tixati").exists()
    assert not PolicyChange.objects.exists()


def test_a_client_rule_added_and_toggled_in_the_list_is_audited(site, admin_user):
    response = site.post("/admin/tracker/clientrule/add/", _rule(min_version="3.1", max_version="3.1.0", user_agent="^Tixati/"))
    assert response.status_code == 302, response.content.decode()[:2000]
    rule = ClientRule.objects.get(name="Tixati")
    add = PolicyChange.objects.get()
    assert (add.action, add.target) == ("add", f"client rule #{rule.pk} allow Tixati (TIX)")
    assert add.changes["user_agent"] == [None, "^Tixati/"]

    listing = site.get("/admin/tracker/clientrule/")
    assert listing.status_code == 200
    assert "3.1 to 3.1.0" in listing.content.decode()
    rules = list(listing.context["cl"].result_list)
    data: dict[str, Any] = {"form-TOTAL_FORMS": str(len(rules)), "form-INITIAL_FORMS": str(len(rules)), "_save": "Save"}
    for i, row in enumerate(rules):
        data[f"form-{i}-id"] = str(row.pk)
        if row.enabled and row.pk != rule.pk:
            data[f"form-{i}-enabled"] = "on"
    assert site.post("/admin/tracker/clientrule/", data).status_code == 302
    assert not ClientRule.objects.get(pk=rule.pk).enabled
    toggled = PolicyChange.objects.exclude(pk=add.pk).get()
    assert (toggled.action, toggled.actor, toggled.changes) == ("change", admin_user, {"enabled": [True, False]})


def test_a_client_rule_deleted_is_audited_with_what_it_held(site, admin_user):
    site_policy()
    rule = ClientRule.objects.create(name="Old", prefix="-OL", max_version="1.0", allow=False)
    assert site.post(f"/admin/tracker/clientrule/{rule.pk}/delete/", {"post": "yes"}).status_code == 302
    assert not ClientRule.objects.filter(pk=rule.pk).exists()
    change = PolicyChange.objects.get()
    assert (change.action, change.target, change.actor) == ("delete", f"client rule #{rule.pk} deny Old (-OL)", admin_user)
    assert change.changes["max_version"] == ["1.0", None] and change.changes["allow"] == [False, None]


# Site events


def test_an_event_added_records_who_created_it_and_shows_whether_it_is_on(site, admin_user):
    today = timezone.localtime()
    data = {
        "kind": "double_upload",
        "starts_at_0": (today - timedelta(days=1)).strftime("%Y-%m-%d"),
        "starts_at_1": "00:00:00",
        "ends_at_0": (today + timedelta(days=2)).strftime("%Y-%m-%d"),
        "ends_at_1": "00:00:00",
        "note": "anniversary",
        "created_by": str(UserFactory().pk),  # not a field of the form: ignored
    }
    response = site.post("/admin/tracker/siteevent/add/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    event = SiteEvent.objects.get()
    assert event.created_by == admin_user
    assert PolicyChange.objects.get().changes["created_by"] == [None, admin_user.pk]
    SiteEvent.objects.create(kind="freeleech", starts_at=today + timedelta(days=5), ends_at=today + timedelta(days=6), note="later")

    now = site.get("/admin/tracker/siteevent/?when=now")
    assert [e.note for e in now.context["cl"].result_list] == ["anniversary"]
    assert 'alt="True"' in now.content.decode()
    later = site.get("/admin/tracker/siteevent/?when=upcoming")
    assert [e.note for e in later.context["cl"].result_list] == ["later"]
    assert 'alt="False"' in later.content.decode()


def test_an_event_ending_before_it_starts_is_refused(site):
    data = {"kind": "freeleech", "starts_at_0": "2026-05-02", "starts_at_1": "00:00:00", "ends_at_0": "2026-05-01", "ends_at_1": "00:00:00"}
    response = site.post("/admin/tracker/siteevent/add/", data)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    assert not SiteEvent.objects.exists()


# Hit-and-run warnings


def _warning(user: User, **fields: Any) -> HnrWarning:
    now = timezone.now()
    fields = {"torrent_name": "some.iso", "created_at": now, "expires_at": now + timedelta(days=30), **fields}
    return HnrWarning.objects.create(user=user, **fields)


def test_clearing_warnings_asks_a_reason_then_clears_and_audits(site, admin_user):
    member = UserFactory(username="leecher")
    first, second = _warning(member), _warning(member, torrent_name="other.iso")
    data = {"action": "clear_warnings", "_selected_action": [str(first.pk), str(second.pk)]}
    page = site.post("/admin/tracker/hnrwarning/", {**data, "index": "0"})
    assert page.status_code == 200
    assert 'name="reason"' in page.content.decode()
    assert not HnrWarning.objects.filter(cleared_at__isnull=False).exists()

    refused = site.post("/admin/tracker/hnrwarning/", {**data, "apply": "1", "reason": ""})
    assert refused.status_code == 200 and refused.context["form"].errors == {"reason": ["This field is required."]}
    assert not HnrWarning.objects.filter(cleared_at__isnull=False).exists()

    assert site.post("/admin/tracker/hnrwarning/", {**data, "apply": "1", "reason": "seeded elsewhere"}).status_code == 302
    for warning in HnrWarning.objects.all():
        assert (warning.cleared_by, warning.cleared_reason) == (admin_user, "seeded elsewhere")
        assert warning.cleared_at is not None
    trail = PolicyChange.objects.filter(actor=admin_user)
    assert trail.count() == 2
    assert {c.reason for c in trail} == {"seeded elsewhere"}
    assert all("leecher" in c.target for c in trail)
    assert [w.pk for w in site.get("/admin/tracker/hnrwarning/?state=cleared").context["cl"].result_list] == [second.pk, first.pk]
    assert not site.get("/admin/tracker/hnrwarning/?state=active").context["cl"].result_list


def test_warnings_are_searched_by_username_and_never_added_edited_or_deleted(site):
    alice, _ = _warning(UserFactory(username="alice")), _warning(UserFactory(username="bob"))
    found = site.get("/admin/tracker/hnrwarning/?q=alice").context["cl"].result_list
    assert [w.user.username for w in found] == ["alice"]
    assert site.get("/admin/tracker/hnrwarning/add/").status_code == 403
    page = site.get(f"/admin/tracker/hnrwarning/{alice.pk}/change/")
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    assert site.post(f"/admin/tracker/hnrwarning/{alice.pk}/change/", {"cleared_reason": "x"}).status_code == 403
    assert site.post(f"/admin/tracker/hnrwarning/{alice.pk}/delete/", {"post": "yes"}).status_code == 403
    assert HnrWarning.objects.filter(cleared_reason="").count() == 2


def test_staff_who_is_not_a_moderator_clears_no_warning():
    warning = _warning(UserFactory())
    client = _staff_with("view_hnrwarning", "change_hnrwarning", role="user")
    data = {"action": "clear_warnings", "_selected_action": [str(warning.pk)], "apply": "1", "reason": "because"}
    response = client.post("/admin/tracker/hnrwarning/", data, follow=True)
    assert "Only moderators" in response.content.decode()
    assert HnrWarning.objects.get().cleared_at is None
    assert not PolicyChange.objects.exists()


# Members: tokens, points, personal freeleech


def _act(client: Client, action: str, members: list[User], **form: Any) -> Any:
    data = {"action": action, "_selected_action": [str(m.pk) for m in members], **form}
    return client.post("/admin/accounts/user/", data, follow=True)


def test_granting_tokens_asks_a_number_and_a_reason_then_adds_them(site, admin_user):
    alice, bob = UserFactory(username="alice", freeleech_tokens=2), UserFactory(username="bob")
    page = _act(site, "grant_tokens", [alice, bob], index="0")
    assert 'name="count"' in page.content.decode() and 'name="reason"' in page.content.decode()
    assert _act(site, "grant_tokens", [alice, bob], apply="1", count="0", reason="x").context["form"].errors["count"]
    assert User.objects.get(pk=alice.pk).freeleech_tokens == 2

    _act(site, "grant_tokens", [alice, bob], apply="1", count="3", reason="contest winners")
    assert (User.objects.get(pk=alice.pk).freeleech_tokens, User.objects.get(pk=bob.pk).freeleech_tokens) == (5, 3)
    trail = {c.target: c for c in PolicyChange.objects.all()}
    assert trail["member alice"].changes == {"freeleech_tokens": [2, 5]}
    assert trail["member bob"].changes == {"freeleech_tokens": [0, 3]}
    assert (trail["member alice"].action, trail["member alice"].actor, trail["member alice"].reason) == (
        "tokens_grant",
        admin_user,
        "contest winners",
    )


def test_an_operator_grants_no_tokens_to_themselves_nor_to_a_superuser():
    client = _staff_with("view_user", "change_user", username="operator", role="moderator")
    operator = User.objects.get(username="operator")
    superuser, member = UserFactory(is_staff=True, is_superuser=True), UserFactory()
    response = _act(client, "grant_tokens", [operator, superuser, member], apply="1", count="5", reason="mine")
    assert "Your own account left unchanged" in response.content.decode()
    tokens = dict(User.objects.values_list("pk", "freeleech_tokens"))
    assert (tokens[operator.pk], tokens[superuser.pk], tokens[member.pk]) == (0, 0, 5)
    assert PolicyChange.objects.count() == 1


def test_adjusting_points_goes_through_the_ledger_and_the_trail(site, admin_user):
    member = UserFactory(username="carol")
    page = _act(site, "adjust_points", [member], index="0")
    assert 'name="amount"' in page.content.decode()

    _act(site, "adjust_points", [member], apply="1", amount="250.50", reason="bug bounty")
    assert User.objects.get(pk=member.pk).bonus_points == Decimal("250.50")
    entry = LedgerEntry.objects.get(user=member)
    assert (entry.amount, entry.kind, entry.created_by, entry.note) == (Decimal("250.50"), LedgerKind.ADJUST, admin_user, "bug bounty")
    change = PolicyChange.objects.get()
    assert (change.target, change.changes, change.reason) == ("member carol", {"bonus_points": ["0.00", "250.50"]}, "bug bounty")

    # below a balance of 0: refused with the service's message, nothing written
    response = _act(site, "adjust_points", [member], apply="1", amount="-300", reason="oops")
    assert "may not go below 0" in response.content.decode()
    assert User.objects.get(pk=member.pk).bonus_points == Decimal("250.50")
    assert LedgerEntry.objects.filter(user=member).count() == 1 and PolicyChange.objects.count() == 1


def test_personal_freeleech_set_on_the_member_page_is_audited(site, admin_user):
    from tests.accounts.test_admin_privileges import _form

    member = UserFactory(username="dave")
    form = _form(member, freeleech_until_0="2030-01-02", freeleech_until_1="03:04:05")
    response = site.post(f"/admin/accounts/user/{member.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    member.refresh_from_db()
    assert member.freeleech_until is not None and member.freeleech_until.year == 2030
    change = PolicyChange.objects.get()
    assert (change.target, change.actor, list(change.changes)) == ("member dave", admin_user, ["freeleech_until"])
    assert change.changes["freeleech_until"][0] is None

    # an unrelated change of the member writes no trail
    assert site.post(f"/admin/accounts/user/{member.pk}/change/", {**form, "email": "new@example.test"}).status_code == 302
    assert PolicyChange.objects.count() == 1


def test_an_operator_cannot_give_themselves_personal_freeleech():
    client = _staff_with("view_user", "change_user", username="operator2", role="moderator")
    operator = User.objects.get(username="operator2")
    from tests.accounts.test_admin_privileges import _form

    client.post(
        f"/admin/accounts/user/{operator.pk}/change/", _form(operator, freeleech_until_0="2030-01-02", freeleech_until_1="00:00:00")
    )
    assert User.objects.get(pk=operator.pk).freeleech_until is None
    assert not PolicyChange.objects.exists()
