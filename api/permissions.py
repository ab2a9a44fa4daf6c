"""The API's default permission: guests may call what a view leaves open, unless the site is for members only."""

from typing import Any

from django.conf import settings
from rest_framework.permissions import BasePermission
from rest_framework.request import Request


def guest_refused(request: Request) -> bool:
    """SITE_MEMBERS_ONLY and nobody logged in: what guests may otherwise read needs a login too (401)."""
    return bool(settings.SITE_MEMBERS_ONLY) and not (request.user and request.user.is_authenticated)


class OpenUnlessMembersOnly(BasePermission):
    """Anyone, unless SITE_MEMBERS_ONLY; the views a guest must reach then (login, register, password reset) say AllowAny."""

    def has_permission(self, request: Request, view: Any) -> bool:
        return not guest_refused(request)
