"""Django middleware for the tracker's URLs when Django's own handler serves them.

The deployed fast paths (tracker/announce/wsgi.py, and tracker/announce/asgi.py on PostgreSQL)
answer announce and scrape without Django's middleware and never read the Host header. Django's
handler serves them everywhere else: the ASGI front on any other database (SQLite in development),
a plain WSGIHandler (the end-to-end tests' servers). There CommonMiddleware validates Host, and
refuses the Host libtorrent 2.0 sends to an IPv6 literal (no brackets): this reads it as the
bracketed literal first (protocol.bracketed_host), which Django then checks against ALLOWED_HOSTS.
"""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase

from tracker.announce.protocol import bracketed_host, tracker_route


class TrackerHostMiddleware:
    """On a tracker URL, an unbracketed IPv6 literal with a port in Host is read as "[addr]:port"."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        # Every request of the site passes here: only a Host with two colons or more and no
        # bracket (no name, no IPv4 address, no bracketed literal) costs the route's match.
        host = request.META.get("HTTP_HOST", "")
        if host.count(":") > 1 and host[0] != "[" and tracker_route(request.path_info) is not None:
            request.META["HTTP_HOST"] = bracketed_host(host)
        return self.get_response(request)
