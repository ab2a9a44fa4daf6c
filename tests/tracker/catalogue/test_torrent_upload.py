"""POST /api/torrents: registering an uploaded .torrent."""

import hashlib
import os
import warnings

import libtorrent as lt
import pytest
from django.test import override_settings
from fastbencode import bdecode, bencode

from tests.factories import ForumFactory, TorrentFactory, UserFactory
from tests.tracker.catalogue.helpers import forum_with_levels, new_metainfo, upload
from tracker.models import AccessLevel, Torrent, TorrentFile, TorrentStatus

pytestmark = pytest.mark.django_db


def test_upload_registers_the_torrent_with_its_files(user_client, user, forum):
    data, _ = new_metainfo("debian.iso", 50_000)
    response = upload(user_client, forum, data, description="Fresh **ISO**")
    assert response.status_code == 201
    body = response.json()["data"]
    torrent = Torrent.objects.get(pk=body["id"])
    assert body["name"] == "debian.iso"
    assert body["size"] == 50_000
    assert body["uploader"] == {"id": user.pk, "username": user.username}
    assert body["forum"]["id"] == forum.pk
    assert body["status"] == "approved"
    assert body["description"] == "Fresh **ISO**"
    assert body["info_hash"] == torrent.info_hash
    assert list(TorrentFile.objects.filter(torrent=torrent).values_list("path", "size")) == [("debian.iso", 50_000)]


def test_forced_private_changes_the_hash_and_the_stored_file(user_client, forum):
    data, public_hash = new_metainfo("public.iso", private=0)
    body = upload(user_client, forum, data).json()["data"]
    stored = bytes(Torrent.objects.get(pk=body["id"]).metainfo)
    info = bdecode(stored)[b"info"]
    assert info[b"private"] == 1
    assert body["is_private"] is True
    assert body["info_hash"] == hashlib.sha1(bencode(info)).hexdigest() != public_hash


@override_settings(TRACKER_FORCE_PRIVATE=False)
def test_without_forced_private_the_file_is_kept_as_uploaded(user_client, forum):
    data, public_hash = new_metainfo("public.iso", private=0)
    body = upload(user_client, forum, data).json()["data"]
    assert body["info_hash"] == public_hash
    assert body["is_private"] is False
    assert bytes(Torrent.objects.get(pk=body["id"]).metainfo) == data


def test_name_and_description_may_be_given(user_client, forum):
    data, _ = new_metainfo()
    body = upload(user_client, forum, data, name="My name", description="d").json()["data"]
    assert (body["name"], body["description"]) == ("My name", "d")


def test_a_libtorrent_hybrid_upload_stores_both_hashes(user_client, forum, tmp_path):
    folder = tmp_path / "pack"
    folder.mkdir()
    (folder / "a").write_bytes(os.urandom(30_000))
    (folder / "b").write_bytes(os.urandom(20_000))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        fs = lt.file_storage()
        lt.add_files(fs, str(folder))
        creator = lt.create_torrent(fs, 16384)
        creator.set_priv(True)
        lt.set_piece_hashes(creator, str(tmp_path))
        data = lt.bencode(creator.generate())
        hashes = lt.torrent_info(data).info_hashes()
    body = upload(user_client, forum, data).json()["data"]
    assert body["info_hash"] == str(hashes.v1)
    assert body["info_hash_v2"] == str(hashes.v2)
    assert body["size"] == 50_000
    assert body["file_count"] == 2
    assert Torrent.objects.get(pk=body["id"]).info_hash_v2_short == str(hashes.v2)[:40]


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"", "empty"),
        (b"<html>nope</html>", "Not valid bencode"),
        (new_metainfo()[0] + b"xx", "Trailing bytes"),
        (bencode({b"info": b"x"}), "info: Must be a dictionary"),
        (bencode({b"info": {b"name": b"a", b"piece length": 16384, b"length": -1, b"pieces": b""}}), "negative"),
    ],
)
def test_an_invalid_torrent_is_422_with_the_reason_in_details(user_client, forum, data, fragment):
    response = upload(user_client, forum, data)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert fragment in error["details"]["file"][0]
    assert Torrent.objects.count() == 0


def test_missing_fields_are_422(user_client):
    response = user_client.post("/api/torrents", {}, format="multipart")
    assert response.status_code == 422
    assert set(response.json()["error"]["details"]) == {"file", "forum"}


@pytest.mark.parametrize("forum_id", [999_999, "abc", -1])
def test_an_unknown_forum_is_422(user_client, forum_id):
    data, _ = new_metainfo()
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = user_client.post("/api/torrents", {"file": SimpleUploadedFile("a.torrent", data), "forum": forum_id}, format="multipart")
    assert response.status_code == 422
    assert "forum" in response.json()["error"]["details"]


def test_a_forum_the_user_may_not_see_is_422_not_found(user_client):
    hidden = forum_with_levels(view=AccessLevel.MODERATOR, upload=AccessLevel.MODERATOR)
    response = upload(user_client, hidden, new_metainfo()[0])
    assert response.status_code == 422
    assert response.json()["error"]["details"] == {"forum": ["No such forum."]}


def test_a_forum_above_the_users_upload_level_is_403(user_client, moderator_client):
    staff_only = forum_with_levels(upload=AccessLevel.MODERATOR)
    assert upload(user_client, staff_only, new_metainfo("a")[0]).status_code == 403
    assert upload(moderator_client, staff_only, new_metainfo("b")[0]).status_code == 201


def test_a_forum_that_takes_no_torrents_is_403(user_client):
    assert upload(user_client, ForumFactory(allows_torrents=False), new_metainfo()[0]).status_code == 403


def test_guests_may_not_upload(api_client, forum):
    response = upload(api_client, forum, new_metainfo()[0])
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "UNAUTHORIZED"


@override_settings(TRACKER_MAX_TORRENT_SIZE=1024)
def test_an_upload_over_the_limit_is_413(user_client, forum):
    data, _ = new_metainfo("big", length=16384 * 60)  # 60 piece hashes: over 1 KiB
    assert len(data) > 1024
    response = upload(user_client, forum, data)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"


def test_a_registered_torrent_is_409_naming_it(user_client, forum):
    data, _ = new_metainfo()
    first = upload(user_client, forum, data).json()["data"]
    response = upload(user_client, forum, data)
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "CONFLICT"
    assert error["details"]["torrent"] == {"id": first["id"], "name": first["name"]}
    assert f"#{first['id']}" in error["message"]


def test_a_conflict_with_a_hidden_torrent_does_not_name_it(user_client, forum):
    data, _ = new_metainfo(private=1)
    hidden = forum_with_levels(view=AccessLevel.ADMIN)
    TorrentFactory(forum=hidden, name="secret", metainfo=data, info_hash=new_metainfo(private=1)[1])
    response = upload(user_client, forum, data)
    assert response.status_code == 409
    assert "secret" not in response.content.decode()
    assert response.json()["error"]["details"] == {}


@override_settings(TRACKER_REQUIRE_APPROVAL=True)
def test_with_required_approval_a_users_torrent_waits_for_a_moderator(user_client, moderator_client, forum):
    body = upload(user_client, forum, new_metainfo("a")[0]).json()["data"]
    assert body["status"] == TorrentStatus.NOT_APPROVED
    other = UserFactory()
    from rest_framework.test import APIClient

    from tests.conftest import bearer

    assert bearer(APIClient(), other).get(f"/api/torrents/{body['id']}").status_code == 404
    assert upload(moderator_client, forum, new_metainfo("b")[0]).json()["data"]["status"] == TorrentStatus.APPROVED


def test_file_paths_are_searchable_after_upload(user_client, api_client, forum):
    files = [{b"length": 10, b"path": [b"CD1", b"Track-Alpha.flac"]}, {b"length": 20, b"path": [b"cover.jpg"]}]
    info = {b"files": files, b"name": b"Album", b"piece length": 16384, b"pieces": b"p" * 20}
    created = upload(user_client, forum, bencode({b"info": info})).json()["data"]
    found = api_client.get("/api/torrents?search=track-alpha").json()["data"]
    assert [t["id"] for t in found] == [created["id"]]
    assert Torrent.objects.get(pk=created["id"]).files_text == "CD1/Track-Alpha.flac\ncover.jpg"


HOSTILE = [
    b"d4:info" + b"l" * 100_000 + b"e" * 100_000 + b"e",
    bencode({b"info": {b"name": b"x", b"piece length": 16384, b"length": 2**80, b"pieces": b"p" * 20}}),
    bencode({b"info": {b"name": b"\xff\xfe\x00", b"piece length": 16384, b"length": 5, b"pieces": b"p" * 20}}),
    bencode({b"info": {b"name": b"x", b"piece length": 2**70, b"length": 5, b"pieces": b"p" * 20}}),
    bencode({b"info": {b"name": b"x", b"piece length": 16384, b"files": [{b"length": 1, b"path": [b"a"] * 1000}], b"pieces": b"p" * 20}}),
    bencode({b"info": {b"name": b"x", b"piece length": 16384, b"meta version": 2, b"file tree": {b"a": {b"": 5}}}}),
    bencode({b"info": {b"name": b"x", b"piece length": 16384, b"meta version": 2, b"file tree": {b"a": {b"": {b"length": 1}, b"b": {}}}}}),
    b"d4:infod4:name1:xe",
    b"i1e",
    b"\x00" * 100,
]


@pytest.mark.parametrize("data", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_torrents_are_422_never_500(user_client, forum, data):
    response = upload(user_client, forum, data)
    assert response.status_code == 422, response.content[:500]
    assert response.json()["error"]["details"]["file"]


def test_a_non_utf8_name_is_stored_readably(user_client, forum):
    info = {b"name": b"caf\xe9", b"piece length": 16384, b"length": 5, b"pieces": b"p" * 20}
    response = upload(user_client, forum, bencode({b"info": info}))
    assert response.status_code == 201
    assert response.json()["data"]["name"] == "caf\ufffd"
