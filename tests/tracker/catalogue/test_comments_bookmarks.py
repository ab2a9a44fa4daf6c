"""Comments (GET/POST /api/torrents/{id}/comments, PATCH/DELETE /api/comments/{id}) and bookmarks."""

import pytest

from tests.factories import TorrentFactory, UserFactory
from tracker.models import Bookmark, Comment, TorrentStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def comment(torrent, uploader):
    return Comment.objects.create(torrent=torrent, author=uploader, text="first")


def test_anyone_who_sees_the_torrent_reads_its_comments(api_client, torrent, comment, django_assert_max_num_queries):
    for i in range(5):
        Comment.objects.create(torrent=torrent, author=UserFactory(), text=f"c{i}")
    with django_assert_max_num_queries(3):
        response = api_client.get(f"/api/torrents/{torrent.pk}/comments")
    assert response.status_code == 200
    data = response.json()["data"]
    assert [c["text"] for c in data] == ["first", "c0", "c1", "c2", "c3", "c4"]
    assert data[0]["author"] == {"id": comment.author.pk, "username": comment.author.username}
    assert response.json()["meta"]["total"] == 6


def test_a_user_comments(user_client, user, torrent):
    response = user_client.post(f"/api/torrents/{torrent.pk}/comments", {"text": "  thanks  "}, format="json")
    assert response.status_code == 201
    data = response.json()["data"]
    assert (data["text"], data["author"]["id"], data["torrent"], data["edited_at"]) == ("thanks", user.pk, torrent.pk, None)


@pytest.mark.parametrize("payload", [{}, {"text": ""}, {"text": "x" * 10_001}])
def test_bad_comments_are_422(user_client, torrent, payload):
    response = user_client.post(f"/api/torrents/{torrent.pk}/comments", payload, format="json")
    assert response.status_code == 422
    assert "text" in response.json()["error"]["details"]


def test_guests_may_not_comment(api_client, torrent):
    assert api_client.post(f"/api/torrents/{torrent.pk}/comments", {"text": "x"}, format="json").status_code == 401


def test_comments_of_a_hidden_torrent_are_404(user_client):
    hidden = TorrentFactory(status=TorrentStatus.NOT_APPROVED)
    comment = Comment.objects.create(torrent=hidden, author=hidden.uploader, text="x")
    assert user_client.get(f"/api/torrents/{hidden.pk}/comments").status_code == 404
    assert user_client.post(f"/api/torrents/{hidden.pk}/comments", {"text": "x"}, format="json").status_code == 404
    assert user_client.patch(f"/api/comments/{comment.pk}", {"text": "y"}, format="json").status_code == 404
    assert user_client.delete(f"/api/comments/{comment.pk}").status_code == 404


def test_the_author_edits_and_deletes(uploader_client, comment):
    response = uploader_client.patch(f"/api/comments/{comment.pk}", {"text": "edited"}, format="json")
    assert response.status_code == 200
    assert response.json()["data"]["text"] == "edited"
    assert response.json()["data"]["edited_at"] is not None
    assert uploader_client.delete(f"/api/comments/{comment.pk}").status_code == 204
    assert not Comment.objects.exists()


def test_others_may_not_edit_but_moderators_may(user_client, moderator_client, comment):
    assert user_client.patch(f"/api/comments/{comment.pk}", {"text": "x"}, format="json").status_code == 403
    assert user_client.delete(f"/api/comments/{comment.pk}").status_code == 403
    assert moderator_client.patch(f"/api/comments/{comment.pk}", {"text": "mod"}, format="json").status_code == 200
    assert moderator_client.delete(f"/api/comments/{comment.pk}").status_code == 204


def test_comment_edit_validation_and_auth(uploader_client, api_client, comment):
    assert uploader_client.patch(f"/api/comments/{comment.pk}", {"text": ""}, format="json").status_code == 422
    assert api_client.patch(f"/api/comments/{comment.pk}", {"text": "x"}, format="json").status_code == 401
    assert uploader_client.patch("/api/comments/99999", {"text": "x"}, format="json").status_code == 404


def test_bookmarks_are_idempotent(user_client, user, torrent):
    first = user_client.put(f"/api/torrents/{torrent.pk}/bookmark")
    second = user_client.put(f"/api/torrents/{torrent.pk}/bookmark")
    assert first.status_code == second.status_code == 200
    assert first.json()["data"]["torrent"]["id"] == torrent.pk
    assert Bookmark.objects.filter(user=user).count() == 1
    assert user_client.delete(f"/api/torrents/{torrent.pk}/bookmark").status_code == 204
    assert user_client.delete(f"/api/torrents/{torrent.pk}/bookmark").status_code == 204
    assert not Bookmark.objects.exists()


def test_bookmark_list_is_mine_only_and_hides_torrents_i_can_no_longer_see(user_client, user, django_assert_max_num_queries):
    visible = [TorrentFactory() for _ in range(4)]
    for t in visible:
        Bookmark.objects.create(user=user, torrent=t)
    gone = TorrentFactory()
    Bookmark.objects.create(user=user, torrent=gone)
    gone.status = TorrentStatus.CLOSED
    gone.save()
    Bookmark.objects.create(user=UserFactory(), torrent=visible[0])
    with django_assert_max_num_queries(3):
        response = user_client.get("/api/bookmarks")
    assert response.status_code == 200
    assert sorted(b["torrent"]["id"] for b in response.json()["data"]) == sorted(t.pk for t in visible)


def test_bookmarks_need_a_login_and_a_visible_torrent(api_client, user_client, torrent):
    assert api_client.get("/api/bookmarks").status_code == 401
    assert api_client.put(f"/api/torrents/{torrent.pk}/bookmark").status_code == 401
    hidden = TorrentFactory(status=TorrentStatus.NOT_APPROVED)
    assert user_client.put(f"/api/torrents/{hidden.pk}/bookmark").status_code == 404


def test_a_patch_without_text_changes_nothing(uploader_client, comment):
    # PATCH is partial (the schema marks `text` optional): it was a 422 "text: required".
    response = uploader_client.patch(f"/api/comments/{comment.pk}", {}, format="json")
    assert response.status_code == 200
    assert (response.json()["data"]["text"], response.json()["data"]["edited_at"]) == ("first", None)
    comment.refresh_from_db()
    assert (comment.text, comment.edited_at) == ("first", None)


def test_a_patch_without_text_is_still_refused_to_others(user_client, comment):
    assert user_client.patch(f"/api/comments/{comment.pk}", {}, format="json").status_code == 403
