"""The operators' admin site: list pages without N+1 queries, search, filters and actions."""

import pytest
from django.core.cache import cache
from django.test import Client

from accounts.models import User
from tests.factories import ForumFactory, TorrentFactory, UserFactory
from tracker.models import Bookmark, Comment, Torrent, TorrentFile, TorrentStatus, TorrentStatusChange
from tracker.swarm.lookups import torrent_cache_key

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_site(admin_user):
    client = Client()
    client.force_login(admin_user)
    return client


def _fill(n: int) -> None:
    for i in range(n):
        torrent = TorrentFactory(forum=ForumFactory(), uploader=UserFactory())
        TorrentFile.objects.create(torrent=torrent, path=f"dir/file{i}", size=i)
        Comment.objects.create(torrent=torrent, author=UserFactory(), text="x" * 100)
        Bookmark.objects.create(user=torrent.uploader, torrent=torrent)
        TorrentStatusChange.objects.create(torrent=torrent, moderator=torrent.uploader, old_status="approved", new_status="closed")


def _queries_for(client, path, django_assert_max_num_queries, limit):
    with django_assert_max_num_queries(limit) as captured:
        response = client.get(path)
    assert response.status_code == 200, path
    return len(captured)


@pytest.mark.parametrize(
    "path",
    [
        "/admin/tracker/torrent/",
        "/admin/tracker/torrent/?q=torrent&status__exact=approved",
        "/admin/tracker/forum/",
        "/admin/tracker/category/",
        "/admin/tracker/comment/?q=x",
        "/admin/tracker/bookmark/",
        "/admin/tracker/torrentfile/?q=file",
        "/admin/tracker/torrentstatuschange/",
        "/admin/accounts/user/?q=user",
    ],
)
def test_changelists_do_not_grow_queries_with_rows(admin_site, path, django_assert_max_num_queries):
    _fill(3)
    few = _queries_for(admin_site, path, django_assert_max_num_queries, 40)
    _fill(12)
    many = _queries_for(admin_site, path, django_assert_max_num_queries, 40)
    assert many == few


def test_torrent_change_page_renders_hashes_read_only(admin_site, torrent):
    response = admin_site.get(f"/admin/tracker/torrent/{torrent.pk}/change/")
    assert response.status_code == 200
    body = response.content.decode()
    assert torrent.info_hash in body
    assert 'name="info_hash"' not in body


def _act(client, action, ids, **form):
    return client.post("/admin/tracker/torrent/", {"action": action, "_selected_action": [str(i) for i in ids], **form})


def test_approve_and_close_actions_record_status_changes(admin_site, admin_user):
    waiting = TorrentFactory(status=TorrentStatus.NOT_APPROVED)
    cache.set(torrent_cache_key(waiting.info_hash), 1, 600)
    assert _act(admin_site, "approve", [waiting.pk], apply="1", reason="checked").status_code == 302
    assert Torrent.objects.get(pk=waiting.pk).status == TorrentStatus.APPROVED
    _act(admin_site, "close", [waiting.pk], apply="1", reason="dead")
    assert Torrent.objects.get(pk=waiting.pk).status == TorrentStatus.CLOSED
    changes = list(TorrentStatusChange.objects.filter(torrent=waiting).order_by("id").values_list("new_status", "moderator"))
    assert changes == [("approved", admin_user.pk), ("closed", admin_user.pk)]
    assert cache.get(torrent_cache_key(waiting.info_hash)) is None


def test_freeleech_and_delete_actions(admin_site, torrent):
    _act(admin_site, "set_freeleech_gold", [torrent.pk])
    assert Torrent.objects.get(pk=torrent.pk).freeleech == "gold"
    cache.set(torrent_cache_key(torrent.info_hash), 1, 600)
    admin_site.post("/admin/tracker/torrent/", {"action": "delete_selected", "_selected_action": [str(torrent.pk)], "post": "yes"})
    assert not Torrent.objects.filter(pk=torrent.pk).exists()
    assert cache.get(torrent_cache_key(torrent.info_hash)) is None


def _form_data(client, torrent, **changes):
    """The torrent's change form as the page fills it, with `changes`."""
    form = client.get(f"/admin/tracker/torrent/{torrent.pk}/change/").context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and k in form.fields}
    data.update(
        {
            "uploader": torrent.uploader_id,
            "forum": torrent.forum_id,
            "torrentstatuschange_set-TOTAL_FORMS": "0",
            "torrentstatuschange_set-INITIAL_FORMS": "0",
            "status_changes-TOTAL_FORMS": "0",
            "status_changes-INITIAL_FORMS": "0",
            **changes,
        }
    )
    return data


def test_editing_a_torrents_status_in_the_form_asks_a_reason_and_records_it(admin_site, admin_user, torrent):
    data = _form_data(admin_site, torrent, status="duplicate")
    refused = admin_site.post(f"/admin/tracker/torrent/{torrent.pk}/change/", data)
    assert refused.status_code == 200
    assert refused.context["adminform"].form.errors == {"status_reason": ["Say why the status changes."]}
    assert not TorrentStatusChange.objects.exists()

    response = admin_site.post(f"/admin/tracker/torrent/{torrent.pk}/change/", {**data, "status_reason": "same as #12"})
    assert response.status_code == 302, response.content.decode()[:2000]
    change = TorrentStatusChange.objects.get(torrent=torrent)
    assert (change.old_status, change.new_status, change.moderator_id) == ("approved", "duplicate", admin_user.pk)
    assert change.reason == "same as #12"


def test_editing_a_torrent_without_changing_its_status_needs_no_reason(admin_site, torrent):
    response = admin_site.post(f"/admin/tracker/torrent/{torrent.pk}/change/", _form_data(admin_site, torrent, name="renamed"))
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Torrent.objects.get(pk=torrent.pk).name == "renamed"
    assert not TorrentStatusChange.objects.exists()


def test_ban_and_passkey_actions_on_users(admin_site):
    target = UserFactory()
    old = target.passkey
    admin_site.post("/admin/accounts/user/", {"action": "ban_users", "_selected_action": [str(target.pk)], "apply": "1", "reason": "spam"})
    admin_site.post("/admin/accounts/user/", {"action": "reset_passkeys", "_selected_action": [str(target.pk)]})
    target = User.objects.get(pk=target.pk)
    assert target.is_banned
    assert target.passkey != old


def test_the_torrent_changelist_shows_a_torrent_without_its_counts_row(admin_site, torrent):
    from tracker.models import TorrentStats

    TorrentStats.objects.filter(pk=torrent.pk).delete()  # a bulk load that skipped Torrent.save
    response = admin_site.get("/admin/tracker/torrent/")
    assert response.status_code == 200
    assert torrent.name in response.content.decode()


def test_the_admin_offers_no_add_torrent_which_would_save_one_without_its_file(admin_site):
    """Issue 15: "Add torrent" saved a torrent with no metainfo and answered 500 (a check constraint)."""
    assert admin_site.get("/admin/tracker/torrent/add/").status_code == 403
    response = admin_site.post("/admin/tracker/torrent/add/", {"name": "no file", "forum": ForumFactory().pk, "status": "approved"})
    assert response.status_code == 403
    assert not Torrent.objects.filter(name="no file").exists()
    assert b"/admin/tracker/torrent/add/" not in admin_site.get("/admin/tracker/torrent/").content


@pytest.mark.parametrize(("field", "value"), [("name", "renamed-in-admin"), ("freeleech", "gold")])
def test_an_edit_in_the_admin_shows_in_the_shared_list_and_detail_at_once(admin_site, torrent, settings, field, value):
    """The shared pages and details live under the lists' generation: an admin edit that keeps the status starts a new one too."""
    from rest_framework.test import APIClient

    settings.TORRENT_LIST_CACHE_SECONDS = 30
    guest = APIClient()
    assert guest.get("/api/torrents").json()["data"][0][field] != value  # both kept now
    assert guest.get(f"/api/torrents/{torrent.pk}").json()["data"][field] != value
    response = admin_site.post(f"/admin/tracker/torrent/{torrent.pk}/change/", _form_data(admin_site, torrent, **{field: value}))
    assert response.status_code == 302, response.content.decode()[:2000]
    assert guest.get("/api/torrents").json()["data"][0][field] == value
    assert guest.get(f"/api/torrents/{torrent.pk}").json()["data"][field] == value
