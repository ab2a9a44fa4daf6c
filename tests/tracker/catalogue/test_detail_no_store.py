"""A torrent's detail carries the member's magnet link, whose announce URL holds their passkey: never cached."""

from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from tests.factories import TorrentFactory

pytestmark = pytest.mark.django_db


def assert_no_store(response: Any, passkey: str) -> None:
    assert response.status_code == 200
    assert passkey in response.content.decode()  # the secret this is about
    cache_control = {part.strip() for part in response["Cache-Control"].split(",")}
    assert "no-store" in cache_control
    assert "private" in cache_control


def test_the_api_detail_with_a_passkey_is_not_stored(user_client: APIClient, user: Any) -> None:
    torrent = TorrentFactory()
    assert_no_store(user_client.get(f"/api/torrents/{torrent.id}"), user.passkey)


def test_the_api_detail_after_an_edit_is_not_stored(user: Any) -> None:
    client = APIClient()
    client.force_authenticate(user)
    torrent = TorrentFactory(uploader=user)
    assert_no_store(client.patch(f"/api/torrents/{torrent.id}", {"description": "new"}, format="json"), user.passkey)


def test_the_torrent_page_of_a_member_is_not_stored(user: Any) -> None:
    client = Client()
    client.force_login(user)
    torrent = TorrentFactory()
    assert_no_store(client.get(f"/torrents/{torrent.id}/"), user.passkey)


def test_the_torrent_page_with_a_comment_error_is_not_stored(user: Any) -> None:
    client = Client()
    client.force_login(user)
    torrent = TorrentFactory()
    response = client.post(f"/torrents/{torrent.id}/comments/", {"body": ""})
    assert response.status_code == 422
    assert "no-store" in response["Cache-Control"]
