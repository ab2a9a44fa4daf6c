"""GET /api/stats counts only what a guest may see: approved torrents in forums open to guests, and their peers."""

from typing import Any

import pytest
from rest_framework.test import APIClient

from tests.conftest import bearer
from tests.factories import ForumFactory, TorrentFactory, UserFactory
from tests.tracker.announce.helpers import announce, peer_id
from tracker.models import AccessLevel, Torrent, TorrentStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(db: Any) -> dict[str, Any]:
    return {"uploader": UserFactory(), "member": UserFactory(), "moderator": UserFactory(role="moderator")}


@pytest.mark.parametrize("status", [TorrentStatus.APPROVED, TorrentStatus.NOT_APPROVED, TorrentStatus.PREMODERATION])
@pytest.mark.parametrize("who", [None, "uploader", "member", "moderator"])
def test_stats_count_only_approved_torrents_in_guest_forums(client, people, who, status):
    public = TorrentFactory(size=100, uploader=people["uploader"])
    waiting = TorrentFactory(size=50, uploader=people["uploader"])
    members_only = TorrentFactory(size=25, uploader=people["uploader"], forum=ForumFactory(view_level=AccessLevel.USER))
    for n, torrent in enumerate([public, waiting, members_only]):
        announce(client, people["uploader"].passkey, torrent.info_hash, peer_id(n), left=0)
        announce(client, people["member"].passkey, torrent.info_hash, peer_id(10 + n), left=10)
    Torrent.objects.filter(pk=waiting.pk).update(status=status)
    shown = [public, waiting] if status == TorrentStatus.APPROVED else [public]
    api = bearer(APIClient(), people[who]) if who else APIClient()
    data = api.get("/api/stats").json()["data"]
    assert data == {
        "users": 3,
        "torrents": len(shown),
        "total_size": sum(t.size for t in shown),
        "seeders": len(shown),
        "leechers": len(shown),
        "peers": 2 * len(shown),
    }


def _torrents_on_browse(client: Any) -> str:
    text = client.get("/").content.decode()
    return text.split('class="muted site-stats">')[1].split(" torrent")[0].strip()


def test_the_totals_follow_an_upload_an_approval_and_a_removal_at_once(people, settings):
    """The totals are cached for a minute, but a change to the catalogue drops them: the uploader sees their torrent counted."""
    from django.test import Client

    from tests.factories import make_metainfo
    from tracker.catalogue.services import torrent_register, torrent_remove, torrent_set_status

    forum = ForumFactory()
    TorrentFactory(forum=forum)
    page = Client()
    page.force_login(people["uploader"])
    api = bearer(APIClient(), people["member"])
    assert _torrents_on_browse(page) == "1" and api.get("/api/stats").json()["data"]["torrents"] == 1  # now cached
    mine = torrent_register(uploader=people["uploader"], forum=forum, metainfo_bytes=make_metainfo("fresh", 1000)[0])
    assert _torrents_on_browse(page) == "2" and api.get("/api/stats").json()["data"]["torrents"] == 2
    torrent_set_status(torrent=mine, status=TorrentStatus.NOT_APPROVED, moderator=people["moderator"], reason="check")
    assert _torrents_on_browse(page) == "1"
    torrent_set_status(torrent=mine, status=TorrentStatus.APPROVED, moderator=people["moderator"], reason="fine")
    assert api.get("/api/stats").json()["data"]["torrents"] == 2
    torrent_remove(torrent=mine)
    assert _torrents_on_browse(page) == "1" and api.get("/api/stats").json()["data"]["torrents"] == 1
