"""The live tracker the end-to-end tests run against: a test reads whole requests' effects, never half of one.

On SQLite the WSGI live server answers on the test's own in-memory
connection, so a test polling the database while an announce is being
answered would see that announce's transaction half applied: the peer
already gone, the member not yet credited (CI once read a seeder's upload as
0 this way). The fixture (tests/e2e/conftest.py) runs each of the test's
queries between two requests.
"""

import threading
import time
import urllib.request
from urllib.parse import quote_from_bytes

import pytest
from django.db import connection

from tests.e2e.swarm import FINGERPRINT, USER_AGENT, wait_for
from tests.factories import TorrentFactory, UserFactory
from tracker.models import Peer
from tracker.swarm import announce as swarm_announce

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        connection.vendor != "sqlite",
        reason="on PostgreSQL the live servers answer on connections of their own: a test reads only committed announces",
    ),
]


def _announce(tracker_url: str, passkey: str, info_hash: str, **fields: object) -> bytes:
    query = {"port": 51413, "uploaded": 0, "downloaded": 0, "left": 0, "compact": 1, **fields}
    url = (
        f"{tracker_url}/announce?uk={passkey}&info_hash={quote_from_bytes(bytes.fromhex(info_hash))}"
        f"&peer_id={quote_from_bytes(FINGERPRINT.encode() + b'000000000042')}&" + "&".join(f"{key}={value}" for key, value in query.items())
    )
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    with urllib.request.urlopen(request, timeout=30) as response:
        return bytes(response.read())


def test_wait_for_never_sees_an_announce_half_applied(tracker_url, monkeypatch):
    user = UserFactory()
    torrent = TorrentFactory(uploader=user)
    body = _announce(tracker_url, user.passkey, torrent.info_hash, event="started")
    assert b"failure reason" not in body, body
    assert Peer.objects.filter(torrent=torrent, user=user).exists()

    # The stop's peer row goes first and the member's credit follows, in one transaction: hold it open between the two.
    credit = swarm_announce._effects_apply

    def slow_credit(*args, **kwargs):
        time.sleep(0.5)
        credit(*args, **kwargs)

    monkeypatch.setattr(swarm_announce, "_effects_apply", slow_credit)
    replies: list[bytes] = []
    stop = threading.Thread(
        target=lambda: replies.append(_announce(tracker_url, user.passkey, torrent.info_hash, event="stopped", uploaded=4321))
    )
    stop.start()
    try:
        wait_for(lambda: not Peer.objects.filter(torrent=torrent, user=user).exists(), "the stopped announce")
        user.refresh_from_db()
        assert user.uploaded == 4321
    finally:
        stop.join(timeout=30)
    assert replies and b"failure reason" not in replies[0], replies
