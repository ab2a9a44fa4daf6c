"""The WSGI fast path serves tracker URLs exactly as the Django routes do, and passes the rest on."""

import pytest
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections
from django.test import RequestFactory
from fastbencode import bdecode

from tests.factories import TorrentFactory
from tests.tracker.announce.helpers import announce_qs, peer_id, scrape_qs
from torrentpier.wsgi import application
from tracker.models import Peer

pytestmark = pytest.mark.django_db


def call(path: str, query: str = "", **headers: str) -> tuple[str, dict[str, str], bytes]:
    """The deployed WSGI application's answer to GET `path`?`query` (`headers` as WSGI environ keys: HTTP_HOST=...)."""
    environ = RequestFactory().get(path, QUERY_STRING=query, REMOTE_ADDR="10.0.0.9", **headers).environ
    seen: dict = {}

    def start_response(status: str, headers: list) -> None:
        seen["status"], seen["headers"] = status, dict(headers)

    # As Django's test client does: the test's transaction must outlive the request.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        body = b"".join(application(environ, start_response))
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)
    return seen["status"], seen["headers"], body


def test_the_deployed_application_fronts_django_with_the_fast_path():
    assert isinstance(application.application, WSGIHandler)


def test_announce_and_scrape_through_the_fast_path(user):
    torrent = TorrentFactory()
    status, headers, body = call(f"/announce/{user.passkey}", announce_qs(torrent.info_hash, peer_id(1)))
    assert status == "200 OK"
    assert headers["Content-Type"].startswith("text/plain") and headers["Cache-Control"] == "no-store"
    assert bdecode(body)[b"incomplete"] == 1
    assert Peer.objects.get().ip == "10.0.0.9"
    _, _, body = call("/bt/announce.php", f"uk={user.passkey}&{announce_qs(torrent.info_hash, peer_id(2))}")
    assert bdecode(body)[b"incomplete"] == 2
    _, _, body = call(f"/scrape/{user.passkey}", scrape_qs(torrent.info_hash))
    assert bdecode(body)[b"files"][bytes.fromhex(torrent.info_hash)][b"incomplete"] == 2
    _, _, body = call("/bt/scrape.php", f"uk={user.passkey}&{scrape_qs(torrent.info_hash)}")
    assert bdecode(body)[b"files"][bytes.fromhex(torrent.info_hash)][b"incomplete"] == 2


def test_failures_through_the_fast_path_are_bencoded(user):
    for path in ("/announce", "/announce/", "/scrape/nope"):
        status, _, body = call(path, "garbage=%zz")
        assert status == "200 OK"
        assert b"failure reason" in bdecode(body)


def test_other_paths_go_to_django():
    status, headers, _ = call("/api/hello")
    assert status.startswith("200")
    assert headers["Content-Type"] == "application/json"
    status, _, _ = call("/announcements")
    assert status.startswith("404")


def test_the_fast_path_sends_the_request_signals_that_manage_db_connections(user):
    seen = []

    def started(**kwargs):
        seen.append("started")

    def finished(**kwargs):
        seen.append("finished")

    signals.request_started.connect(started)
    signals.request_finished.connect(finished)
    try:
        call(f"/announce/{user.passkey}", "garbage")
    finally:
        signals.request_started.disconnect(started)
        signals.request_finished.disconnect(finished)
    assert seen == ["started", "finished"]
