"""GET /api/torrents/{id}/download and the magnet link in the detail."""

import hashlib

import pytest
from django.core.cache import cache
from fastbencode import bdecode, bencode
from rest_framework.test import APIClient

from tests.conftest import bearer
from tests.factories import UserFactory
from tests.tracker.catalogue.helpers import forum_with_levels, new_metainfo, upload
from tracker.models import AccessLevel
from tracker.swarm.lookups import cached_policy

pytestmark = pytest.mark.django_db


@pytest.fixture
def registered(uploader_client, forum):
    return upload(uploader_client, forum, new_metainfo("linux.iso", 99_999)[0]).json()["data"]


def test_download_carries_the_users_own_announce_url_and_the_same_info(user_client, user, registered, settings):
    response = user_client.get(f"/api/torrents/{registered['id']}/download")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/x-bittorrent"
    assert 'filename="linux.iso.torrent"' in response["Content-Disposition"]
    meta = bdecode(response.content)
    url = f"{settings.TRACKER_ANNOUNCE_URL}/announce?uk={user.passkey}".encode()
    assert meta[b"announce"] == url
    assert meta[b"announce-list"] == [[url]]
    assert hashlib.sha1(bencode(meta[b"info"])).hexdigest() == registered["info_hash"]


def test_each_user_gets_their_own_passkey(registered, user_client, uploader_client, user, uploader):
    mine = bdecode(user_client.get(f"/api/torrents/{registered['id']}/download").content)[b"announce"]
    theirs = bdecode(uploader_client.get(f"/api/torrents/{registered['id']}/download").content)[b"announce"]
    assert mine.endswith(f"/announce?uk={user.passkey}".encode())
    assert theirs.endswith(f"/announce?uk={uploader.passkey}".encode())


def test_guests_get_401(api_client, registered):
    response = api_client.get(f"/api/torrents/{registered['id']}/download")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "UNAUTHORIZED"


def test_below_the_forums_download_level_is_403(user_client, moderator_client, uploader):
    forum = forum_with_levels(download=AccessLevel.MODERATOR)
    from tests.factories import TorrentFactory

    torrent = TorrentFactory(forum=forum, uploader=uploader)
    assert user_client.get(f"/api/torrents/{torrent.pk}/download").status_code == 403
    assert moderator_client.get(f"/api/torrents/{torrent.pk}/download").status_code == 200


@pytest.mark.parametrize("pk", ["999999", "abc", "0"])
def test_an_unknown_torrent_is_404(user_client, pk):
    response = user_client.get(f"/api/torrents/{pk}/download")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"


def test_magnet_has_the_tracker_with_passkey_only_for_the_viewer(registered, user_client, user, api_client):
    mine = user_client.get(f"/api/torrents/{registered['id']}").json()["data"]["magnet"]
    anonymous = api_client.get(f"/api/torrents/{registered['id']}").json()["data"]["magnet"]
    assert mine.startswith(f"magnet:?xt=urn:btih:{registered['info_hash']}&dn=linux.iso&xl=99999")
    assert user.passkey in mine
    assert "tr=" not in anonymous
    assert user.passkey not in anonymous


def test_a_new_passkey_shows_in_the_next_download(registered, user, user_client):
    new = user_client.post("/api/me/passkey").json()["data"]["passkey"]
    assert new != user.passkey
    meta = bdecode(user_client.get(f"/api/torrents/{registered['id']}/download").content)
    assert meta[b"announce"].endswith(f"/announce?uk={new}".encode())


def test_download_query_count_is_bounded(registered, user_client, django_assert_max_num_queries):
    cache.clear()
    client = bearer(APIClient(), UserFactory())
    cached_policy()  # the site's rules, read once and cached (tracker.swarm.lookups)
    # The member, the torrent and its metainfo, the forum; the member's active hit-and-run warnings (download rights).
    with django_assert_max_num_queries(5):
        assert client.get(f"/api/torrents/{registered['id']}/download").status_code == 200
