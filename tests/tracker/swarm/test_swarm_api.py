"""GET /api/torrents/{id}/peers, /api/me/history, /api/users/{id}/history."""

import pytest

from tests.conftest import bearer
from tests.factories import ForumFactory, TorrentFactory, UserFactory
from tests.tracker.announce.helpers import announce, peer_id
from tracker.models import AccessLevel
from tracker.swarm.selectors import peer_client_name

pytestmark = pytest.mark.django_db


@pytest.fixture
def swarm(client, user):
    """A torrent with `user` seeding and a hidden user leeching, and a second torrent `user` downloaded."""
    torrent = TorrentFactory(size=1000)
    hidden = UserFactory(hide_in_peers=True)
    announce(client, user.passkey, torrent.info_hash, peer_id(1), left=0, remote="10.0.0.1", port=7001)
    announce(client, hidden.passkey, torrent.info_hash, b"-TR3000-" + b"x" * 12, left=250, remote="10.0.0.2", port=7002)
    other = TorrentFactory(size=1000)
    announce(client, user.passkey, other.info_hash, peer_id(3), left=1000, event="started")
    announce(client, user.passkey, other.info_hash, peer_id(3), left=0, downloaded=1000, uploaded=10, event="completed")
    announce(client, user.passkey, other.info_hash, peer_id(3), left=0, downloaded=1000, uploaded=10, event="stopped")
    return torrent, other, hidden


def test_peers_lists_seeders_first_with_client_and_progress(swarm, user_client, user):
    torrent, _, _ = swarm
    response = user_client.get(f"/api/torrents/{torrent.id}/peers")
    assert response.status_code == 200
    body = response.json()
    assert body["meta"]["total"] == 2
    seeder, leecher = body["data"]
    assert seeder["user"] == {"id": user.id, "username": user.username}
    assert seeder["is_seeder"] is True and seeder["progress"] == 100.0
    assert seeder["client"] == "qBittorrent 4.6.5"
    assert leecher["user"] is None  # hid themselves
    assert leecher["progress"] == 75.0
    assert leecher["client"] == "Transmission 3.0"
    assert seeder["ip"] is None and seeder["port"] is None


def test_moderators_see_addresses_and_hidden_users(swarm, moderator_client):
    torrent, _, hidden = swarm
    data = moderator_client.get(f"/api/torrents/{torrent.id}/peers").json()["data"]
    assert {(p["ip"], p["port"]) for p in data} == {("10.0.0.1", 7001), ("10.0.0.2", 7002)}
    assert data[1]["user"]["id"] == hidden.id


def test_peers_needs_login_and_a_visible_torrent(swarm, api_client, user_client, django_assert_max_num_queries):
    torrent, _, _ = swarm
    assert api_client.get(f"/api/torrents/{torrent.id}/peers").status_code == 401
    assert user_client.get("/api/torrents/999999/peers").json()["error"]["code"] == "NOT_FOUND"
    staff_only = TorrentFactory(forum=ForumFactory(view_level=AccessLevel.MODERATOR))
    assert user_client.get(f"/api/torrents/{staff_only.id}/peers").status_code == 404
    with django_assert_max_num_queries(6):
        assert user_client.get(f"/api/torrents/{torrent.id}/peers").status_code == 200


def test_my_history_has_the_figures(swarm, user_client, django_assert_max_num_queries):
    _, other, _ = swarm
    with django_assert_max_num_queries(6):
        response = user_client.get("/api/me/history")
    body = response.json()
    assert body["meta"]["total"] == 2
    done = next(s for s in body["data"] if s["torrent"]["id"] == other.id)
    assert done["downloaded"] == 1000 and done["uploaded"] == 10 and done["left"] == 0
    assert done["completed_at"] is not None and done["times_completed"] == 1
    assert done["is_seeding"] is False and done["is_leeching"] is False
    assert done["ratio"] == 0.01


@pytest.mark.parametrize(("query", "count"), [("seeding=true", 1), ("seeding=false", 1), ("completed=true", 1), ("leeching=true", 0)])
def test_history_filters(swarm, user_client, query, count):
    assert user_client.get(f"/api/me/history?{query}").json()["meta"]["total"] == count


def test_history_rejects_a_bad_filter_and_sort(swarm, user_client):
    response = user_client.get("/api/me/history?seeding=maybe")
    assert response.status_code == 422
    assert "seeding" in response.json()["error"]["details"]
    assert user_client.get("/api/me/history?sort=password").status_code == 422


def test_another_users_history_is_for_moderators(swarm, user, api_client, user_client, moderator_client):
    assert api_client.get("/api/me/history").status_code == 401
    assert moderator_client.get(f"/api/users/{user.id}/history").json()["meta"]["total"] == 2
    assert user_client.get(f"/api/users/{user.id}/history").status_code == 200
    stranger = bearer(api_client, UserFactory())
    response = stranger.get(f"/api/users/{user.id}/history")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "FORBIDDEN"
    assert moderator_client.get("/api/users/999999/history").status_code == 404


@pytest.mark.parametrize(
    ("raw", "name"),
    [(b"-LT2110-abcdefghijkl", "libtorrent 2.1.1"), (b"A2-1-37-0-abcdefghij", "aria2 1.37.0"), (b"M7-2-0--abcdefghijkl", "unknown")],
)
def test_client_names(raw, name):
    assert peer_client_name(raw) == name
