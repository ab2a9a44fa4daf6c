"""Form posts on the pages count against the same per-minute budget as the API."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase
from django.template.response import TemplateResponse

from core.ratelimit import count_request

# These paths have limits of their own: the API's throttle, the tracker's
# clients, and the operators' admin site (bulk edits are its point).
_EXEMPT = ("/api/", "/admin/", "/announce", "/scrape", "/bt/", "/static/")


class PageWriteLimitMiddleware:
    """Answer 429 to a POST past the caller's budget (60 a minute per member, 20 per IP for guests).

    The count is the API's (core.ratelimit), so a member has one budget
    whether they post through the pages or the API; reading pages is not
    counted. Login attempts have their own lock-out besides.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if request.method == "POST" and not request.path.startswith(_EXEMPT):
            usage = count_request(request)
            if usage["should_limit"]:
                retry_after = max(1, int(usage["time_left"]))
                response = TemplateResponse(request, "429.html", {"retry_after": retry_after}, status=429)
                response["Retry-After"] = str(retry_after)
                return response.render()
        return self.get_response(request)
