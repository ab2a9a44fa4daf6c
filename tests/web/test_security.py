"""The pages' Content Security Policy, static files and cookie settings."""

import json
import os
import subprocess
import sys

import pytest
from django.conf import settings


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/", "/login/", "/register/"])
def test_pages_send_a_strict_content_security_policy(client, path):
    policy = client.get(path)["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "script-src 'self';" in policy
    assert "style-src 'self';" in policy
    assert "object-src 'none'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy


@pytest.mark.django_db
def test_pages_load_no_inline_script_or_style_and_nothing_from_elsewhere(client, forum):
    html = client.get("/").content.decode()
    assert '<script src="/static/js/site.js" defer></script>' in html
    assert html.count("<script") == 1
    assert "<style" not in html and "style=" not in html
    assert "http://" not in html.split("</footer>")[0].replace("http://testserver", "")


def test_stylesheet_is_served_by_the_project(client):
    response = client.get("/static/css/site.css")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/css")


@pytest.mark.django_db
@pytest.mark.parametrize("prefix", ["/api", "/api/v1"])
def test_swagger_ui_works_under_the_policy(client, prefix):
    page = client.get(f"{prefix}/docs")
    assert page.status_code == 200
    html = page.content.decode()
    assert "<script>" not in html  # the init script is a separate file, allowed by script-src 'self'
    assert f'src="{prefix}/docs?script="' in html
    assert "script-src 'self';" in page["Content-Security-Policy"]
    script = client.get(f"{prefix}/docs", {"script": ""})
    assert script.status_code == 200
    assert script["Content-Type"] == "application/javascript"
    assert "/api/schema" in script.content.decode()


def _production_settings(**env: str) -> dict[str, object]:
    code = (
        "import json, django; from django.conf import settings; django.setup(); "
        "print(json.dumps({k: getattr(settings, k) for k in "
        "['SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE', 'SESSION_COOKIE_HTTPONLY', 'SESSION_COOKIE_NAME', 'CSRF_COOKIE_NAME', "
        "'SESSION_COOKIE_SAMESITE', 'SECURE_CONTENT_TYPE_NOSNIFF']}))"
    )
    clean = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "SECURE_COOKIES")}
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**clean, "DJANGO_SETTINGS_MODULE": "torrentpier.settings", "SECRET_KEY": "x" * 50, **env},
        capture_output=True,
        text=True,
        check=True,
        cwd=settings.BASE_DIR,
    )
    return json.loads(result.stdout)


def test_cookies_are_secure_when_not_in_debug():
    values = _production_settings()
    assert values["SESSION_COOKIE_SECURE"] is True
    assert values["CSRF_COOKIE_SECURE"] is True
    assert values["SESSION_COOKIE_HTTPONLY"] is True
    assert values["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert values["SESSION_COOKIE_NAME"] == "__Host-sessionid"
    assert values["CSRF_COOKIE_NAME"] == "__Host-csrftoken"
    assert values["SECURE_CONTENT_TYPE_NOSNIFF"] is True


def test_debug_keeps_plain_cookies_for_local_http():
    values = _production_settings(DEBUG="1")
    assert values["SESSION_COOKIE_SECURE"] is False
    assert values["SESSION_COOKIE_NAME"] == "sessionid"


def test_favicon_ico_points_at_the_served_icon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301
    assert client.get(response["Location"]).status_code == 200
