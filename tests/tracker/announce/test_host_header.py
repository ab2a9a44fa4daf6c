"""The Host header of announce and scrape: an IPv6 literal with a port but no brackets is that literal, bracketed.

libtorrent 2.0 (qBittorrent 4.5, Deluge 2.0) announcing to `http://[fd77:1::1]:8000/...` sends
`Host: fd77:1::1:8000`. Django's host validation refused it (DisallowedHost, an HTML 400), so such a client
could not reach the tracker by its IPv6 address. tracker.announce.middleware reads it as `[fd77:1::1]:8000`;
Django then checks that against ALLOWED_HOSTS as any other Host. Everything else is left as it came.

One table, every front: Django's handler (the test client, its whole middleware stack), the deployed
WSGI application (torrentpier.wsgi, whose fast path answers tracker URLs without Django's middleware)
and the deployed ASGI application, whose fast path does the same on PostgreSQL. The fast paths never
read the Host header: every row is answered there.
"""

import pytest
from fastbencode import bdecode

from tests.factories import TorrentFactory
from tests.tracker.announce.fronts import fast_path_active
from tests.tracker.announce.helpers import announce_qs, peer_id, scrape_qs
from tests.tracker.announce.test_announce_wsgi import call as wsgi_fast_path_call
from tracker.announce.protocol import bracketed_host

pytestmark = pytest.mark.django_db(transaction=True)

ROWS = {
    # Host header: answered (True) or refused by Django's host validation (False)
    "bracketed-literal": ("[fd77:1::1]:8000", True),
    "unbracketed-literal-with-port": ("fd77:1::1:8000", True),  # refused before the fix
    "unbracketed-literal-without-port": ("fd77:1::1", False),
    "garbage": ("bad host!:8000", False),
    "not-in-allowed-hosts": ("[fd77:2::1]:8000", False),
}


def _get(front, client, asgi_client, path, query, host):
    if front == "wsgi-fast-path":
        status, _, body = wsgi_fast_path_call(path, query, HTTP_HOST=host)
        return int(status.split()[0]), body
    if front == "wsgi":
        response = client.get(f"{path}?{query}", HTTP_HOST=host, REMOTE_ADDR="10.0.0.9")
        return response.status_code, response.content
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", host.encode())],  # the one Host header, as the client sent it
        "client": ("10.0.0.9", 50000),
        "server": ("fd77:1::1", 8000),
    }
    response = asgi_client.run(asgi_client.send_scope(scope))
    return response.status_code, response.content


@pytest.mark.parametrize("row", ROWS)
@pytest.mark.parametrize("front", ["wsgi", "wsgi-fast-path", "asgi"])
def test_announce_and_scrape_read_the_host_header(front, row, settings, user, client, asgi_client):
    settings.ALLOWED_HOSTS = ["[fd77:1::1]", "testserver"]
    host, answered = ROWS[row]
    if front == "wsgi-fast-path" or (front == "asgi" and fast_path_active()):
        answered = True  # a fast path does not look at Host
    torrent = TorrentFactory()
    announced = _get(front, client, asgi_client, f"/announce/{user.passkey}", announce_qs(torrent.info_hash, peer_id(1)), host)
    scraped = _get(front, client, asgi_client, f"/scrape/{user.passkey}", scrape_qs(torrent.info_hash), host)
    if answered:
        assert announced[0] == 200 and bdecode(announced[1])[b"incomplete"] == 1, announced
        assert scraped[0] == 200 and bytes.fromhex(torrent.info_hash) in bdecode(scraped[1])[b"files"], scraped
    else:
        assert announced[0] == 400 and b"Bad Request" in announced[1], announced
        assert scraped[0] == 400 and b"Bad Request" in scraped[1], scraped


def test_other_paths_keep_an_unbracketed_literal_refused(settings, client):
    """Only the tracker's URLs take the clients' form: the site's pages validate Host as Django does."""
    settings.ALLOWED_HOSTS = ["[fd77:1::1]", "testserver"]
    assert client.get("/api/hello", HTTP_HOST="[fd77:1::1]:8000").status_code == 200
    assert client.get("/api/hello", HTTP_HOST="fd77:1::1:8000").status_code == 400


@pytest.mark.parametrize(
    ("host", "read"),
    [
        ("fd77:1::1:8000", "[fd77:1::1]:8000"),
        ("::1:6969", "[::1]:6969"),
        ("2001:db8::ffff:1.2.3.4:80", "[2001:db8::ffff:1.2.3.4]:80"),
        ("[fd77:1::1]:8000", "[fd77:1::1]:8000"),
        ("fd77:1::1", "fd77:1::1"),  # no port: "fd77:1:" is no address
        ("tracker.example.org:8000", "tracker.example.org:8000"),
        ("10.0.0.1:8000", "10.0.0.1:8000"),
        ("fd77:1::1:80x", "fd77:1::1:80x"),
        ("fd77:1::1:²", "fd77:1::1:²"),
        ("fd77:1::1:123456", "fd77:1::1:123456"),
        ("fe80::1%eth0:80", "fe80::1%eth0:80"),  # a scoped address is no host: left for Django to refuse
        ("", ""),
    ],
)
def test_bracketed_host(host, read):
    assert bracketed_host(host) == read
