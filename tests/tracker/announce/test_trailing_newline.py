"""A trailing newline is not part of a passkey or a tracker path (`$` matches before one; `\\Z` does not)."""

import pytest

from tests.factories import TorrentFactory, UserFactory
from tests.tracker.announce.fronts import AsgiClient, AsgiResponse
from tests.tracker.announce.helpers import announce_qs, peer_id, reply
from tracker.announce.protocol import PASSKEY_RE, TRACKER_PATH, AnnounceRejected, passkey_check

PASSKEY = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize("suffix", ["\n", "\r\n", "\n\n", "\x00"])
def test_a_passkey_with_a_trailing_newline_is_refused(suffix):
    assert passkey_check(PASSKEY) == PASSKEY
    assert PASSKEY_RE.match(PASSKEY + suffix) is None
    with pytest.raises(AnnounceRejected, match="passkey not found"):
        passkey_check(PASSKEY + suffix)


@pytest.mark.parametrize("path", ["/announce\n", "/scrape\n", "/bt/announce.php\n", "/bt/scrape.php\n"])
def test_a_tracker_path_with_a_trailing_newline_is_not_a_tracker_path(path):
    assert TRACKER_PATH.match(path.rstrip("\n")) is not None
    assert TRACKER_PATH.match(path) is None


@pytest.mark.parametrize("kind", ["announce", "scrape"])
def test_a_newline_after_the_passkey_in_the_path_is_part_of_no_passkey(kind):
    """The path segment is the passkey (as Django's `<str:passkey>` reads it), newline and all: refused."""
    match = TRACKER_PATH.match(f"/{kind}/{PASSKEY}\n")
    assert match is not None and match["passkey"] == PASSKEY + "\n"
    with pytest.raises(AnnounceRejected):
        passkey_check(match["passkey"])


@pytest.mark.django_db(transaction=True)
def test_the_asgi_front_does_not_serve_a_path_with_a_trailing_newline_as_an_announce(asgi_client: AsgiClient):
    """Django's router (which matches the whole path) answers it: 404 for `/announce\\n`, and the passkey
    with a newline (the router's `<str:passkey>` takes it) is no passkey."""
    user, torrent = UserFactory(), TorrentFactory()
    qs = f"{announce_qs(torrent.info_hash, peer_id(1))}&uk={user.passkey}"
    assert b"failure reason" not in reply(_get(asgi_client, "/bt/announce.php", qs))
    assert _get(asgi_client, "/announce\n", qs).status_code == 404
    assert _get(asgi_client, "/bt/announce.php\n", qs).status_code == 404
    assert b"passkey not found" in reply(_get(asgi_client, f"/announce/{user.passkey}\n", qs))[b"failure reason"]


def _get(asgi_client: AsgiClient, path: str, query: str) -> AsgiResponse:
    """GET with the decoded `path` as a server puts it in the scope (AsgiClient's urlsplit would drop the newline)."""

    async def call() -> AsgiResponse:
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
            "path": path, "raw_path": path.encode(), "query_string": query.encode(), "root_path": "",
            "headers": [(b"host", b"testserver")], "client": ("127.0.0.1", 50000), "server": ("testserver", 80),
        }  # fmt: skip
        return await asgi_client.send_scope(scope)

    return asgi_client.run(call())


@pytest.mark.django_db
def test_the_django_views_refuse_a_passkey_with_a_trailing_newline(client):
    user, torrent = UserFactory(), TorrentFactory()
    qs = announce_qs(torrent.info_hash, peer_id(1))
    response = client.get(f"/bt/announce.php?{qs}&uk={user.passkey}%0A")
    assert b"passkey not found" in reply(response)[b"failure reason"]
