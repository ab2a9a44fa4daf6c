"""Shared fixtures: users of each role, API clients, a clean cache per test."""

import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import django_ratelimit.core
import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from core.cache import backoff_reset
from tests.factories import PASSWORD, UserFactory

# Fixture plugins shared across folders (pytest reads `pytest_plugins` only here, in the rootdir's conftest).
pytest_plugins = ["tests.tracker.announce.fronts"]


@pytest.fixture(autouse=True)
def _clear_cache() -> Iterator[None]:
    """Rate-limit counts, cached lookups and cache back-offs must not leak from one test into the next."""
    backoff_reset()
    cache.clear()
    yield
    backoff_reset()
    cache.clear()


@pytest.fixture(autouse=True)
def _steady_ratelimit_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hold django-ratelimit's clock at the moment the test starts.

    A test counts requests within one rate-limit window; if the window rolled
    over half-way through (the windows are aligned to the wall clock), the
    count would restart and the test would fail now and then. Servers started
    in other processes keep the real clock.
    """
    now = time.time()
    monkeypatch.setattr(django_ratelimit.core, "time", SimpleNamespace(time=lambda: now))


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    """A cheap hasher in tests: PBKDF2's cost is the point in production and a waste here."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def user(db: Any) -> Any:
    return UserFactory()


@pytest.fixture
def moderator(db: Any) -> Any:
    return UserFactory(role="moderator")


@pytest.fixture
def admin_user(db: Any) -> Any:
    return UserFactory(role="admin", is_staff=True, is_superuser=True)


def login_data(user: Any, password: str = PASSWORD) -> dict[str, Any]:
    """What POST /api/login answers `user` (token, refresh_token, user): a real login."""
    response = APIClient().post("/api/login", {"username": user.username, "password": password}, format="json")
    assert response.status_code == 200, response.content
    return response.json()["data"]


def bearer(client: APIClient, user: Any) -> APIClient:
    """Authenticate `client` with a real token for `user` (obtained through /api/login)."""
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {login_data(user)['token']}")
    return client


@pytest.fixture
def site(admin_user: Any) -> Any:
    """The Django admin in a browser session, logged in as an admin."""
    from django.test import Client

    client = Client()
    client.force_login(admin_user)
    return client


@pytest.fixture
def user_client(user: Any) -> APIClient:
    return bearer(APIClient(), user)


@pytest.fixture
def moderator_client(moderator: Any) -> APIClient:
    return bearer(APIClient(), moderator)


@pytest.fixture
def admin_client_api(admin_user: Any) -> APIClient:
    return bearer(APIClient(), admin_user)
