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
