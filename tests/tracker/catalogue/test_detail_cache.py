"""A torrent's detail shared by the viewers of one access level (tracker.catalogue.selectors.torrent_shown).

`GET /api/torrents/{id}` keeps what every viewer of an access level is
shown (the JSON but the magnet link) under the lists' generation, as a page
of the list is kept. The magnet link carries the viewer's own passkey, so it
is made for each request. What one viewer may see must never reach another
who may not, an owner's unapproved upload is theirs alone, every change
shows on the very next request, and only the swarm's counts may lag.
"""

import hashlib
import pickle
import time
from itertools import permutations
from urllib.parse import quote

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from tests.conftest import bearer
from tests.factories import CategoryFactory, ForumFactory, TorrentFactory, UserFactory
from tracker.catalogue import services
from tracker.catalogue.access import user_level
from tracker.catalogue.services import announce_url_for
from tracker.models import AccessLevel, Freeleech, Torrent, TorrentStats, TorrentStatus

pytestmark = pytest.mark.django_db
VIEWERS = ["guest", "member", "other-member", "owner", "moderator"]
TORRENTS = ["public", "members-only", "someone-unapproved", "owner-unapproved", "staff-downloads"]


@pytest.fixture(autouse=True)
def _shared(settings):
    settings.TORRENT_LIST_CACHE_SECONDS = 30


@pytest.fixture
def world():
    owner, member, other, moderator = UserFactory(), UserFactory(), UserFactory(), UserFactory(role="moderator")
    torrents = {
        "public": TorrentFactory(name="public", forum=ForumFactory(view_level=AccessLevel.GUEST), description="[b]bold[/b]"),
        "members-only": TorrentFactory(name="members-only", forum=ForumFactory(view_level=AccessLevel.USER)),
        "someone-unapproved": TorrentFactory(name="someone-unapproved", status=TorrentStatus.NOT_APPROVED),
        "owner-unapproved": TorrentFactory(name="owner-unapproved", status=TorrentStatus.CHECKING, uploader=owner),
        # Members see it, only moderators may download it: their magnet links carry no tracker.
        "staff-downloads": TorrentFactory(
            name="staff-downloads", forum=ForumFactory(view_level=AccessLevel.USER, download_level=AccessLevel.MODERATOR)
        ),
    }
    viewers = {"guest": None, "member": member, "other-member": other, "owner": owner, "moderator": moderator}
    sees = {
        "guest": {"public"},
        "member": {"public", "members-only", "staff-downloads"},
        "other-member": {"public", "members-only", "staff-downloads"},
        "owner": {"public", "members-only", "staff-downloads", "owner-unapproved"},
        "moderator": set(TORRENTS),
    }
    return viewers, torrents, sees


def kept_key(level: int, pk: int) -> str:
    """The cache key list_shared keeps `pk`'s detail under for `level`."""
    return f"torrents:torrent:api:{level}:{hashlib.sha256(repr(pk).encode()).hexdigest()[:32]}"


def client_of(viewer) -> APIClient:
    return APIClient() if viewer is None else bearer(APIClient(), viewer)


def detail(viewer, torrent):
    return client_of(viewer).get(f"/api/torrents/{torrent.pk}")


@pytest.mark.parametrize(("first", "second"), list(permutations(VIEWERS, 2)))
def test_a_detail_never_reaches_a_viewer_who_may_not_see_it(world, first, second):
    viewers, torrents, sees = world
    for viewer in (first, second, first):
        for name, torrent in torrents.items():
            response = detail(viewers[viewer], torrent)
            assert response.status_code == (200 if name in sees[viewer] else 404), (viewer, name)
            if response.status_code == 404:
                assert response.json()["error"]["code"] == "NOT_FOUND"


@pytest.mark.parametrize("viewer", VIEWERS)
def test_the_shared_detail_is_the_unshared_detail_byte_for_byte(world, settings, viewer):
    viewers, torrents, _ = world
    for torrent in torrents.values():
        settings.TORRENT_LIST_CACHE_SECONDS = 0
        uncached = detail(viewers[viewer], torrent)
        settings.TORRENT_LIST_CACHE_SECONDS = 30
        for _ in ("miss", "hit"):
            response = detail(viewers[viewer], torrent)
            assert (response.status_code, response.content) == (uncached.status_code, uncached.content)
            assert response.headers.get("Cache-Control") == uncached.headers.get("Cache-Control")


def test_each_member_gets_their_own_passkey_from_one_shared_entry(world):
    viewers, torrents, _ = world
    public, staff = torrents["public"], torrents["staff-downloads"]
    links = {v: detail(viewers[v], public).json()["data"]["magnet"] for v in ("member", "other-member", "moderator", "guest")}
    for viewer in ("member", "other-member", "moderator"):
        assert f"tr={quote(announce_url_for(viewers[viewer]), safe='')}" in links[viewer], viewer
    assert "tr=" not in links["guest"]
    assert len(set(links.values())) == 4
    # Below the forum's download level: the link carries no tracker, for each member, from the one entry.
    assert "tr=" not in detail(viewers["member"], staff).json()["data"]["magnet"]
    assert "tr=" not in detail(viewers["other-member"], staff).json()["data"]["magnet"]
    assert quote(announce_url_for(viewers["moderator"]), safe="") in detail(viewers["moderator"], staff).json()["data"]["magnet"]


def test_a_hit_reads_no_torrent_rows(world):
    viewers, torrents, _ = world
    member, other = viewers["member"], viewers["other-member"]
    with CaptureQueriesContext(connection) as miss:
        assert detail(member, torrents["public"]).status_code == 200
    with CaptureQueriesContext(connection) as hit:
        assert detail(other, torrents["public"]).status_code == 200
    assert any("tracker_torrent" in q["sql"] for q in miss.captured_queries)
    assert not [q["sql"] for q in hit.captured_queries if "tracker_torrent" in q["sql"]]


def test_an_owners_unapproved_upload_is_read_for_them_alone(world):
    viewers, torrents, _ = world
    mine = torrents["owner-unapproved"]
    assert detail(viewers["member"], mine).status_code == 404  # the members' entry: not visible at their level
    for _ in range(2):
        with CaptureQueriesContext(connection) as queries:
            assert detail(viewers["owner"], mine).json()["data"]["name"] == "owner-unapproved"
        assert any("tracker_torrent" in q["sql"] for q in queries.captured_queries)  # never served from the cache
    assert detail(viewers["member"], mine).status_code == 404


def test_no_secret_is_kept(world):
    viewers, torrents, _ = world
    for viewer in VIEWERS:
        for torrent in torrents.values():
            detail(viewers[viewer], torrent)
    levels = {user_level(v) for v in viewers.values()}
    entries = [cache.get(kept_key(level, torrent.pk)) for level in levels for torrent in torrents.values()]
    # One for each torrent a level sees: the guests' one, the members' (the owner's level) three, the moderators' five.
    assert sum(entry is not None and entry[1] is not None for entry in entries) == 1 + 3 + 5
    kept = pickle.dumps(entries)
    for user in {t.uploader for t in torrents.values()} | {v for v in viewers.values() if v is not None}:
        assert user.passkey.encode() not in kept and user.password.encode() not in kept


def _rename(world):
    services.torrent_update(actor=world[0]["moderator"], torrent=Torrent.objects.get(name="public"), data={"name": "renamed"})
    return lambda data: data["name"] == "renamed" and "renamed" in data["magnet"]


def _describe(world):
    services.torrent_update(actor=world[0]["moderator"], torrent=Torrent.objects.get(name="public"), data={"description": "[i]new[/i]"})
    return lambda data: data["description"] == "[i]new[/i]" and "<em>new</em>" in data["description_html"]


def _freeleech(world):
    services.torrent_set_freeleech(torrent=Torrent.objects.get(name="public"), freeleech=Freeleech.GOLD)
    return lambda data: data["freeleech"] == Freeleech.GOLD


def _category(world):
    category = Torrent.objects.get(name="public").forum.category
    services.category_update(category=category, data={"name": "Renamed category"})
    return lambda data: data["category"]["name"] == "Renamed category"


def _hide(world):
    services.torrent_set_status(torrent=Torrent.objects.get(name="public"), status=TorrentStatus.CLOSED, moderator=world[0]["moderator"])
    return None


def _close_forum(world):
    services.forum_update(forum=Torrent.objects.get(name="public").forum, data={"view_level": AccessLevel.MODERATOR})
    return None


def _remove(world):
    services.torrent_remove(torrent=Torrent.objects.get(name="public"))
    return None


@pytest.mark.parametrize("change", [_rename, _describe, _freeleech, _category, _hide, _close_forum, _remove])
def test_a_change_shows_on_the_next_request(world, change):
    viewers, torrents, _ = world
    public = torrents["public"]
    assert detail(None, public).status_code == 200
    assert detail(viewers["member"], public).status_code == 200
    shows = change(world)
    for viewer in (None, viewers["member"]):
        response = detail(viewer, public)
        if shows is None:
            assert response.status_code == 404
        else:
            assert shows(response.json()["data"]), response.json()


def test_the_swarm_counts_lag_by_at_most_the_setting(settings):
    settings.TORRENT_LIST_CACHE_SECONDS = 1
    torrent = TorrentFactory(name="swarmed", seeders=2, forum=ForumFactory(category=CategoryFactory()))
    assert detail(None, torrent).json()["data"]["seeders"] == 2
    TorrentStats.objects.filter(torrent=torrent).update(seeders=5)  # as an announce moves it
    assert detail(None, torrent).json()["data"]["seeders"] == 2
    time.sleep(1.2)
    assert detail(None, torrent).json()["data"]["seeders"] == 5


@pytest.mark.parametrize("pk", ["0", "-1", "abc", str(2**63), "99999999"])
def test_a_torrent_that_is_not_there_is_not_found(world, pk):
    for viewer in (None, world[0]["member"]):
        response = client_of(viewer).get(f"/api/torrents/{pk}")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "NOT_FOUND"


@pytest.mark.parametrize("viewer", ["guest", "moderator"])
def test_a_torrent_a_level_does_not_see_is_not_read_again_for_who_cannot_own_it(world, viewer):
    """Past the shared entry only a member may still be shown their own upload: a guest's or a moderator's 404 reads no row."""
    viewers, torrents, _ = world
    missing = torrents["members-only"] if viewer == "guest" else type(torrents["public"])(pk=99999999)
    assert detail(viewers[viewer], missing).status_code == 404  # the miss, which keeps the level's answer
    with CaptureQueriesContext(connection) as queries:
        assert detail(viewers[viewer], missing).status_code == 404
    assert not [q["sql"] for q in queries.captured_queries if "tracker_torrent" in q["sql"]]
