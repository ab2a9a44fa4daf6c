"""What can be done on a torrent's page: download, magnet, bookmark, comments, moderation, peers."""

import hashlib

import pytest
from django.utils import timezone
from fastbencode import bdecode, bencode

from tests.factories import ForumFactory, TorrentFactory, UserFactory
from tracker.models import AccessLevel, Bookmark, Comment, Peer, TorrentStatus, TorrentStatusChange


@pytest.mark.django_db
def test_download_gives_the_members_own_announce_url_and_the_same_info(member_client, user, torrent):
    response = member_client.get(f"/torrents/{torrent.pk}/download/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/x-bittorrent"
    assert f'filename="{torrent.name}.torrent"' in response["Content-Disposition"]
    meta = bdecode(response.content)
    assert meta[b"announce"] == f"http://127.0.0.1:8000/announce?uk={user.passkey}".encode()
    assert hashlib.sha1(bencode(meta[b"info"])).hexdigest() == torrent.info_hash


@pytest.mark.django_db
def test_download_needs_a_login_and_the_forums_download_level(client, member_client):
    torrent = TorrentFactory(forum=ForumFactory(download_level=AccessLevel.MODERATOR))
    assert client.get(f"/torrents/{torrent.pk}/download/")["Location"] == f"/login/?next=/torrents/{torrent.pk}/download/"
    assert member_client.get(f"/torrents/{torrent.pk}/download/").status_code == 403
    page = member_client.get(f"/torrents/{torrent.pk}/").content.decode()
    assert "Your account may not download from this forum." in page
    assert f"/torrents/{torrent.pk}/download/" not in page


@pytest.mark.django_db
def test_download_of_an_invisible_torrent_is_404(member_client):
    hidden = TorrentFactory(status=TorrentStatus.NOT_APPROVED)
    assert member_client.get(f"/torrents/{hidden.pk}/download/").status_code == 404


@pytest.mark.django_db
def test_magnet_carries_the_passkey_only_for_its_member(client, member_client, user, torrent):
    own = member_client.get(f"/torrents/{torrent.pk}/").content.decode()
    assert f"magnet:?xt=urn:btih:{torrent.info_hash}" in own
    assert f"announce%3Fuk%3D{user.passkey}" in own  # the whole announce URL, percent-encoded
    guest = client.get(f"/torrents/{torrent.pk}/").content.decode()
    # Issue 15: a magnet without the tracker is useless for a private torrent; a guest is offered the login
    assert "magnet:" not in guest
    assert "tr=" not in guest
    assert "Log in to download" in guest


@pytest.mark.django_db
def test_bookmark_and_remove_it(member_client, user, torrent):
    response = member_client.post(f"/torrents/{torrent.pk}/bookmark/", {"action": "add"})
    assert response.status_code == 302
    assert Bookmark.objects.filter(user=user, torrent=torrent).exists()
    page = member_client.get(f"/torrents/{torrent.pk}/").content.decode()
    assert "Bookmarked · remove" in page
    assert torrent.name in member_client.get("/profile/").content.decode()
    member_client.post(f"/torrents/{torrent.pk}/bookmark/", {"action": "remove"})
    assert not Bookmark.objects.filter(user=user).exists()


@pytest.mark.django_db
def test_bookmark_needs_a_login_a_post_and_a_csrf_token(client, member_client, csrf_client, user, torrent):
    assert client.post(f"/torrents/{torrent.pk}/bookmark/", {"action": "add"}).status_code == 302
    assert member_client.get(f"/torrents/{torrent.pk}/bookmark/").status_code == 405
    csrf_client.force_login(user)
    assert csrf_client.post(f"/torrents/{torrent.pk}/bookmark/", {"action": "add"}).status_code == 403
    assert not Bookmark.objects.exists()


@pytest.mark.django_db
def test_add_a_comment(member_client, user, torrent):
    response = member_client.post(f"/torrents/{torrent.pk}/comments/", {"text": "  Thanks for <seeding>!  "})
    comment = Comment.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/torrents/{torrent.pk}/#comment-{comment.pk}"
    assert comment.author == user and comment.text == "Thanks for <seeding>!"
    assert "Thanks for &lt;seeding&gt;!" in member_client.get(f"/torrents/{torrent.pk}/").content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("text", "message"), [("", "This field is required."), ("   ", "This field is required."), ("x" * 10_001, "at most 10000")]
)
def test_a_bad_comment_is_422_with_the_message(member_client, torrent, text, message):
    response = member_client.post(f"/torrents/{torrent.pk}/comments/", {"text": text})
    assert response.status_code == 422
    assert message in response.content.decode()
    assert not Comment.objects.exists()


@pytest.mark.django_db
def test_comments_need_a_login_and_a_visible_torrent(client, member_client, torrent):
    assert client.post(f"/torrents/{torrent.pk}/comments/", {"text": "hi"}).status_code == 302
    hidden = TorrentFactory(forum=ForumFactory(view_level=AccessLevel.ADMIN))
    assert member_client.post(f"/torrents/{hidden.pk}/comments/", {"text": "hi"}).status_code == 404
    assert not Comment.objects.exists()
    assert "Log in</a> to comment" in client.get(f"/torrents/{torrent.pk}/").content.decode()


@pytest.mark.django_db
def test_edit_own_comment(member_client, user, torrent):
    comment = Comment.objects.create(torrent=torrent, author=user, text="frist")
    page = member_client.get(f"/torrents/{torrent.pk}/").content.decode()
    assert f'href="/comments/{comment.pk}/edit/"' in page
    form = member_client.get(f"/comments/{comment.pk}/edit/")
    assert form.status_code == 200
    assert "frist</textarea>" in form.content.decode()
    response = member_client.post(f"/comments/{comment.pk}/edit/", {"text": "first"})
    assert response["Location"] == f"/torrents/{torrent.pk}/#comment-{comment.pk}"
    comment.refresh_from_db()
    assert comment.text == "first" and comment.edited_at is not None
    assert member_client.post(f"/comments/{comment.pk}/edit/", {"text": ""}).status_code == 422


@pytest.mark.django_db
def test_others_may_not_edit_a_comment_but_moderators_may(member_client, moderator_page_client, torrent):
    comment = Comment.objects.create(torrent=torrent, author=UserFactory(), text="theirs")
    assert f"/comments/{comment.pk}/edit/" not in member_client.get(f"/torrents/{torrent.pk}/").content.decode()
    assert member_client.get(f"/comments/{comment.pk}/edit/").status_code == 403
    assert member_client.post(f"/comments/{comment.pk}/edit/", {"text": "mine now"}).status_code == 403
    assert moderator_page_client.post(f"/comments/{comment.pk}/edit/", {"text": "[removed]"}).status_code == 302
    comment.refresh_from_db()
    assert comment.text == "[removed]"
    assert member_client.get("/comments/999999/edit/").status_code == 404


@pytest.mark.django_db
def test_moderator_sets_status_and_freeleech(moderator_page_client, moderator, torrent):
    page = moderator_page_client.get(f"/torrents/{torrent.pk}/").content.decode()
    assert '<label for="id_status">' in page and '<label for="id_freeleech">' in page
    response = moderator_page_client.post(f"/torrents/{torrent.pk}/moderate/", {"status": "closed", "freeleech": "gold"})
    assert response.status_code == 302
    torrent.refresh_from_db()
    assert (torrent.status, torrent.freeleech) == ("closed", "gold")
    change = TorrentStatusChange.objects.get()
    assert (change.moderator, change.old_status, change.new_status) == (moderator, "approved", "closed")


@pytest.mark.django_db
def test_moderation_with_a_bad_value_is_422(moderator_page_client, torrent):
    response = moderator_page_client.post(f"/torrents/{torrent.pk}/moderate/", {"status": "vanished", "freeleech": "gold"})
    assert response.status_code == 422
    assert "Select a valid choice." in response.content.decode()
    torrent.refresh_from_db()
    assert torrent.freeleech == "none"


@pytest.mark.django_db
def test_members_have_no_moderation_controls(member_client, user, forum):
    torrent = TorrentFactory(forum=forum, uploader=user)
    assert "Moderation" not in member_client.get(f"/torrents/{torrent.pk}/").content.decode()
    assert member_client.post(f"/torrents/{torrent.pk}/moderate/", {"status": "approved", "freeleech": "gold"}).status_code == 403
    torrent.refresh_from_db()
    assert torrent.freeleech == "none"


@pytest.mark.django_db
def test_peers_are_listed_with_hidden_names_hidden(client, member_client, torrent):
    now = timezone.now()
    seeder = UserFactory(username="seedy")
    shy = UserFactory(username="shy", hide_in_peers=True)
    Peer.objects.create(
        torrent=torrent,
        user=seeder,
        peer_id=b"-qB4650-aaaaaaaaaaaa",
        ip="10.0.0.1",
        port=6881,
        is_seeder=True,
        left=0,
        last_announce=now,
        user_agent="qBittorrent/4.6.5",
    )
    Peer.objects.create(
        torrent=torrent, user=shy, peer_id=b"-TR4050-bbbbbbbbbbbb", ip="10.0.0.2", port=51413, left=torrent.size // 4, last_announce=now
    )
    guest_html = client.get(f"/torrents/{torrent.pk}/").content.decode()  # the list is for members, as on the API
    assert "seedy" not in guest_html and "qBittorrent" not in guest_html and "to see who is connected" in guest_html
    html = member_client.get(f"/torrents/{torrent.pk}/").content.decode()
    assert "seedy" in html and "qBittorrent 4.6.5" in html and "Transmission 4.0.5" in html
    assert ">shy<" not in html and '<span class="muted">hidden</span>' in html
    assert "75%" in html
    assert "10.0.0.1" not in html and "51413" not in html


@pytest.mark.django_db
def test_moderators_see_every_peer_and_its_address(moderator_page_client, torrent):
    shy = UserFactory(username="shy", hide_in_peers=True)
    Peer.objects.create(
        torrent=torrent,
        user=shy,
        peer_id=b"-TR4050-bbbbbbbbbbbb",
        ip="10.0.0.2",
        port=51413,
        left=0,
        is_seeder=True,
        last_announce=timezone.now(),
    )
    html = moderator_page_client.get(f"/torrents/{torrent.pk}/").content.decode()
    assert ">shy<" in html and "10.0.0.2:51413" in html


@pytest.mark.django_db
def test_the_uploader_edits_name_description_and_forum(member_client, user, forum):
    torrent = TorrentFactory(forum=forum, uploader=user, name="old name")
    other = ForumFactory(name="Elsewhere")
    assert f'href="/torrents/{torrent.pk}/edit/"' in member_client.get(f"/torrents/{torrent.pk}/").content.decode()
    form = member_client.get(f"/torrents/{torrent.pk}/edit/")
    assert form.status_code == 200
    assert 'value="old name"' in form.content.decode()
    response = member_client.post(f"/torrents/{torrent.pk}/edit/", {"name": "new name", "description": "<p>new</p>", "forum": other.pk})
    assert response["Location"] == f"/torrents/{torrent.pk}/"
    torrent.refresh_from_db()
    assert (torrent.name, torrent.description, torrent.forum) == ("new name", "<p>new</p>", other)


@pytest.mark.django_db
def test_torrent_edit_with_bad_input_is_422(member_client, user, forum):
    torrent = TorrentFactory(forum=forum, uploader=user, name="keep")
    closed = ForumFactory(upload_level=AccessLevel.ADMIN)
    response = member_client.post(f"/torrents/{torrent.pk}/edit/", {"name": "", "forum": closed.pk})
    assert response.status_code == 422
    html = response.content.decode()
    assert 'id="id_name_error"' in html and 'id="id_forum_error"' in html
    torrent.refresh_from_db()
    assert torrent.name == "keep"


@pytest.mark.django_db
def test_only_the_uploader_and_moderators_may_edit(client, member_client, moderator_page_client, torrent):
    assert f"/torrents/{torrent.pk}/edit/" not in member_client.get(f"/torrents/{torrent.pk}/").content.decode()
    assert member_client.get(f"/torrents/{torrent.pk}/edit/").status_code == 403
    assert member_client.post(f"/torrents/{torrent.pk}/edit/", {"name": "x", "forum": torrent.forum_id}).status_code == 403
    assert client.get(f"/torrents/{torrent.pk}/edit/").status_code == 302
    assert moderator_page_client.post(f"/torrents/{torrent.pk}/edit/", {"name": "fixed", "forum": torrent.forum_id}).status_code == 302
    torrent.refresh_from_db()
    assert torrent.name == "fixed"
