"""GET /: the API's torrent filters on the page, page sizes, sorting headers, row actions and a bounded query count."""

import re
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tests.factories import CategoryFactory, ForumFactory, TorrentFactory, UserFactory
from tracker.catalogue.selectors import TORRENT_LIST
from tracker.models import AccessLevel, Bookmark, Freeleech, Torrent
from web.forms import SizeField

GIB = 1024**3
MIB = 1024**2


def names_in(html: str) -> list[str]:
    return re.findall(r'class="torrent-name" href="/torrents/\d+/">([^<]+)</a>', html.replace("<wbr>", ""))  # names wrap at <wbr>


def header(html: str, label: str) -> str:
    """The <th> of the column headed `label`."""
    match = re.search(rf"<th [^>]*>(?:(?!</th>).)*>{label}(?: <span|</a>).*?</th>", html, re.DOTALL)
    assert match, label
    return match[0]


def header_query(html: str, label: str) -> dict[str, list[str]]:
    href = re.search(r'href="([^"]+)"', header(html, label))[1].replace("&amp;", "&")
    return parse_qs(urlsplit(href).query)


@pytest.fixture
def catalogue(db):
    """Three torrents in two categories, by two uploaders, added a month apart."""
    music, films = CategoryFactory(name="Music"), CategoryFactory(name="Films")
    jazz, drama = ForumFactory(category=music, name="Jazz"), ForumFactory(category=films, name="Drama")
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    rows = [
        ("big-gold", drama, alice, Freeleech.GOLD, 4 * GIB + GIB // 2, 3, datetime(2026, 1, 10, tzinfo=UTC)),
        ("mid-silver", drama, bob, Freeleech.SILVER, 700 * MIB, 0, datetime(2026, 2, 10, tzinfo=UTC)),
        ("small-plain", jazz, alice, Freeleech.NONE, 1000, 1, datetime(2026, 3, 10, tzinfo=UTC)),
    ]
    for name, forum, uploader, freeleech, size, seeders, created_at in rows:
        torrent = TorrentFactory(name=name, forum=forum, uploader=uploader, freeleech=freeleech, size=size, seeders=seeders)
        Torrent.objects.filter(pk=torrent.pk).update(created_at=created_at)
    return {"jazz": jazz.pk, "drama": drama.pk, "music": music.pk, "films": films.pk}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, ["big-gold", "mid-silver", "small-plain"]),
        ({"forum": "jazz"}, ["small-plain"]),
        ({"category": "films"}, ["big-gold", "mid-silver"]),
        ({"freeleech": "gold"}, ["big-gold"]),
        ({"freeleech": "silver"}, ["mid-silver"]),
        ({"seeded": "true"}, ["big-gold", "small-plain"]),
        ({"seeded": "false"}, ["mid-silver"]),
        ({"min_size": "700 MiB"}, ["big-gold", "mid-silver"]),
        ({"min_size": "734003201"}, ["big-gold"]),  # bytes: one past 700 MiB
        ({"max_size": "700 MiB"}, ["mid-silver", "small-plain"]),
        ({"min_size": "4.5 GiB", "max_size": "4.5gb"}, ["big-gold"]),
        ({"max_size": "1 kb"}, ["small-plain"]),
        ({"uploader": "alice"}, ["big-gold", "small-plain"]),
        ({"uploader": "bob"}, ["mid-silver"]),
        ({"created_after": "2026-02-01"}, ["mid-silver", "small-plain"]),
        ({"created_before": "2026-02-01"}, ["big-gold"]),
        ({"created_after": "2026-02-01", "created_before": "2026-03-01"}, ["mid-silver"]),
        ({"uploader": "alice", "seeded": "true", "min_size": "1 GiB"}, ["big-gold"]),
    ],
)
def test_browse_filters_like_the_api(client, api_client, catalogue, query, expected):
    query = {k: catalogue.get(v, v) if k in ("forum", "category") else v for k, v in query.items()}
    response = client.get("/", {**query, "sort": "name", "order": "asc"})
    assert response.status_code == 200
    assert names_in(response.content.decode()) == expected
    if "uploader" not in query and "size" not in "".join(query):  # the API takes these as an id and bytes
        api = api_client.get("/api/torrents", {**query, "sort": "name", "order": "asc"})
        assert [t["name"] for t in api.json()["data"]] == expected


def test_browse_says_how_many_a_filter_matched(client, catalogue):
    assert "2 matches" in client.get("/", {"seeded": "true"}).content.decode()
    assert "No torrents match." in client.get("/", {"freeleech": "gold", "seeded": "false"}).content.decode()


@pytest.mark.parametrize(
    ("text", "size"),
    [("1024", 1024), ("700 MiB", 700 * MIB), ("4.5 GiB", 4 * GIB + GIB // 2), ("2g", 2 * GIB), ("1.5 KB", 1536), ("3 B", 3), ("", None)],
)
def test_sizes_are_read_in_bytes_or_binary_units(text, size):
    assert SizeField(required=False).clean(text) == size


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"min_size": "lots"}, "Enter a size such as 734003200, 700 MiB or 4.5 GiB."),
        ({"max_size": "-5"}, "Enter a size such as"),
        ({"min_size": "1.5 PiB"}, "Enter a size such as"),
        ({"max_size": "99999999999 TiB"}, "less than or equal to 9223372036854775807"),  # the API's TorrentFilter refuses it
        ({"uploader": "nobody"}, "No member is called “nobody”."),
        ({"created_after": "yesterday"}, "Enter a valid date."),
        ({"created_before": "2026-13-01"}, "Enter a valid date."),
        ({"freeleech": "platinum"}, "Select a valid choice."),
        ({"seeded": "maybe"}, "Select a valid choice."),
        ({"per_page": "7"}, "Select a valid choice."),
        ({"per_page": "1000"}, "Select a valid choice."),
    ],
)
def test_browse_explains_a_bad_filter_with_422(client, catalogue, query, message):
    response = client.get("/", query)
    assert response.status_code == 422
    html = response.content.decode()
    assert message in html
    assert "This search could not be run." in html
    assert names_in(html) == []


@pytest.mark.django_db
@pytest.mark.parametrize(("per_page", "rows"), [(None, 50), ("25", 25), ("50", 50), ("100", 60)])
def test_browse_shows_the_chosen_number_a_page(client, forum, per_page, rows):
    TorrentFactory.create_batch(60, forum=forum)
    html = client.get("/", {"per_page": per_page} if per_page else {}).content.decode()
    assert len(names_in(html)) == rows
    assert '<select name="per_page"' in html


@pytest.mark.django_db
def test_pagination_links_keep_every_parameter(client, forum):
    TorrentFactory.create_batch(30, forum=forum, seeders=1)
    html = client.get("/", {"per_page": "25", "seeded": "true", "sort": "size", "order": "asc"}).content.decode()
    assert "Page 1 of 2" in html
    href = re.search(r'href="([^"]+)" rel="next"', html)[1].replace("&amp;", "&")
    assert parse_qs(urlsplit(href).query) == {"per_page": ["25"], "seeded": ["true"], "sort": ["size"], "order": ["asc"], "page": ["2"]}
    assert len(names_in(client.get(href).content.decode())) == 5


def test_the_sorted_column_shows_its_direction(client, catalogue):
    html = client.get("/").content.decode()  # the default: newest first
    added = header(html, "Added")
    assert 'aria-sort="descending"' in added
    assert "▼" in added
    for label in ("Name", "Size", "Seeders", "Leechers", "Done"):
        assert "aria-sort" not in header(html, label)
        assert "▲" not in header(html, label) and "▼" not in header(html, label)
    ascending = header(client.get("/", {"sort": "size", "order": "asc"}).content.decode(), "Size")
    assert 'aria-sort="ascending"' in ascending
    assert "▲" in ascending


def test_clicking_the_sorted_column_reverses_it_and_keeps_the_filters(client, catalogue):
    html = client.get("/", {"sort": "size", "order": "desc", "seeded": "true", "per_page": "25", "page": "1"}).content.decode()
    assert header_query(html, "Size") == {"sort": ["size"], "order": ["asc"], "seeded": ["true"], "per_page": ["25"]}
    # Another column starts in its own first order, the filters kept and the page reset.
    assert header_query(html, "Name") == {"sort": ["name"], "order": ["asc"], "seeded": ["true"], "per_page": ["25"]}
    assert header_query(html, "Seeders") == {"sort": ["seeders"], "order": ["desc"], "seeded": ["true"], "per_page": ["25"]}
    first = client.get("/", {"sort": "size"}).content.decode()
    assert names_in(first) == ["big-gold", "mid-silver", "small-plain"]
    href = re.search(r'href="([^"]+)"', header(first, "Size"))[1].replace("&amp;", "&")
    assert names_in(client.get(href).content.decode()) == ["small-plain", "mid-silver", "big-gold"]


def test_the_sort_headers_are_the_apis_sorts(client, catalogue):
    html = client.get("/").content.decode()
    sorts = set(re.findall(r'<a class="sort" href="\?sort=([a-z_]+)&amp;', html))
    assert sorts == set(TORRENT_LIST.sorts)


def test_rows_show_forum_and_freeleech_badges(client, catalogue):
    html = client.get("/", {"sort": "name", "order": "asc"}).content.decode()
    assert f'<a class="badge badge--forum" href="?forum={catalogue["drama"]}">Drama</a>' in html
    assert f'<a class="badge badge--forum" href="?category={catalogue["films"]}">Films</a>' in html
    assert '<span class="badge badge--gold" title="Gold (no download counted)">Gold</span>' in html
    assert '<span class="badge badge--silver" title="Silver (half the download counted)">Silver</span>' in html
    assert html.count('class="badge badge--gold"') == 1
    assert '· by <a href="?uploader=alice">alice</a>' in html  # a guest: the uploader's torrents


@pytest.mark.django_db
def test_a_members_row_links_the_uploader_to_their_page_and_their_torrents(catalogue, user):
    member = Client()
    member.force_login(user)
    html = member.get("/", {"sort": "name", "order": "asc"}).content.decode()
    assert '· by <a href="/users/alice/">alice</a>' in html and 'href="?uploader=alice" title="Only alice' in html


def row_of(html: str, torrent: Torrent) -> str:
    match = re.search(rf'<tr>\s*<td>\s*<a class="torrent-name" href="/torrents/{torrent.pk}/">.*?</tr>', html, re.DOTALL)
    assert match
    return match[0]


@pytest.fixture
def two_forums(db):
    """A torrent members may download, and one only moderators may."""
    open_torrent = TorrentFactory(forum=ForumFactory(), name="open")
    staff_torrent = TorrentFactory(forum=ForumFactory(download_level=AccessLevel.MODERATOR), name="staff-download")
    return open_torrent, staff_torrent


@pytest.mark.django_db
def test_a_guest_gets_no_row_actions(client, two_forums):
    html = client.get("/").content.decode()
    assert names_in(html) == ["staff-download", "open"]
    assert "/download/" not in html
    assert "magnet:" not in html
    assert "/bookmark/" not in html
    assert ">Actions</th>" not in html


@pytest.mark.django_db
def test_a_member_downloads_where_allowed_and_bookmarks_and_has_the_magnet(member_client, user, two_forums):
    open_torrent, staff_torrent = two_forums
    Bookmark.objects.create(user=user, torrent=staff_torrent)
    response = member_client.get("/")
    assert "no-store" in response["Cache-Control"]  # the magnet links carry the passkey
    html = response.content.decode()
    assert ">Actions</th>" in html
    mine = row_of(html, open_torrent)
    assert f'href="/torrents/{open_torrent.pk}/download/" download' in mine
    assert re.search(rf'href="magnet:\?[^"]*{open_torrent.info_hash}[^"]*{user.passkey}', mine)
    assert f'<form method="post" action="/torrents/{open_torrent.pk}/bookmark/">' in mine
    assert 'name="csrfmiddlewaretoken"' in mine
    assert 'name="action" value="add"' in mine
    staff = row_of(html, staff_torrent)
    assert "/download/" not in staff  # as on the torrent page: the forum's download level is above the member's
    assert 'name="action" value="remove"' in staff  # bookmarked already


@pytest.mark.django_db
def test_a_moderator_downloads_from_the_staff_forum(moderator_page_client, two_forums):
    _, staff_torrent = two_forums
    html = moderator_page_client.get("/").content.decode()
    assert f'href="/torrents/{staff_torrent.pk}/download/" download' in row_of(html, staff_torrent)


@pytest.mark.django_db
def test_the_bookmark_form_posts_with_its_csrf_token(csrf_client, user, two_forums):
    open_torrent, _ = two_forums
    csrf_client.force_login(user)
    row = row_of(csrf_client.get("/").content.decode(), open_torrent)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', row)[1]
    response = csrf_client.post(f"/torrents/{open_torrent.pk}/bookmark/", {"csrfmiddlewaretoken": token, "action": "add"})
    assert response.status_code == 302
    assert Bookmark.objects.filter(user=user, torrent=open_torrent).exists()


@pytest.mark.django_db
def test_the_query_count_does_not_grow_with_the_rows(member_client, user, django_assert_max_num_queries):
    def queries() -> int:
        member_client.get("/")  # fills the site totals' cache
        with CaptureQueriesContext(connection) as captured:
            assert member_client.get("/", {"sort": "seeders"}).status_code == 200
        return len(captured)

    def add(count: int) -> None:
        for n in range(count):
            torrent = TorrentFactory(forum=ForumFactory(), freeleech=Freeleech.GOLD if n % 2 else Freeleech.NONE, seeders=n)
            if n % 3 == 0:
                Bookmark.objects.create(user=user, torrent=torrent)

    add(5)
    few = queries()
    add(25)
    assert queries() == few
    # session, user, forums, the page of torrents, the member's bookmarks among them
    with django_assert_max_num_queries(7):
        assert len(names_in(member_client.get("/", {"sort": "seeders"}).content.decode())) == 30
