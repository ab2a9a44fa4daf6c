"""GET /api/torrents (filters, search, sort, visibility, counts) and GET /api/torrents/{id}."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import CategoryFactory, ForumFactory, TorrentFactory, UserFactory
from tests.tracker.catalogue.helpers import forum_with_levels
from tracker.models import AccessLevel, Torrent, TorrentFile, TorrentStatus

pytestmark = pytest.mark.django_db


def ids(response):
    assert response.status_code == 200, response.content
    return [t["id"] for t in response.json()["data"]]


@pytest.fixture
def catalogue(forum):
    other_forum = ForumFactory()
    a = TorrentFactory(forum=forum, name="Ubuntu 24.04 Desktop", size=5_000, seeders=3, leechers=1, completed=9)
    b = TorrentFactory(forum=forum, name="Debian netinst", size=300, description="A small ubuntu alternative", freeleech="gold")
    c = TorrentFactory(forum=other_forum, name="Arch", size=900, seeders=1, leechers=7, completed=2, status=TorrentStatus.APPROVED)
    TorrentFile.objects.create(torrent=c, path="iso/archlinux-UBUNTU-compat.txt", size=1)
    Torrent.objects.filter(pk=c.pk).update(files_text="iso/archlinux-UBUNTU-compat.txt")
    Torrent.objects.filter(pk=a.pk).update(created_at=timezone.now() - timedelta(days=3))
    Torrent.objects.filter(pk=b.pk).update(created_at=timezone.now() - timedelta(days=2))
    return {"a": a.pk, "b": b.pk, "c": c.pk, "forum": forum, "other_forum": other_forum}


def test_default_order_is_newest_first_with_meta(api_client, catalogue):
    response = api_client.get("/api/torrents")
    assert ids(response) == [catalogue["c"], catalogue["b"], catalogue["a"]]
    assert response.json()["meta"] == {"current_page": 1, "per_page": 50, "total": 3, "total_pages": 1}


@pytest.mark.parametrize(
    ("sort", "order", "expected"),
    [
        ("name", "asc", ["c", "b", "a"]),
        ("size", "desc", ["a", "c", "b"]),
        ("seeders", "desc", ["a", "c", "b"]),
        ("leechers", "asc", ["b", "a", "c"]),
        ("completed", "desc", ["a", "c", "b"]),
        ("created_at", "asc", ["a", "b", "c"]),
    ],
)
def test_sorting(api_client, catalogue, sort, order, expected):
    assert ids(api_client.get(f"/api/torrents?sort={sort}&order={order}")) == [catalogue[k] for k in expected]


@pytest.mark.parametrize(("query", "field"), [("sort=uploader", "sort"), ("order=up", "order"), ("sort=metainfo", "sort")])
def test_sorting_outside_the_whitelist_is_422(api_client, catalogue, query, field):
    response = api_client.get(f"/api/torrents?{query}")
    assert response.status_code == 422
    assert field in response.json()["error"]["details"]


def test_search_covers_name_description_and_file_paths_case_insensitively(api_client, catalogue):
    assert sorted(ids(api_client.get("/api/torrents?search=ubuntu"))) == sorted([catalogue["a"], catalogue["b"], catalogue["c"]])
    assert ids(api_client.get("/api/torrents?search=NETINST")) == [catalogue["b"]]
    assert ids(api_client.get("/api/torrents?search=archlinux-ubuntu")) == [catalogue["c"]]
    assert ids(api_client.get("/api/torrents?search=nothing-like-this")) == []


def test_search_treats_like_wildcards_literally(api_client, catalogue):
    assert ids(api_client.get("/api/torrents?search=%25")) == []
    assert ids(api_client.get("/api/torrents?search=_")) == []


def test_too_long_search_is_422(api_client):
    assert api_client.get("/api/torrents?search=" + "x" * 201).status_code == 422


def test_filters(api_client, catalogue):
    t = {k: Torrent.objects.get(pk=catalogue[k]) for k in "abc"}
    forum = catalogue["forum"]
    assert sorted(ids(api_client.get(f"/api/torrents?forum={forum.pk}"))) == sorted([t["a"].pk, t["b"].pk])
    assert ids(api_client.get(f"/api/torrents?category={catalogue['other_forum'].category_id}")) == [t["c"].pk]
    assert ids(api_client.get(f"/api/torrents?uploader={t['a'].uploader_id}")) == [t["a"].pk]
    assert ids(api_client.get("/api/torrents?freeleech=gold")) == [t["b"].pk]
    assert ids(api_client.get("/api/torrents?seeded=false")) == [t["b"].pk]
    assert sorted(ids(api_client.get("/api/torrents?seeded=true"))) == sorted([t["a"].pk, t["c"].pk])
    assert ids(api_client.get(f"/api/torrents?info_hash={t['a'].info_hash.upper()}")) == [t["a"].pk]
    assert ids(api_client.get("/api/torrents?min_size=800&max_size=1000")) == [t["c"].pk]
    after = (timezone.now() - timedelta(days=1)).isoformat().replace("+00:00", "Z")
    assert ids(api_client.get(f"/api/torrents?created_after={after}")) == [t["c"].pk]
    assert sorted(ids(api_client.get(f"/api/torrents?created_before={after}"))) == sorted([t["a"].pk, t["b"].pk])
    assert ids(api_client.get("/api/torrents?status=approved&search=arch")) == [t["c"].pk]


def test_info_hash_filter_matches_v2_and_its_short_form(api_client, forum):
    v2 = "ab" * 32
    torrent = TorrentFactory(forum=forum, info_hash=None, info_hash_v2=v2)
    assert ids(api_client.get(f"/api/torrents?info_hash={v2}")) == [torrent.pk]
    assert ids(api_client.get(f"/api/torrents?info_hash={v2[:40]}")) == [torrent.pk]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("forum=x", "forum"),
        ("min_size=-1", "min_size"),
        ("max_size=big", "max_size"),
        ("status=nope", "status"),
        ("freeleech=platinum", "freeleech"),
        ("info_hash=zz", "info_hash"),
        ("created_after=yesterday", "created_after"),
        ("seeded=maybe", "seeded"),
        ("page=0", "page"),
        ("per_page=abc", "per_page"),
        # past 64 bits: SQLite could not even bind these (it was a 500)
        ("forum=99999999999999999999999", "forum"),
        ("category=99999999999999999999999", "category"),
        ("uploader=99999999999999999999999", "uploader"),
        ("min_size=99999999999999999999999", "min_size"),
        # PostgreSQL refuses a NUL in a string (it was a 500)
        ("search=a%00b", "search"),
        # ids and byte sizes are whole numbers, as the schema says (these were matched against nothing, 200)
        ("min_size=0.5", "min_size"),
        ("max_size=1000.5", "max_size"),
        ("forum=1.5", "forum"),
        ("category=2.5", "category"),
        ("uploader=1e3", "uploader"),
    ],
)
def test_bad_filter_values_are_422_with_details(api_client, catalogue, query, field):
    response = api_client.get(f"/api/torrents?{query}")
    assert response.status_code == 422
    assert field in response.json()["error"]["details"]


def test_pagination(api_client, catalogue):
    response = api_client.get("/api/torrents?per_page=2&page=2")
    assert ids(response) == [catalogue["a"]]
    assert response.json()["meta"] == {"current_page": 2, "per_page": 2, "total": 3, "total_pages": 2}


def test_unapproved_torrents_show_only_to_their_uploader_and_moderators(api_client, user_client, user, moderator_client, forum):
    mine = TorrentFactory(forum=forum, uploader=user, status=TorrentStatus.NOT_APPROVED)
    theirs = TorrentFactory(forum=forum, status=TorrentStatus.CHECKING)
    assert ids(api_client.get("/api/torrents")) == []
    assert ids(user_client.get("/api/torrents")) == [mine.pk]
    assert sorted(ids(moderator_client.get("/api/torrents"))) == sorted([mine.pk, theirs.pk])
    assert user_client.get(f"/api/torrents/{theirs.pk}").status_code == 404
    assert user_client.get(f"/api/torrents/{mine.pk}").status_code == 200


def test_forum_view_levels_hide_torrents(api_client, user_client, moderator_client, admin_client_api):
    levels = {level: TorrentFactory(forum=forum_with_levels(view=level)).pk for level in AccessLevel}
    assert ids(api_client.get("/api/torrents")) == [levels[AccessLevel.GUEST]]
    assert sorted(ids(user_client.get("/api/torrents"))) == sorted([levels[AccessLevel.GUEST], levels[AccessLevel.USER]])
    assert len(ids(moderator_client.get("/api/torrents"))) == 3
    assert len(ids(admin_client_api.get("/api/torrents"))) == 4
    assert user_client.get(f"/api/torrents/{levels[AccessLevel.MODERATOR]}").status_code == 404
    assert api_client.get(f"/api/torrents/{levels[AccessLevel.USER]}/files").status_code == 404


def test_list_queries_are_bounded(api_client, user_client, django_assert_max_num_queries):
    forums = [ForumFactory(category=CategoryFactory()) for _ in range(3)]
    for i in range(30):
        TorrentFactory(forum=forums[i % 3], uploader=UserFactory())
    with django_assert_max_num_queries(2):
        assert len(ids(api_client.get("/api/torrents?search=torrent&sort=size"))) == 30
    with django_assert_max_num_queries(4):  # user, approved count, own unapproved count, page
        assert len(ids(user_client.get(f"/api/torrents?forum={forums[0].pk}"))) == 10


def test_the_total_is_cached_between_pages_but_a_new_upload_shows(api_client, forum, django_assert_max_num_queries):
    TorrentFactory(forum=forum)
    assert api_client.get("/api/torrents").json()["meta"]["total"] == 1
    with django_assert_max_num_queries(1):  # the page only: the count comes from the cache
        api_client.get("/api/torrents")
    from tracker.catalogue.services import torrent_delete

    torrent_delete(actor=UserFactory(role="moderator"), torrent=Torrent.objects.get())
    assert api_client.get("/api/torrents").json()["meta"]["total"] == 0


def test_detail(api_client, torrent):
    response = api_client.get(f"/api/torrents/{torrent.pk}")
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["id"] == torrent.pk
    assert data["uploader"] == {"id": torrent.uploader.pk, "username": torrent.uploader.username}
    assert "passkey" not in str(data).lower()
    assert "email" not in data["uploader"]
    assert data["piece_length"] == torrent.piece_length


def test_description_html_is_escaped(api_client, forum):
    torrent = TorrentFactory(forum=forum, description="<script>alert(1)</script>\n\nnext")
    html = api_client.get(f"/api/torrents/{torrent.pk}").json()["data"]["description_html"]
    assert "<script>" not in html
    assert "&lt;script&gt;" in html


def test_detail_queries_are_bounded(api_client, torrent, django_assert_max_num_queries):
    with django_assert_max_num_queries(1):
        assert api_client.get(f"/api/torrents/{torrent.pk}").status_code == 200


def test_files_are_paginated_and_sorted_by_path(api_client, torrent, django_assert_max_num_queries):
    for path in ["b/z", "a", "b/a"]:
        TorrentFile.objects.create(torrent=torrent, path=path, size=len(path))
    with django_assert_max_num_queries(3):
        response = api_client.get(f"/api/torrents/{torrent.pk}/files?per_page=2")
    assert response.json()["data"] == [{"path": "a", "size": 1}, {"path": "b/a", "size": 3}]
    assert response.json()["meta"]["total"] == 3


def test_members_share_the_cached_count_and_add_their_own_unapproved(forum, django_assert_max_num_queries):
    from rest_framework.test import APIClient

    from tests.conftest import bearer

    TorrentFactory.create_batch(3, forum=forum)
    alice, bob = UserFactory(), UserFactory()
    TorrentFactory(forum=forum, uploader=alice, status=TorrentStatus.NOT_APPROVED)
    alice_client, bob_client = bearer(APIClient(), alice), bearer(APIClient(), bob)
    assert alice_client.get("/api/torrents").json()["meta"]["total"] == 4
    with django_assert_max_num_queries(3):  # user, own unapproved count, page: the approved count is shared
        assert bob_client.get("/api/torrents").json()["meta"]["total"] == 3


@pytest.mark.parametrize("sort", ["seeders", "leechers", "completed"])
def test_sorting_by_a_count_shows_the_counts_and_totals_every_row(api_client, catalogue, sort):
    response = api_client.get(f"/api/torrents?sort={sort}")
    rows = response.json()["data"]
    assert [(r["seeders"], r["leechers"], r["completed"]) for r in rows if r["id"] == catalogue["a"]] == [(3, 1, 9)]
    assert response.json()["meta"]["total"] == 3


@pytest.mark.parametrize(("sort", "index"), [("seeders", "torrentstats_seeders"), ("completed", "torrentstats_completed")])
def test_sorting_by_a_count_walks_the_counts_index_on_postgresql(catalogue, sort, index):
    """The counts live in TorrentStats: the page must still come off its index, never a sort of every row."""
    from django.contrib.auth.models import AnonymousUser
    from django.db import connection, transaction

    from core.listing import list_query_parse
    from tracker.catalogue.selectors import TORRENT_LIST, torrent_list

    if connection.vendor != "postgresql":
        pytest.skip("query plans are PostgreSQL's")
    queryset = torrent_list(user=AnonymousUser(), query=list_query_parse({"sort": sort}, TORRENT_LIST))[:50]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_sort = off")  # a sort would only be chosen if no ordered path existed
        cursor.execute("SET LOCAL enable_seqscan = off")  # three rows: make the planner show the path it has
        plan = queryset.explain()
    assert index in plan
    assert "Sort Key" not in plan


def test_a_torrent_without_its_counts_row_lists_and_shows_with_zeros(api_client, catalogue):
    """A bulk load that skipped Torrent.save has no counts row until recount_torrents: still no 500 anywhere."""
    from tracker.models import TorrentStats

    TorrentStats.objects.filter(pk=catalogue["b"]).delete()
    listed = {t["id"]: t for t in api_client.get("/api/torrents").json()["data"]}
    assert (listed[catalogue["b"]]["seeders"], listed[catalogue["b"]]["leechers"], listed[catalogue["b"]]["completed"]) == (0, 0, 0)
    assert listed[catalogue["a"]]["seeders"] == 3
    detail = api_client.get(f"/api/torrents/{catalogue['b']}")
    assert detail.status_code == 200 and detail.json()["data"]["seeders"] == 0
