"""Unhandled exceptions and Django-level errors under /api/ still answer in the envelope, and leak nothing."""

import logging

import pytest
from rest_framework.test import APIClient

from tests.api.urls import LEAKY_MESSAGE

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.api.urls")]

GENERIC_500 = {"success": False, "error": {"code": "SERVER_ERROR", "message": "Internal server error.", "details": {}}}


def _assert_leaks_nothing(response, settings):
    text = response.content.decode()
    for secret in ("SELECT", "hunter2", "/srv/", "settings.py", "SECRET_KEY", settings.SECRET_KEY, str(settings.BASE_DIR), "Traceback"):
        assert secret not in text


@pytest.fixture
def client():
    return APIClient(raise_request_exception=False)


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize("method", ["get", "post"])
def test_an_exception_in_an_api_view_is_a_generic_500(client, settings, caplog, debug, method):
    settings.DEBUG = debug
    caplog.set_level(logging.ERROR)
    response = getattr(client, method)("/api/test-boom")
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert response.json() == GENERIC_500
    assert response["X-RateLimit-Limit"].isdigit()
    _assert_leaks_nothing(response, settings)
    # the traceback goes to the log, and only there
    assert "Traceback" in caplog.text
    assert LEAKY_MESSAGE in caplog.text


@pytest.mark.parametrize("debug", [False, True])
def test_an_exception_outside_drf_is_a_generic_500(client, settings, caplog, debug):
    settings.DEBUG = debug
    caplog.set_level(logging.ERROR)
    response = client.get("/api/test-plain-boom")
    assert response.status_code == 500
    assert response.json() == GENERIC_500
    assert response["X-RateLimit-Limit"].isdigit()
    _assert_leaks_nothing(response, settings)
    assert LEAKY_MESSAGE in caplog.text


@pytest.mark.parametrize("debug", [False, True])
def test_a_disallowed_host_is_a_400_envelope(client, settings, debug):
    settings.DEBUG = debug
    settings.ALLOWED_HOSTS = ["testserver"]
    response = client.get("/api/hello", HTTP_HOST="evil.example")
    assert response.status_code == 400
    assert response.json() == {
        "success": False,
        "error": {"code": "BAD_REQUEST", "message": "The request could not be understood.", "details": {}},
    }
    assert response["X-RateLimit-Remaining"].isdigit()


@pytest.mark.parametrize("debug", [False, True])
def test_an_unknown_path_is_a_404_envelope_in_debug_too(client, settings, debug):
    settings.DEBUG = debug
    response = client.get("/api/no/such/thing")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"


def test_a_wrong_method_keeps_the_allow_header(client):
    response = client.delete("/api/hello")
    assert response.status_code == 405
    assert "GET" in response["Allow"]


def test_a_bad_host_outside_api_keeps_django_behaviour(client, settings):
    settings.ALLOWED_HOSTS = ["testserver"]
    response = client.get("/admin/", HTTP_HOST="evil.example")
    assert response.status_code == 400
    assert not response["Content-Type"].startswith("application/json")
