"""Maintained totals (TorrentCount, kept by triggers): meta.total of the unfiltered lists is a sum, never a count,
and stays exact through every way a torrent is written, for every kind of viewer, on both databases."""

from typing import Any

import pytest
from django.db import connection, transaction
from django.db.models import Count
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from tests.conftest import bearer
from tests.factories import CategoryFactory, ForumFactory, TorrentFactory, UserFactory, make_metainfo
from tests.threads import released_together
from tracker.catalogue.services import torrent_register
from tracker.models import AccessLevel, Torrent, TorrentCount, TorrentStatus

VIEWERS = ["guest", "member", "uploader", "moderator", "admin"]
FILTERS = [{}, {"forum": "open"}, {"forum": "members"}, {"category": "media"}, {"status": "not_approved"}, {"status": "approved"}]


def _counts_agree() -> None:
    """Every (forum, status) holds what the torrent table says, zero rows aside."""
    kept = {(c.forum_id, c.status): c.count for c in TorrentCount.objects.all() if c.count}
    actual = {(r["forum_id"], r["status"]): r["n"] for r in Torrent.objects.values("forum_id", "status").annotate(n=Count("id")).order_by()}
    assert kept == actual


@pytest.fixture
def world(db: Any) -> dict[str, Any]:
    media = CategoryFactory(name="media")
    forums = {
        "open": ForumFactory(category=media),
        "members": ForumFactory(view_level=AccessLevel.USER),
        "staff": ForumFactory(category=media, view_level=AccessLevel.MODERATOR),
    }
    people = {
        "member": UserFactory(),
        "uploader": UserFactory(),
        "moderator": UserFactory(role="moderator"),
        "admin": UserFactory(role="admin"),
    }
    statuses = [TorrentStatus.APPROVED, TorrentStatus.APPROVED, TorrentStatus.NOT_APPROVED, TorrentStatus.CLOSED]
    for n in range(24):
        forum = list(forums.values())[n % 3]
        uploader = people["uploader"] if n % 2 else UserFactory()
        TorrentFactory(forum=forum, uploader=uploader, status=statuses[n % 4], name=f"counted-{n}")
    return {"forums": forums, "people": people, "media": media}


def _client(world: dict[str, Any], viewer: str) -> APIClient:
    return APIClient() if viewer == "guest" else bearer(APIClient(), world["people"][viewer])


def _params(world: dict[str, Any], filters: dict[str, str]) -> dict[str, Any]:
    params: dict[str, Any] = dict(filters)
    if "forum" in filters:
        params["forum"] = world["forums"][filters["forum"]].pk
    if "category" in filters:
        params["category"] = world["media"].pk
    return params


@pytest.mark.django_db
@pytest.mark.parametrize("filters", FILTERS)
@pytest.mark.parametrize("viewer", VIEWERS)
def test_the_total_is_what_the_viewer_can_page_through(world, viewer, filters):
    client = _client(world, viewer)
    params = _params(world, filters)
    first = client.get("/api/torrents", {**params, "per_page": 5})
    assert first.status_code in (200, 422)
    if first.status_code == 422:  # a status filter a member may not use: the same answer as ever
        return
    listed = []
    for page in range(1, first.json()["meta"]["total_pages"] + 1):
        listed += client.get("/api/torrents", {**params, "per_page": 5, "page": page}).json()["data"]
    assert first.json()["meta"]["total"] == len(listed) == len({t["id"] for t in listed})


@pytest.mark.django_db
def test_an_unfiltered_total_counts_no_torrent_rows(world):
    client = bearer(APIClient(), world["people"]["moderator"])
    with CaptureQueriesContext(connection) as queries:
        total = client.get("/api/torrents", {"per_page": 5}).json()["meta"]["total"]
    assert total == Torrent.objects.count()
    counts = [q["sql"] for q in queries if "COUNT(" in q["sql"].upper()]
    assert counts == [], counts  # a sum over tracker_torrentcount, no count at all


@pytest.mark.django_db
def test_the_counts_follow_every_way_a_torrent_is_written(world):
    _counts_agree()
    forum = world["forums"]["open"]
    torrent_register(uploader=world["people"]["member"], forum=forum, metainfo_bytes=make_metainfo("via-service", 1000)[0])
    _counts_agree()
    Torrent.objects.filter(forum=world["forums"]["members"]).update(status=TorrentStatus.CLOSED)  # one statement, many rows
    _counts_agree()
    Torrent.objects.filter(status=TorrentStatus.CLOSED).update(forum=world["forums"]["staff"])  # moved
    _counts_agree()
    Torrent.objects.filter(name__startswith="counted-1").update(name="renamed")  # neither forum nor status
    _counts_agree()
    moved = Torrent.objects.filter(status=TorrentStatus.APPROVED).first()
    moved.status, moved.forum = TorrentStatus.DUPLICATE, world["forums"]["members"]
    moved.save()
    _counts_agree()
    Torrent.objects.filter(forum=world["forums"]["staff"]).delete()
    _counts_agree()
    with connection.cursor() as cursor:  # what no ORM sees: a raw statement
        cursor.execute("UPDATE tracker_torrent SET status = %s WHERE forum_id = %s", [TorrentStatus.CHECKING, forum.pk])
    _counts_agree()
    with pytest.raises(RuntimeError), transaction.atomic():  # a rolled-back write leaves the counts as they were
        Torrent.objects.all().delete()
        raise RuntimeError
    _counts_agree()
    assert Torrent.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_parallel_uploads_and_moves_keep_the_counts_exact():
    if connection.vendor != "postgresql":
        pytest.skip("writers race on PostgreSQL's row locks (SQLite serializes every writer)")
    forums = [ForumFactory(), ForumFactory()]
    uploader = UserFactory()

    def write(i: int) -> None:
        torrent = torrent_register(uploader=uploader, forum=forums[i % 2], metainfo_bytes=make_metainfo(f"race-{i}", 1000)[0])
        Torrent.objects.filter(pk=torrent.pk).update(
            forum=forums[(i + 1) % 2], status=TorrentStatus.NOT_APPROVED if i % 3 else TorrentStatus.APPROVED
        )

    released_together(8, write)
    _counts_agree()
    assert sum(TorrentCount.objects.values_list("count", flat=True)) == 8


@pytest.mark.django_db
def test_the_recount_repairs_totals_written_around_the_triggers(world):
    from io import StringIO

    from django.core.management import call_command

    TorrentCount.objects.filter(status=TorrentStatus.APPROVED).update(count=999)  # as a restore without triggers might leave them
    TorrentCount.objects.filter(status=TorrentStatus.CLOSED).delete()
    out = StringIO()
    call_command("recount_torrents", stdout=out)
    assert "and 6 forum total(s)" in out.getvalue()  # three forums' approved totals wrong, their three closed ones missing
    _counts_agree()
    call_command("recount_torrents", stdout=(again := StringIO()))
    assert "and 0 forum total(s)" in again.getvalue()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("order", ["totals first", "torrents first"])
def test_emptying_the_tables_in_any_order_commits(order):
    """What a test database's flush does on SQLite (DELETE FROM each table, in a set's order): deleting
    the torrents after their totals must not write totals back that point at forums deleted next."""
    TorrentFactory.create_batch(3)
    tables = ["tracker_torrentcount", "tracker_torrent"] if order == "totals first" else ["tracker_torrent", "tracker_torrentcount"]
    with transaction.atomic(), connection.cursor() as cursor:
        for table in [*tables, "tracker_torrentstats", "tracker_torrentfile", "tracker_forum"]:
            cursor.execute(f"DELETE FROM {table}")
    assert not TorrentCount.objects.exists() and not Torrent.objects.exists()
