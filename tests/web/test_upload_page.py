"""GET/POST /upload/: register a .torrent from the browser."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.factories import ForumFactory, TorrentFactory, make_metainfo
from tracker.models import AccessLevel, Torrent


def torrent_file(name: str = "ubuntu.iso", content: bytes | None = None) -> SimpleUploadedFile:
    data = content if content is not None else make_metainfo(name)[0]
    return SimpleUploadedFile(f"{name}.torrent", data, content_type="application/x-bittorrent")


@pytest.mark.django_db
def test_upload_form_lists_only_forums_open_to_the_member(member_client, forum):
    closed = ForumFactory(name="Staff uploads", upload_level=AccessLevel.MODERATOR)
    response = member_client.get("/upload/")
    assert response.status_code == 200
    html = response.content.decode()
    for field in ("forum", "file", "name", "description"):
        assert f'<label for="id_{field}">' in html
    assert 'enctype="multipart/form-data"' in html
    assert forum.name in html and closed.name not in html


@pytest.mark.django_db
def test_upload_registers_the_torrent_and_opens_its_page(member_client, user, forum):
    response = member_client.post("/upload/", {"forum": forum.pk, "file": torrent_file("ubuntu.iso"), "description": "<i>LTS</i>"})
    torrent = Torrent.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/torrents/{torrent.pk}/"
    assert (torrent.name, torrent.uploader, torrent.forum, torrent.description) == ("ubuntu.iso", user, forum, "<i>LTS</i>")
    page = member_client.get(response["Location"]).content.decode()
    assert "is registered" in page and "&lt;i&gt;LTS&lt;/i&gt;" in page
    assert "ubuntu.iso" in member_client.get("/").content.decode()


@pytest.mark.django_db
def test_upload_takes_a_name(member_client, forum):
    member_client.post("/upload/", {"forum": forum.pk, "file": torrent_file("a"), "name": "A better name"})
    assert Torrent.objects.get().name == "A better name"


@pytest.mark.django_db
def test_upload_without_fields_is_422_next_to_each(member_client, forum):
    response = member_client.post("/upload/", {})
    assert response.status_code == 422
    html = response.content.decode()
    assert 'id="id_forum_error"' in html and 'id="id_file_error"' in html


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"this is not bencode", "Not valid bencode"),
        (b"d4:infoi1ee", "info"),
        (b"", "The file is empty."),
    ],
)
def test_a_bad_torrent_gets_the_apis_message_next_to_the_file(member_client, forum, content, message):
    response = member_client.post("/upload/", {"forum": forum.pk, "file": torrent_file("bad", content)})
    assert response.status_code == 422
    html = response.content.decode()
    assert 'id="id_file_error"' in html
    assert message in html
    assert not Torrent.objects.exists()


@pytest.mark.django_db
def test_an_already_registered_torrent_names_the_existing_one(member_client, forum):
    first = member_client.post("/upload/", {"forum": forum.pk, "file": torrent_file("dup")})
    assert first.status_code == 302
    response = member_client.post("/upload/", {"forum": forum.pk, "file": torrent_file("dup")})
    assert response.status_code == 422
    existing = Torrent.objects.get()
    assert f"already registered as #{existing.pk} (dup)" in response.content.decode()


@pytest.mark.django_db
def test_a_too_large_file_is_refused(member_client, forum, settings):
    settings.TRACKER_MAX_TORRENT_SIZE = 1024
    response = member_client.post("/upload/", {"forum": forum.pk, "file": torrent_file("big", b"d" + b"0" * 2000 + b"e")})
    assert response.status_code == 422
    assert "larger than 1024 bytes" in response.content.decode()


@pytest.mark.django_db
def test_a_forum_closed_to_the_member_is_not_a_choice(member_client, forum):
    closed = ForumFactory(upload_level=AccessLevel.MODERATOR)
    response = member_client.post("/upload/", {"forum": closed.pk, "file": torrent_file()})
    assert response.status_code == 422
    assert "Select a valid choice." in response.content.decode()
    assert not Torrent.objects.exists()


@pytest.mark.django_db
def test_upload_says_so_when_no_forum_is_open(member_client):
    ForumFactory(upload_level=AccessLevel.ADMIN)
    assert "There is no forum you may upload to." in member_client.get("/upload/").content.decode()


@pytest.mark.django_db
def test_upload_needs_a_login_and_a_csrf_token(client, csrf_client, user, forum):
    assert client.get("/upload/")["Location"] == "/login/?next=/upload/"
    assert client.post("/upload/", {"forum": forum.pk, "file": torrent_file()}).status_code == 302
    csrf_client.force_login(user)
    assert csrf_client.post("/upload/", {"forum": forum.pk, "file": torrent_file()}).status_code == 403
    assert not Torrent.objects.exists()


@pytest.mark.django_db
def test_upload_runs_in_bounded_queries(member_client, forum, django_assert_max_num_queries):
    ForumFactory.create_batch(5)
    TorrentFactory(forum=forum)
    with django_assert_max_num_queries(12):
        assert member_client.post("/upload/", {"forum": forum.pk, "file": torrent_file("q")}).status_code == 302
