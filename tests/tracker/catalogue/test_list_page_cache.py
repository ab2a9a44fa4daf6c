"""Shared pages of the torrent list (tracker.catalogue.selectors.torrent_page, TORRENT_LIST_CACHE_SECONDS).

A page is shared by the viewers who see the same list, on both fronts (the
API's GET /api/torrents and the browse page GET /): one access level, and
for a member only while no unapproved upload of their own is in it. What one
viewer's page holds must never reach another who may not see it, every
change of what the lists hold shows on the very next request, and only the
swarm's counts may lag, by at most the setting's seconds.
"""

import re
import time
from itertools import permutations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from tests.conftest import bearer
from tests.factories import CategoryFactory, ForumFactory, TorrentFactory, UserFactory, make_metainfo
from tracker.catalogue import services
from tracker.models import AccessLevel, Forum, Freeleech, Torrent, TorrentStats, TorrentStatus

pytestmark = pytest.mark.django_db
FRONTS = ["api", "browse"]


@pytest.fixture(autouse=True)
def _shared_pages(settings):
    settings.TORRENT_LIST_CACHE_SECONDS = 30


def listed(front: str, viewer, query: str = "") -> list[str]:
    """The names `viewer` (None: a guest) is shown on the first page of `front`, in order."""
    if front == "api":
        client = APIClient() if viewer is None else bearer(APIClient(), viewer)
        response = client.get(f"/api/torrents?{query}")
        assert response.status_code == 200, response.content
        return [row["name"] for row in response.json()["data"]]
    client = Client()
    if viewer is not None:
        client.force_login(viewer)
    response = client.get(f"/?{query}")
    assert response.status_code == 200
    return re.findall(r'class="torrent-name" href="/torrents/\d+/">([^<]+)</a>', response.content.decode().replace("<wbr>", ""))


def seeders_shown(front: str, query: str = "") -> list[int]:
    if front == "api":
        return [row["seeders"] for row in APIClient().get(f"/api/torrents?{query}").json()["data"]]
    html = Client().get(f"/?{query}").content.decode()
    return [int(n) for n in re.findall(r'<td class="num seeders[^"]*" data-label="Seeders">(\d+)</td>', html)]


@pytest.fixture
def world():
    """A torrent for everyone, one for members, someone's unapproved one, and `owner`'s own unapproved one."""
    owner, member, moderator = UserFactory(), UserFactory(), UserFactory(role="moderator")
    TorrentFactory(name="public", forum=ForumFactory(view_level=AccessLevel.GUEST))
    TorrentFactory(name="members-only", forum=ForumFactory(view_level=AccessLevel.USER))
    TorrentFactory(name="someone-unapproved", status=TorrentStatus.NOT_APPROVED)
    TorrentFactory(name="owner-unapproved", status=TorrentStatus.CHECKING, uploader=owner)
    viewers = {"guest": None, "member": member, "owner": owner, "moderator": moderator}
    sees = {
        "guest": {"public"},
        "member": {"public", "members-only"},
        "owner": {"public", "members-only", "owner-unapproved"},
        "moderator": {"public", "members-only", "someone-unapproved", "owner-unapproved"},
    }
    return viewers, sees


@pytest.mark.parametrize("front", FRONTS)
@pytest.mark.parametrize(("first", "second"), list(permutations(["guest", "member", "owner", "moderator"], 2)))
def test_a_page_never_reaches_a_viewer_who_sees_another_list(world, front, first, second):
    viewers, sees = world
    assert set(listed(front, viewers[first])) == sees[first]
    assert set(listed(front, viewers[second])) == sees[second]
    assert set(listed(front, viewers[first])) == sees[first]  # and back: from the cache where it is shared


@pytest.mark.parametrize("accept", ["application/json", "application/json; indent=4", "*/*"])
@pytest.mark.parametrize("viewer", ["guest", "member", "owner", "moderator"])
def test_the_shared_page_is_the_unshared_page_byte_for_byte(world, settings, viewer, accept):
    """Kept as its rows' JSON bytes (api.renderers.EncodedJSON): the envelope written around them is the same, pretty-printed too."""
    viewers, _ = world
    client = APIClient() if viewers[viewer] is None else bearer(APIClient(), viewers[viewer])
    TorrentFactory(name='Ünïcode \u2028 "quoted" </script>', forum=ForumFactory(view_level=AccessLevel.GUEST))
    settings.TORRENT_LIST_CACHE_SECONDS = 0
    uncached = client.get("/api/torrents?sort=name&order=asc", HTTP_ACCEPT=accept).content
    settings.TORRENT_LIST_CACHE_SECONDS = 30
    assert client.get("/api/torrents?sort=name&order=asc", HTTP_ACCEPT=accept).content == uncached  # the miss, which fills the cache
    assert client.get("/api/torrents?sort=name&order=asc", HTTP_ACCEPT=accept).content == uncached  # the hit
    assert (b"\n    " in uncached) is ("indent" in accept)


@pytest.mark.parametrize("front", FRONTS)
def test_a_hit_reads_no_torrent_rows(world, front):
    listed(front, None)
    with CaptureQueriesContext(connection) as miss:
        listed(front, None, "sort=size")
    with CaptureQueriesContext(connection) as hit:
        listed(front, None, "sort=size")
    assert any("tracker_torrent" in q["sql"] for q in miss.captured_queries)
    assert not [q["sql"] for q in hit.captured_queries if "tracker_torrent" in q["sql"]]


@pytest.mark.parametrize("front", FRONTS)
def test_an_owner_of_unapproved_uploads_is_never_served_a_shared_page(world, front):
    viewers, sees = world
    owner = viewers["owner"]
    listed(front, viewers["member"])  # the members' shared page, without the owner's upload
    with CaptureQueriesContext(connection) as queries:
        assert set(listed(front, owner)) == sees["owner"]
    assert any("tracker_torrent" in q["sql"] and "LIMIT" in q["sql"].upper() for q in queries.captured_queries)
    # Once approved, it is in every member's list, and the owner shares their page.
    services.torrent_set_status(
        torrent=Torrent.objects.get(name="owner-unapproved"), status=TorrentStatus.APPROVED, moderator=viewers["moderator"]
    )
    assert set(listed(front, viewers["member"])) == sees["member"] | {"owner-unapproved"}
    assert set(listed(front, owner)) == sees["member"] | {"owner-unapproved"}


def _register(world):
    forum = ForumFactory()
    metainfo, _ = make_metainfo("fresh-upload.iso", 4321)
    services.torrent_register(uploader=UserFactory(), forum=forum, metainfo_bytes=metainfo, name="fresh-upload")
    return "fresh-upload", True


def _hide(world):
    services.torrent_set_status(torrent=Torrent.objects.get(name="public"), status=TorrentStatus.CLOSED, moderator=world[0]["moderator"])
    return "public", False


def _rename(world):
    services.torrent_update(actor=world[0]["moderator"], torrent=Torrent.objects.get(name="public"), data={"name": "renamed"})
    return "renamed", True


def _remove(world):
    services.torrent_remove(torrent=Torrent.objects.get(name="public"))
    return "public", False


def _close_forum(world):
    forum = Torrent.objects.get(name="public").forum
    services.forum_update(forum=forum, data={"view_level": AccessLevel.USER})
    return "public", False


@pytest.mark.parametrize("front", FRONTS)
@pytest.mark.parametrize("change", [_register, _hide, _rename, _remove, _close_forum])
def test_a_change_of_what_the_lists_hold_shows_on_the_next_request(world, front, change):
    assert listed(front, None) == ["public"]
    name, shown = change(world)
    assert (name in listed(front, None)) is shown


@pytest.mark.parametrize("front", FRONTS)
def test_a_category_name_and_freeleech_show_on_the_next_request(front):
    torrent = TorrentFactory(name="only", forum=ForumFactory(category=CategoryFactory(name="Old name")))
    page = APIClient().get("/api/torrents").json()["data"] if front == "api" else None
    listed(front, None)
    services.category_update(category=torrent.forum.category, data={"name": "New name"})
    services.torrent_set_freeleech(torrent=torrent, freeleech=Freeleech.GOLD)
    if front == "api":
        row = APIClient().get("/api/torrents").json()["data"][0]
        assert page[0]["category"]["name"] == "Old name" and page[0]["freeleech"] == Freeleech.NONE
        assert (row["category"]["name"], row["freeleech"]) == ("New name", Freeleech.GOLD)
    else:
        html = Client().get("/").content.decode()
        assert "New name" in html and "Old name" not in html


@pytest.mark.parametrize("front", FRONTS)
def test_the_swarm_counts_lag_by_at_most_the_setting(settings, front):
    settings.TORRENT_LIST_CACHE_SECONDS = 1
    torrent = TorrentFactory(name="swarmed", seeders=2)
    assert seeders_shown(front) == [2]
    TorrentStats.objects.filter(torrent=torrent).update(seeders=5)  # as an announce moves it
    assert seeders_shown(front) == [2]
    time.sleep(1.2)
    assert seeders_shown(front) == [5]


@pytest.mark.parametrize("front", FRONTS)
def test_zero_seconds_shares_nothing(settings, front):
    settings.TORRENT_LIST_CACHE_SECONDS = 0
    torrent = TorrentFactory(name="swarmed", seeders=2)
    assert seeders_shown(front) == [2]
    TorrentStats.objects.filter(torrent=torrent).update(seeders=5)
    assert seeders_shown(front) == [5]


def test_pages_of_other_queries_are_apart(world):
    viewers, _ = world
    moderator = viewers["moderator"]
    assert listed("api", moderator, "sort=name&order=asc") == ["members-only", "owner-unapproved", "public", "someone-unapproved"]
    assert listed("api", moderator, "sort=name&order=desc") == ["someone-unapproved", "public", "owner-unapproved", "members-only"]
    assert listed("api", moderator, "sort=name&order=asc&per_page=1&page=2") == ["owner-unapproved"]
    assert listed("api", moderator, "search=public") == ["public"]
    assert listed("api", moderator, "status=checking") == ["owner-unapproved"]
    assert listed("browse", moderator, "sort=name&order=asc") == ["members-only", "owner-unapproved", "public", "someone-unapproved"]


# The browse page: a guest's rows are written once and shared with the page; the filter form is shared per level.

CSRF = re.compile(r'name="csrfmiddlewaretoken" value="[^"]+"')


def browse_html(viewer, query: str = "") -> str:
    client = Client()
    if viewer is not None:
        client.force_login(viewer)
    response = client.get(f"/?{query}")
    assert response.status_code == 200
    return CSRF.sub('name="csrfmiddlewaretoken" value=""', response.content.decode())  # a token is masked anew each time


def forum_options(html: str) -> list[str]:
    select = re.search(r'<select name="forum"[^>]*>(.*?)</select>', html, re.S)
    assert select is not None
    return re.findall(r'<option value="\d+"[^>]*>([^<]+)</option>', select.group(1))


@pytest.mark.parametrize("viewer", ["guest", "member", "owner", "moderator"])
def test_the_shared_browse_page_is_the_unshared_page_byte_for_byte(world, settings, viewer):
    viewers, _ = world
    query = "sort=name&order=asc&search=u&min_size=1+KB"
    settings.TORRENT_LIST_CACHE_SECONDS = 0
    uncached = browse_html(viewers[viewer], query)
    settings.TORRENT_LIST_CACHE_SECONDS = 30
    assert browse_html(viewers[viewer], query) == uncached  # the miss, which fills the cache
    assert browse_html(viewers[viewer], query) == uncached  # the hit


@pytest.mark.parametrize(("first", "second"), list(permutations(["guest", "member", "moderator"], 2)))
def test_the_filters_and_rows_of_one_level_never_reach_another(world, first, second):
    viewers, _ = world
    members_forum = Torrent.objects.get(name="members-only").forum.name
    public_forum = Torrent.objects.get(name="public").forum.name
    for viewer in (first, second, first):
        html = browse_html(viewers[viewer])
        options = forum_options(html)
        assert public_forum in options
        assert (members_forum in options) is (viewer != "guest")
        assert ('class="row-actions"' in html) is (viewer != "guest")  # a guest's shared rows carry no member's actions


def test_the_filters_show_what_was_typed(world):
    assert 'value="ubuntu"' in browse_html(None, "search=ubuntu")
    html = browse_html(None, "search=debian")
    assert 'value="debian"' in html and 'value="ubuntu"' not in html
    assert 'value="ubuntu"' in browse_html(None, "search=ubuntu")


def test_forums_and_categories_show_in_the_filters_on_the_next_request(world, site):
    browse_html(None)
    forum = services.forum_create(data={"name": "Made by a service", "category": CategoryFactory()})
    assert "Made by a service" in forum_options(browse_html(None))
    services.forum_update(forum=forum, data={"name": "Renamed by a service"})
    assert "Renamed by a service" in forum_options(browse_html(None))
    services.forum_delete(forum=forum)
    assert "Renamed by a service" not in forum_options(browse_html(None))

    category = CategoryFactory(name="Admin's category")
    response = site.post(
        "/admin/tracker/forum/add/",
        {
            "name": "Made in the admin",
            "category": category.pk,
            "order": 0,
            "allows_torrents": "on",
            "view_level": 0,
            "upload_level": 1,
            "download_level": 1,
            "newznab_category": 8000,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    made = forum_options(browse_html(None))
    assert "Made in the admin" in made
    response = site.post(f"/admin/tracker/category/{category.pk}/change/", {"name": "Renamed in the admin", "order": 0})
    assert response.status_code == 302, response.content.decode()[:2000]
    assert "Renamed in the admin" in browse_html(None)
    made_forum = Forum.objects.get(name="Made in the admin")
    response = site.post(f"/admin/tracker/forum/{made_forum.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert "Made in the admin" not in forum_options(browse_html(None))


def test_a_kept_page_holds_nothing_of_the_uploader_but_their_name(world):
    """A member's browse page is kept as Torrent instances: their uploaders' password hashes and passkeys stay out of the cache."""
    import pickle

    from core.listing import ListQuery
    from tracker.catalogue import selectors

    viewers, _ = world
    page = selectors.torrent_page(user=viewers["member"], query=ListQuery(sort="name", order="asc"), cache_as="browse")
    kept = pickle.dumps(page)
    assert page.items
    for torrent in page.items:
        uploader = torrent.uploader
        assert {"password", "passkey", "email"} <= uploader.get_deferred_fields()
        row = type(uploader).objects.get(pk=uploader.pk)
        assert row.password.encode() not in kept and row.passkey.encode() not in kept and row.username.encode() in kept


@pytest.mark.parametrize("front", FRONTS)
@pytest.mark.parametrize("query", ["per_page=25", "per_page=25&search=p"])  # a maintained total, and a counted one
def test_a_member_without_waiting_uploads_is_asked_about_them_once(world, front, query):
    """torrent_page asks whether the member has unapproved uploads; without any, the count does not count them again."""
    viewers, _ = world
    member = viewers["member"]
    for n in range(25):
        TorrentFactory(name=f"public-{n}", forum=Torrent.objects.get(name="public").forum)
    with CaptureQueriesContext(connection) as queries:
        assert len(listed(front, member, query)) == 25  # a full page: its total is counted
    own = f'"tracker_torrent"."uploader_id" = {member.pk} AND NOT ("tracker_torrent"."status" = '
    about_theirs = [q["sql"] for q in queries.captured_queries if own in q["sql"]]
    assert len(about_theirs) == 1, about_theirs


def test_the_next_page_shows_the_filters_written_for_the_first(world, monkeypatch):
    """The form is the same on every page of a query (the page number is a hidden field): written once for all of them."""
    from web.views import torrents

    written = []
    original = torrents.render_to_string
    monkeypatch.setattr(torrents, "render_to_string", lambda name, context: written.append(name) or original(name, context))
    for n in range(30):
        TorrentFactory(name=f"public-{n}", forum=Torrent.objects.get(name="public").forum)
    first, second = browse_html(None, "per_page=25&sort=name"), browse_html(None, "per_page=25&sort=name&page=2")
    assert written == ["web/_browse_filters.html"]
    assert first.split('role="search"')[1].split("</form>")[0] == second.split('role="search"')[1].split("</form>")[0]


@pytest.mark.parametrize("front", FRONTS)
def test_a_member_is_asked_about_waiting_uploads_once_a_generation(world, front):
    """Whether a member has uploads only they see is kept under the lists' generation: asked on the first page, not the next,
    and asked again once they upload."""
    viewers, sees = world
    member = viewers["member"]

    def probes(query: str) -> int:
        with CaptureQueriesContext(connection) as queries:
            listed(front, member, query)
        own = f'"tracker_torrent"."uploader_id" = {member.pk} AND NOT ("tracker_torrent"."status" = '
        return sum(own in q["sql"] for q in queries.captured_queries)

    assert probes("sort=name") == 1
    assert probes("sort=name") == 0
    assert probes("sort=size") == 0  # another page, the same answer
    metainfo, _ = make_metainfo("members-own-upload.iso", 4321)
    services.torrent_register(uploader=member, forum=ForumFactory(), metainfo_bytes=metainfo, name="own-upload")
    Torrent.objects.filter(name="own-upload").update(status=TorrentStatus.CHECKING)
    services.lists_changed()
    assert set(listed(front, member)) == sees["member"] | {"own-upload"}


def test_a_change_in_a_transaction_starts_a_generation_now_and_again_at_its_commit(django_capture_on_commit_callbacks):
    """A reader between the two may have kept, under the first, what it read before the commit: the second retires that."""
    from django.core.cache import cache
    from django.db import transaction

    from tracker.catalogue.selectors import TORRENT_LIST_GENERATION_KEY

    before = cache.get(TORRENT_LIST_GENERATION_KEY) or 0
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        services.lists_changed()
        assert cache.get(TORRENT_LIST_GENERATION_KEY) == before + 1
    assert cache.get(TORRENT_LIST_GENERATION_KEY) == before + 2


def test_changes_at_once_are_each_a_generation():
    import threading

    from django.core.cache import cache

    from tracker.catalogue.selectors import TORRENT_LIST_GENERATION_KEY

    before = cache.get(TORRENT_LIST_GENERATION_KEY) or 0
    threads = [threading.Thread(target=lambda: [services._next_list_generation() for _ in range(50)]) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert cache.get(TORRENT_LIST_GENERATION_KEY) == before + 200
