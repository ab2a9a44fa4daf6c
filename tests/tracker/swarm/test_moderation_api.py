"""The swarm's API honours moderation: a torrent's peers and history rows are shown only to whom may see the torrent.

Table-driven over who asks (the uploader, another member, a moderator) and
the torrent's status (approved, or waiting for a moderator).
"""

from typing import Any

import pytest
from rest_framework.test import APIClient

from tests.conftest import bearer
from tests.factories import ForumFactory, TorrentFactory, UserFactory
from tests.tracker.announce.helpers import announce, peer_id
from tracker.models import AccessLevel, Forum, Torrent, TorrentStatus

pytestmark = pytest.mark.django_db

STATUSES = [TorrentStatus.APPROVED, TorrentStatus.NOT_APPROVED, TorrentStatus.PREMODERATION]


@pytest.fixture
def people(db: Any) -> dict[str, Any]:
    return {"uploader": UserFactory(), "member": UserFactory(), "moderator": UserFactory(role="moderator")}


@pytest.fixture
def swarm(client, people) -> Torrent:
    """A torrent of `uploader` that the uploader and the member both snatched while it was approved."""
    torrent = TorrentFactory(uploader=people["uploader"], size=1000)
    announce(client, people["uploader"].passkey, torrent.info_hash, peer_id(1), left=0, remote="10.0.0.1")
    announce(client, people["member"].passkey, torrent.info_hash, peer_id(2), left=500, remote="10.0.0.2")
    return torrent


def _set_status(torrent: Torrent, status: str) -> None:
    Torrent.objects.filter(pk=torrent.pk).update(status=status)


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("who", ["uploader", "member", "moderator"])
def test_peers_of_a_torrent_waiting_for_moderation(swarm, people, who, status):
    _set_status(swarm, status)
    response = bearer(APIClient(), people[who]).get(f"/api/torrents/{swarm.id}/peers")
    if status == TorrentStatus.APPROVED or who != "member":
        assert response.status_code == 200
        assert response.json()["meta"]["total"] == 2
    else:
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "NOT_FOUND"


# (who asks, whose history, the torrent's status, is its row shown?)
HISTORY_TABLE = [
    *[
        (viewer, owner, TorrentStatus.APPROVED, True)
        for viewer, owner in [("uploader", "uploader"), ("member", "member"), ("moderator", "uploader"), ("moderator", "member")]
    ],
    *[
        (viewer, owner, status, True)
        for status in STATUSES[1:]
        for viewer, owner in [("uploader", "uploader"), ("moderator", "uploader"), ("moderator", "member")]
    ],
    *[("member", "member", status, False) for status in STATUSES[1:]],
]


@pytest.mark.parametrize(("viewer", "owner", "status", "shown"), HISTORY_TABLE)
def test_history_rows_of_a_torrent_waiting_for_moderation(swarm, people, viewer, owner, status, shown):
    _set_status(swarm, status)
    other = TorrentFactory()  # approved: always shown
    announce(APIClient(), people[owner].passkey, other.info_hash, peer_id(3), left=0)
    client = bearer(APIClient(), people[viewer])
    paths = ["/api/me/history", f"/api/users/{people[owner].id}/history"] if viewer == owner else [f"/api/users/{people[owner].id}/history"]
    for path in paths:
        body = client.get(path).json()
        assert {row["torrent"]["id"] for row in body["data"]} == ({swarm.id, other.id} if shown else {other.id}), path
        assert body["meta"]["total"] == (2 if shown else 1), path


def test_history_leaves_out_a_forum_the_viewer_may_no_longer_see(swarm, people):
    Forum.objects.filter(pk=swarm.forum_id).update(view_level=AccessLevel.MODERATOR)
    assert bearer(APIClient(), people["member"]).get("/api/me/history").json()["meta"]["total"] == 0
    assert bearer(APIClient(), people["moderator"]).get(f"/api/users/{people['member'].id}/history").json()["meta"]["total"] == 1


def test_peers_of_a_forum_above_the_view_level_stay_hidden_from_the_uploader(people):
    torrent = TorrentFactory(uploader=people["uploader"], forum=ForumFactory(view_level=AccessLevel.MODERATOR))
    assert bearer(APIClient(), people["uploader"]).get(f"/api/torrents/{torrent.id}/peers").status_code == 404
    assert bearer(APIClient(), people["moderator"]).get(f"/api/torrents/{torrent.id}/peers").status_code == 200
