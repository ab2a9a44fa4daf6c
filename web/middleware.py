"""Form posts on the pages count against the same per-minute budget as the API; staff who must use two-factor login set it up first;
guests of a members-only site log in first."""

from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponseBase
from django.shortcuts import redirect
from django.template.response import TemplateResponse

from accounts.twofactor import two_factor_required
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


# What a staff member who must turn on two-factor login still reaches: its pages, logging out, and
# what has checks of its own (the API's, accounts.authentication.two_factor_gate; the tracker's; files).
_TWO_FACTOR_OPEN = ("/profile/2fa/", "/logout/", "/login/", "/api/", "/announce", "/scrape", "/bt/", "/static/", "/favicon.ico")


class TwoFactorRequiredMiddleware:
    """TWO_FACTOR_REQUIRED_FOR_STAFF: send a staff member without two-factor login to its set-up page from every other page.

    The admin site included (its login form refuses them too, web.forms). They
    may log in and out; everything else waits until two-factor login is on.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if settings.TWO_FACTOR_REQUIRED_FOR_STAFF and not request.path.startswith(_TWO_FACTOR_OPEN) and two_factor_required(request.user):
            messages.warning(request, "Staff accounts must use two-factor login: set it up to go on.")
            return redirect("web:two-factor")
        return self.get_response(request)


# What a guest still reaches when SITE_MEMBERS_ONLY: logging in (and its second step), registering,
# resetting a password, confirming an address; and what has checks of its own (the API's,
# api.permissions; the admin's login; the tracker's passkey; a feed's key; /metrics; files).
_GUEST_OPEN = (
    "/login/", "/logout/", "/register/", "/password/reset/", "/email/confirm/",
    "/api/", "/admin/", "/announce", "/scrape", "/bt/", "/feeds/", "/metrics", "/static/", "/favicon.ico",
)  # fmt: skip


class MembersOnlyMiddleware:
    """SITE_MEMBERS_ONLY: a guest asking for any other page is sent to the login page (and back after it)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if settings.SITE_MEMBERS_ONLY and not request.user.is_authenticated and not request.path.startswith(_GUEST_OPEN):
            return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)
        return self.get_response(request)
