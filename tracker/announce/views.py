"""GET /announce/<passkey>, /scrape/<passkey> and TorrentPier's /bt/announce.php, /bt/scrape.php?uk=.

Plain Django views: no DRF, no session, no envelope. Whatever goes wrong,
the client gets HTTP 200 with a bencoded `failure reason`, never a 500 page.
"""

import logging
from collections.abc import Callable

from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from tracker.announce.core import (
    announce_body,
    announce_fields,
    passkey_of,
    peer_address,
    scrape_body,
    torrent_check,
    user_check,
)
from tracker.announce.protocol import AnnounceRejected, announce_query_parse, bencoded, failure, scrape_hashes_parse
from tracker.swarm.announce import peer_announce
from tracker.swarm.lookups import announce_lookup
from tracker.swarm.selectors import torrent_scrape

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


@_never_fails
def announce(request: HttpRequest, passkey: str | None = None) -> HttpResponse:
    """Record the client's state in the swarm, credit its traffic, and hand it peers."""
    raw_query = request.META.get("QUERY_STRING", "")
    passkey = passkey_of(raw_query, passkey)
    query = announce_query_parse(raw_query)
    # Skip CONN_HEALTH_CHECKS' extra `SELECT 1` round trip here: if the
    # connection died, this one announce fails (the client retries) and
    # Django drops the broken connection when the request ends.
    connection.health_check_done = True  # type: ignore[attr-defined]
    user, torrent = announce_lookup(passkey=passkey, info_hash_hex=query.info_hash.hex())
    user = user_check(user)
    torrent = torrent_check(user, torrent)
    ip, external = peer_address(
        remote=request.META.get("REMOTE_ADDR", ""), forwarded=request.META.get("HTTP_X_FORWARDED_FOR", ""), query=query
    )
    fields = announce_fields(query=query, user=user, torrent=torrent, ip=ip, user_agent=request.META.get("HTTP_USER_AGENT", ""))
    return bencoded(announce_body(query, peer_announce(fields), external))


@_never_fails
def scrape(request: HttpRequest, passkey: str | None = None) -> HttpResponse:
    """BEP 48: complete / downloaded / incomplete for each requested info_hash."""
    raw_query = request.META.get("QUERY_STRING", "")
    passkey = passkey_of(raw_query, passkey)
    hashes = scrape_hashes_parse(raw_query)
    user, _ = announce_lookup(passkey=passkey, info_hash_hex=None)
    user_check(user)
    return bencoded(scrape_body(torrent_scrape(info_hashes=hashes)))
