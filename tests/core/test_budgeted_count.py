"""A list's count within a time budget, or an estimate that says it is one (core.counting.budgeted_count).

On PostgreSQL a count that outlasts LIST_COUNT_BUDGET_MS is cancelled and
estimated from a sample of the table's pages; the API's meta then says
`total_is_estimate` and the browse page "About". Everything that can be
counted in time, and everything on SQLite, is exact and says nothing.
"""

import threading
import time

import psycopg
import pytest
from django.core.cache import cache
from django.db import connection, transaction
from rest_framework.test import APIClient

from core.counting import Estimate, budgeted_count
from tests.factories import TorrentFactory
from tracker.models import Torrent

POSTGRES = pytest.mark.skipif("connection.vendor != 'postgresql'", reason="statement timeouts and TABLESAMPLE are PostgreSQL's")


def _copies(n: int, *, name: str) -> int:
    """`n` more torrents like a factory-made one named `name` (one INSERT ... SELECT), and fresh planner statistics."""
    model = TorrentFactory(name=name)
    fixed = [f.column for f in Torrent._meta.concrete_fields if f.column not in ("id", "info_hash", "info_hash_v2", "info_hash_v2_short")]
    columns = ", ".join(connection.ops.quote_name(c) for c in fixed)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO tracker_torrent ({columns}, info_hash) SELECT {columns}, substr(md5(i::text) || md5(i::text), 1, 40) "
            "FROM tracker_torrent, generate_series(1, %s) AS i WHERE id = %s",
            [n, model.pk],
        )
        cursor.execute("ANALYZE tracker_torrent")
    return n + 1


def _timeout() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        return str(cursor.fetchone()[0])


@pytest.mark.django_db
@pytest.mark.parametrize("budget_ms", [0, 1, 10_000])
def test_a_count_in_time_or_on_sqlite_is_exact_and_says_nothing(budget_ms):
    for n in range(3):
        TorrentFactory(name=f"ubuntu-{n}")
    queryset = Torrent.objects.filter(name__startswith="ubuntu")
    count = budgeted_count(queryset, budget_ms=10_000 if connection.vendor == "postgresql" else budget_ms)
    assert count == 3 and not isinstance(count, Estimate)
    if connection.vendor == "sqlite":  # no statement timeout there: always counted, however small the budget
        count = budgeted_count(queryset, budget_ms=budget_ms)
        assert count == 3 and not isinstance(count, Estimate)


@POSTGRES
@pytest.mark.django_db
def test_a_count_past_its_budget_is_a_stated_estimate_close_to_the_count():
    total = _copies(60_000, name="ubuntu-24.04-desktop-amd64")
    queryset = Torrent.objects.filter(name__icontains="desktop")
    count = budgeted_count(queryset, budget_ms=1)
    assert isinstance(count, Estimate)
    assert abs(count - total) <= total * 0.25, (count, total)
    assert budgeted_count(queryset, budget_ms=0) == total  # no budget: exact


@POSTGRES
@pytest.mark.django_db
@pytest.mark.parametrize("outer", [False, True])
def test_the_budget_ends_with_the_count(outer):
    _copies(30_000, name="ubuntu")
    before = _timeout()
    if outer:
        with transaction.atomic():
            assert isinstance(budgeted_count(Torrent.objects.filter(name__icontains="ubu"), budget_ms=1), Estimate)
            assert _timeout() == before  # within the caller's transaction too, not only after it
    else:
        assert isinstance(budgeted_count(Torrent.objects.filter(name__icontains="ubu"), budget_ms=1), Estimate)
    assert budgeted_count(Torrent.objects.filter(name="ubuntu"), budget_ms=10_000) == 30_001
    assert _timeout() == before


@POSTGRES
@pytest.mark.django_db(transaction=True)
def test_a_locked_table_is_counted_exactly_once_the_lock_is_gone():
    for n in range(4):
        TorrentFactory(name=f"ubuntu-{n}")
    settings = connection.settings_dict
    other = psycopg.connect(
        dbname=settings["NAME"], user=settings["USER"], host=settings["HOST"], port=settings["PORT"] or 5432, autocommit=False
    )
    other.execute("LOCK TABLE tracker_torrent IN ACCESS EXCLUSIVE MODE")  # neither the count nor its sample can read

    def release() -> None:
        time.sleep(1.0)  # past the count's budget and its sample's
        other.commit()

    releaser = threading.Thread(target=release)
    releaser.start()
    try:
        started = time.monotonic()
        count = budgeted_count(Torrent.objects.filter(name__startswith="ubuntu"), budget_ms=20)
        waited = time.monotonic() - started
    finally:
        releaser.join()
        other.close()
    assert count == 4 and not isinstance(count, Estimate)
    assert waited >= 0.9  # it waited for the lock rather than answer without a count


@POSTGRES
@pytest.mark.django_db
@pytest.mark.parametrize("front", ["api", "browse"])
def test_the_list_says_when_its_total_is_an_estimate(settings, front):
    total = _copies(60_000, name="ubuntu-24.04-desktop-amd64")
    TorrentFactory(name="debian-12")
    settings.LIST_COUNT_BUDGET_MS = 1
    if front == "api":
        meta = APIClient().get("/api/torrents?search=desktop").json()["meta"]
        assert meta["total_is_estimate"] is True
        assert abs(meta["total"] - total) <= total * 0.25
        assert meta["total_pages"] == -(-meta["total"] // 50)
        exact = APIClient().get("/api/torrents?search=debian").json()["meta"]  # a short page: counted, not estimated
        assert exact == {"current_page": 1, "per_page": 50, "total": 1, "total_pages": 1}
    else:
        html = APIClient().get("/?search=desktop").content.decode()
        assert "About " in html and " matches" in html and "of about " in html
        assert "About " not in APIClient().get("/?search=debian").content.decode()


@POSTGRES
@pytest.mark.django_db
@pytest.mark.parametrize("viewer", ["guest", "member", "owner", "moderator"])
def test_every_viewer_is_told_of_an_estimate_and_an_owner_counts_their_own(settings, viewer):
    """The estimate reaches each kind of viewer's meta; a member's own waiting upload is added to it, exactly."""
    from tests.conftest import bearer
    from tests.factories import UserFactory
    from tracker.models import TorrentStatus

    total = _copies(60_000, name="ubuntu-24.04-desktop-amd64")
    users = {"guest": None, "member": UserFactory(), "owner": UserFactory(), "moderator": UserFactory(role="moderator")}
    TorrentFactory(name="desktop-waiting", status=TorrentStatus.NOT_APPROVED, uploader=users["owner"])
    client = APIClient() if users[viewer] is None else bearer(APIClient(), users[viewer])
    settings.LIST_COUNT_BUDGET_MS = 0
    exact = client.get("/api/torrents?search=desktop").json()["meta"]
    cache.clear()  # the exact figure would be served for its seconds
    settings.LIST_COUNT_BUDGET_MS = 1
    meta = client.get("/api/torrents?search=desktop").json()["meta"]
    assert exact["total"] == total + (viewer in ("owner", "moderator"))
    assert "total_is_estimate" not in exact
    assert meta["total_is_estimate"] is True
    assert abs(meta["total"] - exact["total"]) <= total * 0.25


@POSTGRES
@pytest.mark.django_db
def test_a_torznab_search_is_counted_within_the_budget_and_says_when_it_estimates(settings, user):
    """Torznab's total (newznab:response) is counted as the lists' are: past the budget, an estimate that says so."""
    from xml.etree import ElementTree as ET

    from accounts.services import api_key_create

    total = _copies(60_000, name="ubuntu-24.04-desktop-amd64")
    TorrentFactory(name="debian-12")
    key = api_key_create(user=user, name="prowlarr", scopes=["feed"])[1]

    def response_attrs(q: str) -> dict[str, str]:
        body = APIClient().get("/api/torznab", {"t": "search", "q": q, "limit": 5, "apikey": key}).content
        return ET.fromstring(body).find("channel").find("{http://www.newznab.com/DTD/2010/feeds/attributes/}response").attrib

    settings.LIST_COUNT_BUDGET_MS = 1
    estimated = response_attrs("desktop")
    assert estimated["total_is_estimate"] == "true"
    assert abs(int(estimated["total"]) - total) <= total * 0.25
    assert response_attrs("debian") == {"offset": "0", "total": "1"}  # a short page: no count at all
    settings.LIST_COUNT_BUDGET_MS = 0
    assert response_attrs("desktop") == {"offset": "0", "total": str(total)}  # no budget: exact, and it says nothing
