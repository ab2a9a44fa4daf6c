"""The permission matrix (README, "Catalogue permissions"), tested row by row.

Roles: guest (no login), user, uploader (the user who uploaded the torrent
at hand), moderator, admin. An object the caller may not see is 404.
"""

from typing import Any

import pytest
from rest_framework.test import APIClient

from tests.conftest import bearer
from tests.factories import CategoryFactory, ForumFactory, TorrentFactory, UserFactory
from tests.tracker.catalogue.helpers import new_metainfo
from tracker.models import AccessLevel, Comment

pytestmark = pytest.mark.django_db

ROLES = ["guest", "user", "uploader", "moderator", "admin"]


def _all(status: int) -> dict[str, int]:
    return dict.fromkeys(ROLES, status)


def _logged_in(status: int, guest: int = 401) -> dict[str, int]:
    return {"guest": guest, **dict.fromkeys(ROLES[1:], status)}


def _admin_only(status: int) -> dict[str, int]:
    return {"guest": 401, "user": 403, "uploader": 403, "moderator": 403, "admin": status}


def _owner_or_moderator(status: int) -> dict[str, int]:
    return {"guest": 401, "user": 403, "uploader": status, "moderator": status, "admin": status}


def _moderator(status: int) -> dict[str, int]:
    return {"guest": 401, "user": 403, "uploader": 403, "moderator": status, "admin": status}


# (method, path, body, expected status per role); {placeholders} come from the `world` fixture.
MATRIX: list[tuple[str, str, Any, dict[str, int]]] = [
    ("get", "/api/categories", None, _all(200)),
    ("post", "/api/categories", {"name": "New {role}"}, _admin_only(201)),
    ("patch", "/api/categories/{category}", {"order": 5}, _admin_only(200)),
    ("delete", "/api/categories/{empty_category}", None, _admin_only(204)),
    ("get", "/api/forums", None, _all(200)),
    ("get", "/api/forums/{forum}", None, _all(200)),
    ("post", "/api/forums", {"name": "New {role}", "category": "{category}"}, _admin_only(201)),
    ("patch", "/api/forums/{forum}", {"description": "d"}, _admin_only(200)),
    ("delete", "/api/forums/{empty_forum}", None, _admin_only(204)),
    ("get", "/api/torrents", None, _all(200)),
    ("get", "/api/torrents/{torrent}", None, _all(200)),
    ("upload", "/api/torrents", None, _logged_in(201)),
    ("patch", "/api/torrents/{torrent}", {"name": "renamed"}, _owner_or_moderator(200)),
    ("patch", "/api/torrents/{torrent}", {"description": "new"}, _owner_or_moderator(200)),
    ("patch", "/api/torrents/{torrent}", {"forum": "{forum2}"}, _owner_or_moderator(200)),
    ("patch", "/api/torrents/{torrent}", {"status": "closed"}, _moderator(200)),
    ("patch", "/api/torrents/{torrent}", {"freeleech": "gold"}, _moderator(200)),
    ("delete", "/api/torrents/{torrent}", None, _owner_or_moderator(204)),
    ("get", "/api/torrents/{torrent}/download", None, _logged_in(200)),
    ("get", "/api/torrents/{torrent}/files", None, _all(200)),
    ("get", "/api/torrents/{torrent}/comments", None, _all(200)),
    ("post", "/api/torrents/{torrent}/comments", {"text": "hi"}, _logged_in(201)),
    ("patch", "/api/comments/{comment}", {"text": "edited"}, _owner_or_moderator(200)),
    ("delete", "/api/comments/{comment}", None, _owner_or_moderator(204)),
    ("get", "/api/bookmarks", None, _logged_in(200)),
    ("put", "/api/torrents/{torrent}/bookmark", None, _logged_in(200)),
    ("delete", "/api/torrents/{torrent}/bookmark", None, _logged_in(204)),
    ("get", "/api/users", None, _logged_in(200)),
    ("get", "/api/users/{member}", None, _logged_in(200)),
    ("patch", "/api/users/{member}", {"role": "moderator"}, _admin_only(200)),
    ("patch", "/api/users/{member}", {"is_banned": True}, _admin_only(200)),
    ("post", "/api/register", {"username": "new-{role}", "email": "{role}@x.test", "password": "c0rrect-Horse"}, _all(201)),
    ("get", "/api/me", None, _logged_in(200)),
    ("post", "/api/me/passkey", None, _logged_in(200)),
    ("get", "/api/stats", None, _all(200)),
]


@pytest.fixture
def world() -> dict[str, Any]:
    users = {
        "user": UserFactory(),
        "uploader": UserFactory(),
        "moderator": UserFactory(role="moderator"),
        "admin": UserFactory(role="admin", is_staff=True),
    }
    category = CategoryFactory()
    forum = ForumFactory(category=category)
    torrent = TorrentFactory(forum=forum, uploader=users["uploader"])
    ids = {
        "category": category.pk,
        "empty_category": CategoryFactory().pk,
        "forum": forum.pk,
        "forum2": ForumFactory(category=category).pk,
        "empty_forum": ForumFactory(category=category).pk,
        "torrent": torrent.pk,
        "comment": Comment.objects.create(torrent=torrent, author=users["uploader"], text="c").pk,
        "member": UserFactory().pk,
    }
    return {"users": users, "ids": ids, "forum": forum}


def _client(world: dict[str, Any], role: str) -> APIClient:
    client = APIClient()
    return client if role == "guest" else bearer(client, world["users"][role])


def _fill(value: Any, names: dict[str, Any]) -> Any:
    if isinstance(value, dict):
        return {k: _fill(v, names) for k, v in value.items()}
    if isinstance(value, str):
        filled = value.format(**names)
        return int(filled) if value.startswith("{") and filled.isdigit() else filled
    return value


CASES = [
    pytest.param(method, path, body, role, expected[role], id=f"{method} {path} {str(body or '')[:30]} as {role}")
    for method, path, body, expected in MATRIX
    for role in ROLES
]


@pytest.mark.parametrize(("method", "path", "body", "role", "status"), CASES)
def test_permission_matrix(world, method, path, body, role, status):
    names = {**world["ids"], "role": role}
    client = _client(world, role)
    url = path.format(**names)
    if method == "upload":
        from django.core.files.uploadedfile import SimpleUploadedFile

        data = {"file": SimpleUploadedFile("a.torrent", new_metainfo(f"by-{role}")[0]), "forum": world["ids"]["forum"]}
        response = client.post(url, data, format="multipart")
    else:
        response = getattr(client, method)(url, _fill(body, names), format="json")
    assert response.status_code == status, response.content
    if response.get("Content-Type") == "application/json":
        assert response.json()["success"] is (status < 400)


# Forum access levels: for a forum whose one level is L, what each role gets.
LEVELS = list(AccessLevel)
ROLE_LEVEL = {"guest": 0, "user": 1, "uploader": 1, "moderator": 2, "admin": 3}


def _level_cases() -> list[Any]:
    cases = []
    for level in LEVELS:
        for role in ROLES:
            sees = ROLE_LEVEL[role] >= level
            cases.append(pytest.param("view", level, role, 200 if sees else 404, id=f"view={level.label} as {role}"))
            if role == "guest":
                upload, download = 401, 401
            else:
                upload = 201 if ROLE_LEVEL[role] >= level else 403
                download = 200 if ROLE_LEVEL[role] >= level else 403
            cases.append(pytest.param("upload", level, role, upload, id=f"upload={level.label} as {role}"))
            cases.append(pytest.param("download", level, role, download, id=f"download={level.label} as {role}"))
    return cases


@pytest.mark.parametrize(("kind", "level", "role", "status"), _level_cases())
def test_forum_access_levels(world, kind, level, role, status):
    client = _client(world, role)
    forum = ForumFactory(**{f"{kind}_level": level})
    if kind == "upload":
        from django.core.files.uploadedfile import SimpleUploadedFile

        data = {"file": SimpleUploadedFile("a.torrent", new_metainfo(f"lvl-{role}-{level}")[0]), "forum": forum.pk}
        response = client.post("/api/torrents", data, format="multipart")
    else:
        torrent = TorrentFactory(forum=forum, uploader=world["users"]["uploader"])
        path = f"/api/torrents/{torrent.pk}" + ("/download" if kind == "download" else "")
        response = client.get(path)
        listed = [t["id"] for t in client.get("/api/torrents").json()["data"]]
        assert (torrent.pk in listed) is (kind == "download" or status == 200)
    assert response.status_code == status, response.content


@pytest.mark.parametrize("role", ROLES[:-1])
def test_hidden_forum_torrent_is_404_for_every_action(world, role):
    """A torrent in a forum above the caller's view level does not exist for them, whatever they try."""
    forum = ForumFactory(view_level=AccessLevel.ADMIN)
    torrent = TorrentFactory(forum=forum, uploader=world["users"]["uploader"])
    client = _client(world, role)
    for method, suffix in [("get", ""), ("patch", ""), ("delete", ""), ("get", "/files"), ("get", "/comments"), ("put", "/bookmark")]:
        response = getattr(client, method)(f"/api/torrents/{torrent.pk}{suffix}", {}, format="json")
        expected = 401 if role == "guest" and (method in ("patch", "delete", "put")) else 404
        assert response.status_code == expected, (method, suffix, response.content)
