"""Fuzzing the announce and scrape parsers: any query string is either a valid result or an AnnounceRejected.

And whole requests through Django: always HTTP 200 with a bencoded `failure reason` or a valid reply.
"""

from typing import Any
from urllib.parse import quote_from_bytes

import pytest
from django.conf import settings
from fastbencode import bdecode
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from tests.factories import TorrentFactory
from tests.tracker.announce.helpers import peer_id
from tracker.announce.core import TrackerRequest, announce_flow, scrape_flow
from tracker.announce.protocol import (
    EVENTS,
    MAX_COUNTER,
    PASSKEY_RE,
    AnnounceRejected,
    announce_query_parse,
    passkey_check,
    query_parse,
    scrape_hashes_parse,
)

PARSERS = hypothesis_settings(max_examples=200, deadline=None, database=None)
HTTP = hypothesis_settings(
    max_examples=50, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)

NAMES = ["info_hash", "peer_id", "port", "uploaded", "downloaded", "left", "event", "compact", "no_peer_id", "numwant", "key", "ip", "uk"]

numbers = st.one_of(
    st.integers(min_value=-(10**40), max_value=10**40).map(lambda n: str(n).encode()),
    st.sampled_from(
        [b"0", b"-1", b"65535", b"65536", b"6881", b"1e9", b"0x10", b" 1", b"1 ", b"\xd9\xa1", str(2**63).encode(), str(2**63 - 1).encode()]
    ),
)
byte_values = st.one_of(
    numbers,
    st.binary(max_size=40),
    st.binary(min_size=20, max_size=20),
    st.sampled_from(sorted(EVENTS)),
    st.sampled_from([b"%", b"%0", b"%zz", b"%00", b"\x00", b"+", b"%2B", b"=", b"&", b"a" * 32]),
)


def escaped(value: bytes, how: int) -> bytes:
    if how == 0:
        return value  # raw, as a broken client might send it
    if how == 1:
        return quote_from_bytes(value).encode()
    return "".join(f"%{byte:02x}" if byte % 2 else f"%{byte:02X}" for byte in value).encode()


@st.composite
def structured_queries(draw: Any) -> bytes:
    pairs = draw(
        st.lists(
            st.tuples(st.one_of(st.sampled_from(NAMES), st.text(max_size=8)), byte_values, st.integers(0, 2), st.booleans()),
            max_size=16,
        )
    )
    parts = []
    for name, value, how, with_equals in pairs:
        name_bytes = escaped(name.encode("utf-8", "surrogatepass"), how)
        parts.append(name_bytes + (b"=" + escaped(value, how) if with_equals else b""))
    return draw(st.sampled_from([b"&", b"&&", b"&amp;"])).join(parts)


queries = st.one_of(st.binary(max_size=300), structured_queries())
# The fronts hand over the bytes (ASGI) or WSGI's latin-1 str; the parsers take any str too.
query_inputs = st.one_of(queries, queries.map(lambda raw: raw.decode("latin-1")), st.text(max_size=100))


def rejected_or(parse: Any, query: str | bytes) -> Any:
    try:
        return parse(query)
    except AnnounceRejected as exc:
        assert str(exc)
        return None


@PARSERS
@given(query_inputs)
@example("info_hash=\ud800")  # a lone surrogate: no bytes can spell it
@example("\udcff")
def test_query_parse_never_crashes(query: str | bytes) -> None:
    params = rejected_or(query_parse, query)
    if params is not None:
        assert all(isinstance(name, str) and all(isinstance(v, bytes) for v in values) for name, values in params.items())


@PARSERS
@given(query_inputs)
@example("info_hash=\ud800&peer_id=x")
def test_announce_query_parse_gives_a_valid_query_or_rejects(query: str | bytes) -> None:
    parsed = rejected_or(announce_query_parse, query)
    if parsed is None:
        return
    assert len(parsed.info_hash) == 20 and len(parsed.peer_id) == 20
    assert 0 <= parsed.port <= 65535
    for counter in (parsed.uploaded, parsed.downloaded, parsed.left):
        assert 0 <= counter <= MAX_COUNTER
    assert parsed.event.encode() in EVENTS
    assert 0 <= parsed.numwant <= settings.TRACKER_NUMWANT_MAX
    assert len(parsed.key) <= 64


@PARSERS
@given(query_inputs)
@example("info_hash=\ud800")
def test_scrape_hashes_parse_gives_valid_hashes_or_rejects(query: str | bytes) -> None:
    hashes = rejected_or(scrape_hashes_parse, query)
    if hashes is None:
        return
    assert 1 <= len(hashes) <= settings.TRACKER_SCRAPE_MAX_HASHES
    assert all(len(h) == 20 for h in hashes)
    assert len(set(hashes)) == len(hashes)


@PARSERS
@given(st.one_of(st.none(), st.text(max_size=40), st.text(alphabet="0123456789abcdefABCDEF\n\x00", min_size=30, max_size=34)))
def test_passkey_check_gives_a_passkey_or_rejects(passkey: str | None) -> None:
    checked = rejected_or(passkey_check, passkey)
    if checked is not None:
        assert checked == passkey and PASSKEY_RE.match(checked)


def run(flow: Any, request: TrackerRequest) -> bytes | None:
    """Drive `flow` with no user and no torrent behind the passkey: the flows' own checks must refuse, never crash."""
    steps = flow(request)
    try:
        next(steps)
        steps.send((None, None, None))
    except StopIteration as done:
        return done.value
    except AnnounceRejected:
        return None
    raise AssertionError("a flow with no user went past the user check")


@PARSERS
@given(query_inputs, st.one_of(st.none(), st.text(max_size=40), st.just("a" * 32)), st.sampled_from(["GET", "HEAD", "POST"]))
@example("uk=\ud800", None, "GET")
def test_the_flows_reject_cleanly(query: str | bytes, passkey: str | None, method: str) -> None:
    for flow in (announce_flow, scrape_flow):
        request = TrackerRequest(method, "/announce", query, passkey, "10.0.0.1", "", "fuzz")
        run(flow, request)


def assert_tracker_reply(response: Any, *, kind: str) -> None:
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert response["Cache-Control"] == "no-store"
    body = bdecode(response.content)
    assert isinstance(body, dict)
    if b"failure reason" in body:
        assert body[b"failure reason"] and body[b"failure reason"] != b"Tracker error, please try again later"
    elif kind == "announce":
        assert b"interval" in body and b"peers" in body
    else:
        assert b"files" in body


@st.composite
def http_queries(draw: Any, info_hash: bytes) -> str:
    """A query the way the WSGI front hands it over (latin-1 str), often carrying the real torrent's hash."""
    query = draw(queries)
    if draw(st.booleans()):
        extra = f"info_hash={quote_from_bytes(info_hash)}&peer_id={quote_from_bytes(peer_id(draw(st.integers(0, 5))))}"
        query = extra.encode() + b"&" + query
    return query.decode("latin-1")


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["announce", "scrape"])
def test_http_requests_always_get_a_bencoded_reply(client: Any, user: Any, kind: str) -> None:
    torrent = TorrentFactory()
    info_hash = bytes.fromhex(torrent.info_hash)

    @HTTP
    @given(http_queries(info_hash), st.sampled_from([user.passkey, "0" * 32, "x", user.passkey.upper()]))
    def check(query: str, passkey: str) -> None:
        response = client.generic("GET", f"/{kind}/{passkey}", QUERY_STRING=query)
        assert_tracker_reply(response, kind=kind)

    check()
