"""Categories and forums: public reads filtered by view level, admin-only writes."""

import pytest

from tests.factories import CategoryFactory, ForumFactory, TorrentFactory
from tests.tracker.catalogue.helpers import forum_with_levels
from tracker.models import AccessLevel, Category, Forum

pytestmark = pytest.mark.django_db


def test_categories_list_only_visible_forums(api_client, user_client, django_assert_max_num_queries):
    category = CategoryFactory(name="Linux")
    public = ForumFactory(category=category, name="Distros")
    ForumFactory(category=category, name="Staff", view_level=AccessLevel.MODERATOR)
    with django_assert_max_num_queries(2):
        response = api_client.get("/api/categories")
    assert response.status_code == 200
    [data] = response.json()["data"]
    assert data["name"] == "Linux"
    assert [f["name"] for f in data["forums"]] == ["Distros"]
    assert data["forums"][0] == {
        "id": public.pk,
        "category": category.pk,
        "name": "Distros",
        "description": "",
        "order": 0,
        "allows_torrents": True,
        "view_level": "guest",
        "upload_level": "user",
        "download_level": "user",
    }


def test_forum_list_and_detail_hide_forums_above_the_viewer(api_client, moderator_client):
    public = ForumFactory()
    staff = forum_with_levels(view=AccessLevel.MODERATOR)
    assert [f["id"] for f in api_client.get("/api/forums").json()["data"]] == [public.pk]
    assert api_client.get(f"/api/forums/{public.pk}").json()["data"]["id"] == public.pk
    assert api_client.get(f"/api/forums/{staff.pk}").status_code == 404
    assert moderator_client.get(f"/api/forums/{staff.pk}").status_code == 200
    assert api_client.get("/api/forums/abc").status_code == 404


def test_admins_create_update_and_delete(admin_client_api):
    category = admin_client_api.post("/api/categories", {"name": "Video", "order": 2}, format="json")
    assert category.status_code == 201
    cid = category.json()["data"]["id"]
    forum = admin_client_api.post(
        "/api/forums", {"category": cid, "name": "Films", "view_level": "user", "download_level": "moderator"}, format="json"
    )
    assert forum.status_code == 201
    fid = forum.json()["data"]["id"]
    assert forum.json()["data"]["view_level"] == "user"
    assert Forum.objects.get(pk=fid).download_level == AccessLevel.MODERATOR
    patched = admin_client_api.patch(f"/api/forums/{fid}", {"name": "Movies", "allows_torrents": False}, format="json")
    assert patched.json()["data"]["name"] == "Movies"
    assert admin_client_api.patch(f"/api/categories/{cid}", {"name": "Videos"}, format="json").json()["data"]["name"] == "Videos"
    assert admin_client_api.delete(f"/api/categories/{cid}").status_code == 409
    assert admin_client_api.delete(f"/api/forums/{fid}").status_code == 204
    assert admin_client_api.delete(f"/api/categories/{cid}").status_code == 204
    assert not Category.objects.filter(pk=cid).exists()


def test_a_forum_with_torrents_cannot_be_deleted(admin_client_api, torrent):
    response = admin_client_api.delete(f"/api/forums/{torrent.forum_id}")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "CONFLICT"


@pytest.mark.parametrize(
    ("path", "payload", "field"),
    [
        ("/api/categories", {}, "name"),
        ("/api/forums", {"name": "x"}, "category"),
        ("/api/forums", {"name": "x", "category": 999}, "category"),
        ("/api/forums", {"name": "x", "category": None, "view_level": "god"}, "view_level"),
    ],
)
def test_bad_input_is_422(admin_client_api, path, payload, field):
    response = admin_client_api.post(path, payload, format="json")
    assert response.status_code == 422
    assert field in response.json()["error"]["details"]


def test_duplicate_names_are_409(admin_client_api):
    category = CategoryFactory(name="Games")
    ForumFactory(category=category, name="PC")
    assert admin_client_api.post("/api/categories", {"name": "Games"}, format="json").status_code == 409
    assert admin_client_api.post("/api/forums", {"category": category.pk, "name": "PC"}, format="json").status_code == 409


def test_non_admins_may_not_write(api_client, user_client, moderator_client, forum):
    for client, status in ((api_client, 401), (user_client, 403), (moderator_client, 403)):
        assert client.post("/api/categories", {"name": "x"}, format="json").status_code == status
        assert client.patch(f"/api/forums/{forum.pk}", {"name": "x"}, format="json").status_code == status
        assert client.delete(f"/api/forums/{forum.pk}").status_code == status


def test_restricting_a_forum_drops_cached_announce_lookups(admin_client_api, forum):
    from django.core.cache import cache

    from tracker.swarm.lookups import torrent_cache_key

    torrent = TorrentFactory(forum=forum)
    cache.set(torrent_cache_key(torrent.info_hash), 1, 600)
    admin_client_api.patch(f"/api/forums/{forum.pk}", {"download_level": "admin"}, format="json")
    assert cache.get(torrent_cache_key(torrent.info_hash)) is None


def test_forum_list_and_detail_queries_are_bounded(api_client, django_assert_max_num_queries):
    forums = [ForumFactory(category=CategoryFactory()) for _ in range(8)]
    with django_assert_max_num_queries(1):
        assert len(api_client.get("/api/forums").json()["data"]) == 8
    with django_assert_max_num_queries(1):
        assert api_client.get(f"/api/forums/{forums[0].pk}").status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/categories", "/api/forums"])
def test_forums_and_categories_page_like_every_list(api_client, path):
    for n in range(3):
        ForumFactory(category=CategoryFactory(name=f"Paged {n}", order=n), order=n)
    everything = api_client.get(path).json()
    assert everything["meta"] == {"current_page": 1, "per_page": 50, "total": 3, "total_pages": 1}
    second = api_client.get(path, {"per_page": 2, "page": 2}).json()
    assert second["meta"] == {"current_page": 2, "per_page": 2, "total": 3, "total_pages": 2}
    assert [item["id"] for item in second["data"]] == [item["id"] for item in everything["data"]][2:]
    bad = api_client.get(path, {"per_page": "many"})
    assert bad.status_code == 422 and bad.json()["error"]["details"] == {"per_page": ["per_page must be an integer."]}
