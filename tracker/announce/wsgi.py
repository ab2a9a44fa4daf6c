"""A WSGI front for the tracker: announce and scrape skip Django's middleware stack.

BitTorrent clients announce every few minutes, by the thousand; sessions,
CSRF, auth, messages and the API's rate-limit headers mean nothing to them,
and running that stack is CPU spent for nothing on every announce. Everything
else goes to Django unchanged. Connection housekeeping still happens: the
request_started / request_finished signals fire as Django's handler fires them.
"""

from collections.abc import Callable, Iterable
from typing import Any

from django.core import signals
from django.core.handlers.wsgi import WSGIRequest
from django.http import HttpResponse

from tracker.announce import views
from tracker.announce.protocol import tracker_route

_VIEWS = {"announce": views.announce, "scrape": views.scrape}


class TrackerFastPath:
    """Serve tracker URLs directly with their views; hand every other request to `application`."""

    def __init__(self, application: Callable[..., Iterable[bytes]]) -> None:
        self.application = application

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        route = tracker_route(environ.get("PATH_INFO", ""))
        if route is None:
            return self.application(environ, start_response)
        view = _VIEWS[route[0]]
        signals.request_started.send(sender=self.__class__, environ=environ)
        try:
            response: HttpResponse = view(WSGIRequest(environ), route[1])
        finally:
            signals.request_finished.send(sender=self.__class__)
        start_response(f"{response.status_code} {response.reason_phrase}", [*response.items()])
        return [response.content]
