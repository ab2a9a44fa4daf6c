"""Fixtures for the page tests: logged-in browsers (Django's test client) and a small catalogue."""

from typing import Any

import pytest
from django.test import Client

from tests.factories import ForumFactory, TorrentFactory


@pytest.fixture
def member_client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def moderator_page_client(moderator: Any) -> Client:
    client = Client()
    client.force_login(moderator)
    return client


@pytest.fixture
def csrf_client() -> Client:
    """A browser whose forms are checked for the CSRF token, as in production."""
    return Client(enforce_csrf_checks=True)


@pytest.fixture
def forum(db: Any) -> Any:
    return ForumFactory()


@pytest.fixture
def torrent(forum: Any) -> Any:
    return TorrentFactory(forum=forum, description="A <b>fine</b> torrent.\nSecond line.")
