"""Logs: one JSON line per event in production, each request's id and member on every line, no secrets.

- `RequestLogMiddleware` (first in MIDDLEWARE) gives each request an id
  (the proxy's `X-Request-ID` when the request came through a trusted
  proxy, else a fresh one), returns it in `X-Request-ID`, and writes one
  `request` line per request: method, route (the URL pattern, never the
  path's values), status, duration, user id. Tracker requests (announce,
  scrape) are not logged per request: they are the hot path, and their
  failures are logged where they happen.
- `ContextFilter` puts the request id and user id on every record logged
  while the request runs (from a context variable, so also in threads and
  tasks started from it with the context copied).
- Both formatters (`JsonFormatter`, `PlainFormatter`) mask what looks like
  a secret in the finished line (JWTs, API keys, invite codes, passkeys
  after `uk=` or in `/announce/<passkey>`, `key=`, `token=`...): a last line
  of defence, since the code logs no secret in the first place, as a test
  proves by grepping every line of a run of the flows that handle them.
"""

import contextvars
import logging
import re
import time
import uuid
from collections.abc import Callable
from ipaddress import ip_address

import pythonjsonlogger.json
from django.conf import settings
from django.http import HttpRequest, HttpResponseBase

from core.metrics import HTTP_REQUESTS, HTTP_SECONDS

logger = logging.getLogger("request")

_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
_user_id: contextvars.ContextVar[int | None] = contextvars.ContextVar("user_id", default=None)

# What a proxy may hand us as a request id: short and plain (it goes into logs and a header).
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}\Z")
# Tracker paths carry passkeys and are the hot path: no per-request line.
_TRACKER = re.compile(r"^/(?:announce|scrape)(?:/|\Z)|^/bt/")


def _trusted(remote: str) -> bool:
    try:
        addr = ip_address(remote)
    except ValueError:
        return False
    return any(addr in net for net in settings.TRUSTED_PROXIES)


def request_id_for(request: HttpRequest) -> str:
    """The id of this request: the trusted proxy's X-Request-ID if it sent a plain one, else a new one."""
    sent = request.META.get("HTTP_X_REQUEST_ID", "")
    if sent and _REQUEST_ID.match(sent) and _trusted(request.META.get("REMOTE_ADDR", "")):
        return sent
    return uuid.uuid4().hex


_REGEX_GROUP = re.compile(r"\(\?P<(\w+)>[^)]*\)")
_REGEX_ANCHORS = re.compile(r"\^|\$|\\Z")


def _route_text(pattern: str) -> str:
    """A URL pattern as a log shows it: `/api/torrents/<pk>`, whether it was written with path() or re_path()."""
    text = _REGEX_ANCHORS.sub("", _REGEX_GROUP.sub(r"<\1>", pattern)).replace("/?/", "/")
    return "/" + text.removesuffix("/?").removeprefix("/")


def current_request_id() -> str:
    """The id of the request being served ("-" outside one)."""
    return _request_id.get()


class RequestLogMiddleware:
    """Request ids in and out, and one log line per request (see the module docstring)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        rid = request_id_for(request)
        token_rid, token_user = _request_id.set(rid), _user_id.set(None)
        started = time.monotonic()
        try:
            response = self.get_response(request)
            response["X-Request-ID"] = rid
            if not _TRACKER.match(request.path_info) and not request.path_info.startswith(settings.STATIC_URL):
                self._log(request, response.status_code, started)
            return response
        finally:
            _request_id.reset(token_rid)
            _user_id.reset(token_user)

    @staticmethod
    def _log(request: HttpRequest, status: int, started: float) -> None:
        user = getattr(request, "user", None)  # DRF sets it on the Django request when it authenticates
        user_id = user.pk if user is not None and getattr(user, "is_authenticated", False) else None
        _user_id.set(user_id)
        match = getattr(request, "resolver_match", None)
        route = _route_text(match.route) if match is not None else "(unrouted)"
        duration = round((time.monotonic() - started) * 1000, 1)
        HTTP_REQUESTS.labels(request.method, route, str(status)).inc()
        HTTP_SECONDS.labels(route).observe(duration / 1000)
        level = logging.ERROR if status >= 500 else logging.INFO
        logger.log(
            level, "%s %s %s %.1f ms", request.method, route, status, duration,
            extra={"method": request.method, "route": route, "status": status, "duration_ms": duration, "user_id": user_id},
        )  # fmt: skip


class ContextFilter(logging.Filter):
    """Put the current request's id (and, once known, user id) on every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = _request_id.get()
        if not hasattr(record, "user_id"):
            record.user_id = _user_id.get()
        return True


_SECRETS = [
    (re.compile(r"eyJ[\w-]{8,}\.[\w-]{8,}\.[\w-]{8,}"), "<jwt>"),  # a JWT (access or refresh token)
    (re.compile(r"\b(tp[ki]_)[\w-]{4,}"), r"\1…"),  # an API key, an invite code
    (re.compile(r"((?:uk|passkey|key|apikey|token|code|challenge)=)[^&\s'\"]+", re.IGNORECASE), r"\1…"),
    (re.compile(r"(/(?:announce|scrape)/)([0-9A-Fa-f]{4})[0-9A-Fa-f]{28}\b"), r"\1\2…"),  # a passkey in a path
]


def redact(text: str) -> str:
    """`text` with what looks like a secret masked."""
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


class PlainFormatter(logging.Formatter):
    """Text lines (under DEBUG, or LOG_FORMAT=plain), secrets masked in the whole line, traceback included."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class JsonFormatter(pythonjsonlogger.json.JsonFormatter):
    """One JSON object per line (python-json-logger), secrets masked in the whole line, traceback included."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))
