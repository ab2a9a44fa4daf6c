"""The DRF throttle that enforces the per-minute request limits."""

from typing import Any

from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from api.errors import RateLimitExceeded
from core.ratelimit import count_request


class RateLimitThrottle(BaseThrottle):
    """60/min per authenticated user, 20/min per IP for anonymous callers.

    Runs inside DRF, after authentication, so Bearer-token users are counted
    as themselves and not as their IP.
    """

    def allow_request(self, request: Request, view: Any) -> bool:
        # DRF has set request._request.user by now (authentication ran first).
        usage = count_request(request._request)
        if usage["should_limit"]:
            raise RateLimitExceeded(headers={"Retry-After": str(max(1, int(usage["time_left"])))})
        return True

    def wait(self) -> float | None:
        return None
