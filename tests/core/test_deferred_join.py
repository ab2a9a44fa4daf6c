"""Deep pages (core.listing.page_of past DEFERRED_JOIN_OFFSET): keys first, then the rows; the same page as OFFSET."""

from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import connection, transaction
from django.db.models import QuerySet
from rest_framework.test import APIClient

from core import listing
from core.listing import list_query_parse, page_of
from tests.conftest import bearer
from tests.factories import ForumFactory, TorrentFactory, UserFactory
from tracker.catalogue.selectors import TORRENT_LIST, torrent_list
from tracker.models import AccessLevel, Torrent, TorrentStats

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalogue(db: Any) -> dict[str, Any]:
    uploader, moderator = UserFactory(), UserFactory(role="moderator")
    open_forum, hidden_forum = ForumFactory(), ForumFactory(view_level=AccessLevel.MODERATOR)
    for n in range(23):
        forum = hidden_forum if n % 5 == 0 else open_forum
        torrent = TorrentFactory(name=f"deep-{n:02d}", size=1000 + (n * 7919) % 101, uploader=uploader, forum=forum)
        TorrentStats.objects.filter(pk=torrent.pk).update(seeders=n % 4, leechers=n % 3, completed=n % 6)
    TorrentFactory.create_batch(3, status="not_approved", uploader=uploader)  # the uploader's own, waiting
    return {"uploader": uploader, "moderator": moderator, "member": UserFactory()}


SORTS = [{}, {"sort": "name"}, {"sort": "size", "order": "desc"}, {"sort": "seeders", "order": "desc"}, {"sort": "completed"}]
VIEWERS = ["guest", "member", "uploader", "moderator"]


@pytest.mark.parametrize("params", SORTS)
@pytest.mark.parametrize("viewer", VIEWERS)
def test_every_deep_page_is_the_offset_page(catalogue, monkeypatch, params, viewer):
    user = AnonymousUser() if viewer == "guest" else catalogue[viewer]

    def pages(threshold: int) -> list[list[int]]:
        monkeypatch.setattr(listing, "DEFERRED_JOIN_OFFSET", threshold)
        found = []
        for page in range(1, 7):
            query = list_query_parse({**params, "page": page, "per_page": 4}, TORRENT_LIST)
            found.append([t.pk for t in page_of(torrent_list(user=user, query=query), page=page, per_page=4).items])
        return found

    plain, deferred = pages(10**9), pages(1)
    assert deferred == plain and sum(map(len, plain)) > 4  # and the pages hold what the viewer may see, in order


def test_the_api_gives_the_same_deep_page_and_meta_in_two_queries_more_or_less(catalogue, monkeypatch, django_assert_max_num_queries):
    client = bearer(APIClient(), catalogue["moderator"])
    plain = client.get("/api/torrents", {"page": 5, "per_page": 3, "sort": "name", "order": "asc"}).json()
    monkeypatch.setattr(listing, "DEFERRED_JOIN_OFFSET", 1)
    with django_assert_max_num_queries(6):  # user, keys, rows, count, and the rest of the request
        deferred = client.get("/api/torrents", {"page": 5, "per_page": 3, "sort": "name", "order": "asc"}).json()
    assert deferred == plain  # byte for byte the same body: rows, fields and meta
    assert [t["name"] for t in deferred["data"]] == sorted(t["name"] for t in deferred["data"])


def test_a_page_past_the_end_is_empty_with_its_total(catalogue, monkeypatch):
    monkeypatch.setattr(listing, "DEFERRED_JOIN_OFFSET", 1)
    query = list_query_parse({"page": 40, "per_page": 5}, TORRENT_LIST)
    page = page_of(torrent_list(user=AnonymousUser(), query=query), page=40, per_page=5)
    assert page.items == [] and page.total == torrent_list(user=AnonymousUser(), query=query).count()


def test_a_row_gone_between_the_two_steps_is_left_out(catalogue, monkeypatch):
    query = list_query_parse({"page": 2, "per_page": 4, "sort": "name"}, TORRENT_LIST)
    queryset = torrent_list(user=AnonymousUser(), query=query)
    keys = list(queryset.values_list("pk", flat=True)[4:8])
    original, deleted = QuerySet.filter, []

    def filter_after_a_delete(self: QuerySet, *args: Any, **kwargs: Any) -> QuerySet:
        if "pk__in" in kwargs and not deleted:  # the rows' step: the row went after its key was read
            deleted.append(Torrent.objects.filter(pk=keys[1]).delete())
        return original(self, *args, **kwargs)

    monkeypatch.setattr(listing, "DEFERRED_JOIN_OFFSET", 1)
    monkeypatch.setattr(QuerySet, "filter", filter_after_a_delete)
    assert [t.pk for t in listing._slice(queryset, 4, 4)] == [keys[0], *keys[2:]] and deleted


def test_the_key_step_reads_only_the_covering_index_on_postgresql(catalogue):
    if connection.vendor != "postgresql":
        pytest.skip("query plans are PostgreSQL's")
    query = list_query_parse({}, TORRENT_LIST)
    keys = torrent_list(user=AnonymousUser(), query=query).values_list("pk", flat=True)[600:650]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute("SET LOCAL enable_incremental_sort = off")
        for path in ("indexscan", "bitmapscan"):  # a few rows: make the planner show the index-only path it has
            cursor.execute(f"SET LOCAL enable_{path} = off")
        plan = keys.explain()
    assert "torrent_created_visible" in plan and "Index Only Scan" in plan, plan


@pytest.mark.parametrize("params", SORTS)
def test_the_apis_key_step_joins_only_what_its_filter_and_sort_need(catalogue, monkeypatch, params):
    """The API reads its rows as values() over the related tables (api.rows); the key step must not keep those joins
    (on a million torrents page 200's key step probed the user and category rows of all 9,950 rows it skipped)."""
    from django.test.utils import CaptureQueriesContext

    monkeypatch.setattr(listing, "DEFERRED_JOIN_OFFSET", 1)
    with CaptureQueriesContext(connection) as queries:
        body = APIClient().get("/api/torrents", {**params, "page": 2, "per_page": 3}).json()
    assert len(body["data"]) == 3
    (key_step,) = [q["sql"] for q in queries.captured_queries if "LIMIT 3 OFFSET 3" in q["sql"]]
    assert "accounts_user" not in key_step and "tracker_category" not in key_step, key_step
