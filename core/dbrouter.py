"""Reads that may go to a PostgreSQL streaming replica, and the rule that keeps the rest on the primary.

Installed only when DATABASE_REPLICA_URLS names replicas (settings.py adds
`ReplicaRouter` to DATABASE_ROUTERS and `ReplicaReadsMiddleware` to
MIDDLEWARE); without them nothing here runs.

A read goes to a replica only when all of these hold:
- it happens inside a request the middleware let through: a GET or HEAD of a
  route in REPLICA_READ_ROUTES (the catalogue's lists, search, detail, feeds,
  Torznab). Jobs, management commands, the tracker's fronts and every other
  route read the primary;
- nothing was written in this request so far (`db_for_write` marks it);
- the caller wrote nothing in the last REPLICA_STICKY_SECONDS: after a write
  the reply sets a short-lived cookie, and a member's cache key, so that the
  next pages and API calls (on any node) read the primary and see their own
  writes, an uploader their torrent at once;
- a replica is up and no more than REPLICA_MAX_LAG_SECONDS behind
  (`replica_pick`, checked at most once every REPLICA_CHECK_SECONDS per
  process). A replica down or lagging is logged (a warning, throttled) and
  the primary answers instead.

A replica that fails after its check, in the middle of a request, fails that
request (500, as a primary outage would); the next check, seconds later,
sees it down and routes around it.
"""

import contextvars
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, connections
from django.http import HttpRequest, HttpResponse
from django.utils.functional import empty

from core.logthrottle import log_failure

logger = logging.getLogger("core.dbrouter")  # the name operators filter on (README)

STICKY_COOKIE = "tp_primary"

_clock = time.monotonic  # replaced in tests

# How far behind a replica is, in seconds: nothing, if it has replayed all it received
# (an idle primary sends nothing, and pg_last_xact_replay_timestamp() then grows old
# without the replica being behind); else since its last replayed commit.
LAG_SQL = """
SELECT CASE
    WHEN NOT pg_is_in_recovery() THEN 0
    WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() AND NOT pg_is_wal_replay_paused() THEN 0
    ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 1e9)
END
"""


@dataclass
class _Request:
    """What the router knows of the request this thread (or task) serves."""

    replica_allowed: bool = False
    wrote: bool = False
    request: HttpRequest | None = None
    member_checked: bool = False
    replica: str | None = None  # the one replica this request reads, once picked: its reads agree with each other


_current: contextvars.ContextVar[_Request | None] = contextvars.ContextVar("dbrouter_request", default=None)


def replica_aliases() -> list[str]:
    """The configured replicas' database aliases (replica1, replica2, ...)."""
    return list(settings.DATABASE_REPLICAS)


# --- the replicas' health, per process -----------------------------------------

_health_lock = threading.Lock()
# alias -> (when it was checked, is it usable)
_health: dict[str, tuple[float, bool]] = {}


def _check(alias: str) -> bool:
    """Is `alias` up and within REPLICA_MAX_LAG_SECONDS? Logs a warning when not."""
    try:
        with connections[alias].cursor() as cursor:
            cursor.execute(LAG_SQL)
            row = cursor.fetchone()
    except Exception as exc:  # any failure to reach it: down, refused, timed out
        connections[alias].close()
        log_failure(logger, logging.WARNING, "read replica %s unreachable; reading the primary", alias, exc=exc)
        return False
    lag = float(row[0]) if row and row[0] is not None else 0.0
    if lag > settings.REPLICA_MAX_LAG_SECONDS:
        logger.warning("read replica %s is %.1f s behind (limit %s s); reading the primary", alias, lag, settings.REPLICA_MAX_LAG_SECONDS)
        return False
    return True


def replica_healthy(alias: str) -> bool:
    """Is `alias` usable now? Asks the replica at most once every REPLICA_CHECK_SECONDS in this process."""
    now = _clock()
    with _health_lock:
        checked = _health.get(alias)
        if checked is not None and now - checked[0] < settings.REPLICA_CHECK_SECONDS:
            return checked[1]
        # Claim this check, so that the process's other threads keep the last answer meanwhile.
        _health[alias] = (now, checked[1] if checked else False)
    healthy = _check(alias)
    with _health_lock:
        _health[alias] = (_clock(), healthy)
    return healthy


def health_reset() -> None:
    """Forget every check (tests)."""
    with _health_lock:
        _health.clear()


def replica_pick() -> str | None:
    """A usable replica's alias (the first that is), or None for the primary."""
    for alias in replica_aliases():
        if replica_healthy(alias):
            return alias
    return None


# --- sticky primary after a write ------------------------------------------------


def _member_key(member_id: object) -> str:
    return f"dbrouter:wrote:{member_id}"


def _known_member_id(request: HttpRequest) -> object | None:
    """The signed-in member's id if this request has looked them up already (never looks them up itself)."""
    user = request.__dict__.get("user")
    if user is None:
        return None
    wrapped = getattr(user, "_wrapped", user)  # AuthenticationMiddleware's SimpleLazyObject, or DRF's plain user
    if wrapped is None or wrapped is empty:  # not looked up yet
        return None
    if not getattr(wrapped, "is_authenticated", False):
        return None
    return getattr(wrapped, "pk", None)


def _member_wrote_lately(state: _Request) -> bool:
    """Did the member (once known) write in the last REPLICA_STICKY_SECONDS, on any node? Asked once per request."""
    if state.member_checked or state.request is None:
        return False
    member_id = _known_member_id(state.request)
    if member_id is None:
        return False
    state.member_checked = True
    try:
        return bool(cache.get(_member_key(member_id)))
    except Exception as exc:  # no shared cache: the cookie alone keeps the caller on the primary
        log_failure(logger, logging.WARNING, "cache get failed for the sticky-primary key", exc=exc)
        return False


class ReplicaRouter:
    """Sends a request's allowed reads to a healthy replica; every write, and all else, to the primary."""

    def db_for_read(self, model: type, **hints: Any) -> str | None:
        """A replica's alias for a read this request allows, else the primary."""
        state = _current.get()
        if state is None or not state.replica_allowed or state.wrote:
            return DEFAULT_DB_ALIAS
        if _member_wrote_lately(state):
            state.replica_allowed = False
            return DEFAULT_DB_ALIAS
        if state.replica is None:
            state.replica = replica_pick()
            if state.replica is None:
                state.replica_allowed = False
                return DEFAULT_DB_ALIAS
        return state.replica

    def db_for_write(self, model: type, **hints: Any) -> str:
        """Always the primary; the request reads the primary from now on."""
        state = _current.get()
        if state is not None:
            state.wrote = True
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool:
        """Rows read from a replica and from the primary are the same rows."""
        return True

    def allow_migrate(self, db: str, app_label: str, model_name: str | None = None, **hints: Any) -> bool:
        """Only the primary is migrated; the replicas follow it."""
        return db == DEFAULT_DB_ALIAS


class ReplicaReadsMiddleware:
    """Lets GET/HEAD requests of REPLICA_READ_ROUTES read a replica; marks the caller after a write."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        state = _Request(request=request)
        token = _current.set(state)
        try:
            response = self.get_response(request)
        finally:
            _current.reset(token)
        if state.wrote:
            self._mark_wrote(request, response)
        return response

    def process_view(self, request: HttpRequest, view: Any, args: Any, kwargs: Any) -> None:
        """Decide, once the route is known, whether this request may read a replica."""
        state = _current.get()
        if state is None or request.method not in ("GET", "HEAD") or request.COOKIES.get(STICKY_COOKIE):
            return
        match = request.resolver_match
        if match is not None and match.view_name in settings.REPLICA_READ_ROUTES:
            state.replica_allowed = True

    def _mark_wrote(self, request: HttpRequest, response: HttpResponse) -> None:
        seconds = settings.REPLICA_STICKY_SECONDS
        response.set_cookie(STICKY_COOKIE, "1", max_age=seconds, httponly=True, samesite="Lax", secure=request.is_secure())
        member_id = _known_member_id(request)
        if member_id is None:
            return
        try:
            cache.set(_member_key(member_id), 1, seconds)
        except Exception as exc:
            log_failure(logger, logging.WARNING, "cache set failed for the sticky-primary key", exc=exc)
