"""GET /torrents/<id>/: the torrent page."""

import pytest
from django.utils import timezone

from tests.factories import ForumFactory, TorrentFactory, UserFactory
from tracker.models import AccessLevel, Comment, Peer, TorrentFile, TorrentStatus


@pytest.mark.django_db
def test_torrent_page_shows_description_files_and_swarm(client, torrent):
    TorrentFile.objects.create(torrent=torrent, path="dir/a.iso", size=5 * 1024**2)
    response = client.get(f"/torrents/{torrent.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert torrent.name in html
    assert "dir/a.iso" in html and "5.0\xa0MB" in html
    assert torrent.info_hash in html
    assert "seeders" in html and "leechers" in html


@pytest.mark.django_db
def test_torrent_page_renders_user_text_as_text(client, forum, user):
    torrent = TorrentFactory(forum=forum, description='<script>alert("x")</script>')
    Comment.objects.create(torrent=torrent, author=user, text="<img src=x onerror=alert(1)>")
    html = client.get(f"/torrents/{torrent.pk}/").content.decode()
    assert "<script>alert" not in html and "<img src=x" not in html
    # Descriptions are BBCode through tracker.catalogue.markup: HTML in them is text (quotes need no escaping there).
    assert '&lt;script&gt;alert("x")&lt;/script&gt;' in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


@pytest.mark.django_db
def test_unknown_or_invisible_torrents_are_404(client, member_client, forum):
    hidden = TorrentFactory(forum=ForumFactory(view_level=AccessLevel.ADMIN))
    pending = TorrentFactory(forum=forum, status=TorrentStatus.NOT_APPROVED)
    assert client.get("/torrents/999999/").status_code == 404
    assert member_client.get(f"/torrents/{hidden.pk}/").status_code == 404
    response = member_client.get(f"/torrents/{pending.pk}/")
    assert response.status_code == 404
    assert "Not found" in response.content.decode()


@pytest.mark.django_db
def test_torrent_page_runs_in_bounded_queries(member_client, torrent, user, django_assert_max_num_queries):
    TorrentFile.objects.bulk_create(TorrentFile(torrent=torrent, path=f"f{n}", size=n) for n in range(40))
    Comment.objects.bulk_create(Comment(torrent=torrent, author=user, text=f"c{n}") for n in range(20))
    now = timezone.now()
    for n in range(10):
        peer_id = f"-qB4650-{n:012d}".encode()
        Peer.objects.create(torrent=torrent, user=UserFactory(), peer_id=peer_id, ip="10.0.0.1", port=6881 + n, left=n, last_announce=now)
    with django_assert_max_num_queries(8):
        assert member_client.get(f"/torrents/{torrent.pk}/").status_code == 200


@pytest.mark.django_db
def test_every_page_runs_in_bounded_queries(member_client, user, forum, django_assert_max_num_queries):
    torrents = [TorrentFactory(forum=forum, uploader=user) for _ in range(5)]
    comment = Comment.objects.create(torrent=torrents[0], author=user, text="hi")
    pages = [
        "/",
        "/upload/",
        "/profile/",
        "/profile/passkey/",
        "/password/",
        f"/torrents/{torrents[0].pk}/",
        f"/torrents/{torrents[0].pk}/edit/",
        f"/comments/{comment.pk}/edit/",
    ]
    for path in pages:
        with django_assert_max_num_queries(8):
            assert member_client.get(path).status_code == 200, path
