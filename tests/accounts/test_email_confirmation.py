"""Email confirmation: the mail at registration, POST /api/email/confirm, another mail on request, and what an
unconfirmed member may not do (download, upload) on the API, the pages and the feeds."""

import logging
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from accounts.emails import confirmation_tokens, uid_encode
from accounts.models import User
from accounts.services import api_key_create
from core.errors import EmailNotConfirmed
from tests.accounts.email_helpers import mail_server_down, only_link
from tests.factories import ForumFactory, TorrentFactory, UserFactory, make_metainfo

pytestmark = pytest.mark.django_db

NEW = {"username": "newbie", "email": "newbie@example.test", "password": "kettle-Orbit-42"}
CONFIRM_FIRST = EmailNotConfirmed.default_message


def _register() -> User:
    response = APIClient().post("/api/register", NEW, format="json")
    assert response.status_code == 201, response.content
    return User.objects.get(username="newbie")


def _confirm(uid: str, token: str, client: APIClient | None = None) -> Any:
    return (client or APIClient()).post("/api/email/confirm", {"uid": uid, "token": token}, format="json")


def _error(response: Any) -> dict[str, Any]:
    body = response.json()
    assert body["success"] is False
    return body["error"]


# --- the mail -------------------------------------------------------------------


def test_registering_mails_a_link_to_the_new_address(settings):
    settings.SITE_URL = "https://tracker.example.org"
    user = _register()
    message = mail.outbox[0]
    assert message.to == ["newbie@example.test"]
    assert message.subject == "Confirm your email address on TorrentPier"
    assert message.from_email == settings.DEFAULT_FROM_EMAIL
    link = only_link("email/confirm")
    assert link["base"] == "https://tracker.example.org"
    assert link["uid"] == uid_encode(user)
    assert NEW["password"] not in message.body
    assert user.email_confirmed_at is None


def test_the_mailed_link_confirms_the_address_through_the_api():
    user = _register()
    link = only_link("email/confirm")
    response = _confirm(link["uid"], link["token"])
    assert response.status_code == 200, response.content
    data = response.json()["data"]
    assert data["email_confirmed"] is True
    user.refresh_from_db()
    assert user.email_confirmed_at is not None
    assert datetime.fromisoformat(data["email_confirmed_at"].replace("Z", "+00:00")) == user.email_confirmed_at


def test_me_says_whether_the_address_is_confirmed():
    user = _register()
    client = APIClient()
    client.force_authenticate(user)
    assert client.get("/api/me").json()["data"]["email_confirmed"] is False
    link = only_link("email/confirm")
    _confirm(link["uid"], link["token"])
    client.force_authenticate(User.objects.get(pk=user.pk))
    assert client.get("/api/me").json()["data"]["email_confirmed"] is True


def test_a_mail_server_that_is_down_does_not_stop_registration(settings, caplog):
    mail_server_down(settings)
    with caplog.at_level(logging.WARNING, logger="accounts.emails"):
        response = APIClient().post("/api/register", NEW, format="json")
    assert response.status_code == 201
    assert response.json()["data"]["email_confirmed"] is False
    user = User.objects.get(username="newbie")
    warning = [r for r in caplog.records if r.name == "accounts.emails"]
    assert len(warning) == 1
    assert f"member {user.pk} was not sent" in warning[0].getMessage()
    assert "/email/confirm/" not in caplog.text
    assert confirmation_tokens.make_token(user).split("-")[1] not in caplog.text


# --- bad links --------------------------------------------------------------------


def test_a_link_works_once():
    _register()
    link = only_link("email/confirm")
    assert _confirm(link["uid"], link["token"]).status_code == 200
    again = _confirm(link["uid"], link["token"])
    assert again.status_code == 422
    assert _error(again)["code"] == "VALIDATION_ERROR"
    assert "token" in _error(again)["details"]


def test_an_expired_link_is_refused(settings, monkeypatch):
    settings.EMAIL_CONFIRMATION_TIMEOUT = 3600
    user = _register()
    link = only_link("email/confirm")
    later = datetime.now() + timedelta(seconds=3601)
    monkeypatch.setattr(confirmation_tokens, "_now", lambda: later)  # Django's hook for the generator's clock
    response = _confirm(link["uid"], link["token"])
    assert response.status_code == 422
    assert _error(response)["details"]["token"] == ["This link is invalid or has expired, or it was used already. Ask for a new one."]
    user.refresh_from_db()
    assert user.email_confirmed_at is None


def test_a_forged_token_is_refused():
    user = _register()
    link = only_link("email/confirm")
    forged = link["token"][:-1] + ("0" if link["token"][-1] != "0" else "1")
    assert _confirm(link["uid"], forged).status_code == 422
    user.refresh_from_db()
    assert user.email_confirmed_at is None


def test_a_link_does_not_confirm_another_member():
    _register()
    link = only_link("email/confirm")
    other = UserFactory(email_confirmed_at=None)
    response = _confirm(uid_encode(other), link["token"])
    assert response.status_code == 422
    other.refresh_from_db()
    assert other.email_confirmed_at is None


def test_a_changed_address_kills_the_old_link():
    user = _register()
    link = only_link("email/confirm")
    User.objects.filter(pk=user.pk).update(email="elsewhere@example.test")
    assert _confirm(link["uid"], link["token"]).status_code == 422


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"uid": "!!!", "token": "abc-def"},
        {"uid": "Zm9v", "token": "abc-def"},  # base64 of "foo": not an id
        {"uid": "MA", "token": "abc-def"},  # "0"
        {"uid": "LTE", "token": "abc-def"},  # "-1"
        {"uid": "OTk5OTk5OTk5OTk5OTk5OTk5OTk5", "token": "abc-def"},  # past a bigint
        {"uid": "MQ", "token": "nodash"},
        {"uid": "MQ", "token": "zzzzzzzzzzzzzzzzz-abc"},  # a timestamp too large for base36
        {"uid": "MQ", "token": "a-b-c"},
        {"uid": "x" * 10_000, "token": "abc-def"},
        {"uid": "MQ", "token": "x" * 10_000},
        {"uid": ["MQ"], "token": {"a": 1}},
        {"uid": 1, "token": 2},
        {"uid": None, "token": None},
        {"uid": "M\x00Q", "token": "abc\x00-def"},
    ],
)
def test_hostile_links_are_422_never_500(body):
    response = APIClient(raise_request_exception=False).post("/api/email/confirm", body, format="json")
    assert response.status_code == 422, response.content
    assert _error(response)["code"] == "VALIDATION_ERROR"


def test_link_tries_are_limited_per_ip(settings):
    settings.EMAIL_LINK_ATTEMPT_LIMIT = 3
    client = APIClient()
    for _ in range(3):
        assert _confirm("MQ", "abc-def", client).status_code == 422
    refused = _confirm("MQ", "abc-def", client)
    assert refused.status_code == 429
    assert _error(refused)["code"] == "RATE_LIMIT_EXCEEDED"
    assert 0 < int(refused["Retry-After"]) <= 3600
    other_ip = APIClient(REMOTE_ADDR="192.0.2.7")
    assert _confirm("MQ", "abc-def", other_ip).status_code == 422


# --- another mail -------------------------------------------------------------------


@pytest.fixture
def unconfirmed() -> User:
    return UserFactory(email_confirmed_at=None)


def _member(user: User) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_a_member_asks_for_another_mail_and_its_link_works(unconfirmed):
    response = _member(unconfirmed).post("/api/me/email/confirmation")
    assert response.status_code == 200, response.content
    assert response.json()["data"]["email"] == unconfirmed.email
    assert "no-store" in response["Cache-Control"]
    link = only_link("email/confirm")
    assert _confirm(link["uid"], link["token"]).status_code == 200


def test_another_mail_for_a_confirmed_address_is_409(user):
    response = _member(user).post("/api/me/email/confirmation")
    assert response.status_code == 409
    assert _error(response)["message"] == "Your email address is confirmed already."
    assert mail.outbox == []


def test_another_mail_for_an_account_without_address_is_409():
    nobody = UserFactory(email="", email_confirmed_at=None)
    assert _member(nobody).post("/api/me/email/confirmation").status_code == 409
    assert mail.outbox == []


def test_another_mail_needs_a_login_and_no_api_key(unconfirmed):
    assert APIClient().post("/api/me/email/confirmation").status_code == 401
    raw = api_key_create(user=unconfirmed, name="tool", scopes=["read", "download", "upload", "feed"])[1]
    keyed = APIClient(HTTP_X_API_KEY=raw)
    assert keyed.post("/api/me/email/confirmation").status_code == 403
    assert mail.outbox == []


def test_asking_for_mails_is_limited_per_member(settings, unconfirmed):
    settings.EMAIL_SEND_LIMIT = 2
    client = _member(unconfirmed)
    assert [client.post("/api/me/email/confirmation").status_code for _ in range(3)] == [200, 200, 429]
    assert len(mail.outbox) == 2


def test_a_mail_server_that_is_down_is_503_email_not_sent(settings, unconfirmed):
    mail_server_down(settings)
    response = _member(unconfirmed).post("/api/me/email/confirmation")
    assert response.status_code == 503
    assert _error(response)["code"] == "EMAIL_NOT_SENT"


# --- what an unconfirmed member may not do ---------------------------------------------


@pytest.fixture
def torrent() -> Any:
    return TorrentFactory()


def _api_upload(client: APIClient, forum: Any, name: str = "fresh.iso") -> Any:
    data, _ = make_metainfo(name, 50_000)
    payload = {"file": SimpleUploadedFile("x.torrent", data, content_type="application/x-bittorrent"), "forum": forum.pk}
    return client.post("/api/torrents", payload, format="multipart")


def test_an_unconfirmed_member_may_not_download_or_upload_through_the_api(unconfirmed, torrent):
    client = _member(unconfirmed)
    download = client.get(f"/api/torrents/{torrent.pk}/download")
    assert download.status_code == 403
    assert _error(download) == {"code": "EMAIL_NOT_CONFIRMED", "message": CONFIRM_FIRST, "details": {}}
    upload = _api_upload(client, ForumFactory())
    assert upload.status_code == 403
    assert _error(upload)["code"] == "EMAIL_NOT_CONFIRMED"
    assert client.get(f"/api/torrents/{torrent.pk}").status_code == 200  # browsing stays open


def test_an_unconfirmed_member_may_not_download_or_upload_on_the_pages(unconfirmed, torrent):
    client = Client()
    client.force_login(unconfirmed)
    download = client.get(f"/torrents/{torrent.pk}/download/")
    assert download.status_code == 403
    assert CONFIRM_FIRST in download.content.decode()
    assert client.get("/upload/").status_code == 403
    data, _ = make_metainfo("page.iso")
    upload = client.post("/upload/", {"forum": ForumFactory().pk, "file": SimpleUploadedFile("x.torrent", data)})
    assert upload.status_code == 403
    assert CONFIRM_FIRST in upload.content.decode()


def test_an_unconfirmed_member_may_not_download_through_the_feeds(unconfirmed, torrent):
    raw = api_key_create(user=unconfirmed, name="rss", scopes=["feed"])[1]
    response = Client().get(f"/feeds/torrents/{torrent.pk}/download", {"key": raw})
    assert response.status_code == 403
    assert CONFIRM_FIRST in response.content.decode()


def test_confirming_lets_the_member_download_and_upload_everywhere(unconfirmed, torrent):
    token = confirmation_tokens.make_token(unconfirmed)
    assert _confirm(uid_encode(unconfirmed), token).status_code == 200
    member = User.objects.get(pk=unconfirmed.pk)
    client = _member(member)
    assert client.get(f"/api/torrents/{torrent.pk}/download").status_code == 200
    assert _api_upload(client, ForumFactory()).status_code == 201
    page = Client()
    page.force_login(member)
    assert page.get(f"/torrents/{torrent.pk}/download/").status_code == 200
    raw = api_key_create(user=member, name="rss", scopes=["feed"])[1]
    assert Client().get(f"/feeds/torrents/{torrent.pk}/download", {"key": raw}).status_code == 200


def test_with_the_setting_off_unconfirmed_members_download_and_upload(settings, unconfirmed, torrent):
    settings.EMAIL_CONFIRMATION_REQUIRED = False
    client = _member(unconfirmed)
    assert client.get(f"/api/torrents/{torrent.pk}/download").status_code == 200
    assert _api_upload(client, ForumFactory()).status_code == 201


def test_moderators_need_no_confirmation(torrent):
    moderator = UserFactory(role="moderator", email_confirmed_at=None)
    assert _member(moderator).get(f"/api/torrents/{torrent.pk}/download").status_code == 200


def test_the_announce_is_not_touched(unconfirmed, torrent):
    """Confirmation holds back new .torrent files only: a client already seeding keeps announcing."""
    response = Client().get(
        f"/announce/{unconfirmed.passkey}",
        {
            "info_hash": bytes.fromhex(torrent.info_hash),
            "peer_id": b"-qB4630-abcdefghijkl",
            "port": 51413,
            "uploaded": 0,
            "downloaded": 0,
            "left": 0,
            "compact": 1,
        },
        HTTP_USER_AGENT="qBittorrent/4.6.3",
    )
    assert response.status_code == 200
    assert b"failure reason" not in response.content


def test_the_member_bar_tells_an_unconfirmed_member(settings, unconfirmed, user):
    client = Client()
    client.force_login(unconfirmed)
    assert 'data-notice="email-unconfirmed"' in client.get("/").content.decode()
    settings.EMAIL_CONFIRMATION_REQUIRED = False
    assert 'data-notice="email-unconfirmed"' not in client.get("/").content.decode()
    settings.EMAIL_CONFIRMATION_REQUIRED = True
    confirmed = Client()
    confirmed.force_login(user)
    assert 'data-notice="email-unconfirmed"' not in confirmed.get("/").content.decode()


def test_an_operator_marks_addresses_confirmed_in_the_admin(admin_user, unconfirmed):
    client = Client()
    client.force_login(admin_user)
    change = client.get(f"/admin/accounts/user/{unconfirmed.pk}/change/")
    assert change.status_code == 200
    assert 'name="email_confirmed_at_0"' in change.content.decode()
    response = client.post(
        "/admin/accounts/user/", {"action": "confirm_emails", "_selected_action": [unconfirmed.pk], "index": 0}, follow=True
    )
    assert response.status_code == 200
    unconfirmed.refresh_from_db()
    assert unconfirmed.email_confirmed_at is not None
    assert timezone.now() - unconfirmed.email_confirmed_at < timedelta(minutes=1)


def test_the_schema_names_email_not_confirmed_only_where_it_is_sent():
    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]
    naming = sorted(
        f"{method.upper()} {path}"
        for path, operations in paths.items()
        for method, operation in operations.items()
        if "EMAIL_NOT_CONFIRMED" in operation.get("responses", {}).get("403", {}).get("description", "")
    )
    assert naming == ["GET /api/torrents/{id}/download", "POST /api/torrents"]
    assert paths["/api/me/email/confirmation"]["post"]["responses"]["503"]["description"].endswith("Codes: EMAIL_NOT_SENT.")
