"""The wire side of announce and scrape: raw query parsing, validation, bencoded replies.

Django's `request.GET` decodes the query string as UTF-8 and mangles the
binary `info_hash` and `peer_id`, so everything here reads the raw
QUERY_STRING and percent-decodes it to bytes.
"""

import binascii
import ipaddress
import random
import re
import socket
from typing import Any, NamedTuple
from urllib.parse import unquote_to_bytes

from django.conf import settings
from django.http import HttpResponse
from fastbencode import bencode

EVENTS = frozenset({b"", b"started", b"completed", b"stopped", b"paused"})
MAX_COUNTER = 2**63 - 1
PASSKEY_RE = re.compile(r"^[0-9a-f]{32}\Z")  # \Z, not $: `$` also matches before a trailing newline
# The tracker routes of tracker/announce/urls.py as one pattern, for the WSGI and ASGI fronts:
# /announce?uk=<passkey> (what .torrent files carry), /announce/<passkey>, /scrape and
# /scrape/<passkey>, and TorrentPier's /bt/announce.php?uk= and /bt/scrape.php?uk=.
TRACKER_PATH = re.compile(r"^/(?:(?P<kind>announce|scrape)(?:/(?P<passkey>[^/]+)|/?)|bt/(?P<php>announce|scrape)\.php)\Z")


def tracker_route(path: str) -> tuple[str, str | None] | None:
    """("announce" or "scrape", the passkey in the path or None) for a tracker path; None for any other path."""
    match = TRACKER_PATH.match(path)
    if match is None:
        return None
    return match["kind"] or match["php"], match["passkey"]


_PORT = re.compile(r"[0-9]{1,5}\Z")


def bracketed_host(host: str) -> str:
    """A Host header as Django's host validation reads it: "[addr]:port" for an IPv6 literal sent with a port
    but without its brackets ("fd77::1:8000", as libtorrent 2.0 writes it: qBittorrent 4.5, Deluge 2.0);
    any other value as it is.

    The text before the last ':' must be an IPv6 address (no zone) and the rest a port number:
    "fd77::1" stays as it is ("fd77:" is no address), and Django refuses it. The form is ambiguous
    ("fd77::1:2" reads as [fd77::1]:2), but clients only send it with a port.
    """
    address, colon, port = host.rpartition(":")
    if not colon or "%" in address or not _PORT.match(port):
        return host
    try:
        ipaddress.IPv6Address(address)
    except ValueError:
        return host
    return f"[{address}]:{port}"


class AnnounceRejected(Exception):
    """A request the tracker refuses; the message goes to the client as `failure reason`.

    `kind` is the class of the refusal, for the metrics: "invalid" (a bad
    request), "passkey", "account", "torrent", "client", "port", "peer_id",
    or the gate's ("peers", "slots", "ratio", "warnings").
    """

    def __init__(self, message: str, kind: str = "invalid") -> None:
        super().__init__(message)
        self.kind = kind


class AnnounceQuery(NamedTuple):
    """A validated announce request (a NamedTuple: built on every announce, and far cheaper than a frozen dataclass)."""

    info_hash: bytes
    peer_id: bytes
    port: int
    uploaded: int
    downloaded: int
    left: int
    event: str
    compact: bool
    no_peer_id: bool
    numwant: int
    key: str
    ip_param: str | None

    @property
    def is_seeder(self) -> bool:
        """Seeders have nothing left; a paused peer (BEP 21 partial seed) downloads nothing either."""
        return self.left == 0 or self.event == "paused"


# Byte values: `byte in bytes_value` is a memchr, where `b"%" in value`
# is a substring search that costs twenty times as much here.
_PERCENT, _EQUALS, _PLUS = ord("%"), ord("="), ord("+")
# Printable bytes but `=`: a value quoted-printable decoding reads exactly as percent-decoding would.
_QP_SAFE = re.compile(rb"[\x21-\x3c\x3e-\x7e]*\Z")


def percent_decode(value: bytes) -> bytes:
    """`value` with %XX escapes decoded, exactly as urllib's unquote_to_bytes does it.

    Info hashes and peer ids come escaped byte by byte, and unquote_to_bytes
    is a Python loop; binascii's quoted-printable decoder is the same work in
    C once `%` reads `=`. It only runs where the two cannot differ: no `=`,
    whitespace or control bytes in the value, no trailing `%` (a soft line
    break to it), and no escape it left undecoded.
    """
    if value.endswith(b"%") or not _QP_SAFE.match(value):
        return unquote_to_bytes(value)
    decoded = binascii.a2b_qp(value.replace(b"%", b"="))
    return unquote_to_bytes(value) if _EQUALS in decoded else decoded


def query_parse(query_string: str | bytes) -> dict[str, list[bytes]]:
    """Split a raw query string (WSGI's latin-1 str, or ASGI's bytes) into name -> list of decoded byte values.

    Decoded as application/x-www-form-urlencoded: `+` is a space, then %XX
    escapes (so `%2B` is a plus).
    """
    if isinstance(query_string, bytes):
        raw = query_string
    else:
        try:
            raw = query_string.encode("latin-1")  # WSGI hands the bytes over as latin-1
        except UnicodeEncodeError:
            try:
                raw = query_string.encode("utf-8", "surrogateescape")
            except UnicodeEncodeError:  # a lone surrogate no bytes spell: not a query any client sent
                raise AnnounceRejected("Invalid query string") from None
    if _PLUS in raw:  # rare: one memchr over the query when there is none
        raw = raw.replace(b"+", b" ")
    params: dict[str, list[bytes]] = {}
    for part in raw.split(b"&"):
        if not part:
            continue
        name, _, value = part.partition(b"=")
        # Most values carry no escapes: skip the (costly) unquote for them.
        if _PERCENT in name:
            name = percent_decode(name)
        if _PERCENT in value:
            value = percent_decode(value)
        params.setdefault(name.decode("latin-1"), []).append(value)
    return params


def _first(params: dict[str, list[bytes]], name: str) -> bytes | None:
    values = params.get(name)
    return values[0] if values else None


def _counter(params: dict[str, list[bytes]], name: str, *, required: bool = True) -> int:
    raw = _first(params, name)
    if raw is None or raw == b"":
        if required:
            raise AnnounceRejected(f"Invalid {name} value")
        return 0
    if not raw.isdigit() or len(raw) > 19 or int(raw) > MAX_COUNTER:
        raise AnnounceRejected(f"Invalid {name} value")
    return int(raw)


def _hash(raw: bytes | None, name: str) -> bytes:
    if raw is None or len(raw) != 20:
        raise AnnounceRejected(f"Invalid {name}")
    return raw


def announce_query_parse(query_string: str | bytes) -> AnnounceQuery:
    """Validate an announce query string, or raise AnnounceRejected with TorrentPier-style wording."""
    params = query_parse(query_string)
    info_hash = _hash(_first(params, "info_hash"), "info_hash")
    peer_id = _hash(_first(params, "peer_id"), "peer_id")
    event_raw = _first(params, "event") or b""
    if event_raw not in EVENTS:
        raise AnnounceRejected("Invalid event")
    event = event_raw.decode()
    port_raw = _first(params, "port")
    if port_raw is None or not port_raw.isdigit() or len(port_raw) > 5:
        raise AnnounceRejected("Invalid port")
    port = int(port_raw)
    stopped = event == "stopped"
    if port > 65535 or (port == 0 and not stopped):
        raise AnnounceRejected("Invalid port")
    uploaded = _counter(params, "uploaded")
    downloaded = _counter(params, "downloaded")
    left = _counter(params, "left")
    numwant_raw = _first(params, "numwant")
    numwant = settings.TRACKER_NUMWANT_DEFAULT
    if numwant_raw and numwant_raw.isdigit() and len(numwant_raw) <= 6:
        numwant = int(numwant_raw)
    numwant = 0 if stopped else min(numwant, settings.TRACKER_NUMWANT_MAX)
    key_raw = _first(params, "key") or b""
    ip_raw = _first(params, "ip")
    return AnnounceQuery(
        info_hash=info_hash,
        peer_id=peer_id,
        port=port,
        uploaded=uploaded,
        downloaded=downloaded,
        left=left,
        event=event,
        compact=_first(params, "compact") != b"0",
        no_peer_id=_first(params, "no_peer_id") == b"1",
        numwant=numwant,
        key=key_raw[:32].hex(),  # aria2's key is binary; hex keeps it printable
        ip_param=ip_raw.decode("latin-1") if ip_raw else None,
    )


def scrape_hashes_parse(query_string: str | bytes) -> list[bytes]:
    """The `info_hash` values of a scrape (BEP 48), validated and capped."""
    hashes = query_parse(query_string).get("info_hash", [])
    if not hashes:
        raise AnnounceRejected("Specify at least one info_hash (full scrape is not supported)")
    if len(hashes) > settings.TRACKER_SCRAPE_MAX_HASHES:
        raise AnnounceRejected(f"Too many info_hash values (at most {settings.TRACKER_SCRAPE_MAX_HASHES})")
    for value in hashes:
        _hash(value, "info_hash")
    return list(dict.fromkeys(hashes))


def passkey_check(passkey: str | None) -> str:
    """The passkey if it looks like one; the lookup decides whether it exists."""
    if not passkey or not PASSKEY_RE.fullmatch(passkey):
        raise AnnounceRejected("Please LOG IN and RE-DOWNLOAD this torrent (passkey not found)", "passkey")
    return passkey


def address_parse(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An IP address (IPv4-mapped IPv6 unwrapped), or None if `value` is not one."""
    try:
        addr = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped:
        return addr.ipv4_mapped
    return addr


def interval_with_jitter() -> int:
    """The announce interval plus up to 5% random jitter, so a swarm's announces spread out."""
    interval = settings.TRACKER_ANNOUNCE_INTERVAL
    return interval + random.randint(0, interval // 20)


# Every tracker reply, success or failure, goes out with these headers.
REPLY_CONTENT_TYPE = "text/plain"
REPLY_CACHE_CONTROL = "no-store"


def bencoded(payload: dict[bytes, Any] | bytes) -> HttpResponse:
    """A tracker reply: bencoded (keys sorted), text/plain, never cached."""
    response = HttpResponse(payload if isinstance(payload, bytes) else bencode(payload), content_type=REPLY_CONTENT_TYPE)
    response["Cache-Control"] = REPLY_CACHE_CONTROL
    return response


def failure_body(message: str) -> bytes:
    """A refusal the way clients expect it (sent with HTTP 200): `failure reason` and the intervals."""
    return bencode(
        {
            b"failure reason": message.encode(),
            b"interval": settings.TRACKER_ANNOUNCE_INTERVAL,
            b"min interval": settings.TRACKER_MIN_INTERVAL,
        }
    )


def failure(message: str) -> HttpResponse:
    """`failure_body` as a Django response."""
    return bencoded(failure_body(message))


def peers_encode(peers4: bytes, peers6: bytes, *, compact: bool, no_peer_id: bool) -> dict[bytes, Any]:
    """`peers` (and `peers6`) for the reply: compact strings (BEP 23, BEP 7) or the BEP 3 dict list.

    `peers4` and `peers6` are packed entries (tracker.swarm.sql.AnnounceResult),
    with their peer ids when the reply is the dictionary model without `no_peer_id`.
    """
    if compact:
        return {b"peers": peers4, b"peers6": peers6}
    entries = []
    id_size = 0 if no_peer_id else 20
    for packed, family, addr_size in ((peers4, socket.AF_INET, 4), (peers6, socket.AF_INET6, 16)):
        size = addr_size + 2 + id_size
        for at in range(0, len(packed), size):
            entry: dict[bytes, Any] = {
                b"ip": socket.inet_ntop(family, packed[at : at + addr_size]).encode(),
                b"port": int.from_bytes(packed[at + addr_size : at + addr_size + 2], "big"),
            }
            if id_size:
                entry[b"peer id"] = packed[at + addr_size + 2 : at + size]
            entries.append(entry)
    return {b"peers": entries}
