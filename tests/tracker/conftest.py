"""Catalogue fixtures: forums at each access level, torrents, upload helpers."""

from typing import Any

import pytest
from rest_framework.test import APIClient

from tests.conftest import bearer
from tests.factories import ForumFactory, TorrentFactory, UserFactory, make_metainfo
from tracker.models import AccessLevel


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    """PBKDF2 costs about a second per user on this machine; these tests are not about hashing."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def forum(db: Any) -> Any:
    return ForumFactory()


@pytest.fixture
def torrent(db: Any, forum: Any) -> Any:
    return TorrentFactory(forum=forum)


@pytest.fixture
def uploader(db: Any) -> Any:
    return UserFactory()


@pytest.fixture
def uploader_client(uploader: Any) -> APIClient:
    return bearer(APIClient(), uploader)


def upload(client: APIClient, forum: Any, data: bytes, **extra: Any) -> Any:
    """POST /api/torrents with `data` as the .torrent file."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    payload = {"file": SimpleUploadedFile("x.torrent", data, content_type="application/x-bittorrent"), "forum": forum.pk, **extra}
    return client.post("/api/torrents", payload, format="multipart")


def new_metainfo(name: str = "ubuntu-24.04.iso", length: int = 123_456, private: int = 0) -> tuple[bytes, str]:
    return make_metainfo(name, length, private=private)


def forum_with_levels(view: int = AccessLevel.GUEST, upload: int = AccessLevel.USER, download: int = AccessLevel.USER) -> Any:
    return ForumFactory(view_level=view, upload_level=upload, download_level=download)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests run through the ASGI front (the `client` fixture's "asgi" case) need committed data on PostgreSQL."""
    from tests.tracker.asgi_client import fast_path_active

    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("client") == "asgi" and fast_path_active():
            item.add_marker(pytest.mark.django_db(transaction=True))
