"""Every ErrorCode, provoked for real, answers with its fixed status and the error envelope."""

from collections.abc import Callable
from typing import Any

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from accounts.models import User
from api.errors import ErrorCode
from tests.api.ratelimit_helpers import in_one_window
from tests.factories import PASSWORD


def _bad_request(client: APIClient, user: Any) -> Any:
    return client.post("/api/login", data='{"username": "a", "password": ', content_type="application/json")


def _unauthorized(client: APIClient, user: Any) -> Any:
    return client.get("/api/me")


def _invalid_credentials(client: APIClient, user: Any) -> Any:
    return client.post("/api/login", {"username": user.username, "password": "wrong"}, format="json")


def _account_banned(client: APIClient, user: Any) -> Any:
    User.objects.filter(pk=user.pk).update(is_banned=True)
    return client.post("/api/login", {"username": user.username, "password": PASSWORD}, format="json")


def _token_invalid(client: APIClient, user: Any) -> Any:
    client.credentials(HTTP_AUTHORIZATION="Bearer not.a.token")
    return client.get("/api/me")


def _two_factor_required(client: APIClient, user: Any) -> Any:
    from tests.twofactor import enrol

    enrol(user)
    return client.post("/api/login", {"username": user.username, "password": PASSWORD}, format="json")


def _forbidden(client: APIClient, user: Any) -> Any:
    csrf_client = APIClient(enforce_csrf_checks=True)
    csrf_client.force_login(user)
    return csrf_client.post("/api/logout", {}, format="json")


def _not_found(client: APIClient, user: Any) -> Any:
    return client.get("/api/no-such-resource/42")


def _method_not_allowed(client: APIClient, user: Any) -> Any:
    return client.delete("/api/hello")


def _conflict(client: APIClient, user: Any) -> Any:
    taken = {"username": user.username, "email": "someone@example.test", "password": "a-Long-enough-passw0rd"}
    return client.post("/api/register", taken, format="json")


def _insufficient_points(client: APIClient, user: Any) -> Any:
    client.force_authenticate(user)  # 0 points: a freeleech token costs more
    return client.post("/api/store/purchase", {"item": "token", "quantity": 1}, format="json")


def _insufficient_invites(client: APIClient, user: Any) -> Any:
    client.force_authenticate(user)  # a member with no invites left
    return client.post("/api/me/invites", {"email": "friend@example.test"}, format="json")


def _download_suspended(client: APIClient, user: Any) -> Any:
    from datetime import timedelta

    from django.utils import timezone

    from tests.factories import TorrentFactory

    torrent = TorrentFactory()
    # 100 GiB down, nothing up, on ratio watch for a month: the watch (14 days) is over.
    User.objects.filter(pk=user.pk).update(downloaded=100 * 2**30, uploaded=0, ratio_watch_since=timezone.now() - timedelta(days=30))
    client.force_authenticate(User.objects.get(pk=user.pk))
    return client.get(f"/api/torrents/{torrent.pk}/download")


def _email_not_confirmed(client: APIClient, user: Any) -> Any:
    from tests.factories import TorrentFactory

    User.objects.filter(pk=user.pk).update(email_confirmed_at=None)
    client.force_authenticate(User.objects.get(pk=user.pk))
    return client.get(f"/api/torrents/{TorrentFactory().pk}/download")


def _email_not_sent(client: APIClient, user: Any) -> Any:
    from tests.accounts.email_helpers import closed_port

    User.objects.filter(pk=user.pk).update(email_confirmed_at=None)
    client.force_authenticate(User.objects.get(pk=user.pk))
    smtp = {"BACKEND": "django.core.mail.backends.smtp.EmailBackend", "OPTIONS": {"host": "127.0.0.1", "port": closed_port(), "timeout": 2}}
    with override_settings(MAILERS={"default": smtp}):  # a mail server that is down
        return client.post("/api/me/email/confirmation")


def _payload_too_large(client: APIClient, user: Any) -> Any:
    from django.conf import settings

    padding = "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
    return client.post("/api/login", data=f'{{"username": "a", "password": "{padding}"}}', content_type="application/json")


def _unsupported_media_type(client: APIClient, user: Any) -> Any:
    return client.post("/api/login", data="username=a&password=b", content_type="text/plain")


def _validation_error(client: APIClient, user: Any) -> Any:
    return client.post("/api/login", {}, format="json")


def _rate_limit_exceeded(client: APIClient, user: Any) -> Any:
    answers = []

    def twenty_then_one_more() -> None:
        with override_settings(API_RATE_LIMIT_ANONYMOUS=20):
            for _ in range(20):
                assert client.get("/api/hello").status_code == 200
            answers.append(client.get("/api/hello"))
        assert answers[-1].status_code == 429

    in_one_window("ip:127.0.0.1", twenty_then_one_more)
    return answers[-1]


def _server_error(client: APIClient, user: Any) -> Any:
    return client.get("/api/test-boom")


PROVOKE: dict[ErrorCode, Callable[[APIClient, Any], Any]] = {
    ErrorCode.BAD_REQUEST: _bad_request,
    ErrorCode.UNAUTHORIZED: _unauthorized,
    ErrorCode.INVALID_CREDENTIALS: _invalid_credentials,
    ErrorCode.ACCOUNT_BANNED: _account_banned,
    ErrorCode.TOKEN_INVALID: _token_invalid,
    ErrorCode.TWO_FACTOR_REQUIRED: _two_factor_required,
    ErrorCode.FORBIDDEN: _forbidden,
    ErrorCode.NOT_FOUND: _not_found,
    ErrorCode.METHOD_NOT_ALLOWED: _method_not_allowed,
    ErrorCode.CONFLICT: _conflict,
    ErrorCode.INSUFFICIENT_POINTS: _insufficient_points,
    ErrorCode.INSUFFICIENT_INVITES: _insufficient_invites,
    ErrorCode.DOWNLOAD_SUSPENDED: _download_suspended,
    ErrorCode.EMAIL_NOT_CONFIRMED: _email_not_confirmed,
    ErrorCode.EMAIL_NOT_SENT: _email_not_sent,
    ErrorCode.PAYLOAD_TOO_LARGE: _payload_too_large,
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: _unsupported_media_type,
    ErrorCode.VALIDATION_ERROR: _validation_error,
    ErrorCode.RATE_LIMIT_EXCEEDED: _rate_limit_exceeded,
    ErrorCode.SERVER_ERROR: _server_error,
}

EXPECTED_STATUS = {
    "BAD_REQUEST": 400,
    "UNAUTHORIZED": 401,
    "INVALID_CREDENTIALS": 401,
    "ACCOUNT_BANNED": 403,
    "TOKEN_INVALID": 401,
    "TWO_FACTOR_REQUIRED": 401,
    "FORBIDDEN": 403,
    "NOT_FOUND": 404,
    "METHOD_NOT_ALLOWED": 405,
    "CONFLICT": 409,
    "INSUFFICIENT_POINTS": 409,
    "INSUFFICIENT_INVITES": 409,
    "DOWNLOAD_SUSPENDED": 403,
    "EMAIL_NOT_CONFIRMED": 403,
    "PAYLOAD_TOO_LARGE": 413,
    "UNSUPPORTED_MEDIA_TYPE": 415,
    "VALIDATION_ERROR": 422,
    "RATE_LIMIT_EXCEEDED": 429,
    "SERVER_ERROR": 500,
    "EMAIL_NOT_SENT": 503,
}


def test_every_error_code_has_the_status_the_contract_fixes():
    assert {code.value: code.status for code in ErrorCode} == EXPECTED_STATUS


def test_every_error_code_is_provoked_below():
    assert set(PROVOKE) == set(ErrorCode)


@pytest.mark.django_db
@pytest.mark.urls("tests.api.urls")
@pytest.mark.parametrize("code", list(ErrorCode), ids=str)
def test_it_answers_each_error_code_in_the_envelope(code, user):
    client = APIClient(raise_request_exception=False)
    response = PROVOKE[code](client, user)
    assert response.status_code == code.status
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"success", "error"}
    assert body["success"] is False
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code.value
    assert isinstance(body["error"]["message"], str)
    assert body["error"]["message"]
    assert isinstance(body["error"]["details"], dict)
    assert response["X-RateLimit-Limit"].isdigit()


@pytest.mark.django_db
def test_validation_details_map_each_field_to_a_list_of_messages(api_client):
    response = api_client.post("/api/login", {"username": "someone"}, format="json")
    assert response.status_code == 422
    assert response.json()["error"] == {
        "code": "VALIDATION_ERROR",
        "message": "Validation failed",
        "details": {"password": ["This field is required."]},
    }


@pytest.mark.django_db
def test_other_errors_have_empty_details(api_client):
    response = api_client.get("/api/me")
    assert response.json()["error"]["details"] == {}


@pytest.mark.django_db
def test_a_declared_oversized_body_is_refused_before_it_is_read(api_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = api_client.post("/api/login", data="{}", content_type="application/json", CONTENT_LENGTH="5000")
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"


@pytest.mark.django_db
@pytest.mark.urls("tests.api.urls")
def test_conflict_carries_its_message_and_details(api_client):
    response = api_client.post("/api/test-conflict", {}, format="json")
    assert response.json() == {
        "success": False,
        "error": {
            "code": "CONFLICT",
            "message": "A torrent with this info_hash is already registered.",
            "details": {"info_hash": ["Already registered."]},
        },
    }


@pytest.mark.django_db
def test_a_correct_login_still_works_after_the_wrong_ones(api_client, user):
    api_client.post("/api/login", {"username": user.username, "password": "wrong"}, format="json")
    response = api_client.post("/api/login", {"username": user.username, "password": PASSWORD}, format="json")
    assert response.status_code == 200
