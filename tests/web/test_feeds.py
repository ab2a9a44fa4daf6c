"""RSS and Atom feeds behind a `feed`-scoped key: valid (feedparser), the owner's torrents only, working download links."""

from typing import Any
from urllib.parse import urlsplit

import feedparser
import pytest
from django.test import Client
from fastbencode import bdecode

from accounts.services import api_key_create, api_key_revoke, user_set_banned
from tests.factories import ForumFactory, TorrentFactory
from tracker.models import Bookmark

pytestmark = pytest.mark.django_db


def _key(user: Any, *scopes: str) -> str:
    return api_key_create(user=user, name="reader", scopes=list(scopes or ["feed"]))[1]


@pytest.fixture
def catalogue(user: Any) -> dict[str, Any]:
    movies, tv = ForumFactory(name="Movies"), ForumFactory(name="TV")
    return {
        "movie": TorrentFactory(forum=movies, name="Big.Movie.2026", seeders=4, leechers=2, freeleech="gold"),
        "show": TorrentFactory(forum=tv, name="Show.S01E01", uploader=user),
        "hidden": TorrentFactory(forum=ForumFactory(view_level=2), name="staff-only"),
        "pending": TorrentFactory(forum=movies, name="pending", status="not_approved"),
    }


@pytest.mark.parametrize("path", ["/feeds/torrents.rss", "/feeds/torrents.atom"])
def test_the_feed_parses_and_lists_what_the_owner_may_see(client: Client, user: Any, catalogue: dict[str, Any], path: str) -> None:
    response = client.get(path, {"key": _key(user)})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    feed = feedparser.parse(response.content)
    assert not feed.bozo, feed.bozo_exception
    assert feed.version == ("rss20" if path.endswith("rss") else "atom10")
    titles = [entry.title for entry in feed.entries]
    assert set(titles) == {"Big.Movie.2026", "Show.S01E01"}
    movie = next(e for e in feed.entries if e.title == "Big.Movie.2026")
    assert movie.link.endswith(f"/torrents/{catalogue['movie'].pk}/")
    assert movie.published_parsed is not None
    assert movie.torrent_infohash == catalogue["movie"].info_hash
    assert movie.torrent_seeds == "4" and movie.torrent_leechers == "2" and movie.torrent_contentlength == "1000"
    enclosure = movie.enclosures[0]
    assert enclosure.type == "application/x-bittorrent" and enclosure.length == "1000"


def test_the_download_link_works_with_the_same_key_and_carries_the_passkey(client: Client, user: Any, catalogue: dict[str, Any]) -> None:
    feed = feedparser.parse(client.get("/feeds/torrents.rss", {"key": _key(user)}).content)
    url = urlsplit(feed.entries[0].enclosures[0].href)
    response = client.get(f"{url.path}?{url.query}")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/x-bittorrent"
    assert user.passkey.encode() in bdecode(response.content)[b"announce"]


@pytest.mark.parametrize(
    ("params", "names"),
    [
        ({"search": "movie"}, {"Big.Movie.2026"}),
        ({"freeleech": "gold"}, {"Big.Movie.2026"}),
        ({"forum": "tv"}, None),
        ({"uploader": "me"}, {"Show.S01E01"}),
    ],
)
def test_the_feed_takes_the_torrent_lists_filters(
    client: Client, user: Any, catalogue: dict[str, Any], params: dict[str, str], names: set[str] | None
) -> None:
    if params.get("forum") == "tv":
        params, names = {"forum": str(catalogue["show"].forum_id)}, {"Show.S01E01"}
    if params.get("uploader") == "me":
        params = {"uploader": str(user.pk)}
    feed = feedparser.parse(client.get("/feeds/torrents.rss", {"key": _key(user), **params}).content)
    assert {entry.title for entry in feed.entries} == names


def test_a_bad_filter_is_422(client: Client, user: Any) -> None:
    assert client.get("/feeds/torrents.rss", {"key": _key(user), "forum": "x"}).status_code == 422


def test_the_bookmarks_feed_lists_the_owners_visible_bookmarks(client: Client, user: Any, catalogue: dict[str, Any]) -> None:
    Bookmark.objects.create(user=user, torrent=catalogue["movie"])
    Bookmark.objects.create(user=user, torrent=catalogue["hidden"])  # a bookmark of a torrent they may no longer see
    for path in ("/feeds/bookmarks.rss", "/feeds/bookmarks.atom"):
        feed = feedparser.parse(client.get(path, {"key": _key(user)}).content)
        assert not feed.bozo
        assert [entry.title for entry in feed.entries] == ["Big.Movie.2026"]


def test_a_hidden_torrent_cannot_be_downloaded_through_the_feed_link(client: Client, user: Any, catalogue: dict[str, Any]) -> None:
    assert client.get(f"/feeds/torrents/{catalogue['hidden'].pk}/download", {"key": _key(user)}).status_code == 404


@pytest.mark.parametrize("path", ["/feeds/torrents.rss", "/feeds/bookmarks.atom", "/feeds/torrents/1/download"])
def test_bad_keys_are_refused(client: Client, user: Any, catalogue: dict[str, Any], path: str) -> None:
    assert client.get(path).status_code == 401
    assert client.get(path, {"key": "tpk_nonsense0000000000000000"}).status_code == 401
    assert client.get(path, {"key": user.passkey}).status_code == 401
    response = client.get(path, {"key": _key(user, "read", "download")})
    assert response.status_code == 403 and b"'feed' scope" in response.content
    key, raw = api_key_create(user=user, name="x", scopes=["feed"])
    api_key_revoke(user=user, pk=key.pk)
    assert client.get(path, {"key": raw}).status_code == 401


def test_a_banned_owners_feed_stops(client: Client, user: Any, catalogue: dict[str, Any]) -> None:
    raw = _key(user)
    user_set_banned(user=user, banned=True)
    assert client.get("/feeds/torrents.rss", {"key": raw}).status_code == 401


def test_feed_requests_count_against_the_owner(client: Client, user: Any, settings: Any) -> None:
    settings.API_RATE_LIMIT_AUTHENTICATED = 2
    raw = _key(user)
    assert client.get("/feeds/torrents.rss", {"key": raw}).status_code == 200
    assert client.get("/feeds/torrents.atom", {"key": raw}).status_code == 200
    response = client.get("/feeds/torrents.rss", {"key": raw})
    assert response.status_code == 429 and response["X-RateLimit-Remaining"] == "0"


def test_the_profile_creates_a_key_shown_once_and_revokes_it(client: Client, user: Any) -> None:
    client.force_login(user)
    response = client.post("/profile/keys/", {"name": "RSS", "scopes": ["feed", "read"]})
    assert response.status_code == 200
    raw = response.context["raw_key"]
    assert raw.encode() in response.content and "no-store" in response["Cache-Control"]
    profile = client.get("/profile/")
    assert raw.encode() not in profile.content and raw[:12].encode() in profile.content
    assert client.get("/feeds/torrents.rss", {"key": raw}).status_code == 200
    key_id = user.api_keys.get().pk
    assert client.post(f"/profile/keys/{key_id}/revoke/").status_code == 302
    assert client.get("/feeds/torrents.rss", {"key": raw}).status_code == 401


def test_the_profile_refuses_a_key_without_scopes(client: Client, user: Any) -> None:
    client.force_login(user)
    response = client.post("/profile/keys/", {"name": "RSS"})
    assert response.status_code == 422
    assert b"Choose at least one scope." in response.content


@pytest.mark.parametrize("path", ["/feeds/torrents.rss", "/feeds/torrents.atom", "/feeds/bookmarks.rss"])
def test_a_feeds_queries_do_not_grow_with_its_items(client: Client, user: Any, path: str) -> None:
    """Each item's forum, uploader and counts come with the page's own query: no query per item."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    key = _key(user)
    forum = ForumFactory()

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(path, {"key": key}).status_code == 200
        return len(captured)

    for torrent in TorrentFactory.create_batch(2, forum=forum):
        Bookmark.objects.create(user=user, torrent=torrent)
    queries()  # the key's first use writes its last use (then at most once a minute)
    few = queries()
    for torrent in TorrentFactory.create_batch(8, forum=forum):
        Bookmark.objects.create(user=user, torrent=torrent)
    assert queries() == few
