"""The list's fixed costs cut at their source (issue 16): no FilterSet for a request that names no filter,
and related rows in a list written by RefField exactly as the nested ref serializers wrote them."""

from typing import Any

import pytest
from rest_framework.test import APIClient

from core.listing import list_query_parse
from tests.factories import TorrentFactory
from tracker.catalogue.filters import TorrentFilter
from tracker.catalogue.selectors import TORRENT_LIST
from tracker.catalogue.serializers import ForumRefSerializer, TorrentDetailSerializer, TorrentListSerializer, UserRefSerializer


@pytest.mark.parametrize(
    ("params", "built"),
    [
        ({}, False),
        ({"page": "2", "per_page": "10", "sort": "name", "order": "asc", "search": "x"}, False),
        ({"forum": "1"}, True),
        ({"forum": ""}, True),  # named, if empty: validated as ever
        ({"min_size": "5"}, True),
        ({"created_after": "2026-01-01T00:00:00Z"}, True),
    ],
)
def test_a_filterset_is_built_only_when_a_filter_is_named(monkeypatch, params, built):
    made: list[Any] = []
    original = TorrentFilter.__init__

    def counting(self: Any, *args: Any, **kwargs: Any) -> None:
        made.append(self)
        original(self, *args, **kwargs)

    monkeypatch.setattr(TorrentFilter, "__init__", counting)
    query = list_query_parse(params, TORRENT_LIST)
    assert bool(made) is built and (query.filters is not None) is built


@pytest.mark.django_db
def test_a_bad_filter_is_still_422_and_no_filter_lists_everything(api_client):
    TorrentFactory.create_batch(3)
    assert APIClient().get("/api/torrents", {"min_size": "big"}).status_code == 422
    assert APIClient().get("/api/torrents").json()["meta"]["total"] == 3


@pytest.mark.django_db
@pytest.mark.parametrize("serializer", [TorrentListSerializer, TorrentDetailSerializer])
def test_related_rows_are_written_as_the_ref_serializers_write_them(serializer):
    torrent = TorrentFactory(uploader__username="ünïcode.user-1")
    data = serializer(torrent, context={"request": None}).data
    assert data["forum"] == ForumRefSerializer(torrent.forum).data
    assert data["category"] == ForumRefSerializer(torrent.forum.category).data
    assert data["uploader"] == UserRefSerializer(torrent.uploader).data
    assert list(data["uploader"]) == ["id", "username"] and list(data["forum"]) == ["id", "name"]  # key order too
