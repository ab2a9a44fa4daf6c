"""The search's index: pg_trgm GIN on PostgreSQL, nothing on SQLite (the migration is a no-op there)."""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import connection

from core.listing import list_query_parse
from tests.factories import TorrentFactory
from tracker.catalogue.selectors import TORRENT_LIST, torrent_list, torrent_search
from tracker.models import Torrent

pytestmark = pytest.mark.django_db

TRGM_INDEXES = {"torrent_name_trgm", "torrent_description_trgm", "torrent_files_text_trgm"}


def _index_names() -> set[str]:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT indexname FROM pg_indexes WHERE indexname LIKE %s", ["%trgm"])
        else:
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE %s", ["%trgm"])
        return {row[0] for row in cursor.fetchall()}


def test_the_search_plan_uses_the_trigram_indexes_on_postgresql_only():
    TorrentFactory(name="Ubuntu 24.04")
    for i in range(300):
        TorrentFactory(name=f"other {i}", files_text=f"disc{i}/track{i}.flac")
    queryset = torrent_list(user=AnonymousUser(), query=list_query_parse({"search": "ubuntu"}, TORRENT_LIST))
    if connection.vendor != "postgresql":
        assert _index_names() == set()
        assert [t.name for t in queryset] == ["Ubuntu 24.04"]
        return
    assert _index_names() == TRGM_INDEXES
    with connection.cursor() as cursor:
        # A handful of rows would be sequentially scanned; ask whether the index can serve the query.
        for name in TRGM_INDEXES:  # rows inserted by earlier tests may sit in GIN's pending list
            cursor.execute("SELECT gin_clean_pending_list(%s::regclass)", [name])
        cursor.execute("ANALYZE tracker_torrent")
        cursor.execute("SET LOCAL enable_seqscan = off")
        # The search predicate alone: with a few hundred rows the planner rightly prefers other indexes for the rest.
        predicate = torrent_search(queryset=Torrent.objects.only("id").order_by(), term="ubuntu")
        sql, params = predicate.query.sql_with_params()
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    for name in TRGM_INDEXES:
        assert name in plan, plan
    assert [t.name for t in queryset] == ["Ubuntu 24.04"]
