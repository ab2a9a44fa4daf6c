"""Who may call which catalogue endpoint, at the level of the request.

Object-level rules (uploader, author, forum access levels) are decided by
the selectors (what is visible: otherwise 404) and services (what may be
changed: otherwise 403).
"""

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request


def _is_admin(request: Request) -> bool:
    return bool(request.user and request.user.is_authenticated and getattr(request.user, "is_admin", False))


class ReadOnlyOrAdmin(BasePermission):
    """Anyone may read; only admins may write."""

    message = "Only admins may change this."

    def has_permission(self, request: Request, view: Any) -> bool:
        return request.method in SAFE_METHODS or _is_admin(request)


class ReadOnlyOrAuthenticated(BasePermission):
    """Anyone may read; writing needs a login."""

    def has_permission(self, request: Request, view: Any) -> bool:
        return request.method in SAFE_METHODS or bool(request.user and request.user.is_authenticated)
