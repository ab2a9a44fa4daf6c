"""The outermost guard of /api/: envelopes on every error, rate-limit headers on every response."""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase

from api.errors import ErrorCode
from api.exceptions import json_error
from core.ratelimit import apply_headers, count_request


def is_api_path(path: str) -> bool:
    """Whether `path` is under the API (and so answers in the envelope)."""
    return path == "/api" or path.startswith("/api/")


# The first code listed for a status is the generic one (401 -> UNAUTHORIZED).
_CODE_FOR_STATUS: dict[int, ErrorCode] = {}
for _code in ErrorCode:
    _CODE_FOR_STATUS.setdefault(_code.status, _code)


def code_for_status(status: int) -> ErrorCode:
    """The ErrorCode a bare Django error response with `status` stands for."""
    if status in _CODE_FOR_STATUS:
        return _CODE_FOR_STATUS[status]
    return ErrorCode.SERVER_ERROR if status >= 500 else ErrorCode.BAD_REQUEST


def envelope_exempt(response: HttpResponseBase) -> HttpResponseBase:
    """Mark `response` as keeping its own error body under /api/: a protocol whose clients read their own format (Torznab's XML).

    Its rate-limit headers are still added, and the view must count the request itself (core.ratelimit.count_request).
    """
    response.api_envelope_exempt = True  # type: ignore[attr-defined]
    return response


def _is_json(response: HttpResponseBase) -> bool:
    return response.get("Content-Type", "").split(";")[0].strip() == "application/json"


def _declared_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


class ApiMiddleware:
    """Make every /api/ response keep the contract, whoever produced it.

    It sits first in MIDDLEWARE so that it also sees what Django's own layers
    answer before any view runs (a disallowed Host, a CSRF failure, DEBUG's
    HTML error pages): any error that is not already a JSON envelope is
    replaced by one with the matching code (unless the view marked it
    `envelope_exempt`: Torznab answers in XML). A body declared larger than
    DATA_UPLOAD_MAX_MEMORY_SIZE is refused with 413 before it is read.
    Every response gets X-RateLimit-*; requests that never reached the DRF
    throttle are counted here, so they use up the caller's budget too, and
    past the limit they are answered with 429 like any other.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if not is_api_path(request.path):
            return self.get_response(request)
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and _declared_length(request) > limit:
            response: HttpResponseBase = json_error(request, ErrorCode.PAYLOAD_TOO_LARGE)
        else:
            response = self.get_response(request)
        exempt = getattr(response, "api_envelope_exempt", False)
        if response.status_code >= 400 and not _is_json(response) and not exempt:
            code = code_for_status(response.status_code)
            replacement = json_error(request, code)
            for header in ("Allow", "Retry-After", "WWW-Authenticate"):
                if header in response:
                    replacement[header] = response[header]
            response = replacement
        counted_by_throttle = hasattr(request, "_ratelimit_usage")
        usage = count_request(request)
        if usage["should_limit"] and not counted_by_throttle and not exempt:
            # Past the limit every answer is 429, also for requests that DRF
            # refused before its throttle ran (a failed login check, say).
            response = json_error(request, ErrorCode.RATE_LIMIT_EXCEEDED)
        apply_headers(response, usage)
        return response
