"""Personal API keys: created and revoked by their owner, shown once, stored hashed, held to their scopes."""

from typing import Any

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from accounts.models import ApiKey, api_key_hash
from accounts.services import api_key_create, user_set_banned
from tests.factories import ForumFactory, TorrentFactory, UserFactory, make_metainfo

pytestmark = pytest.mark.django_db


def _key(user: Any, *scopes: str) -> str:
    return api_key_create(user=user, name="tool", scopes=list(scopes))[1]


def _client(key: str, *, header: str = "bearer") -> APIClient:
    client = APIClient()
    if header == "bearer":
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    else:
        client.credentials(HTTP_X_API_KEY=key)
    return client


def test_it_creates_a_key_shown_once_and_stored_hashed(user_client: APIClient, user: Any) -> None:
    response = user_client.post("/api/me/keys", {"name": "Prowlarr", "scopes": ["feed", "read"]}, format="json")
    assert response.status_code == 201
    assert response["Cache-Control"].startswith("max-age=0")
    data = response.json()["data"]
    raw = data["key"]
    assert raw.startswith("tpk_") and data["prefix"] == raw[:12]
    assert data["scopes"] == ["read", "feed"]
    row = ApiKey.objects.get(pk=data["id"])
    assert row.key_hash == api_key_hash(raw) and raw not in str(row.__dict__)
    listed = user_client.get("/api/me/keys").json()["data"]
    assert [k["id"] for k in listed] == [data["id"]]
    assert "key" not in listed[0] and raw not in str(listed)


@pytest.mark.parametrize(
    ("body", "field"),
    [({"name": "x", "scopes": []}, "scopes"), ({"name": "x", "scopes": ["admin"]}, "scopes"), ({"scopes": ["read"]}, "name")],
)
def test_it_refuses_a_bad_key_request(user_client: APIClient, body: dict[str, Any], field: str) -> None:
    response = user_client.post("/api/me/keys", body, format="json")
    assert response.status_code == 422
    assert field in response.json()["error"]["details"]


def test_a_revoked_key_stops_at_once(user_client: APIClient, user: Any) -> None:
    raw = user_client.post("/api/me/keys", {"name": "x", "scopes": ["read"]}, format="json").json()["data"]
    assert _client(raw["key"]).get("/api/me").status_code == 200
    assert user_client.delete(f"/api/me/keys/{raw['id']}").status_code == 204
    response = _client(raw["key"]).get("/api/me")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "TOKEN_INVALID"
    assert user_client.get("/api/me/keys").json()["data"][0]["revoked_at"] is not None


def test_another_members_key_cannot_be_revoked(user_client: APIClient) -> None:
    other_key = api_key_create(user=UserFactory(), name="x", scopes=["read"])[0]
    assert user_client.delete(f"/api/me/keys/{other_key.pk}").status_code == 404
    assert ApiKey.objects.get(pk=other_key.pk).revoked_at is None


@pytest.mark.parametrize("raw", ["tpk_unknown0000000000000000000000000", "tpk_", "tpk_" + "a" * 300])
@pytest.mark.parametrize("header", ["bearer", "x-api-key"])
def test_an_unknown_key_is_token_invalid(raw: str, header: str) -> None:
    response = _client(raw, header=header).get("/api/torrents")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "TOKEN_INVALID"


def test_a_right_prefix_with_a_wrong_secret_is_token_invalid(user: Any) -> None:
    raw = _key(user, "read")
    assert _client(raw[:-4] + "AAAA").get("/api/me").status_code == 401


def test_a_bad_jwt_is_still_token_invalid() -> None:
    response = _client("eyJhbGciOiJIUzI1NiJ9.e30.bad").get("/api/me")
    assert response.json()["error"]["code"] == "TOKEN_INVALID"


def test_a_banned_members_key_stops_working(user: Any) -> None:
    raw = _key(user, "read")
    user_set_banned(user=user, banned=True)
    assert _client(raw).get("/api/me").json()["error"]["code"] == "TOKEN_INVALID"
    user_set_banned(user=user, banned=False)
    assert _client(raw).get("/api/me").status_code == 200


def test_an_inactive_members_key_stops_working(user: Any) -> None:
    raw = _key(user, "read")
    user.is_active = False
    user.save()
    assert _client(raw, header="x-api-key").get("/api/me").status_code == 401


def test_a_passkey_is_no_api_key(user: Any) -> None:
    assert _client(user.passkey, header="x-api-key").get("/api/me").status_code == 401
    assert _client(user.passkey).get("/api/me").status_code == 401


def _upload(client: APIClient, forum_id: int) -> Any:
    metainfo, _ = make_metainfo("scope-upload")
    from django.core.files.uploadedfile import SimpleUploadedFile

    return client.post("/api/torrents", {"file": SimpleUploadedFile("a.torrent", metainfo), "forum": forum_id}, format="multipart")


# (endpoint class, the scope it needs, how to call it) ; None: refused to every key.
ENDPOINTS = [
    ("read", "read", lambda c, t: c.get("/api/torrents")),
    ("read detail", "read", lambda c, t: c.get(f"/api/torrents/{t.pk}")),
    ("read me", "read", lambda c, t: c.get("/api/me")),
    ("download", "download", lambda c, t: c.get(f"/api/torrents/{t.pk}/download")),
    ("upload", "upload", lambda c, t: _upload(c, t.forum_id)),
    ("feed", "feed", lambda c, t: c.get("/api/torznab", {"t": "caps"})),
]
REFUSED = [
    ("passkey reset", lambda c, t: c.post("/api/me/passkey")),
    ("logout", lambda c, t: c.post("/api/logout", {}, format="json")),
    ("key list", lambda c, t: c.get("/api/me/keys")),
    ("key create", lambda c, t: c.post("/api/me/keys", {"name": "x", "scopes": ["read"]}, format="json")),
    ("bookmark", lambda c, t: c.put(f"/api/torrents/{t.pk}/bookmark")),
    ("comment", lambda c, t: c.post(f"/api/torrents/{t.pk}/comments", {"text": "hi"}, format="json")),
    ("edit", lambda c, t: c.patch(f"/api/torrents/{t.pk}", {"name": "x"}, format="json")),
]
ALL_SCOPES = ["read", "download", "upload", "feed"]


@pytest.mark.parametrize(("label", "needed", "call"), ENDPOINTS, ids=[e[0] for e in ENDPOINTS])
@pytest.mark.parametrize("granted", ALL_SCOPES)
def test_each_endpoint_class_needs_its_scope(user: Any, label: str, needed: str, call: Any, granted: str) -> None:
    torrent = TorrentFactory(uploader=user)
    response = call(_client(_key(user, granted)), torrent)
    if granted == needed:
        assert response.status_code in (200, 201), response.content
    else:
        assert response.status_code == 403
        if label != "feed":
            body = response.json()["error"]
            assert body["code"] == "FORBIDDEN"
            assert f"'{needed}' scope" in body["message"]


@pytest.mark.parametrize(("label", "call"), REFUSED, ids=[e[0] for e in REFUSED])
def test_account_changes_and_key_management_are_refused_to_every_key(user: Any, label: str, call: Any) -> None:
    torrent = TorrentFactory(uploader=user)
    passkey = user.passkey
    response = call(_client(_key(user, *ALL_SCOPES)), torrent)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "FORBIDDEN"
    user.refresh_from_db()
    assert user.passkey == passkey
    assert ApiKey.objects.filter(user=user).count() == 1


def test_a_key_sees_what_its_owner_sees(user: Any) -> None:
    hidden = TorrentFactory(forum=ForumFactory(view_level=2), name="staff-only")
    mine = TorrentFactory(uploader=user, name="mine")
    names = [t["name"] for t in _client(_key(user, "read")).get("/api/torrents").json()["data"]]
    assert names == [mine.name]
    assert _client(_key(user, "read")).get(f"/api/torrents/{hidden.pk}").status_code == 404


def test_key_requests_count_against_the_owner(user: Any, user_client: APIClient, settings: Any) -> None:
    settings.API_RATE_LIMIT_AUTHENTICATED = 3
    key_client = _client(_key(user, "read"))
    assert key_client.get("/api/torrents")["X-RateLimit-Remaining"] == "2"
    assert _client(_key(user, "download")).get("/api/torrents")["X-RateLimit-Remaining"] == "1"  # refused, still counted
    assert user_client.get("/api/torrents")["X-RateLimit-Remaining"] == "0"
    response = key_client.get("/api/torrents")
    assert response.status_code == 429
    cache.clear()
    assert key_client.get("/api/torrents").status_code == 200


def test_last_use_is_recorded(user: Any) -> None:
    key, raw = api_key_create(user=user, name="x", scopes=["read"])
    _client(raw).get("/api/torrents", REMOTE_ADDR="192.0.2.9")
    key.refresh_from_db()
    assert key.last_used_at is not None and key.last_used_ip == "192.0.2.9"


def test_a_key_is_never_logged(user: Any, caplog: pytest.LogCaptureFixture) -> None:
    raw = _key(user, "read")
    with caplog.at_level("DEBUG"):
        _client(raw).get("/api/me/keys")
        _client(raw).get("/api/torrents/999999")
        _client(raw + "x").get("/api/torrents")
    assert raw not in caplog.text
