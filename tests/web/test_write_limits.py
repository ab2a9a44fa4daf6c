"""Form posts on the pages share the API's per-minute budget; reading pages does not count."""

import pytest
from django.test import Client

from tracker.models import Comment


@pytest.mark.django_db
def test_a_member_past_the_budget_gets_429_and_nothing_is_written(settings, member_client, torrent):
    settings.API_RATE_LIMIT_AUTHENTICATED = 3
    for n in range(3):
        assert member_client.post(f"/torrents/{torrent.pk}/comments/", {"text": f"comment {n}"}).status_code == 302
    refused = member_client.post(f"/torrents/{torrent.pk}/comments/", {"text": "one too many"})
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert "Slow down" in refused.content.decode()
    assert list(Comment.objects.values_list("text", flat=True).order_by("id")) == ["comment 0", "comment 1", "comment 2"]
    # reading is not what the budget is for
    assert member_client.get(f"/torrents/{torrent.pk}/").status_code == 200


@pytest.mark.django_db
def test_pages_and_api_share_one_budget(settings, member_client, user, torrent):
    settings.API_RATE_LIMIT_AUTHENTICATED = 2
    assert member_client.post(f"/torrents/{torrent.pk}/comments/", {"text": "first"}).status_code == 302
    assert member_client.get("/api/me").status_code == 200  # the same session, through the API
    assert member_client.post(f"/torrents/{torrent.pk}/comments/", {"text": "third"}).status_code == 429


@pytest.mark.django_db
def test_guests_are_counted_per_ip(settings):
    settings.API_RATE_LIMIT_ANONYMOUS = 2
    settings.REGISTRATION_MODE = "open"
    guest = Client(REMOTE_ADDR="198.51.100.7")
    for n in range(2):
        assert guest.post("/register/", {"username": f"new{n}"}).status_code != 429
    assert guest.post("/register/", {"username": "new9"}).status_code == 429
    assert Client(REMOTE_ADDR="198.51.100.8").post("/register/", {"username": "other"}).status_code != 429


@pytest.mark.django_db
def test_the_admin_and_the_api_keep_their_own_limits(settings, admin_user):
    settings.API_RATE_LIMIT_AUTHENTICATED = 1
    operator = Client()
    operator.force_login(admin_user)
    for _ in range(3):
        assert operator.post("/admin/logout/").status_code != 429
