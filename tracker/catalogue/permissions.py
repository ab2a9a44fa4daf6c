"""Who may call which catalogue endpoint, at the level of the request.

Object-level rules (uploader, author, forum access levels) are decided by
the selectors (what is visible: otherwise 404) and services (what may be
changed: otherwise 403).
"""

from typing import Any

from django.conf import settings
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request


def _logged_in(request: Request) -> bool:
    return bool(request.user and request.user.is_authenticated)


def _may_read(request: Request) -> bool:
    """Reads are open to guests unless SITE_MEMBERS_ONLY (then a guest gets 401)."""
    return not settings.SITE_MEMBERS_ONLY or _logged_in(request)


def _is_admin(request: Request) -> bool:
    return bool(request.user and request.user.is_authenticated and getattr(request.user, "is_admin", False))


class ReadOnlyOrAdmin(BasePermission):
    """Anyone may read (members only, with SITE_MEMBERS_ONLY); only admins may write."""

    message = "Only admins may change this."

    def has_permission(self, request: Request, view: Any) -> bool:
        return _may_read(request) if request.method in SAFE_METHODS else _is_admin(request)


class ReadOnlyOrAuthenticated(BasePermission):
    """Anyone may read (members only, with SITE_MEMBERS_ONLY); writing needs a login."""

    def has_permission(self, request: Request, view: Any) -> bool:
        return _may_read(request) if request.method in SAFE_METHODS else _logged_in(request)
