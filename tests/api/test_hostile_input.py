"""Hostile requests get a clean 4xx in the envelope, never a 500 or a leak of Python internals."""

import re
from typing import Any

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from core.listing import MAX_PAGE
from tests.factories import TorrentFactory

pytestmark = pytest.mark.django_db

# Python's internals in a message: a traceback, an exception's repr, a bytes literal (b'...').
LEAK = re.compile(r"Traceback|File \"|[A-Z]\w*(?:Error|Exception)\(|(?<![\w\\])b['\"]")


def envelope_error(response: Any, status: int, *codes: str) -> dict:
    assert response.status_code == status, response.content[:500]
    body = response.json()
    assert body["success"] is False
    error = body["error"]
    if codes:
        assert error["code"] in codes
    assert isinstance(error["message"], str) and error["message"]
    text = response.content.decode()
    assert not LEAK.search(text), text[:500]
    return error


# (what is sent, content type, the status and code it must get)
BODIES = [
    pytest.param(
        b'{"username": "' + b"a" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10) + b'"}',
        "application/json",
        413,
        "PAYLOAD_TOO_LARGE",
        id="huge-json",
    ),
    pytest.param(b"[" * 10_000 + b"]" * 10_000, "application/json", 400, "BAD_REQUEST", id="nested-list-10000"),
    pytest.param(b'{"a":' * 10_000 + b"1" + b"}" * 10_000, "application/json", 400, "BAD_REQUEST", id="nested-object-10000"),
    pytest.param(b'{"username": "\xff\xfe", "password": "x"}', "application/json", 400, "BAD_REQUEST", id="invalid-utf8"),
    pytest.param(b'{"username": "\xed\xa0\x80", "password": "x"}', "application/json", 400, "BAD_REQUEST", id="utf8-surrogate"),
    pytest.param(b'{"username": "a"', "application/json", 400, "BAD_REQUEST", id="truncated-json"),
    pytest.param(b'{"username": NaN}', "application/json", 400, "BAD_REQUEST", id="nan"),
    pytest.param(b"<login><username>a</username></login>", "application/xml", 415, "UNSUPPORTED_MEDIA_TYPE", id="xml"),
    pytest.param(b"username=a&password=b", "text/plain", 415, "UNSUPPORTED_MEDIA_TYPE", id="text-plain"),
    pytest.param(b"username=a", "application/x-yaml", 415, "UNSUPPORTED_MEDIA_TYPE", id="yaml"),
    pytest.param(b"--x\r\n", "multipart/form-data", 400, "BAD_REQUEST", id="multipart-without-boundary"),
]


@pytest.mark.parametrize(("body", "content_type", "status", "code"), BODIES)
def test_hostile_bodies_get_a_clean_error(api_client: APIClient, body: bytes, content_type: str, status: int, code: str) -> None:
    response = api_client.generic("POST", "/api/login", body, content_type=content_type)
    envelope_error(response, status, code)


@pytest.mark.parametrize(("body", "content_type", "status", "code"), BODIES)
def test_hostile_bodies_from_a_member_get_a_clean_error(
    user_client: APIClient, body: bytes, content_type: str, status: int, code: str
) -> None:
    torrent = TorrentFactory()
    response = user_client.generic("POST", f"/api/torrents/{torrent.id}/comments", body, content_type=content_type)
    if content_type == "multipart/form-data":  # comments take JSON and form bodies only
        status, code = 415, "UNSUPPORTED_MEDIA_TYPE"
    envelope_error(response, status, code)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"page": str(10**30)}, "page"),
        ({"per_page": "-1"}, "per_page"),
        ({"page": "-1"}, "page"),
        ({"page": "0"}, "page"),
        ({"page": "1e3"}, "page"),
        ({"page": "\x00"}, "page"),
        ({"page": "9" * 400}, "page"),
        ({"page": str(2**63 // 50 + 1)}, "page"),  # the first page whose offset a 64-bit integer cannot hold
    ],
)
def test_absurd_pages_are_a_validation_error(user_client: APIClient, params: dict, field: str) -> None:
    error = envelope_error(user_client.get("/api/torrents", params), 422, "VALIDATION_ERROR")
    assert field in error["details"]


def test_a_huge_per_page_is_clamped(user_client: APIClient) -> None:
    response = user_client.get("/api/torrents", {"per_page": str(10**30)})
    assert response.status_code == 200
    assert response.json()["meta"]["per_page"] == 100


def test_the_last_page_is_a_page_at_any_page_size(user_client: APIClient) -> None:
    # MAX_PAGE pages of the largest size still start within a 64-bit offset.
    for per_page in ("1", "50", "100", "1000"):
        response = user_client.get("/api/torrents", {"page": str(MAX_PAGE), "per_page": per_page})
        assert response.status_code == 200, response.content[:500]
        assert response.json()["data"] == []


@pytest.mark.parametrize("per_page", ["1", "50", "100"])
def test_past_the_last_page_is_a_validation_error_at_any_page_size(user_client: APIClient, per_page: str) -> None:
    # One fixed maximum, as the schema's `page` says: it was `2**63 // per_page`, so a small
    # per_page allowed pages the schema refuses.
    error = envelope_error(user_client.get("/api/torrents", {"page": str(MAX_PAGE + 1), "per_page": per_page}), 422, "VALIDATION_ERROR")
    assert error["details"] == {"page": [f"page must be at most {MAX_PAGE}."]}


INJECTIONS = [
    "' OR 1=1--",
    "%00",
    "\x00",
    "a\x00b",
    "../../etc/passwd",
    "<script>alert(1)</script>",
    "\u0661",  # an Arabic-Indic digit one: int() takes it
    "\ud7ff\U0010ffff",
    "9" * 400,
    str(10**30),
]
TORRENT_PARAMS = [
    "forum",
    "category",
    "uploader",
    "status",
    "freeleech",
    "seeded",
    "info_hash",
    "min_size",
    "max_size",
    "created_after",
    "created_before",
    "sort",
    "order",
    "search",
    "page",
    "per_page",
]
USER_PARAMS = ["sort", "order", "search", "page", "per_page"]


def assert_clean_list(response: Any) -> None:
    assert response.status_code in (200, 422), response.content[:500]
    if response.status_code == 422:
        envelope_error(response, 422, "VALIDATION_ERROR")
    else:
        assert response.json()["success"] is True


@pytest.mark.parametrize("param", TORRENT_PARAMS)
def test_injection_shaped_torrent_filters_are_200_or_422(user_client: APIClient, param: str) -> None:
    for value in INJECTIONS:
        assert_clean_list(user_client.get("/api/torrents", {param: value}))


@pytest.mark.parametrize("param", ["search", "sort", "status", "info_hash"])
def test_injection_shaped_torrent_filters_are_200_or_422_anonymously(api_client: APIClient, param: str) -> None:
    for value in INJECTIONS[:6]:
        assert_clean_list(api_client.get("/api/torrents", {param: value}))


@pytest.mark.parametrize("param", USER_PARAMS)
def test_injection_shaped_user_list_params_are_200_or_422(user_client: APIClient, param: str) -> None:
    for value in INJECTIONS:
        assert_clean_list(user_client.get("/api/users", {param: value}))


@pytest.mark.parametrize(
    "header",
    [
        "Bearer",
        "Bearer ",
        "Bearer a.b",
        "Bearer a.b.c",
        "Bearer \xff",
        "Bearer \xff\xfe.\x00.x",
        "Bearer a b",
        "Basic xxx",
        "Basic",
        "bearer abc",
        "Bearer " + "A" * 10_240,
        "Bearer " + "eyJhbGciOiJub25lIn0.eyJ1c2VyX2lkIjoxfQ.",  # alg none
        "Token abc",
        "\x00",
    ],
)
def test_a_malformed_authorization_header_is_a_plain_401(api_client: APIClient, header: str) -> None:
    response = api_client.get("/api/me", HTTP_AUTHORIZATION=header)
    error = envelope_error(response, 401, "TOKEN_INVALID", "UNAUTHORIZED")
    assert "\\x" not in error["message"]
