"""Fixtures of the catalogue and admin tests: a forum, a torrent in it, an uploader and its API client."""

from typing import Any

import pytest
from rest_framework.test import APIClient

from tests.conftest import bearer
from tests.factories import ForumFactory, TorrentFactory, UserFactory


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
