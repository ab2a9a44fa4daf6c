"""GET /: browse, search, filter, sort and paginate the torrents."""

import re

import pytest

from tests.factories import CategoryFactory, ForumFactory, TorrentFactory
from tracker.models import AccessLevel, TorrentFile, TorrentStatus


def names_in(html: str) -> list[str]:
    return re.findall(r'class="torrent-name" href="/torrents/\d+/">([^<]+)</a>', html.replace("<wbr>", ""))  # names wrap at <wbr>


@pytest.mark.django_db
def test_browse_lists_torrents_newest_first_with_their_figures(client, forum):
    TorrentFactory(forum=forum, name="older", seeders=7, leechers=3, size=2 * 1024**2 - 1000)
    TorrentFactory(forum=forum, name="newer")
    response = client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert names_in(html) == ["newer", "older"]
    assert '<td class="num seeders" data-label="Seeders">7</td>' in html
    assert '<td class="num leechers" data-label="Leechers">3</td>' in html
    assert '<td class="num seeders zero" data-label="Seeders">0</td>' in html
    assert "2.0\xa0MB" in html
    assert "2 torrents (2.0\xa0MB)" in html
    assert '<span class="seeders">7</span> seeding' in html


@pytest.mark.django_db
def test_browse_has_labelled_filters(client, forum):
    html = client.get("/").content.decode()
    for name in ("search", "category", "forum", "sort", "order"):
        assert f'<label for="id_{name}">' in html


@pytest.mark.django_db
def test_browse_searches_names_descriptions_and_file_names(client, forum):
    TorrentFactory(forum=forum, name="debian netinst")
    TorrentFactory(forum=forum, name="other", description="all about Debian")
    inside = TorrentFactory(forum=forum, name="bundle")
    TorrentFactory(forum=forum, name="unrelated")
    TorrentFile.objects.create(torrent=inside, path="iso/debian.iso", size=1)
    # torrent_register copies the paths into files_text, the searched column
    inside.files_text = "iso/debian.iso"
    inside.save(update_fields=["files_text"])
    html = client.get("/", {"search": "debian"}).content.decode()
    assert sorted(names_in(html)) == ["bundle", "debian netinst", "other"]
    assert "3 matches" in html


@pytest.mark.django_db
def test_browse_filters_by_forum_and_by_category(client):
    music = CategoryFactory(name="Music")
    jazz, rock = ForumFactory(category=music, name="Jazz"), ForumFactory(category=music, name="Rock")
    films = ForumFactory(name="Films")
    TorrentFactory(forum=jazz, name="jazz-1")
    TorrentFactory(forum=rock, name="rock-1")
    TorrentFactory(forum=films, name="film-1")
    assert names_in(client.get("/", {"forum": jazz.pk}).content.decode()) == ["jazz-1"]
    assert sorted(names_in(client.get("/", {"category": music.pk}).content.decode())) == ["jazz-1", "rock-1"]
    assert '<optgroup label="Music">' in client.get("/").content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("sort", "order", "expected"),
    [
        ("size", "asc", ["small", "medium", "large"]),
        ("size", "desc", ["large", "medium", "small"]),
        ("seeders", "desc", ["medium", "large", "small"]),
    ],
)
def test_browse_sorts_by_the_apis_fields(client, forum, sort, order, expected):
    TorrentFactory(forum=forum, name="small", size=10, seeders=1)
    TorrentFactory(forum=forum, name="large", size=1000, seeders=5)
    TorrentFactory(forum=forum, name="medium", size=100, seeders=9)
    assert names_in(client.get("/", {"sort": sort, "order": order}).content.decode()) == expected


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"sort": "info_hash"}, "Select a valid choice."),
        ({"order": "sideways"}, "Select a valid choice."),
        ({"page": "0"}, "greater than or equal to 1"),
        ({"page": "x"}, "Enter a whole number."),
        ({"page": "99999999999999999999999"}, "less than or equal to"),  # was a 500: OFFSET past 64 bits
        ({"forum": "999999"}, "Select a valid choice."),
        ({"search": "x" * 201}, "at most 200 characters"),
    ],
)
def test_browse_explains_a_bad_query_with_422(client, forum, query, message):
    response = client.get("/", query)
    assert response.status_code == 422
    assert message in response.content.decode()


@pytest.mark.django_db
def test_browse_paginates_fifty_a_page(client, forum, user):
    TorrentFactory.create_batch(53, forum=forum, uploader=user)
    first = client.get("/").content.decode()
    assert len(names_in(first)) == 50
    assert "Page 1 of 2" in first
    assert 'href="?page=2" rel="next"' in first
    second = client.get("/", {"page": 2}).content.decode()
    assert len(names_in(second)) == 3
    assert 'rel="prev"' in second
    past = client.get("/", {"page": 3}).content.decode()
    assert names_in(past) == []
    assert "This page is past the end of the list." in past


@pytest.mark.django_db
def test_browse_hides_what_the_visitor_may_not_see(client, member_client, moderator_page_client, user, forum):
    staff_only = ForumFactory(view_level=AccessLevel.MODERATOR)
    TorrentFactory(forum=staff_only, name="staff-only")
    TorrentFactory(forum=forum, name="pending", status=TorrentStatus.NOT_APPROVED)
    TorrentFactory(forum=forum, name="mine-pending", status=TorrentStatus.NOT_APPROVED, uploader=user)
    TorrentFactory(forum=forum, name="public")
    assert names_in(client.get("/").content.decode()) == ["public"]
    assert sorted(names_in(member_client.get("/").content.decode())) == ["mine-pending", "public"]
    assert sorted(names_in(moderator_page_client.get("/").content.decode())) == ["mine-pending", "pending", "public", "staff-only"]
    assert staff_only.name not in client.get("/").content.decode()


@pytest.mark.django_db
def test_browse_escapes_torrent_names(client, forum):
    TorrentFactory(forum=forum, name="<script>alert(1)</script>")
    html = client.get("/").content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html.replace("<wbr>", "")  # escaped, then allowed to wrap


@pytest.mark.django_db
def test_browse_runs_in_bounded_queries(member_client, forum, user, moderator, django_assert_max_num_queries):
    for n in range(60):
        TorrentFactory(forum=ForumFactory() if n % 10 == 0 else forum, uploader=user if n % 2 else moderator)
    # session, user, forums, the page of torrents, its count, the member's bookmarks among them,
    # and the site totals (cached for a minute: 3 more on a miss)
    with django_assert_max_num_queries(10):
        assert member_client.get("/", {"search": "torrent", "sort": "seeders"}).status_code == 200
    with django_assert_max_num_queries(7):
        assert member_client.get("/", {"search": "torrent", "sort": "size"}).status_code == 200


@pytest.mark.django_db
def test_empty_browse_says_so(client):
    assert "No torrents yet." in client.get("/").content.decode()
    assert "No torrents match." in client.get("/", {"search": "nothing"}).content.decode()
