"""GET /api/torznab as Prowlarr, Jackett and Sonarr/Radarr read it: XML parsed with xml.etree, never the JSON envelope."""

from typing import Any
from urllib.parse import urlsplit
from xml.etree import ElementTree as ET

import pytest
from django.test import Client

from accounts.services import api_key_create, api_key_revoke, user_set_banned
from tests.factories import ForumFactory, TorrentFactory
from tracker.policy.selectors import site_policy

pytestmark = pytest.mark.django_db
TORZNAB = "{http://torznab.com/schemas/2015/feed}"
NEWZNAB = "{http://www.newznab.com/DTD/2010/feeds/attributes/}"


def _key(user: Any, *scopes: str) -> str:
    return api_key_create(user=user, name="prowlarr", scopes=list(scopes or ["feed"]))[1]


def _get(client: Client, key: str | None, **params: Any) -> tuple[Any, ET.Element]:
    query = {**params, **({"apikey": key} if key is not None else {})}
    response = client.get("/api/torznab", query, HTTP_ACCEPT="application/rss+xml, text/xml")
    return response, ET.fromstring(response.content)


def _attrs(item: ET.Element, name: str) -> list[str]:
    return [a.get("value", "") for a in item.findall(f"{TORZNAB}attr") if a.get("name") == name]


@pytest.fixture
def catalogue(user: Any) -> dict[str, Any]:
    movies = ForumFactory(name="Movies HD", newznab_category=2040)
    tv = ForumFactory(name="TV", newznab_category=5040)
    other = ForumFactory(name="Misc")
    torrents = {
        "movie": TorrentFactory(forum=movies, name="Big.Movie.2026.1080p", seeders=5, leechers=3, completed=9, freeleech="gold"),
        "episode": TorrentFactory(forum=tv, name="Some.Show.S02E03.720p", seeders=1),
        "season": TorrentFactory(forum=tv, name="Some.Show.S02.Complete"),
        "misc": TorrentFactory(forum=other, name="linux-iso", freeleech="silver"),
        "hidden": TorrentFactory(forum=ForumFactory(view_level=2, newznab_category=2040), name="Big.Movie.Staff"),
        "pending": TorrentFactory(forum=movies, name="Big.Movie.Pending", status="not_approved"),
    }
    return torrents


def test_caps_lists_the_functions_and_the_mapped_categories(client: Client, user: Any, catalogue: dict[str, Any]) -> None:
    response, caps = _get(client, _key(user), t="caps")
    assert response.status_code == 200 and "xml" in response["Content-Type"]
    assert caps.tag == "caps"
    assert caps.find("limits").get("max") == "100"
    searching = caps.find("searching")
    assert searching.find("search").get("available") == "yes"
    assert searching.find("tv-search").get("supportedParams") == "q,season,ep"
    assert searching.find("movie-search").get("available") == "yes"
    categories = {c.get("id"): [s.get("id") for s in c.findall("subcat")] for c in caps.find("categories").findall("category")}
    assert categories == {"2000": ["2040"], "5000": ["5040"], "8000": []}


def test_search_answers_an_rss_channel_with_torznab_attributes(client: Client, user: Any, catalogue: dict[str, Any]) -> None:
    policy = site_policy()
    response, rss = _get(client, _key(user), t="search", q="big movie")
    assert response.status_code == 200 and response["Content-Type"].startswith("application/rss+xml")
    channel = rss.find("channel")
    assert channel.find(f"{NEWZNAB}response").attrib == {"offset": "0", "total": "1"}
    (item,) = channel.findall("item")
    movie = catalogue["movie"]
    assert item.findtext("title") == movie.name
    assert item.findtext("comments").endswith(f"/torrents/{movie.pk}/")
    assert item.find("enclosure").get("type") == "application/x-bittorrent"
    assert item.find("enclosure").get("length") == str(movie.size)
    assert _attrs(item, "size") == [str(movie.size)]
    assert _attrs(item, "seeders") == ["5"] and _attrs(item, "peers") == ["8"] and _attrs(item, "grabs") == ["9"]
    assert _attrs(item, "infohash") == [movie.info_hash]
    assert _attrs(item, "category") == ["2040", "2000"]
    assert _attrs(item, "downloadvolumefactor") == ["0"] and _attrs(item, "uploadvolumefactor") == ["1"]
    assert _attrs(item, "minimumratio") == [f"{float(policy.hnr_ratio):g}"]
    assert _attrs(item, "minimumseedtime") == [str(policy.hnr_seed_hours * 3600)]


def test_the_enclosure_downloads_with_the_same_key(client: Client, user: Any, catalogue: dict[str, Any]) -> None:
    _, rss = _get(client, _key(user), t="search", q="linux")
    item = rss.find("channel").find("item")
    assert _attrs(item, "downloadvolumefactor") == ["0.5"]
    url = urlsplit(item.find("enclosure").get("url"))
    response = client.get(f"{url.path}?{url.query}")
    assert response.status_code == 200 and user.passkey.encode() in response.content


def test_a_hidden_torrent_is_never_a_result(client: Client, user: Any, catalogue: dict[str, Any]) -> None:
    _, rss = _get(client, _key(user), t="search", limit="100")
    titles = {item.findtext("title") for item in rss.iter("item")}
    assert titles == {"Big.Movie.2026.1080p", "Some.Show.S02E03.720p", "Some.Show.S02.Complete", "linux-iso"}


@pytest.mark.parametrize(
    ("params", "titles"),
    [
        ({"t": "search", "cat": "2000"}, {"Big.Movie.2026.1080p"}),
        ({"t": "search", "cat": "5040,8000"}, {"Some.Show.S02E03.720p", "Some.Show.S02.Complete", "linux-iso"}),
        ({"t": "movie", "q": "Big Movie", "cat": "2040"}, {"Big.Movie.2026.1080p"}),
        ({"t": "tvsearch", "q": "Some Show", "season": "2", "ep": "3"}, {"Some.Show.S02E03.720p"}),
        ({"t": "tvsearch", "q": "Some Show", "season": "2"}, {"Some.Show.S02E03.720p", "Some.Show.S02.Complete"}),
        ({"t": "search", "q": "nothing-like-this"}, set()),
    ],
)
def test_search_filters_by_category_and_words(
    client: Client, user: Any, catalogue: dict[str, Any], params: dict[str, str], titles: set[str]
) -> None:
    _, rss = _get(client, _key(user), **params)
    assert {item.findtext("title") for item in rss.iter("item")} == titles


def test_paging_with_offset_and_limit(client: Client, user: Any, catalogue: dict[str, Any]) -> None:
    key = _key(user)
    seen = []
    for offset in (0, 2):
        _, rss = _get(client, key, t="search", offset=str(offset), limit="2")
        assert rss.find("channel").find(f"{NEWZNAB}response").attrib == {"offset": str(offset), "total": "4"}
        seen += [item.findtext("title") for item in rss.iter("item")]
    assert len(seen) == 4 and len(set(seen)) == 4
    _, rss = _get(client, key, t="search", offset="10")
    assert rss.find("channel").find(f"{NEWZNAB}response").get("total") == "4" and not rss.findall(".//item")


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({}, 400, "200"),
        ({"t": "nope"}, 400, "202"),
        ({"t": "music"}, 400, "203"),
        ({"t": "search", "cat": "movies"}, 400, "201"),
        ({"t": "search", "limit": "0"}, 400, "201"),
        ({"t": "search", "offset": "-1"}, 400, "201"),
        ({"t": "tvsearch", "season": "x"}, 400, "201"),
    ],
)
def test_bad_requests_are_torznab_errors(client: Client, user: Any, params: dict[str, str], status: int, code: str) -> None:
    response, error = _get(client, _key(user), **params)
    assert response.status_code == status
    assert error.tag == "error" and error.get("code") == code and error.get("description")
    assert b"success" not in response.content


def test_credentials_errors(client: Client, user: Any) -> None:
    response, error = _get(client, None, t="caps")
    assert (response.status_code, error.get("code"), error.get("description")) == (401, "200", "Missing parameter")
    response, error = _get(client, "tpk_wrong000000000000000000", t="caps")
    assert (response.status_code, error.get("code")) == (401, "100")
    response, error = _get(client, user.passkey, t="caps")
    assert (response.status_code, error.get("code")) == (401, "100")
    response, error = _get(client, _key(user, "read", "download"), t="caps")
    assert (response.status_code, error.get("code")) == (403, "102") and "'feed' scope" in error.get("description")
    key, raw = api_key_create(user=user, name="x", scopes=["feed"])
    api_key_revoke(user=user, pk=key.pk)
    assert _get(client, raw, t="caps")[1].get("code") == "100"
    raw = _key(user)
    user_set_banned(user=user, banned=True)
    assert _get(client, raw, t="caps")[1].get("code") == "100"


def test_the_key_may_come_as_a_header(client: Client, user: Any) -> None:
    response = client.get("/api/torznab", {"t": "caps"}, HTTP_X_API_KEY=_key(user))
    assert response.status_code == 200


def test_a_post_is_a_torznab_error(client: Client, user: Any) -> None:
    response = client.post(f"/api/torznab?t=caps&apikey={_key(user)}")
    assert response.status_code == 403 and ET.fromstring(response.content).get("code") == "102"
    response = client.put(f"/api/torznab?t=caps&apikey={_key(user, 'feed', 'read')}")
    assert response.status_code == 403 and ET.fromstring(response.content).get("code") == "102"


def test_the_limit_is_the_owners_and_answered_in_xml(client: Client, user: Any, settings: Any) -> None:
    settings.API_RATE_LIMIT_AUTHENTICATED = 2
    key = _key(user)
    assert _get(client, key, t="caps")[0]["X-RateLimit-Remaining"] == "1"
    assert _get(client, key, t="caps")[0].status_code == 200
    response, error = _get(client, key, t="caps")
    assert response.status_code == 429 and response["Retry-After"]
    assert (error.get("code"), error.get("description")) == ("500", "Request limit reached")


def test_a_searchs_queries_do_not_grow_with_its_results(client: Client, user: Any) -> None:
    """Each result's forum, counts and files come with the page's own queries: no query per item."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    key = _key(user)
    forum = ForumFactory(newznab_category=2040)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            response, _ = _get(client, key, t="search", q="")
            assert response.status_code == 200
        return len(captured)

    TorrentFactory.create_batch(2, forum=forum)
    queries()  # the key's first use writes its last use (then at most once a minute)
    few = queries()
    TorrentFactory.create_batch(8, forum=forum)
    assert queries() == few
