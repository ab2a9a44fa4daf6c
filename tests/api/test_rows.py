"""api.rows: a list written from values() rows is its serializer's output, byte for byte, on every kind of row."""

import itertools
import json
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer

from api.rows import RowPlan
from core import listing
from tests.factories import CategoryFactory, ForumFactory, TorrentFactory, UserFactory, make_hybrid_hashes
from tracker.catalogue import selectors
from tracker.catalogue.serializers import TORRENT_LIST_ROWS, TorrentListSerializer
from tracker.models import Freeleech, Torrent, TorrentStats, TorrentStatus

pytestmark = pytest.mark.django_db
TINY_METAINFO = b"d4:infod4:name1:x6:lengthi1e12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaaee"


def _json(data: Any) -> bytes:
    return JSONRenderer().render(data)


def _typed(data: Any) -> Any:
    """`data` with its keys' order and its values' types, to compare strictly (JSON would hide a datetime left unformatted)."""
    if isinstance(data, dict):
        return [(key, _typed(value)) for key, value in data.items()]
    if isinstance(data, list):
        return [_typed(item) for item in data]
    return (type(data).__name__, data)


@pytest.fixture
def varied(moderator: Any) -> list[int]:
    """Torrents of every status and freeleech, hybrid and not, odd names and sizes, one without its stats row."""
    forums = [ForumFactory(category=CategoryFactory(name="Música ✓")), ForumFactory(name="Forum «two»")]
    uploaders = [UserFactory(username="zoë"), UserFactory()]
    made = []
    for n, (status, freeleech) in enumerate(itertools.product(TorrentStatus.values, Freeleech.values)):
        v1, v2 = make_hybrid_hashes(f"row-{n}")
        torrent = TorrentFactory(
            forum=forums[n % 2],
            uploader=uploaders[n % 2],
            name=f"Ünïcode “name” {n} \u2028 <b>&amp;</b>",
            size=2**62 + n if n % 3 == 0 else n,
            status=status,
            freeleech=freeleech,
            is_private=bool(n % 2),
            info_hash=v1,
            metainfo=TINY_METAINFO,  # not read here; a real one for 2**62 bytes is huge
            info_hash_v2=v2 if n % 2 else None,
            seeders=n,
            leechers=2 * n,
            completed=3 * n,
        )
        # microseconds and a time zone to write
        Torrent.objects.filter(pk=torrent.pk).update(created_at=timezone.now() - timedelta(days=n, microseconds=n * 7919))
        made.append(torrent.pk)
    TorrentStats.objects.filter(torrent_id=made[0]).delete()  # counts 0, as Torrent.seeders says
    return made


@pytest.mark.parametrize("sort", sorted(selectors.TORRENT_LIST.sorts))
@pytest.mark.parametrize("order", ["asc", "desc"])
def test_the_torrent_lists_rows_are_the_serializers_output_byte_for_byte(varied: list[int], moderator: Any, sort: str, order: str) -> None:
    query = listing.list_query_parse({"sort": sort, "order": order}, selectors.TORRENT_LIST)
    queryset = selectors.torrent_list(user=moderator, query=query)
    instances = list(queryset)
    rows = list(TORRENT_LIST_ROWS.values(queryset))
    assert len(instances) == len(varied) - (1 if selectors._sorts_by_count(query) else 0)  # a count sort skips the row without counts
    written, expected = TORRENT_LIST_ROWS.data(rows), TorrentListSerializer(instances, many=True).data
    assert _typed(written) == _typed([dict(item) for item in expected])
    assert _json(written) == _json(expected)


def test_a_torrent_without_its_stats_row_counts_zero_in_the_rows(varied: list[int], moderator: Any) -> None:
    query = listing.list_query_parse({}, selectors.TORRENT_LIST)
    rows = TORRENT_LIST_ROWS.data(TORRENT_LIST_ROWS.values(selectors.torrent_list(user=moderator, query=query)))
    row = next(r for r in rows if r["id"] == varied[0])
    assert (row["seeders"], row["leechers"], row["completed"]) == (0, 0, 0)


@pytest.mark.parametrize("per_page", [1, 3, 7])
def test_deep_pages_of_rows_come_in_the_lists_order(
    varied: list[int], moderator_client: Any, monkeypatch: pytest.MonkeyPatch, per_page: int
) -> None:
    """Past DEFERRED_JOIN_OFFSET the page is read in two steps; values() rows keep the order and the body."""
    pages = 1 + len(varied) // per_page
    plain = [moderator_client.get(f"/api/torrents?per_page={per_page}&page={n}").content for n in range(1, pages + 1)]
    monkeypatch.setattr(listing, "DEFERRED_JOIN_OFFSET", 1)
    deferred = [moderator_client.get(f"/api/torrents?per_page={per_page}&page={n}").content for n in range(1, pages + 1)]
    assert deferred == plain
    ids = [t["id"] for body in plain for t in json.loads(body)["data"]]
    assert sorted(ids) == sorted(varied)


def test_the_api_list_is_the_serializers_output(varied: list[int], moderator_client: Any, moderator: Any) -> None:
    """GET /api/torrents's data, against the serializer on the same page of model instances."""
    response = moderator_client.get("/api/torrents?per_page=100")
    query = listing.list_query_parse({"per_page": "100"}, selectors.TORRENT_LIST)
    expected = TorrentListSerializer(selectors.torrent_page(user=moderator, query=query).items, many=True).data
    assert response.json()["data"] == json.loads(_json(expected))


class _WithMethod(serializers.Serializer):
    id = serializers.IntegerField()
    label = serializers.SerializerMethodField()


class _Plain(serializers.Serializer):
    id = serializers.IntegerField()


def test_a_plan_refuses_a_field_that_reads_no_column() -> None:
    with pytest.raises(TypeError, match="label reads no column"):
        RowPlan(_WithMethod).values(Torrent.objects.all())


def test_a_plan_refuses_a_source_for_no_field() -> None:
    with pytest.raises(TypeError, match="no field"):
        RowPlan(_Plain, sources={"nope": "name"}).values(Torrent.objects.all())


def test_a_method_field_with_a_source_is_read_from_it(varied: list[int]) -> None:
    plan = RowPlan(_WithMethod, sources={"label": "name"})
    rows = plan.data(plan.values(Torrent.objects.filter(pk=varied[1])))
    assert rows == [{"id": varied[1], "label": Torrent.objects.get(pk=varied[1]).name}]
