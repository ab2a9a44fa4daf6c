"""`+` in a tracker query string is a space (application/x-www-form-urlencoded); `%2B` stays a plus."""

from urllib.parse import quote_from_bytes, quote_plus, unquote_to_bytes

import pytest

from tests.factories import TorrentFactory
from tests.tracker.announce.helpers import reply
from tracker.announce.protocol import query_parse
from tracker.models import Peer

# Module-wide: the ASGI case of a both_fronts test needs its transactional mark (fronts.py) to be the closest.
pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"a=b+c", {"a": [b"b c"]}),
        (b"a=%2B+%2b", {"a": [b"+ +"]}),
        (b"a=++", {"a": [b"  "]}),
        (b"a+b=1", {"a b": [b"1"]}),
        (b"a=%20+%FF", {"a": [b"  \xff"]}),
        (b"a=plain&b=%41", {"a": [b"plain"], "b": [b"A"]}),
    ],
)
def test_query_parse_reads_plus_as_a_space(raw, expected):
    assert query_parse(raw) == expected
    assert query_parse(raw.decode("latin-1")) == expected  # WSGI's str


def test_plus_decoding_agrees_with_urllib_for_every_byte():
    for byte in range(256):
        value = bytes([byte, 0x2B, byte])
        encoded = quote_plus(value).encode()
        assert query_parse(b"v=" + encoded)["v"] == [value], byte
        assert query_parse(b"v=" + quote_from_bytes(value).encode().replace(b"%20", b"+"))["v"] == [value], byte
    assert unquote_to_bytes("%2B") == b"+"


@pytest.mark.both_fronts
def test_an_info_hash_sent_with_plus_for_space_is_found(client, user):
    info_hash = bytes.fromhex("20" * 4 + "61" * 12 + "2b" * 4)  # spaces, letters and a real plus
    torrent = TorrentFactory(info_hash=info_hash.hex())
    pid = b"-qB4650-  spaced+id!"
    query = f"info_hash={quote_plus(info_hash)}&peer_id={quote_plus(pid)}&port=6881&uploaded=0&downloaded=0&left=10&key=a+b"
    assert "+" in query and "%20" not in query
    body = reply(client.get(f"/announce/{user.passkey}?{query}", REMOTE_ADDR="10.0.0.1"))
    assert b"failure reason" not in body
    peer = Peer.objects.get(torrent=torrent)
    assert bytes(peer.peer_id) == pid
    assert peer.key == b"a b".hex()
