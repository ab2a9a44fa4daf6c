"""Helpers for catalogue tests: uploading a .torrent through the API, forums at chosen access levels."""

from typing import Any

from rest_framework.test import APIClient

from tests.factories import ForumFactory, make_metainfo
from tracker.models import AccessLevel


def upload(client: APIClient, forum: Any, data: bytes, **extra: Any) -> Any:
    """POST /api/torrents with `data` as the .torrent file."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    payload = {"file": SimpleUploadedFile("x.torrent", data, content_type="application/x-bittorrent"), "forum": forum.pk, **extra}
    return client.post("/api/torrents", payload, format="multipart")


def new_metainfo(name: str = "ubuntu-24.04.iso", length: int = 123_456, private: int = 0) -> tuple[bytes, str]:
    return make_metainfo(name, length, private=private)


def forum_with_levels(view: int = AccessLevel.GUEST, upload: int = AccessLevel.USER, download: int = AccessLevel.USER) -> Any:
    return ForumFactory(view_level=view, upload_level=upload, download_level=download)
