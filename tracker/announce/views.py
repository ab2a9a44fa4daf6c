"""GET /announce/<passkey>, /scrape/<passkey> and TorrentPier's /bt/announce.php, /bt/scrape.php?uk=.

Plain Django views: no DRF, no session, no envelope. Whatever goes wrong,
the client gets HTTP 200 with a bencoded `failure reason`, never a 500 page.
"""

import logging
from collections.abc import Callable

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from api.net import client_ip
from tracker.access import level_may_download
from tracker.announce.protocol import (
    AnnounceQuery,
    AnnounceRejected,
    address_parse,
    announce_query_parse,
    bencoded,
    failure,
    interval_with_jitter,
    passkey_check,
    peers_encode,
    query_parse,
    scrape_hashes_parse,
)
from tracker.swarm import peer_announce, torrent_scrape
from tracker.swarm_selectors import AnnounceTorrent, AnnounceUser, announce_lookup

logger = logging.getLogger("tracker.announce")

TrackerView = Callable[[HttpRequest, str | None], HttpResponse]


def _never_fails(view: TrackerView) -> TrackerView:
    """Turn any unexpected error into a bencoded failure (logged), as BitTorrent clients expect."""

    def wrapped(request: HttpRequest, passkey: str | None = None) -> HttpResponse:
        try:
            if request.method not in ("GET", "HEAD"):
                raise AnnounceRejected("Use GET")
            return view(request, passkey)
        except AnnounceRejected as exc:
            return failure(str(exc))
        except Exception:
            logger.exception("tracker request failed: %s", request.path)
            return failure("Tracker error, please try again later")

    wrapped.__doc__ = view.__doc__
    wrapped.__name__ = view.__name__
    return csrf_exempt(wrapped)


def _user_check(user: AnnounceUser | None) -> AnnounceUser:
    if user is None:
        raise AnnounceRejected("Please LOG IN and RE-DOWNLOAD this torrent (passkey not found)")
    if user.is_banned:
        raise AnnounceRejected("Your account is banned")
    if not user.is_active:
        raise AnnounceRejected("Your account is not active")
    return user


def _torrent_check(user: AnnounceUser, torrent: AnnounceTorrent | None) -> AnnounceTorrent:
    if torrent is None:
        raise AnnounceRejected("Torrent not registered")
    if torrent.is_frozen:
        raise AnnounceRejected("Torrent frozen and can not be downloaded")
    if not level_may_download(level=user.level, view_level=torrent.view_level, download_level=torrent.download_level):
        raise AnnounceRejected("You are not allowed to download torrents from this forum")
    return torrent


def _peer_address(request: HttpRequest, query: AnnounceQuery) -> tuple[str, bytes | None]:
    """The address peers will be given: the connection's, or the `ip` parameter only if allowed (BEP 7)."""
    addr = address_parse(client_ip(request))
    if settings.TRACKER_ALLOW_IP_PARAM and query.ip_param:
        claimed = address_parse(query.ip_param)
        if claimed is None:
            raise AnnounceRejected("Invalid ip parameter")
        return str(claimed), addr.packed if addr else None
    if addr is None:
        raise AnnounceRejected("Cannot determine your IP address")
    return str(addr), addr.packed


def _passkey_of(raw_query: str, passkey: str | None) -> str:
    """The passkey from the path, or from TorrentPier's `uk` parameter (/bt/*.php?uk=...), checked."""
    if passkey is None:
        uk = query_parse(raw_query).get("uk")
        passkey = uk[0].decode("latin-1") if uk else None
    return passkey_check(passkey)


@_never_fails
def announce(request: HttpRequest, passkey: str | None = None) -> HttpResponse:
    """Record the client's state in the swarm, credit its traffic, and hand it peers."""
    raw_query = request.META.get("QUERY_STRING", "")
    passkey = _passkey_of(raw_query, passkey)
    query = announce_query_parse(raw_query)
    # Skip CONN_HEALTH_CHECKS' extra `SELECT 1` round trip here: if the
    # connection died, this one announce fails (the client retries) and
    # Django drops the broken connection when the request ends.
    connection.health_check_done = True  # type: ignore[attr-defined]
    user, torrent = announce_lookup(passkey=passkey, info_hash_hex=query.info_hash.hex())
    user = _user_check(user)
    torrent = _torrent_check(user, torrent)
    ip, external = _peer_address(request, query)
    result = peer_announce(
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
        user_agent=request.META.get("HTTP_USER_AGENT", ""),
    )
    if not result.accepted:
        raise AnnounceRejected("This peer_id is in use by another user; restart your client")
    payload = {
        b"interval": interval_with_jitter(),
        b"min interval": settings.TRACKER_MIN_INTERVAL,
        b"complete": result.seeders,
        b"incomplete": result.leechers,
        b"downloaded": result.completed,
        **peers_encode(result.peers, compact=query.compact, no_peer_id=query.no_peer_id),
    }
    if external:
        payload[b"external ip"] = external
    if query.ip_param and not settings.TRACKER_ALLOW_IP_PARAM:
        payload[b"warning message"] = b"The ip parameter is ignored; peers get the address you connect from"
    return bencoded(payload)


@_never_fails
def scrape(request: HttpRequest, passkey: str | None = None) -> HttpResponse:
    """BEP 48: complete / downloaded / incomplete for each requested info_hash."""
    raw_query = request.META.get("QUERY_STRING", "")
    passkey = _passkey_of(raw_query, passkey)
    hashes = scrape_hashes_parse(raw_query)
    user, _ = announce_lookup(passkey=passkey, info_hash_hex=None)
    _user_check(user)
    files = torrent_scrape(info_hashes=hashes)
    return bencoded(
        {
            b"files": {
                info_hash: {b"complete": complete, b"downloaded": downloaded, b"incomplete": incomplete}
                for info_hash, (complete, downloaded, incomplete) in files.items()
            },
            b"flags": {b"min_request_interval": settings.TRACKER_MIN_INTERVAL},
        }
    )
