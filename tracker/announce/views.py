"""GET /announce/<passkey>, /scrape/<passkey> and TorrentPier's /bt/announce.php, /bt/scrape.php?uk=.

Plain Django views: no DRF, no session, no envelope. They run the flows of
tracker.announce.core with sync calls (any database). Whatever goes wrong,
the client gets HTTP 200 with a bencoded `failure reason`, never a 500 page.
"""

import time
from collections.abc import Callable, Generator
from typing import Any

from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from tracker.announce.core import Lookup, Scrape, TrackerRequest, announce_flow, failure_for, request_done, result_of, scrape_flow
from tracker.announce.protocol import bencoded
from tracker.swarm.announce import peer_announce
from tracker.swarm.lookups import announce_lookup
from tracker.swarm.selectors import torrent_scrape

Flow = Callable[[TrackerRequest], Generator[Any, Any, bytes]]


def _answer(need: Any) -> Any:
    """Do what a flow asks, with Django's ORM and cache."""
    if isinstance(need, Lookup):
        return announce_lookup(passkey=need.passkey, info_hash_hex=need.info_hash_hex)
    if isinstance(need, Scrape):
        return torrent_scrape(info_hashes=need.info_hashes, user=need.user)
    return peer_announce(need)


def run_flow(flow: Flow, request: TrackerRequest, kind: str = "announce") -> bytes:
    """Run `flow` to its reply, answering each of its needs in turn; any error becomes its bencoded failure.

    Counted for /metrics as `kind` (announce or scrape) on the "wsgi" front (Django's views).
    """
    started = time.perf_counter()
    try:
        steps = flow(request)
        need = next(steps)
        while True:
            need = steps.send(_answer(need))
    except StopIteration as done:
        request_done(kind, "wsgi", "ok", started)
        return done.value
    except Exception as exc:
        request_done(kind, "wsgi", result_of(exc), started)
        return failure_for(exc, request.path)


def _view(flow: Flow, kind: str, doc: str) -> Callable[[HttpRequest, str | None], HttpResponse]:
    def view(request: HttpRequest, passkey: str | None = None) -> HttpResponse:
        # Skip CONN_HEALTH_CHECKS' extra `SELECT 1` round trip here: if the
        # connection died, this one request fails (the client retries) and
        # Django drops the broken connection when the request ends.
        connection.health_check_done = True  # type: ignore[attr-defined]
        meta = request.META
        tracker_request = TrackerRequest(
            method=request.method or "GET",
            path=request.path,
            raw_query=meta.get("QUERY_STRING", ""),
            passkey=passkey,
            remote=meta.get("REMOTE_ADDR", ""),
            forwarded=meta.get("HTTP_X_FORWARDED_FOR", ""),
            user_agent=meta.get("HTTP_USER_AGENT", ""),
        )
        return bencoded(run_flow(flow, tracker_request, kind))

    view.__doc__ = doc
    return csrf_exempt(view)


announce = _view(announce_flow, "announce", "Record the client's state in the swarm, credit its traffic, and hand it peers.")
scrape = _view(scrape_flow, "scrape", "BEP 48: complete / downloaded / incomplete for each requested info_hash.")
