"""Rate-limit headers on every /api/ response, errors included."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase

from api.ratelimit import apply_headers, count_request


class RateLimitHeadersMiddleware:
    """Add X-RateLimit-* to /api/ responses.

    Requests that DRF counted carry their usage; the few that never reached
    the throttle (an unknown URL, a failed token) are counted here so they
    report, and use up, the caller's budget too.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if request.path.startswith("/api/"):
            apply_headers(response, count_request(request))
        return response
