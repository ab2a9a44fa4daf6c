"""What announce and scrape do, apart from their I/O: one orchestration for both fronts.

`announce_flow` and `scrape_flow` are the whole of a request (parse, lookups,
checks, statement, reply) as generators that yield what they need done:
a `Lookup` (passkey -> user, info hash -> torrent), the swarm statement's
fields (an announce), or the hashes to scrape. The Django views
(tracker.announce.views, any database) answer those with sync calls, the ASGI
fast path (tracker.announce.asgi, PostgreSQL) with awaits; so both refuse
the same requests with the same words and answer with the same bytes, and a
new check goes in one place. `failure_for` is their one error wrapper.
"""

import logging
import re
import socket
import time
from collections.abc import Generator
from typing import Any, NamedTuple

from django.conf import settings
from fastbencode import bencode

from core.logthrottle import log_failure
from core.metrics import ANNOUNCE_SECONDS, TRACKER_REQUESTS
from core.net import client_ip_from, is_plain_ipv4
from tracker.announce.protocol import (
    AnnounceQuery,
    AnnounceRejected,
    address_parse,
    announce_query_parse,
    failure_body,
    interval_with_jitter,
    passkey_check,
    peers_encode,
    query_parse,
    scrape_hashes_parse,
)
from tracker.catalogue.access import level_may_download
from tracker.catalogue.models import AccessLevel
from tracker.policy.clients import client_verdict_kept
from tracker.policy.snapshot import AnnouncePolicy, port_blocked
from tracker.policy.standing import Refusal
from tracker.swarm.announce import announce_params
from tracker.swarm.lookups import AnnounceTorrent, AnnounceUser
from tracker.swarm.sql import AnnounceResult

logger = logging.getLogger("tracker.announce")

PEER_ID_TAKEN = "This peer_id is in use by another user; restart your client"
TRACKER_ERROR = "Tracker error, please try again later"
NOT_APPROVED = "Torrent not approved yet"


class TrackerRequest(NamedTuple):
    """What a front hands the flows: the request as the tracker sees it."""

    method: str
    path: str
    raw_query: str | bytes
    passkey: str | None  # from the path; None: TorrentPier's ?uk=
    remote: str
    forwarded: str  # X-Forwarded-For
    user_agent: str


class Lookup(NamedTuple):
    """A flow's request for the passkey's user and (for an announce) the torrent of `info_hash_hex`.

    `remembered`: the front may answer from lookups it remembers (the ASGI
    worker's memory); the statement then checks they are still current.
    """

    passkey: str
    info_hash_hex: str | None
    remembered: bool


class Scrape(NamedTuple):
    """A scrape flow's request for the figures of these 20-byte hashes (tracker.swarm.selectors.torrent_scrape).

    `user`: who scrapes; torrents they may not see are left out.
    """

    info_hashes: list[bytes]
    user: AnnounceUser


def announce_flow(request: TrackerRequest) -> Generator[Any, Any, bytes]:
    """An announce from its request to its reply: yields a Lookup, then the statement's fields; returns the body.

    The front sends back (user, torrent, policy) for a Lookup and the
    AnnounceResult for the fields. A result that is not `fresh` (the
    remembered lookups were out of date, so nothing was written) makes the
    flow look again, this time without memory; so does a refusal on what the
    front remembered, which only lookups just read may confirm.
    """
    method_check(request.method)
    passkey = passkey_of(request.raw_query, request.passkey)
    query = announce_query_parse(request.raw_query)
    info_hash_hex = query.info_hash.hex()
    for remembered in (True, False):
        user, torrent, policy = yield Lookup(passkey, info_hash_hex, remembered)
        try:
            user = user_check(user)
            torrent = torrent_check(user, torrent)
            client_check(policy, query, request.user_agent)
        except AnnounceRejected:
            if remembered:  # what memory said may be out of date (a rule relaxed, a torrent approved): look again
                continue
            raise
        ip, external = peer_address(remote=request.remote, forwarded=request.forwarded, query=query)
        result: AnnounceResult = yield announce_fields(
            query=query, user=user, torrent=torrent, ip=ip, user_agent=request.user_agent, policy=policy
        )
        if result.fresh:
            return announce_body(query, result, external)
    raise AssertionError("a statement on lookups just read is always fresh")


def scrape_flow(request: TrackerRequest) -> Generator[Any, Any, bytes]:
    """A scrape from its request to its reply: yields a Lookup of the passkey, then the hashes; returns the body."""
    method_check(request.method)
    passkey = passkey_of(request.raw_query, request.passkey)
    hashes = scrape_hashes_parse(request.raw_query)
    user, _, _ = yield Lookup(passkey, None, False)
    user = user_check(user)
    files = yield Scrape(hashes, user)
    return scrape_body(files)


def result_of(exc: Exception | None) -> str:
    """The metrics' result of a tracker request: "ok", the refusal's class, or "error" (a failure of ours)."""
    if exc is None:
        return "ok"
    return exc.kind if isinstance(exc, AnnounceRejected) else "error"


def request_done(kind: str, front: str, result: str, started: float) -> None:
    """Count one answered announce or scrape (and time an announce) for /metrics (core.metrics)."""
    TRACKER_REQUESTS.labels(kind, front, result).inc()
    if kind == "announce":
        ANNOUNCE_SECONDS.labels(front).observe(time.perf_counter() - started)


def failure_for(exc: Exception, path: str) -> bytes:
    """The bencoded failure a client gets for `exc`: a refusal's own reason, else the generic error (logged).

    The log gets the path with its passkey masked, and the traceback once a
    minute per type of error; the others are a line each (core.logthrottle).
    """
    if isinstance(exc, AnnounceRejected):
        return failure_body(str(exc))
    log_failure(logger, logging.ERROR, "tracker request failed: %s", path_for_log(path), exc=exc)
    return failure_body(TRACKER_ERROR)


_PASSKEY_IN_PATH = re.compile(r"(/(?:announce|scrape)/)([^/]*)")


def path_for_log(path: str) -> str:
    """A tracker path as the log may show it: `/announce/<passkey>` with only the passkey's first 4 characters."""
    return _PASSKEY_IN_PATH.sub(lambda m: m[1] + (m[2][:4] + "…" if m[2] else ""), path)


def method_check(method: str) -> None:
    """Trackers answer GET (and HEAD); anything else is refused."""
    if method not in ("GET", "HEAD"):
        raise AnnounceRejected("Use GET")


def passkey_of(raw_query: str | bytes, passkey: str | None) -> str:
    """The passkey from the path, or from TorrentPier's `uk` parameter (/bt/*.php?uk=...), checked."""
    if passkey is None:
        uk = query_parse(raw_query).get("uk")
        passkey = uk[0].decode("latin-1") if uk else None
    return passkey_check(passkey)


# What a member can do about it: a .torrent from elsewhere, or one changed since (a re-download
# fixes both); some clients compute a wrong v2 hash for some hybrid torrents (aria2 1.36).
TORRENT_NOT_REGISTERED = (
    "Torrent not registered: download its .torrent from the site again; "
    "if this is a hybrid (v1+v2) torrent and it still fails, your client may hash it wrongly (aria2 does): try another client"
)


def user_check(user: AnnounceUser | None) -> AnnounceUser:
    """The passkey's owner, if they may use the tracker at all."""
    if user is None:
        raise AnnounceRejected("Please LOG IN and RE-DOWNLOAD this torrent (passkey not found)", "passkey")
    if user.is_banned:
        raise AnnounceRejected("Your account is banned", "account")
    if not user.is_active:
        raise AnnounceRejected("Your account is not active", "account")
    return user


def torrent_check(user: AnnounceUser, torrent: AnnounceTorrent | None) -> AnnounceTorrent:
    """The announced torrent, if it is registered, not frozen, approved (unless `user` uploaded it or
    moderates: the catalogue's visibility rule), and `user` may download from its forum.
    """
    if torrent is None:
        raise AnnounceRejected(TORRENT_NOT_REGISTERED, "torrent")
    if torrent.is_frozen:
        raise AnnounceRejected("Torrent frozen and can not be downloaded", "torrent")
    if not torrent.is_approved and user.id != torrent.uploader_id and user.level < AccessLevel.MODERATOR:
        raise AnnounceRejected(NOT_APPROVED, "torrent")
    if not level_may_download(level=user.level, view_level=torrent.view_level, download_level=torrent.download_level):
        raise AnnounceRejected("You are not allowed to download torrents from this forum", "torrent")
    return torrent


def client_check(policy: AnnouncePolicy | None, query: AnnounceQuery, user_agent: str) -> None:
    """The site's client rules (tracker.policy.clients) and blocked ports; the reason names the client and the rule."""
    if policy is None or query.event == "stopped":  # a stop only ends a peer the rules let in
        return
    reason = client_verdict_kept(
        peer_id=query.peer_id, user_agent=user_agent.replace("\x00", ""), rules=policy.client_rules, mode=policy.client_mode
    )
    if reason is not None:
        raise AnnounceRejected(reason, "client")
    if policy.blocked_ports and port_blocked(policy, query.port):
        raise AnnounceRejected(f"Port {query.port} is blocked on this tracker; set another listening port in your client", "port")


def peer_address(*, remote: str, forwarded: str, query: AnnounceQuery) -> tuple[str, bytes | None]:
    """(the address peers will be given, the packed `external ip`).

    The address is the connection's (through a trusted proxy's
    X-Forwarded-For), or the `ip` parameter only if a setting allows it (BEP 7).
    """
    client = client_ip_from(remote, forwarded)
    if is_plain_ipv4(client) and not (settings.TRACKER_ALLOW_IP_PARAM and query.ip_param):
        return client, socket.inet_pton(socket.AF_INET, client)  # the common case, without ipaddress
    addr = address_parse(client)
    if settings.TRACKER_ALLOW_IP_PARAM and query.ip_param:
        claimed = address_parse(query.ip_param)
        if claimed is None:
            raise AnnounceRejected("Invalid ip parameter")
        return str(claimed), addr.packed if addr else None
    if addr is None:
        raise AnnounceRejected("Cannot determine your IP address")
    return str(addr), addr.packed


def announce_fields(
    *, query: AnnounceQuery, user: AnnounceUser, torrent: AnnounceTorrent, ip: str, user_agent: str, policy: AnnouncePolicy | None = None
) -> dict[str, Any]:
    """The swarm statement's parameters for this announce (tracker.swarm.announce.announce_params)."""
    return announce_params(
        user_id=user.id,
        torrent_id=torrent.id,
        freeleech=torrent.freeleech,
        peer_id=query.peer_id,
        ip=ip,
        port=query.port,
        uploaded=query.uploaded,
        downloaded=query.downloaded,
        left=query.left,
        event=query.event,
        is_seeder=query.is_seeder,
        numwant=query.numwant,
        key=query.key,
        user_agent=user_agent,
        with_peer_ids=not query.compact and not query.no_peer_id,
        policy=policy,
        torrent_size=torrent.size,
        uploader=user.id == torrent.uploader_id,
        v2=torrent.by_v2,
    )


def announce_body(query: AnnounceQuery, result: AnnounceResult, external: bytes | None) -> bytes:
    """The bencoded reply to an announce the swarm accepted (or the failure if it did not)."""
    if result.refused:
        refusal = Refusal.parse(result.refused)
        raise AnnounceRejected(refusal.reason(), refusal.kind)
    if not result.accepted:
        raise AnnounceRejected(PEER_ID_TAKEN, "peer_id")
    payload = {
        b"interval": interval_with_jitter(),
        b"min interval": settings.TRACKER_MIN_INTERVAL,
        b"complete": result.seeders,
        b"incomplete": result.leechers,
        b"downloaded": result.completed,
        **peers_encode(result.peers4, result.peers6, compact=query.compact, no_peer_id=query.no_peer_id),
    }
    if external:
        payload[b"external ip"] = external
    if query.ip_param and not settings.TRACKER_ALLOW_IP_PARAM:
        payload[b"warning message"] = b"The ip parameter is ignored; peers get the address you connect from"
    return bencode(payload)


def scrape_body(files: dict[bytes, tuple[int, int, int]]) -> bytes:
    """The bencoded BEP 48 reply for the figures of `tracker.swarm.selectors.torrent_scrape`."""
    return bencode(
        {
            b"files": {
                info_hash: {b"complete": complete, b"downloaded": downloaded, b"incomplete": incomplete}
                for info_hash, (complete, downloaded, incomplete) in files.items()
            },
            b"flags": {b"min_request_interval": settings.TRACKER_MIN_INTERVAL},
        }
    )
