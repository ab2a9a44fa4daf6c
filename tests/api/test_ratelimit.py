"""Rate limits: the headers on every /api/ response, 429 at the real limits, trusted proxies, fail-open."""

import ipaddress
import logging
import socket
import time

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from core.net import client_ip
from tests.api.ratelimit_helpers import in_one_window
from tests.factories import PASSWORD

REAL_LIMITS = {"API_RATE_LIMIT_AUTHENTICATED": 60, "API_RATE_LIMIT_ANONYMOUS": 20}


def _headers(response):
    return int(response["X-RateLimit-Limit"]), int(response["X-RateLimit-Remaining"]), int(response["X-RateLimit-Reset"])


@pytest.mark.django_db
@override_settings(**REAL_LIMITS)
def test_headers_on_success_and_on_every_kind_of_error(api_client):
    in_one_window("ip:127.0.0.1", lambda: _check_headers_on_every_kind_of_answer(api_client))


def _check_headers_on_every_kind_of_answer(api_client):
    responses = [
        api_client.get("/api/hello"),  # 200
        api_client.get("/api/unknown/path"),  # 404 from the catch-all
        api_client.delete("/api/hello"),  # 405
        api_client.post("/api/login", {}, format="json"),  # 422
        api_client.post("/api/login", data="{", content_type="application/json"),  # 400
    ]
    bad_token = APIClient()
    bad_token.credentials(HTTP_AUTHORIZATION="Bearer nonsense")
    responses.append(bad_token.get("/api/me"))  # 401 TOKEN_INVALID, counted against the IP
    assert [r.status_code for r in responses] == [200, 404, 405, 422, 400, 401]
    now = int(time.time())
    remaining = []
    for response in responses:
        limit, left, reset = _headers(response)
        assert limit == 20
        assert now <= reset <= now + 61
        remaining.append(left)
    # every one of them used up the anonymous budget
    assert remaining == [19, 18, 17, 16, 15, 14]


@pytest.mark.django_db
@override_settings(**REAL_LIMITS)
def test_the_21st_anonymous_request_in_a_minute_is_429_with_retry_after(api_client):
    in_one_window("ip:127.0.0.1", lambda: _check_the_21st_is_429(api_client))


def _check_the_21st_is_429(api_client):
    for expected_left in range(19, -1, -1):
        response = api_client.get("/api/hello")
        assert response.status_code == 200
        assert response["X-RateLimit-Remaining"] == str(expected_left)
    response = api_client.get("/api/hello")
    assert response.status_code == 429
    assert response.json() == {
        "success": False,
        "error": {"code": "RATE_LIMIT_EXCEEDED", "message": "Too many requests. Please slow down.", "details": {}},
    }
    retry_after = int(response["Retry-After"])
    assert 1 <= retry_after <= 60
    limit, left, reset = _headers(response)
    assert (limit, left) == (20, 0)
    assert abs(reset - (int(time.time()) + retry_after)) <= 1
    # still limited on other endpoints, unknown paths included
    assert api_client.get("/api/nowhere").status_code == 429
    assert api_client.post("/api/login", {}, format="json").status_code == 429


@pytest.mark.django_db
@override_settings(**REAL_LIMITS)
def test_the_61st_authenticated_request_in_a_minute_is_429(user):
    client = APIClient()
    response = client.post("/api/login", {"username": user.username, "password": PASSWORD}, format="json")
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['data']['token']}")

    def sixty_then_429():
        for expected_left in range(59, -1, -1):
            response = client.get("/api/me")
            assert response.status_code == 200
            assert _headers(response)[:2] == (60, expected_left)
        response = client.get("/api/me")
        assert response.status_code == 429
        assert response.json()["error"]["code"] == "RATE_LIMIT_EXCEEDED"
        assert int(response["Retry-After"]) >= 1

    in_one_window(f"user:{user.pk}", sixty_then_429)


@pytest.mark.django_db
@override_settings(**REAL_LIMITS)
def test_a_user_is_counted_as_themselves_not_as_their_ip(user):
    anonymous = APIClient()
    token = anonymous.post("/api/login", {"username": user.username, "password": PASSWORD}, format="json").json()["data"]["token"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    def ip_exhausted_user_not():
        for _ in range(20):
            anonymous.get("/api/hello")
        assert anonymous.get("/api/hello").status_code == 429
        response = client.get("/api/hello")
        assert response.status_code == 200
        assert _headers(response)[0] == 60

    in_one_window("ip:127.0.0.1", ip_exhausted_user_not)


@pytest.mark.django_db
@override_settings(**REAL_LIMITS)
def test_a_session_user_is_counted_as_themselves(user):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    response = client.get("/api/me")
    assert response.status_code == 200
    assert _headers(response)[:2] == (60, 59)


@pytest.mark.django_db
@override_settings(**REAL_LIMITS, TRUSTED_PROXIES=[])
def test_x_forwarded_for_is_ignored_without_trusted_proxies(api_client):
    def one_bucket_whatever_the_header_says():
        for n in range(20):
            response = api_client.get("/api/hello", REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}")
            assert response.status_code == 200
        response = api_client.get("/api/hello", REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR="198.51.100.250")
        assert response.status_code == 429

    in_one_window("ip:203.0.113.9", one_bucket_whatever_the_header_says)


@pytest.mark.django_db
@override_settings(**REAL_LIMITS, TRUSTED_PROXIES=[ipaddress.ip_network("10.0.0.0/8")])
def test_x_forwarded_for_from_a_trusted_proxy_names_the_client(api_client):
    in_one_window("ip:198.51.100.1", lambda: _check_trusted_proxy(api_client))


def _check_trusted_proxy(api_client):
    for _ in range(20):
        assert api_client.get("/api/hello", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.1").status_code == 200
    assert api_client.get("/api/hello", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.1").status_code == 429
    # another client behind the same proxy has its own budget
    other = api_client.get("/api/hello", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.2")
    assert other.status_code == 200
    assert other["X-RateLimit-Remaining"] == "19"
    # an untrusted caller cannot borrow someone else's address
    spoofed = api_client.get("/api/hello", REMOTE_ADDR="192.0.2.7", HTTP_X_FORWARDED_FOR="198.51.100.1")
    assert spoofed.status_code == 200


class _Request:
    def __init__(self, remote: str, forwarded: str | None = None) -> None:
        self.META = {"REMOTE_ADDR": remote}
        if forwarded is not None:
            self.META["HTTP_X_FORWARDED_FOR"] = forwarded


@pytest.mark.parametrize(
    ("remote", "forwarded", "expected"),
    [
        ("192.0.2.1", "198.51.100.1", "192.0.2.1"),  # not a proxy: header ignored
        ("10.0.0.1", "198.51.100.1", "198.51.100.1"),  # trusted proxy
        ("10.0.0.1", "1.1.1.1, 198.51.100.1", "198.51.100.1"),  # the client may prepend lies; rightmost untrusted wins
        ("10.0.0.1", "198.51.100.1, 10.0.0.5", "198.51.100.1"),  # two trusted hops
        ("10.0.0.1", "garbage", "10.0.0.1"),
        ("10.0.0.1", None, "10.0.0.1"),
        ("::1", "198.51.100.1", "::1"),
    ],
)
def test_client_ip(settings, remote, forwarded, expected):
    settings.TRUSTED_PROXIES = [ipaddress.ip_network("10.0.0.0/8")]
    assert client_ip(_Request(remote, forwarded)) == expected


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def unreachable_redis(settings):
    """The cache points at a Redis port where nothing listens."""
    settings.CACHES = {
        "default": {
            "BACKEND": "core.cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{_closed_port()}/0",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }


@pytest.mark.django_db
def test_the_api_fails_open_when_the_cache_is_unreachable(unreachable_redis, api_client, user, caplog):
    caplog.set_level(logging.WARNING)
    response = api_client.get("/api/hello")
    assert response.status_code == 200
    assert response.json()["data"]["database"] is True
    assert response.json()["data"]["cache"] is False
    limit, left, _ = _headers(response)
    assert left == limit
    assert "failing open" in caplog.text
    login = api_client.post("/api/login", {"username": user.username, "password": PASSWORD}, format="json")
    assert login.status_code == 200
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {login.json()['data']['token']}")
    assert api_client.get("/api/me").status_code == 200


@pytest.mark.django_db
@override_settings(**REAL_LIMITS)
def test_past_the_limit_every_answer_is_429(api_client):
    in_one_window("ip:127.0.0.1", lambda: _check_past_the_limit(api_client))


def _check_past_the_limit(api_client):
    for _ in range(20):
        api_client.get("/api/me")  # 401s, refused before DRF's throttle, still counted
    assert api_client.get("/api/me").status_code == 429
    bad_token = APIClient()
    bad_token.credentials(HTTP_AUTHORIZATION="Bearer nonsense")
    response = bad_token.get("/api/me")
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "RATE_LIMIT_EXCEEDED"
    assert int(response["Retry-After"]) >= 1
    assert api_client.get("/api/nowhere").status_code == 429
    assert api_client.get("/api/v2/torrents").status_code == 429


@pytest.mark.django_db
def test_a_logged_in_caller_on_an_unknown_path_is_counted_as_themselves(user_client):
    response = user_client.get("/api/no/such/path")
    assert response.status_code == 404
    assert response["X-RateLimit-Limit"] == "100000"  # the authenticated limit under test settings
    with override_settings(**REAL_LIMITS):
        response = user_client.get("/api/v2/anything")
        assert response.status_code == 404
        assert response["X-RateLimit-Limit"] == "60"
