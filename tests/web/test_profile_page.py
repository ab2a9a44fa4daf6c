"""/profile/ and /profile/passkey/: the member's own figures and passkey."""

import pytest
from django.test import Client
from django.utils import timezone

from tests.factories import TorrentFactory, UserFactory
from tracker.models import Bookmark, Snatch


@pytest.mark.django_db
def test_profile_needs_a_login(client):
    response = client.get("/profile/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/profile/"


@pytest.mark.django_db
def test_profile_shows_passkey_totals_ratio_and_the_api_example(client):
    member = UserFactory(uploaded=3 * 1024**3, downloaded=2 * 1024**3)
    client.force_login(member)
    response = client.get("/profile/")
    assert response.status_code == 200
    html = response.content.decode()
    assert member.passkey in html
    assert f"http://127.0.0.1:8000/announce?uk={member.passkey}" in html
    assert "3.0\xa0GB" in html and "2.0\xa0GB" in html
    assert "1.50" in html
    assert "curl -X POST http://testserver/api/login" in html
    assert f'"username": "{member.username}"' in html
    assert 'href="/api/docs"' in html
    assert 'href="/admin/"' not in html


@pytest.mark.django_db
def test_profile_links_staff_to_the_admin(client, admin_user):
    client.force_login(admin_user)
    assert 'href="/admin/"' in client.get("/profile/").content.decode()


@pytest.mark.django_db
def test_profile_lists_bookmarks_in_bounded_queries(member_client, user, django_assert_max_num_queries):
    for torrent in TorrentFactory.create_batch(5):
        Bookmark.objects.create(user=user, torrent=torrent)
    with django_assert_max_num_queries(8):  # session, member, history, uploads, bookmarks, keys, invites, two-factor
        response = member_client.get("/profile/")
    html = response.content.decode()
    assert all(b.torrent.name in html for b in Bookmark.objects.select_related("torrent"))


@pytest.mark.django_db
def test_a_banned_member_loses_the_session(client, user):
    client.force_login(user)
    user.is_banned = True
    user.save()
    assert client.get("/profile/").status_code == 302
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_passkey_reset_asks_for_confirmation_first(member_client, user):
    response = member_client.get("/profile/passkey/")
    assert response.status_code == 200
    assert '<label for="id_confirm">' in response.content.decode()
    user.refresh_from_db()
    old = user.passkey
    response = member_client.post("/profile/passkey/", {})
    assert response.status_code == 422
    assert "Tick the box to confirm." in response.content.decode()
    user.refresh_from_db()
    assert user.passkey == old


@pytest.mark.django_db
def test_passkey_reset_gives_a_new_passkey(member_client, user):
    old = user.passkey
    response = member_client.post("/profile/passkey/", {"confirm": "on"})
    assert response.status_code == 302
    assert response["Location"] == "/profile/"
    user.refresh_from_db()
    assert user.passkey != old and len(user.passkey) == 32
    html = member_client.get("/profile/").content.decode()
    assert "Your passkey was reset" in html
    assert user.passkey in html and old not in html


@pytest.mark.django_db
def test_passkey_reset_needs_a_login_and_a_csrf_token(client, csrf_client, user):
    assert client.post("/profile/passkey/", {"confirm": "on"})["Location"] == "/login/?next=/profile/passkey/"
    csrf_client.force_login(user)
    old = user.passkey
    assert csrf_client.post("/profile/passkey/", {"confirm": "on"}).status_code == 403
    user.refresh_from_db()
    assert user.passkey == old


@pytest.mark.django_db
def test_passkey_reset_refuses_other_methods(member_client):
    assert member_client.put("/profile/passkey/").status_code == 405


@pytest.mark.django_db
def test_another_members_passkey_is_never_shown(user):
    other = UserFactory()
    client = Client()
    client.force_login(other)
    assert user.passkey not in client.get("/profile/").content.decode()


def _snatch(user, name, **fields):
    now = timezone.now()
    return Snatch.objects.create(
        user=user, torrent=TorrentFactory(name=name, uploader=user), first_announce=now, last_announce=now, **fields
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("tab", "expected"),
    [
        ("all", {"seeding-one", "leeching-one", "done-one"}),
        ("seeding", {"seeding-one"}),
        ("leeching", {"leeching-one"}),
        ("completed", {"done-one"}),
    ],
)
def test_profile_history_tabs(member_client, user, tab, expected):
    _snatch(user, "seeding-one", is_seeding=True, uploaded=5 * 1024**2, seed_time=90_061)
    _snatch(user, "leeching-one", is_leeching=True)
    _snatch(user, "done-one", completed_at=timezone.now())
    _snatch(UserFactory(), "someone-elses")
    html = member_client.get("/profile/", {"history": tab}).content.decode()
    history = html.split('id="history-heading"')[1].split('id="bookmarks-heading"')[0].replace("<wbr>", "")  # names wrap at dashes
    shown = {name for name in ("seeding-one", "leeching-one", "done-one", "someone-elses") if name in history}
    assert shown == expected
    if tab == "seeding":
        assert "5.0\xa0MB" in history and "1d 1h" in history


@pytest.mark.django_db
def test_profile_ignores_an_unknown_history_tab(member_client, user):
    _snatch(user, "kept", is_seeding=True)
    response = member_client.get("/profile/", {"history": "bogus"})
    assert response.status_code == 200
    assert "kept" in response.content.decode()


@pytest.mark.django_db
def test_profile_with_history_runs_in_bounded_queries(member_client, user, django_assert_max_num_queries):
    for n in range(10):
        _snatch(user, f"h{n}", is_seeding=True)
        Bookmark.objects.create(user=user, torrent=TorrentFactory(uploader=user))
    with django_assert_max_num_queries(8):  # session, member, history, uploads, bookmarks, keys, invites, two-factor
        assert member_client.get("/profile/").status_code == 200
