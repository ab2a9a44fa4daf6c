"""PATCH and DELETE /api/torrents/{id}: who may change what, status history, cache invalidation."""

import pytest
from django.core.cache import cache

from tests.factories import ForumFactory, TorrentFactory
from tests.tracker.catalogue.helpers import forum_with_levels
from tracker.models import AccessLevel, Comment, Peer, Torrent, TorrentStatus, TorrentStatusChange
from tracker.swarm.lookups import torrent_cache_key

pytestmark = pytest.mark.django_db


@pytest.fixture
def mine(forum, uploader):
    return TorrentFactory(forum=forum, uploader=uploader)


def _cache_it(torrent):
    cache.set(torrent_cache_key(torrent.info_hash), {"id": torrent.pk}, 600)


def test_the_uploader_edits_name_description_and_forum(uploader_client, mine):
    target = ForumFactory()
    _cache_it(mine)
    payload = {"name": "New", "description": "Better", "forum": target.pk}
    response = uploader_client.patch(f"/api/torrents/{mine.pk}", payload, format="json")
    assert response.status_code == 200
    data = response.json()["data"]
    assert (data["name"], data["description"], data["forum"]["id"]) == ("New", "Better", target.pk)
    assert cache.get(torrent_cache_key(mine.info_hash)) is None


@pytest.mark.parametrize("field", [{"status": "closed"}, {"freeleech": "gold"}])
def test_the_uploader_may_not_moderate(uploader_client, mine, field):
    response = uploader_client.patch(f"/api/torrents/{mine.pk}", field, format="json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "FORBIDDEN"


def test_a_moderator_changes_status_and_it_is_recorded(moderator_client, moderator, mine):
    _cache_it(mine)
    response = moderator_client.patch(f"/api/torrents/{mine.pk}", {"status": "closed", "freeleech": "silver"}, format="json")
    assert response.status_code == 200
    assert (response.json()["data"]["status"], response.json()["data"]["freeleech"]) == ("closed", "silver")
    change = TorrentStatusChange.objects.get(torrent=mine)
    assert (change.moderator, change.old_status, change.new_status) == (moderator, "approved", "closed")
    assert change.changed_at is not None
    assert cache.get(torrent_cache_key(mine.info_hash)) is None
    assert Torrent.objects.get(pk=mine.pk).is_frozen


def test_setting_the_same_status_records_nothing(moderator_client, mine):
    moderator_client.patch(f"/api/torrents/{mine.pk}", {"status": "approved"}, format="json")
    assert not TorrentStatusChange.objects.exists()


def test_others_may_not_edit_or_delete(user_client, mine):
    assert user_client.patch(f"/api/torrents/{mine.pk}", {"name": "x"}, format="json").status_code == 403
    assert user_client.delete(f"/api/torrents/{mine.pk}").status_code == 403


def test_guests_get_401(api_client, mine):
    assert api_client.patch(f"/api/torrents/{mine.pk}", {"name": "x"}, format="json").status_code == 401
    assert api_client.delete(f"/api/torrents/{mine.pk}").status_code == 401


@pytest.mark.parametrize(
    ("payload", "field"),
    [({"name": ""}, "name"), ({"status": "gone"}, "status"), ({"forum": 99999}, "forum"), ({"name": "x" * 256}, "name")],
)
def test_bad_edits_are_422(moderator_client, mine, payload, field):
    response = moderator_client.patch(f"/api/torrents/{mine.pk}", payload, format="json")
    assert response.status_code == 422
    assert field in response.json()["error"]["details"]


@pytest.mark.parametrize("fmt", ["multipart", "urlencoded"])
@pytest.mark.parametrize(
    ("body", "field"),
    [("name=", "name"), ("status=", "status"), ("freeleech=", "freeleech"), ("name=a&name=b", "name")],
)
def test_bad_edits_in_a_form_are_422_as_in_json(moderator_client, mine, fmt, body, field):
    # A form field is what the same JSON field is: `name=` is a blank name, not "name left out"
    # (DRF's HTML-form reading made these a 200 that changed nothing), and a repeated field is a list.
    if fmt == "urlencoded":
        response = moderator_client.generic("PATCH", f"/api/torrents/{mine.pk}", body, content_type="application/x-www-form-urlencoded")
    else:
        pairs = [pair.split("=") for pair in body.split("&")]
        boundary = "BoUnDaRy"
        parts = "".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n' for k, v in pairs)
        payload = f"{parts}--{boundary}--\r\n"
        response = moderator_client.generic(
            "PATCH", f"/api/torrents/{mine.pk}", payload, content_type=f"multipart/form-data; boundary={boundary}"
        )
    assert response.status_code == 422, response.content
    assert field in response.json()["error"]["details"]
    mine.refresh_from_db()
    assert (mine.status, mine.freeleech) == ("approved", "none")


def test_a_form_edit_works_like_a_json_one(moderator_client, mine):
    response = moderator_client.patch(f"/api/torrents/{mine.pk}", {"name": "New", "status": "closed"}, format="multipart")
    assert response.status_code == 200, response.content
    assert (response.json()["data"]["name"], response.json()["data"]["status"]) == ("New", "closed")


def test_moving_to_a_forum_above_the_users_upload_level_is_403(uploader_client, mine):
    staff = forum_with_levels(upload=AccessLevel.MODERATOR)
    assert uploader_client.patch(f"/api/torrents/{mine.pk}", {"forum": staff.pk}, format="json").status_code == 403
    hidden = forum_with_levels(view=AccessLevel.ADMIN)
    assert uploader_client.patch(f"/api/torrents/{mine.pk}", {"forum": hidden.pk}, format="json").status_code == 422


def test_the_uploader_deletes_and_peers_go_too(uploader_client, uploader, mine):
    from django.utils import timezone

    Peer.objects.create(torrent=mine, user=uploader, peer_id=b"x" * 20, ip="10.0.0.1", port=6881, last_announce=timezone.now())
    Comment.objects.create(torrent=mine, author=uploader, text="hi")
    _cache_it(mine)
    response = uploader_client.delete(f"/api/torrents/{mine.pk}")
    assert response.status_code == 204
    assert response.content == b""
    assert not Torrent.objects.filter(pk=mine.pk).exists()
    assert not Peer.objects.exists()
    assert cache.get(torrent_cache_key(mine.info_hash)) is None


def test_a_moderator_deletes(moderator_client, mine):
    assert moderator_client.delete(f"/api/torrents/{mine.pk}").status_code == 204


def test_a_torrent_the_user_may_not_see_is_404_for_every_method(user_client):
    hidden = TorrentFactory(status=TorrentStatus.NOT_APPROVED)
    for method in ("get", "patch", "delete"):
        response = getattr(user_client, method)(f"/api/torrents/{hidden.pk}", {}, format="json")
        assert response.status_code == 404, method
