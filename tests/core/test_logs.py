"""Logs: a request id in and out, one line per request with its route, status, member and duration; no secret in any line."""

import json
import logging
import re
import uuid

import pytest
from django.conf import settings
from django.test import Client
from rest_framework.test import APIClient

from core.logs import JsonFormatter, PlainFormatter, redact
from tests.factories import PASSWORD, TorrentFactory, UserFactory
from tests.tracker.announce.helpers import announce_qs, peer_id

pytestmark = pytest.mark.django_db


def _formatters() -> list[logging.Formatter]:
    """The two formatters exactly as settings.LOGGING configures them."""
    made = []
    for name, cls in (("json", JsonFormatter), ("plain", PlainFormatter)):
        conf = {k: v for k, v in settings.LOGGING["formatters"][name].items() if k != "()"}
        if name == "plain":
            made.append(cls(conf["format"]))
        else:
            made.append(cls(conf.pop("format"), **conf))
    return made


def _lines(records: list[logging.LogRecord]) -> list[str]:
    from core.logs import ContextFilter

    lines = []
    for record in records:
        ContextFilter().filter(record)
        lines += [formatter.format(record) for formatter in _formatters()]
    return lines


def _request_lines(caplog) -> list[dict]:
    json_formatter = _formatters()[0]
    return [json.loads(json_formatter.format(r)) for r in caplog.records if r.name == "request"]


def test_each_request_gets_an_id_and_one_json_line(caplog, user):
    client = APIClient()
    client.force_authenticate(user)
    with caplog.at_level(logging.INFO, logger="request"):
        first = client.get("/api/torrents/12345")
        second = Client().get("/")
    ids = [first["X-Request-ID"], second["X-Request-ID"]]
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids) and ids[0] != ids[1]
    api, page = _request_lines(caplog)
    assert api["request_id"] == ids[0] and page["request_id"] == ids[1]
    assert (api["method"], api["route"], api["status"], api["user_id"]) == ("GET", "/api/torrents/<pk>", 404, user.pk)
    assert page["route"] == "/" and page["user_id"] is None and page["status"] == 200
    assert api["duration_ms"] >= 0 and api["level"] == "INFO" and api["logger"] == "request"
    assert "12345" not in json.dumps(api)  # the pattern, not the values of the path


def test_a_bearer_request_is_logged_with_its_member(caplog, user_client, user):
    with caplog.at_level(logging.INFO, logger="request"):
        assert user_client.get("/api/me").status_code == 200
    (line,) = _request_lines(caplog)
    assert line["user_id"] == user.pk and line["route"] == "/api/me"


@pytest.mark.parametrize(
    ("remote", "sent", "kept"),
    [
        ("127.0.0.1", "abc-123.def:9", True),
        ("10.0.0.5", "abc-123", False),  # not a trusted proxy
        ("127.0.0.1", "bad id with spaces", False),
        ("127.0.0.1", "x" * 129, False),
        ("127.0.0.1", "", False),
    ],
)
def test_the_proxys_request_id_is_kept_only_from_a_trusted_proxy(settings, remote, sent, kept, caplog):
    from ipaddress import ip_network

    settings.TRUSTED_PROXIES = [ip_network("127.0.0.1/32")]
    with caplog.at_level(logging.INFO, logger="request"):
        response = APIClient().get("/api/hello", HTTP_X_REQUEST_ID=sent, REMOTE_ADDR=remote)
    assert (response["X-Request-ID"] == sent) is kept
    if not kept:
        uuid.UUID(hex=response["X-Request-ID"])
    assert _request_lines(caplog)[0]["request_id"] == response["X-Request-ID"]


def test_lines_logged_during_a_request_carry_its_id(caplog, client):
    torrent = TorrentFactory()
    with caplog.at_level(logging.INFO):
        response = client.get(f"/api/torrents/{torrent.pk}")
    rid = response["X-Request-ID"]
    assert [r.request_id for r in caplog.records if r.name == "request"] == [rid]


def test_tracker_requests_write_no_request_line(caplog, user):
    torrent = TorrentFactory()
    with caplog.at_level(logging.INFO, logger="request"):
        Client().get(f"/announce?uk={user.passkey}&{announce_qs(torrent.info_hash, peer_id(1))}", REMOTE_ADDR="10.0.0.1")
    assert _request_lines(caplog) == []


def test_a_server_error_is_logged_at_error(caplog, client, monkeypatch):
    from api import views as api_views

    def boom(*args, **kwargs):
        raise RuntimeError("kaput")

    monkeypatch.setattr(api_views.HelloView, "get", boom)
    with caplog.at_level(logging.INFO, logger="request"):
        assert client.get("/api/hello").status_code == 500
    (line,) = _request_lines(caplog)
    assert (line["status"], line["level"]) == (500, "ERROR")


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("GET /announce/0123456789abcdef0123456789abcdef?x", "GET /announce/0123…?x"),
        ("GET /announce?uk=0123456789abcdef0123456789abcdef&info_hash=", "GET /announce?uk=…&info_hash="),
        ("Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJlc2ln ok", "Bearer <jwt> ok"),
        ("key tpk_ABCDEFGH_secretsecret used", "key tpk_… used"),
        ("invite tpi_abcdefghijkl", "invite tpi_…"),
        ("/feeds/torrents.rss?key=tpk_x&forum=1", "/feeds/torrents.rss?key=…&forum=1"),
    ],
)
def test_the_formatters_mask_what_looks_like_a_secret(text, shown):
    assert redact(text) == shown


def test_no_secret_reaches_a_log_line_in_the_flows_that_handle_them(caplog, settings):
    """Login, refresh, API keys (header and feed URL), passkey reset, announces: every record, both formats."""
    settings.LOGGING_CONFIG = None
    member = UserFactory()
    torrent = TorrentFactory()
    secrets = [PASSWORD, member.passkey]
    with caplog.at_level(logging.DEBUG):
        api = APIClient()
        tokens = api.post("/api/login", {"username": member.username, "password": PASSWORD}, format="json").json()["data"]
        api.post("/api/login", {"username": member.username, "password": "wrong-" + PASSWORD}, format="json")
        secrets += [tokens["token"], tokens["refresh_token"]]
        refreshed = api.post("/api/token/refresh", {"refresh_token": tokens["refresh_token"]}, format="json").json()["data"]
        secrets += [refreshed["token"], refreshed["refresh_token"]]
        api.post("/api/token/refresh", {"refresh_token": tokens["refresh_token"]}, format="json")  # reused: refused
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {refreshed['token']}")
        key = api.post("/api/me/keys", {"name": "rss", "scopes": ["feed", "read"]}, format="json").json()["data"]["key"]
        secrets.append(key)
        APIClient().get("/api/torrents", HTTP_X_API_KEY=key)
        APIClient().get("/api/torrents", HTTP_AUTHORIZATION="Bearer tpk_wrongwrong_wrongwrongwrong")
        Client().get("/feeds/torrents.rss", {"key": key})
        Client().get("/feeds/torrents.rss", {"key": key + "x"})
        qs = announce_qs(torrent.info_hash, peer_id(1), left=5)
        Client().get(f"/announce?uk={member.passkey}&{qs}", REMOTE_ADDR="10.0.0.1")
        Client().get(f"/announce/{member.passkey}?{qs}", REMOTE_ADDR="10.0.0.1")
        Client().get(f"/announce/{member.passkey}?info_hash=bad", REMOTE_ADDR="10.0.0.1")
        new_passkey = api.post("/api/me/passkey").json()["data"]["passkey"]
        secrets.append(new_passkey)
        Client().get(f"/announce/{member.passkey}?{qs}", REMOTE_ADDR="10.0.0.1")  # the old one: refused
        api.post("/api/logout", {"refresh_token": refreshed["refresh_token"]}, format="json")
    assert len(caplog.records) > 10
    raw = [r.getMessage() + repr(getattr(r, "__dict__", {})) for r in caplog.records]
    for secret in secrets:
        assert not [line for line in _lines(caplog.records) if secret in line], secret[:6]
        assert not [text for text in raw if secret in text], secret[:6]  # not even before the formatters mask


def test_no_secret_reaches_a_log_line_in_the_account_flows(caplog, settings, moderator):
    """Two-factor login (secret, challenge, codes), password reset and email confirmation links, invite codes."""
    from django.core import mail

    from tests.accounts.email_helpers import only_link
    from tests.twofactor import totp, wait_for_fresh_step

    settings.REGISTRATION_MODE = "invite"
    member = UserFactory()
    secrets: list[str] = [PASSWORD]
    with caplog.at_level(logging.DEBUG):
        api = APIClient()
        api.force_authenticate(member)
        wait_for_fresh_step()
        started = api.post("/api/me/2fa", {"password": PASSWORD}, format="json").json()["data"]
        secret = started["secret"]
        api.post("/api/me/2fa/confirm", {"code": "000000" if totp(secret) != "000000" else "111111"}, format="json")
        codes = api.post("/api/me/2fa/confirm", {"code": totp(secret, -1)}, format="json").json()["data"]["recovery_codes"]
        secrets += [secret, totp(secret), *codes]
        denied = APIClient().post("/api/login", {"username": member.username, "password": PASSWORD}, format="json").json()
        challenge = denied["error"]["details"]["challenge"]
        secrets.append(challenge)
        APIClient().post("/api/login/2fa", {"challenge": challenge, "code": "999999"}, format="json")
        tokens = APIClient().post("/api/login/2fa", {"challenge": challenge, "code": codes[0]}, format="json").json()["data"]
        secrets += [tokens["token"], tokens["refresh_token"]]

        mail.outbox.clear()
        APIClient().post("/api/password/reset", {"email": member.email}, format="json")
        reset = only_link("password/reset")
        secrets.append(reset["token"])
        new_password = "An0ther-long-passphrase"
        secrets.append(new_password)
        body = {"uid": reset["uid"], "token": reset["token"], "new_password": new_password}
        APIClient().post("/api/password/reset/confirm", body, format="json")
        APIClient().post("/api/password/reset/confirm", body, format="json")  # used: refused

        staff = APIClient()
        staff.force_authenticate(moderator)
        mail.outbox.clear()
        invite = staff.post("/api/me/invites", {"email": "friend@example.test"}, format="json").json()["data"]["code"]
        secrets.append(invite)
        joiner = {"username": "joiner", "email": "joiner@example.test", "password": new_password + "x"}
        wrong = invite[:-1] + ("y" if invite.endswith("x") else "x")  # a code ending in "x" (1 in 64) stayed the right one
        APIClient().post("/api/register", {**joiner, "invite": wrong}, format="json")
        mail.outbox.clear()
        assert APIClient().post("/api/register", {**joiner, "invite": invite}, format="json").status_code == 201
        confirm = only_link("email/confirm")
        secrets.append(confirm["token"])
        APIClient().post("/api/email/confirm", {"uid": confirm["uid"], "token": confirm["token"]}, format="json")
    assert len(caplog.records) > 10
    raw = [r.getMessage() + repr(getattr(r, "__dict__", {})) for r in caplog.records]
    for secret_text in secrets:
        assert not [line for line in _lines(caplog.records) if secret_text in line], secret_text[:4]
        assert not [text for text in raw if secret_text in text], secret_text[:4]
