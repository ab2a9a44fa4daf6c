"""/email/confirm/...: the page a confirmation link opens (a button, so that mail scanners confirm nothing), and the
profile's "send the confirmation mail again"."""

import pytest
from django.core import mail
from django.test import Client

from accounts.emails import confirmation_tokens, uid_encode
from accounts.models import User
from tests.accounts.email_helpers import mail_server_down, only_link
from tests.factories import ForumFactory, TorrentFactory, UserFactory

pytestmark = pytest.mark.django_db

NEW = {"username": "newbie", "email": "newbie@example.test", "password": "kettle-Orbit-42", "password_again": "kettle-Orbit-42"}


def _path(user: User) -> str:
    return f"/email/confirm/{uid_encode(user)}/{confirmation_tokens.make_token(user)}/"


def test_registering_on_the_page_mails_a_link_that_confirms_on_the_page(client):
    assert client.post("/register/", NEW)["Location"] == "/profile/"
    link = only_link("email/confirm")
    assert link["uid"] == uid_encode(User.objects.get(username="newbie"))
    page = client.get(link["path"])
    assert page.status_code == 200
    assert "Confirm my address" in page.content.decode()
    assert "no-store" in page["Cache-Control"]
    assert User.objects.get(username="newbie").email_confirmed_at is None  # opening the link confirms nothing
    done = client.post(link["path"])
    assert done["Location"] == "/profile/"
    assert User.objects.get(username="newbie").email_confirmed_at is not None
    assert "Your email address is confirmed" in client.get("/profile/").content.decode()


def test_a_prefetched_link_still_works_when_the_member_clicks_it():
    member = UserFactory(email_confirmed_at=None)
    path = _path(member)
    for _scanner in range(3):
        assert Client().get(path).status_code == 200
    assert Client().post(path)["Location"] == "/login/"
    member.refresh_from_db()
    assert member.email_confirmed_at is not None


def test_a_used_or_bad_link_is_a_422_page(client):
    member = UserFactory(email_confirmed_at=None)
    path = _path(member)
    assert client.post(path).status_code == 302
    for response in (client.get(path), client.post(path)):
        assert response.status_code == 422
        assert "This link is invalid or has expired" in response.content.decode()
    for bad in ("/email/confirm/!!!/abc-def/", "/email/confirm/MQ/nodash/", "/email/confirm/" + "x" * 5000 + "/a-b/"):
        assert Client(raise_request_exception=False).get(bad).status_code == 422


def test_the_profile_of_an_unconfirmed_member_offers_another_mail(client):
    member = UserFactory(email_confirmed_at=None)
    client.force_login(member)
    html = client.get("/profile/").content.decode()
    assert "not confirmed" in html
    assert 'action="/profile/email/confirmation/"' in html
    response = client.post("/profile/email/confirmation/")
    assert response["Location"] == "/profile/"
    assert f"A confirmation mail is on its way to {member.email}" in client.get("/profile/").content.decode()
    assert client.post(only_link("email/confirm")["path"]).status_code == 302
    member.refresh_from_db()
    assert member.email_confirmed_at is not None
    html = client.get("/profile/").content.decode()
    assert 'action="/profile/email/confirmation/"' not in html
    assert 'data-notice="email-unconfirmed"' not in html


def test_a_confirmed_member_is_told_so_and_gets_no_mail(member_client):
    assert member_client.post("/profile/email/confirmation/")["Location"] == "/profile/"
    assert "confirmed already" in member_client.get("/profile/").content.decode()
    assert mail.outbox == []


def test_another_mail_on_the_page_shares_the_apis_budget(client, settings):
    settings.EMAIL_SEND_LIMIT = 1
    member = UserFactory(email_confirmed_at=None)
    client.force_login(member)
    assert client.post("/profile/email/confirmation/").status_code == 302
    refused = client.post("/profile/email/confirmation/")
    assert refused.status_code == 429
    assert "Retry-After" in refused
    assert len(mail.outbox) == 1


def test_a_mail_server_that_is_down_is_said_on_the_profile(client, settings):
    mail_server_down(settings)
    member = UserFactory(email_confirmed_at=None)
    client.force_login(member)
    assert client.post("/profile/email/confirmation/").status_code == 302
    assert "could not be sent just now" in client.get("/profile/").content.decode()


def test_a_mail_server_that_is_down_does_not_stop_registration_on_the_page(client, settings):
    mail_server_down(settings)
    assert client.post("/register/", NEW)["Location"] == "/profile/"
    assert "not confirmed" in client.get("/profile/").content.decode()


def test_the_confirmation_pages_need_csrf(csrf_client):
    member = UserFactory(email_confirmed_at=None)
    assert csrf_client.post(_path(member)).status_code == 403
    csrf_client.force_login(member)
    assert csrf_client.post("/profile/email/confirmation/").status_code == 403
    member.refresh_from_db()
    assert member.email_confirmed_at is None
    assert mail.outbox == []


def test_the_guest_needs_a_login_to_ask_for_another_mail(client):
    response = client.post("/profile/email/confirmation/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_confirming_on_the_page_opens_downloads_and_uploads(client):
    member = UserFactory(email_confirmed_at=None)
    torrent = TorrentFactory(forum=ForumFactory())
    client.force_login(member)
    assert client.get(f"/torrents/{torrent.pk}/download/").status_code == 403
    assert client.get("/upload/").status_code == 403
    client.post(_path(member))
    assert client.get(f"/torrents/{torrent.pk}/download/").status_code == 200
    assert client.get("/upload/").status_code == 200
