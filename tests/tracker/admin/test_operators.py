"""Issue 15, the operators' admin: human units, the site's name, and actions that confirm what they did and keep why."""

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from tests.factories import TorrentFactory, UserFactory
from tests.tracker.announce.helpers import announce, peer_id
from tracker.models import Torrent, TorrentStatus, TorrentStatusChange
from tracker.policy.models import PolicyChange

pytestmark = pytest.mark.django_db

GIB = 1024**3


def _act(client: Client, path: str, action: str, objs: list[Any], **form: Any) -> Any:
    data = {"action": action, "_selected_action": [str(o.pk) for o in objs], **form}
    return client.post(path, data, follow=True)


def _messages(response: Any) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_the_admin_carries_the_sites_name(site):
    body = site.get("/admin/").content.decode()
    assert "<title>TorrentPier administration | TorrentPier administration</title>" in body
    assert "Django administration" not in body and "Site administration" not in body


def test_the_torrent_list_shows_sizes_in_binary_units_and_useful_columns_first(site):
    TorrentFactory(name="big.iso", size=int(1.5 * GIB))
    response = site.get("/admin/tracker/torrent/")
    assert response.status_code == 200
    assert "1.5 GiB" in response.content.decode()
    headers = [str(h["text"]).lower() for h in response.context["result_headers"]][1:]  # after the checkbox
    assert headers[:6] == ["name", "status", "size", "seeders", "leechers", "completed"]


def test_a_torrent_links_to_its_page_on_the_site(site, torrent):
    assert torrent.get_absolute_url() == reverse("web:torrent", args=[torrent.pk]) == f"/torrents/{torrent.pk}/"
    body = site.get(f"/admin/tracker/torrent/{torrent.pk}/change/").content.decode()
    link = re.search(r'href="(/admin/r/\d+/\d+/)" class="viewsitelink"', body)
    assert link, "no View on site link"
    assert site.get(link.group(1))["Location"].endswith(f"/torrents/{torrent.pk}/")


def test_the_peer_list_shows_client_progress_and_traffic(site, admin_user):
    torrent = TorrentFactory(name="swarmed", size=1000)
    announce(Client(), admin_user.passkey, torrent.info_hash, peer_id(1), left=250, uploaded=3 * GIB, downloaded=2048)
    body = site.get("/admin/tracker/peer/").content.decode()
    assert "qBittorrent 4.6.5" in body
    assert "75%" in body
    assert "3.0 GiB" in body and "2.0 KiB" in body
    snatches = site.get("/admin/tracker/snatch/")
    assert snatches.status_code == 200 and "swarmed" in snatches.content.decode()


def test_a_status_change_says_what_changed():
    moderator = UserFactory(username="alice")
    change = TorrentStatusChange.objects.create(
        torrent=TorrentFactory(), moderator=moderator, old_status="approved", new_status="closed", reason="duplicate"
    )
    assert str(change) == "Approved → Closed by alice: duplicate"
    change.reason, change.moderator = "", None
    assert str(change) == "Approved → Closed by someone"


def test_a_status_action_asks_a_reason_and_keeps_it_with_who_and_when(site, admin_user):
    first, second = TorrentFactory(status=TorrentStatus.NOT_APPROVED), TorrentFactory(status=TorrentStatus.NOT_APPROVED)
    page = _act(site, "/admin/tracker/torrent/", "approve", [first, second], index="0")
    assert page.status_code == 200 and 'name="reason"' in page.content.decode()
    assert not TorrentStatusChange.objects.exists()

    refused = _act(site, "/admin/tracker/torrent/", "approve", [first, second], apply="1", reason="")
    assert refused.context["form"].errors == {"reason": ["This field is required."]}
    assert set(Torrent.objects.values_list("status", flat=True)) == {TorrentStatus.NOT_APPROVED}

    done = _act(site, "/admin/tracker/torrent/", "approve", [first, second], apply="1", reason="checked the files")
    assert _messages(done) == ["2 torrent(s) set to Approved: checked the files"]
    assert set(Torrent.objects.values_list("status", flat=True)) == {TorrentStatus.APPROVED}
    for change in TorrentStatusChange.objects.all():
        assert (change.moderator, change.reason, change.new_status) == (admin_user, "checked the files", "approved")
        assert change.changed_at is not None
    history = site.get("/admin/tracker/torrentstatuschange/").content.decode()
    assert "checked the files" in history


def test_freeleech_actions_say_how_many_torrents_changed(site):
    torrents = [TorrentFactory(), TorrentFactory()]
    response = _act(site, "/admin/tracker/torrent/", "set_freeleech_gold", torrents)
    assert _messages(response) == ["Freeleech set to Gold (no download counted) on 2 torrent(s)."]
    assert set(Torrent.objects.values_list("freeleech", flat=True)) == {"gold"}


def test_a_ban_asks_a_reason_and_writes_it_to_the_audit_trail(site, admin_user):
    spammer, already = UserFactory(username="spammer"), UserFactory(username="already", is_banned=True)
    page = _act(site, "/admin/accounts/user/", "ban_users", [spammer, already], index="0")
    assert 'name="reason"' in page.content.decode()
    refused = _act(site, "/admin/accounts/user/", "ban_users", [spammer, already], apply="1", reason="")
    assert refused.context["form"].errors == {"reason": ["This field is required."]}
    assert not User.objects.get(pk=spammer.pk).is_banned

    done = _act(site, "/admin/accounts/user/", "ban_users", [spammer, already], apply="1", reason="spam in comments")
    assert _messages(done) == ["1 member(s) banned: spam in comments"]
    assert User.objects.get(pk=spammer.pk).is_banned
    row = PolicyChange.objects.get()
    assert (row.actor, row.action, row.target, row.reason) == (admin_user, "ban", "member spammer", "spam in comments")
    assert row.changes == {"is_banned": [False, True]} and row.at is not None

    lifted = _act(site, "/admin/accounts/user/", "unban_users", [spammer], apply="1", reason="appeal accepted")
    assert _messages(lifted) == ["1 member(s) unbanned: appeal accepted"]
    assert not User.objects.get(pk=spammer.pk).is_banned
    assert PolicyChange.objects.filter(action="unban", reason="appeal accepted", actor=admin_user).count() == 1


@pytest.mark.parametrize(
    ("action", "message"),
    [
        ("reset_passkeys", "2 passkey(s) reset; the old ones stop working now."),
        ("confirm_emails", "2 user(s)' email addresses are confirmed."),
        ("turn_off_two_factor", "Two-factor login is off for 2 user(s); their password alone logs them in."),
    ],
)
def test_member_actions_say_what_they_did(site, action, message):
    members = [UserFactory(), UserFactory()]
    assert _messages(_act(site, "/admin/accounts/user/", action, members)) == [message]


def _member_form(client: Client, member: User, **changes: Any) -> dict[str, Any]:
    """The member's change form as the page fills it, with `changes`."""
    form = client.get(f"/admin/accounts/user/{member.pk}/change/").context["adminform"].form
    data: dict[str, Any] = {}
    for name, field in form.fields.items():
        value = form[name].value()
        if field.disabled or value is None or value is False:
            continue
        data[name] = [str(v) for v in value] if isinstance(value, list | tuple) else str(value)
    data.update({"date_joined_0": member.date_joined.strftime("%Y-%m-%d"), "date_joined_1": member.date_joined.strftime("%H:%M:%S")})
    return {**data, **changes}


def test_a_ban_or_class_change_in_the_form_asks_a_reason_and_audits_it(site, admin_user):
    member = UserFactory(username="bob")
    data = _member_form(site, member, is_banned="on", role="moderator")
    refused = site.post(f"/admin/accounts/user/{member.pk}/change/", data)
    assert refused.status_code == 200
    assert refused.context["adminform"].form.errors == {"standing_reason": ["Say why the member's standing changes."]}
    assert (User.objects.get(pk=member.pk).is_banned, PolicyChange.objects.count()) == (False, 0)

    done = site.post(f"/admin/accounts/user/{member.pk}/change/", {**data, "standing_reason": "sold invites"})
    assert done.status_code == 302
    after = User.objects.get(pk=member.pk)
    assert (after.is_banned, after.role) == (True, "moderator")
    row = PolicyChange.objects.get()
    assert (row.actor, row.target, row.reason) == (admin_user, "member bob", "sold invites")
    assert row.changes == {"is_banned": [False, True], "role": ["user", "moderator"]}


def test_an_edit_leaving_the_standing_alone_needs_no_reason(site):
    member = UserFactory()
    response = site.post(f"/admin/accounts/user/{member.pk}/change/", _member_form(site, member, email="new@example.org"))
    assert response.status_code == 302
    assert User.objects.get(pk=member.pk).email == "new@example.org"
    assert not PolicyChange.objects.exists()
