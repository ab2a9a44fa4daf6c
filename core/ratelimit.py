"""Per-user / per-IP request counting in the shared cache (django-ratelimit): one budget for the API and the pages.

The count lives in Django's default cache: Redis when REDIS_URL is set, so
every process and machine shares one count, under django-ratelimit's windows
and keys (core.attempts.attempt_count: one round trip on Redis, where
get_usage made three). If the cache cannot be reached, the count fails open
and we log it.
"""

import logging
import time
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase

from core.attempts import attempt_count
from core.metrics import RATE_LIMITED
from core.net import client_ip

logger = logging.getLogger("api.ratelimit")  # the name operators filter on (README)

GROUP = "api"


def _identity(request: HttpRequest) -> tuple[str, int]:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}", settings.API_RATE_LIMIT_AUTHENTICATED
    return f"ip:{client_ip(request)}", settings.API_RATE_LIMIT_ANONYMOUS


def count_request(request: HttpRequest) -> dict[str, Any]:
    """Count one request against the caller's window and return the usage.

    The usage is remembered on the request so that the headers middleware can
    report it; a request is counted at most once.
    """
    existing = getattr(request, "_ratelimit_usage", None)
    if existing is not None:
        return existing
    ident, limit = _identity(request)
    try:
        # django-ratelimit's window and key (what its get_usage counts under), counted in one round trip on Redis.
        _key, count, time_left = attempt_count(GROUP, ident, limit)
        usage = {"count": count, "limit": limit, "should_limit": count > limit, "time_left": time_left}
    except Exception:  # the cache is down: serve anyway, say so in the log
        logger.warning("rate-limit cache unreachable; failing open", exc_info=True)
        usage = {"count": 0, "limit": limit, "should_limit": False, "time_left": 60}
    request._ratelimit_usage = usage  # type: ignore[attr-defined]
    if usage.get("should_limit"):
        RATE_LIMITED.labels("member" if ident.startswith("user:") else "guest").inc()
    return usage


def apply_headers(response: HttpResponseBase, usage: dict[str, Any]) -> None:
    """Set X-RateLimit-Limit/Remaining/Reset from `usage`."""
    limit = int(usage["limit"])
    remaining = max(0, limit - int(usage["count"]))
    response["X-RateLimit-Limit"] = str(limit)
    response["X-RateLimit-Remaining"] = str(remaining)
    response["X-RateLimit-Reset"] = str(int(time.time()) + max(0, int(usage["time_left"])))
    if usage.get("should_limit"):
        response["Retry-After"] = str(max(1, int(usage["time_left"])))
