"""Contract-level views: health check and the /api/ catch-alls."""

import logging
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.errors import ErrorCode
from api.exceptions import json_error
from api.middleware import is_api_path
from core.errors import NotFound

logger = logging.getLogger("api")


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return True
    except Exception:
        logger.warning("health check: database unreachable", exc_info=True)
        return False


def _cache_ok() -> bool:
    try:
        cache.set("health:ping", "pong", 10)
        return cache.get("health:ping") == "pong"
    except Exception:
        logger.warning("health check: cache unreachable", exc_info=True)
        return False


class HelloView(APIView):
    """GET /api/hello: liveness plus whether the database and cache answer.

    No login needed, but a logged-in caller is counted against their own
    rate limit rather than their IP's. Open even when SITE_MEMBERS_ONLY:
    it is what load balancers and monitoring ask.
    """

    permission_classes = [AllowAny]

    @extend_schema(
        responses=inline_serializer(
            "Hello",
            {
                "message": serializers.CharField(),
                "version": serializers.CharField(),
                "timestamp": serializers.DateTimeField(),
                "database": serializers.BooleanField(),
                "cache": serializers.BooleanField(),
            },
        ),
        auth=[],
    )
    def get(self, request: Request) -> Response:
        return Response(
            {
                "message": "Hello from the TorrentPier API",
                "version": settings.VERSION,
                "api_version": "v1",
                "timestamp": timezone.now().isoformat(),
                "database": _database_ok(),
                "cache": _cache_ok(),
            }
        )


@extend_schema(exclude=True)
class _CatchAll(APIView):
    """Answers 404 to every method. It authenticates like any view so that a
    logged-in caller's request is counted against their own rate limit."""

    message = "Resource not found."
    permission_classes = [AllowAny]  # a 404 for everyone

    def _raise(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        raise NotFound(self.message)

    get = post = put = patch = delete = head = options = _raise


@extend_schema(exclude=True)
class ApiNotFoundView(_CatchAll):
    """Any unknown path under /api/: 404 in the envelope."""

    message = "No API endpoint at this path."


@extend_schema(exclude=True)
class VersionNotFoundView(_CatchAll):
    """/api/vN/... for a version we do not have."""

    def _raise(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        raise NotFound(f"API version v{kwargs.get('version')} does not exist. The current version is v1.")

    get = post = put = patch = delete = head = options = _raise


def _is_api(request: HttpRequest) -> bool:
    return is_api_path(request.path)


def handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Django 404: the envelope under /api/, Django's page elsewhere."""
    if _is_api(request):
        return json_error(request, ErrorCode.NOT_FOUND)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception or Exception("not found"))


def handler500(request: HttpRequest) -> HttpResponse:
    """Django 500: a generic envelope under /api/ (details only in the log)."""
    if _is_api(request):
        return json_error(request, ErrorCode.SERVER_ERROR)
    from django.views.defaults import server_error

    return server_error(request)


def handler400(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Django 400 (bad host, suspicious request)."""
    if _is_api(request):
        return json_error(request, ErrorCode.BAD_REQUEST)
    from django.views.defaults import bad_request

    return bad_request(request, exception or Exception("bad request"))


def handler403(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Django 403 (CSRF failures outside DRF, for instance)."""
    if _is_api(request):
        return json_error(request, ErrorCode.FORBIDDEN)
    from django.views.defaults import permission_denied

    return permission_denied(request, exception or Exception("forbidden"))
