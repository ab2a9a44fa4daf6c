"""A test-only URLconf: the real routes plus a few views that exist only to provoke contract behaviour.

Used with `@pytest.mark.urls("tests.api.urls")`. The extra routes come first
so that the /api/ catch-all does not swallow them.
"""

from typing import Any

from django.db import DatabaseError
from django.db.models import Q
from django.urls import include, path, re_path
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from api.pagination import list_query, page_response
from api.routers import OptionalSlashRouter
from core.errors import Conflict
from core.listing import ListSpec, page_of
from torrentpier.urls import handler400, handler403, handler404, handler500  # noqa: F401  (Django reads them from here)
from torrentpier.urls import urlpatterns as real_urlpatterns

LEAKY_MESSAGE = "SELECT secret_column FROM accounts_user WHERE password = 'hunter2' /srv/torrentpier/settings.py SECRET_KEY"


class UsernameSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "username"]


TEST_USERS = ListSpec(search=True, sorts={"username": "username", "joined": "date_joined"}, default_sort="username")


class UserListView(APIView):
    """A list resource as the real ones are: paginated, searchable, sortable."""

    list_specs = {"get": TEST_USERS}

    @extend_schema(responses=UsernameSerializer(many=True))
    def get(self, request: Request) -> Response:
        query = list_query(request, TEST_USERS)
        users = User.objects.order_by(*query.ordering(TEST_USERS))
        if query.search:
            users = users.filter(Q(username__icontains=query.search) | Q(email__icontains=query.search))
        page = page_of(users, page=query.page, per_page=query.per_page)
        return page_response(page, UsernameSerializer(page.items, many=True).data)


class BoomView(APIView):
    """Raises an unexpected exception whose text must never reach the client."""

    def get(self, request: Request) -> Response:
        raise RuntimeError(LEAKY_MESSAGE)

    def post(self, request: Request) -> Response:
        raise DatabaseError(LEAKY_MESSAGE)


class ConflictView(APIView):
    """Stands in for a resource's 409 until one exists."""

    @extend_schema(
        request=None,
        responses={201: UsernameSerializer, 409: OpenApiResponse(description="The torrent is registered already"), 404: None},
    )
    def post(self, request: Request) -> Response:
        raise Conflict("A torrent with this info_hash is already registered.", details={"info_hash": ["Already registered."]})


class UserViewSet(viewsets.ReadOnlyModelViewSet):
    """A router-registered resource: list and detail."""

    queryset = User.objects.all()
    serializer_class = UsernameSerializer
    list_specs = {"list": ListSpec(sorts={"username": "username"})}

    def list(self, request: Request) -> Response:
        query = list_query(request, self.list_specs["list"])
        page = page_of(User.objects.order_by(*query.ordering(self.list_specs["list"])), page=query.page, per_page=query.per_page)
        return page_response(page, UsernameSerializer(page.items, many=True).data)


router = OptionalSlashRouter()
router.register("test-things", UserViewSet, basename="test-thing")


def plain_django_boom(request: Any) -> Any:
    """A plain Django view (no DRF) that fails."""
    raise RuntimeError(LEAKY_MESSAGE)


urlpatterns = [
    re_path(r"^api/(?:v1/)?test-users/?$", UserListView.as_view()),
    re_path(r"^api/(?:v1/)?test-boom/?$", BoomView.as_view()),
    re_path(r"^api/(?:v1/)?test-conflict/?$", ConflictView.as_view()),
    path("api/test-plain-boom", plain_django_boom),
    re_path(r"^api/(?:v1/)?", include(router.urls)),
    *real_urlpatterns,
]
