"""Pages that carry secrets (the profile with the passkey, the .torrent download) are never stored by a cache."""

import pytest

from tests.factories import TorrentFactory


def _no_store(response):
    assert "no-store" in response.get("Cache-Control", ""), f"Cache-Control: {response.get('Cache-Control')!r}"


@pytest.mark.django_db
def test_the_profile_page_with_the_passkey_is_not_stored(member_client, user):
    response = member_client.get("/profile/")
    assert response.status_code == 200
    assert user.passkey in response.content.decode()
    _no_store(response)


@pytest.mark.django_db
def test_the_page_download_is_not_stored(member_client):
    torrent = TorrentFactory()
    response = member_client.get(f"/torrents/{torrent.pk}/download/")
    assert response.status_code == 200
    _no_store(response)
