"""The single path from an exception to the error envelope."""

import logging
import traceback
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, JsonResponse
from django_ratelimit.exceptions import Ratelimited
from rest_framework import exceptions as drf
from rest_framework.response import Response
from rest_framework.views import set_rollback
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError

from api.errors import ApiError, ErrorCode
from core import errors as domain

logger = logging.getLogger("api")
BEARER_CHALLENGE = 'Bearer realm="api"'

# What each error of the business logic (core.errors) is on the API.
DOMAIN_CODES: dict[type[domain.DomainError], ErrorCode] = {
    # Subclasses first: the first class that matches gives the code.
    domain.InsufficientPoints: ErrorCode.INSUFFICIENT_POINTS,
    domain.NoInvitesLeft: ErrorCode.INSUFFICIENT_INVITES,
    domain.DownloadSuspended: ErrorCode.DOWNLOAD_SUSPENDED,
    domain.EmailNotConfirmed: ErrorCode.EMAIL_NOT_CONFIRMED,
    domain.NotFound: ErrorCode.NOT_FOUND,
    domain.Forbidden: ErrorCode.FORBIDDEN,
    domain.Conflict: ErrorCode.CONFLICT,
    domain.Invalid: ErrorCode.VALIDATION_ERROR,
    domain.TooLarge: ErrorCode.PAYLOAD_TOO_LARGE,
    domain.Throttled: ErrorCode.RATE_LIMIT_EXCEEDED,
}


def error_body(code: ErrorCode, message: str | None = None, details: dict[str, Any] | None = None) -> dict[str, Any]:
    """Return the error envelope for `code`."""
    return {
        "success": False,
        "error": {"code": code.value, "message": message or code.default_message, "details": details or {}},
    }


def _as_list_details(detail: Any) -> dict[str, Any]:
    """DRF validation details -> {field: [messages]} with plain strings."""
    if isinstance(detail, dict):
        out: dict[str, Any] = {}
        for key, value in detail.items():
            if isinstance(value, dict):
                out[str(key)] = _as_list_details(value)
            elif isinstance(value, list):
                out[str(key)] = [_flatten(v) for v in value]
            else:
                out[str(key)] = [str(value)]
        return out
    if isinstance(detail, list):
        return {"non_field_errors": [_flatten(v) for v in detail]}
    return {"non_field_errors": [str(detail)]}


def _flatten(value: Any) -> Any:
    if isinstance(value, dict):
        return _as_list_details(value)
    if isinstance(value, list):
        return [_flatten(v) for v in value]
    return str(value)


def _raised_parsing_the_body(exc: BaseException) -> bool:
    """Whether `exc` came out of DRF's body parsers (a JSON body nested deeper than the decoder recurses)."""
    return any(frame.f_code.co_filename.endswith("rest_framework/parsers.py") for frame, _ in traceback.walk_tb(exc.__traceback__))


def _plain(detail: Any) -> str | None:
    """A message from DRF's or simplejwt's `detail`, which may be a dict ({"detail": ..., "code": ...}) or a list."""
    if isinstance(detail, dict):
        detail = detail.get("detail", "")
    if isinstance(detail, list):
        detail = detail[0] if detail else ""
    return str(detail) if isinstance(detail, str) and detail else None


def _classify(exc: Exception) -> tuple[ErrorCode, str | None, dict[str, Any], dict[str, str]]:
    """Decide the code, message, details and extra headers for `exc`."""
    if isinstance(exc, ApiError):
        return exc.code, exc.message, exc.details, exc.headers
    if isinstance(exc, domain.DomainError):
        code = next((c for cls, c in DOMAIN_CODES.items() if isinstance(exc, cls)), ErrorCode.BAD_REQUEST)
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, domain.Throttled) else {}
        return code, exc.message, exc.details, headers
    if isinstance(exc, (InvalidToken, TokenError)):
        return ErrorCode.TOKEN_INVALID, None, {}, {"WWW-Authenticate": BEARER_CHALLENGE}
    if isinstance(exc, Ratelimited):
        return ErrorCode.RATE_LIMIT_EXCEEDED, None, {}, {}
    if isinstance(exc, drf.ValidationError):
        return ErrorCode.VALIDATION_ERROR, None, _as_list_details(exc.detail), {}
    if isinstance(exc, DjangoValidationError):
        details = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        return ErrorCode.VALIDATION_ERROR, None, details, {}
    if isinstance(exc, drf.ParseError):
        return ErrorCode.BAD_REQUEST, f"Malformed request body: {exc.detail}", {}, {}
    if isinstance(exc, RecursionError) and _raised_parsing_the_body(exc):
        return ErrorCode.BAD_REQUEST, "Malformed request body: nested too deeply.", {}, {}
    if isinstance(exc, (drf.NotAuthenticated, drf.AuthenticationFailed)):
        return ErrorCode.UNAUTHORIZED, _plain(exc.detail), {}, {"WWW-Authenticate": BEARER_CHALLENGE}
    if isinstance(exc, (drf.PermissionDenied, DjangoPermissionDenied)):
        message = str(exc.detail) if isinstance(exc, drf.PermissionDenied) else None
        return ErrorCode.FORBIDDEN, message, {}, {}
    if isinstance(exc, (drf.NotFound, Http404)):
        return ErrorCode.NOT_FOUND, None, {}, {}
    if isinstance(exc, drf.MethodNotAllowed):
        return ErrorCode.METHOD_NOT_ALLOWED, str(exc.detail), {}, {}
    if isinstance(exc, drf.UnsupportedMediaType):
        return ErrorCode.UNSUPPORTED_MEDIA_TYPE, str(exc.detail), {}, {}
    if isinstance(exc, drf.NotAcceptable):
        return ErrorCode.BAD_REQUEST, str(exc.detail), {}, {}
    if isinstance(exc, drf.Throttled):
        headers = {"Retry-After": str(int(getattr(exc, "wait", None) or 60))}
        return ErrorCode.RATE_LIMIT_EXCEEDED, None, {}, headers
    if isinstance(exc, RequestDataTooBig):
        return ErrorCode.PAYLOAD_TOO_LARGE, None, {}, {}
    if isinstance(exc, SuspiciousOperation):
        return ErrorCode.BAD_REQUEST, None, {}, {}
    if isinstance(exc, drf.APIException) and exc.status_code < 500:
        return ErrorCode.BAD_REQUEST, str(exc.detail), {}, {}
    return ErrorCode.SERVER_ERROR, None, {}, {}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """DRF's EXCEPTION_HANDLER: every exception in a view becomes an error envelope."""
    code, message, details, headers = _classify(exc)
    if code is ErrorCode.SERVER_ERROR:
        logger.exception("Unhandled error in API view", exc_info=exc)
    set_rollback()
    if code.status == 401 and "WWW-Authenticate" not in headers:
        headers = {**headers, "WWW-Authenticate": BEARER_CHALLENGE}  # every 401 names its scheme (RFC 9110)
    response = Response(error_body(code, message, details), status=code.status, headers=headers)
    if code is ErrorCode.RATE_LIMIT_EXCEEDED and "Retry-After" not in response:
        request = context.get("request")
        usage = getattr(getattr(request, "_request", None), "_ratelimit_usage", None)
        response["Retry-After"] = str(max(1, int(usage["time_left"]))) if usage else "60"
    return response


def json_error(request: HttpRequest, code: ErrorCode, message: str | None = None) -> JsonResponse:
    """An error envelope for paths that never reach DRF (Django's handlers)."""
    return JsonResponse(error_body(code, message), status=code.status, json_dumps_params={"separators": (",", ":")})
