"""The catalogue's API: categories, forums, torrents, files, comments, bookmarks, stats.

Views authenticate, authorize at request level, call one selector or
service and serialize. Visibility and object permissions live in
tracker.catalogue.selectors and tracker.catalogue.services.
"""

from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.http import HttpResponse
from django.utils.cache import add_never_cache_headers
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import JSONParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.pagination import list_query, page_response
from api.parsers import FormParser, MultiPartParser
from core.errors import Invalid, TooLarge
from core.http import attachment_response
from core.listing import Page, page_of
from tracker.catalogue import selectors, services
from tracker.catalogue.permissions import ReadOnlyOrAdmin, ReadOnlyOrAuthenticated
from tracker.catalogue.serializers import (
    BookmarkSerializer,
    CategorySerializer,
    CommentSerializer,
    ForumSerializer,
    StatsSerializer,
    TorrentDetailSerializer,
    TorrentFileSerializer,
    TorrentListSerializer,
    TorrentUpdateSerializer,
    TorrentUploadSerializer,
)
from tracker.models import Category, Comment, Forum, Torrent

_NAME_TAKEN = OpenApiResponse(description="A category or forum with this name exists already")


@extend_schema_view(
    create=extend_schema(responses={201: CategorySerializer, 409: _NAME_TAKEN}),
    partial_update=extend_schema(responses={200: CategorySerializer, 409: _NAME_TAKEN}),
    destroy=extend_schema(responses={204: None, 409: OpenApiResponse(description="The category still has forums")}),
)
class CategoryViewSet(viewsets.ModelViewSet):
    """Categories with the forums the caller may see; admins create, edit and delete."""

    serializer_class = CategorySerializer
    permission_classes = [ReadOnlyOrAdmin]
    pagination_class = None
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self) -> QuerySet[Category]:
        return selectors.category_list_visible(user=self.request.user)

    def get_object(self) -> Category:
        return selectors.category_get(user=self.request.user, pk=self.kwargs["pk"])

    def perform_create(self, serializer: Any) -> None:
        serializer.instance = services.category_create(data=serializer.validated_data)

    def perform_update(self, serializer: Any) -> None:
        serializer.instance = services.category_update(category=serializer.instance, data=serializer.validated_data)

    def perform_destroy(self, instance: Category) -> None:
        services.category_delete(category=instance)


@extend_schema_view(
    create=extend_schema(responses={201: ForumSerializer, 409: _NAME_TAKEN}),
    partial_update=extend_schema(responses={200: ForumSerializer, 409: _NAME_TAKEN}),
    destroy=extend_schema(responses={204: None, 409: OpenApiResponse(description="The forum still holds torrents")}),
)
class ForumViewSet(viewsets.ModelViewSet):
    """Forums the caller may see (a hidden forum is 404); admins create, edit and delete."""

    serializer_class = ForumSerializer
    permission_classes = [ReadOnlyOrAdmin]
    pagination_class = None
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self) -> QuerySet[Forum]:
        return selectors.forum_list_visible(user=self.request.user)

    def get_object(self) -> Forum:
        return selectors.forum_get_visible(user=self.request.user, pk=self.kwargs["pk"])

    def perform_create(self, serializer: Any) -> None:
        serializer.instance = services.forum_create(data=serializer.validated_data)

    def perform_update(self, serializer: Any) -> None:
        serializer.instance = services.forum_update(forum=serializer.instance, data=serializer.validated_data)

    def perform_destroy(self, instance: Forum) -> None:
        services.forum_delete(forum=instance)


@extend_schema_view(
    list=extend_schema(responses=TorrentListSerializer(many=True)),
    retrieve=extend_schema(responses=TorrentDetailSerializer),
    create=extend_schema(
        request={"multipart/form-data": TorrentUploadSerializer},
        responses={201: TorrentDetailSerializer, 409: OpenApiResponse(description="The torrent (either info hash) is registered already")},
    ),
    partial_update=extend_schema(request=TorrentUpdateSerializer, responses=TorrentDetailSerializer),
    destroy=extend_schema(responses={204: None}),
)
class TorrentViewSet(viewsets.GenericViewSet):
    """Torrents: list (filters, search, sort), upload, detail, edit, delete, download, files, comments, bookmark."""

    permission_classes = [ReadOnlyOrAuthenticated]
    serializer_class = TorrentListSerializer
    parser_classes = [MultiPartParser, FormParser, JSONParser]
    list_specs = {"list": selectors.TORRENT_LIST, "files": selectors.PAGED_LIST, "comments": selectors.PAGED_LIST}
    queryset = Torrent.objects.none()  # for the schema; every action asks a selector

    def _torrent(self, *, with_metainfo: bool = False) -> Torrent:
        return selectors.torrent_get_visible(user=self.request.user, pk=self.kwargs["pk"], with_metainfo=with_metainfo)

    def _detail(self, torrent: Torrent, status: int = 200) -> Response:
        magnet = services.torrent_magnet(user=self.request.user, torrent=torrent)
        response = Response(TorrentDetailSerializer(torrent, context={"magnet": magnet}).data, status=status)
        add_never_cache_headers(response)  # the magnet link's announce URL carries the caller's passkey
        return response

    def list(self, request: Request) -> Response:
        page = selectors.torrent_page(user=request.user, query=list_query(request, selectors.TORRENT_LIST))
        return page_response(page, TorrentListSerializer(page.items, many=True).data)

    def create(self, request: Request) -> Response:
        serializer = TorrentUploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        forum = Forum.objects.filter(pk=data["forum"]).first()
        if forum is None:
            raise Invalid(details={"forum": ["No such forum."]})
        upload = data["file"]
        if upload.size > settings.TRACKER_MAX_TORRENT_SIZE:
            # Refused before the upload is read into memory.
            raise TooLarge(f"The .torrent file is larger than {settings.TRACKER_MAX_TORRENT_SIZE} bytes.")
        torrent = services.torrent_register(
            uploader=request.user,
            forum=forum,
            metainfo_bytes=upload.read(),
            name=data.get("name") or None,
            description=data.get("description", ""),
        )
        return self._detail(selectors.torrent_get_visible(user=request.user, pk=torrent.pk), status=201)

    def retrieve(self, request: Request, pk: str) -> Response:
        return self._detail(self._torrent())

    def partial_update(self, request: Request, pk: str) -> Response:
        torrent = self._torrent()
        serializer = TorrentUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        services.torrent_update(actor=request.user, torrent=torrent, data=serializer.validated_data)
        return self._detail(selectors.torrent_get_visible(user=request.user, pk=torrent.pk))

    def destroy(self, request: Request, pk: str) -> Response:
        services.torrent_delete(actor=request.user, torrent=self._torrent())
        return Response(status=204)

    @extend_schema(
        responses={
            (200, "application/x-bittorrent"): OpenApiTypes.BINARY,
            401: OpenApiResponse(description="UNAUTHORIZED"),
            403: OpenApiResponse(
                description="The forum's download level is above the caller's (FORBIDDEN), or the caller lost download rights: "
                "a ratio watch that ended or too many hit-and-run warnings (DOWNLOAD_SUSPENDED; the message says which)"
            ),
        }
    )
    @action(detail=True, methods=["get"], permission_classes=[IsAuthenticated])
    def download(self, request: Request, pk: str) -> HttpResponse:
        """The .torrent with the caller's own announce URL."""
        return torrent_file_response(user=request.user, torrent=self._torrent(with_metainfo=True))

    @extend_schema(responses=TorrentFileSerializer(many=True))
    @action(detail=True, methods=["get"])
    def files(self, request: Request, pk: str) -> Response:
        """The torrent's files, sorted by path, paginated."""
        torrent = self._torrent()
        page = _paged(request, selectors.torrent_files(torrent=torrent))
        return page_response(page, TorrentFileSerializer(page.items, many=True).data)

    @extend_schema(methods=["get"], responses=CommentSerializer(many=True), filters=False)
    @extend_schema(methods=["post"], request=CommentSerializer, responses={201: CommentSerializer})
    @action(detail=True, methods=["get", "post"], parser_classes=[JSONParser, FormParser])
    def comments(self, request: Request, pk: str) -> Response:
        """GET: the torrent's comments, oldest first (paginated). POST: add one (logged in)."""
        torrent = self._torrent()
        if request.method == "POST":
            serializer = CommentSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            comment = services.comment_create(author=request.user, torrent=torrent, text=serializer.validated_data["text"])
            return Response(CommentSerializer(comment).data, status=201)
        page = _paged(request, selectors.comment_list(torrent=torrent))
        return page_response(page, CommentSerializer(page.items, many=True).data)

    @extend_schema(methods=["put"], request=None, responses={200: BookmarkSerializer})
    @extend_schema(methods=["delete"], request=None, responses={204: None})
    @action(detail=True, methods=["put", "delete"], permission_classes=[IsAuthenticated])
    def bookmark(self, request: Request, pk: str) -> Response:
        """PUT bookmarks the torrent, DELETE removes the bookmark; both idempotent."""
        torrent = self._torrent()
        if request.method == "DELETE":
            services.bookmark_remove(user=request.user, torrent=torrent)
            return Response(status=204)
        bookmark = services.bookmark_add(user=request.user, torrent=torrent)
        bookmark.torrent = torrent
        return Response(BookmarkSerializer(bookmark).data)


def _paged(request: Request, queryset: QuerySet[Any]) -> Page:
    """A page of a list that only pages (PAGED_LIST)."""
    query = list_query(request, selectors.PAGED_LIST)
    return page_of(queryset, page=query.page, per_page=query.per_page)


def torrent_file_response(*, user: Any, torrent: Torrent) -> HttpResponse:
    """The .torrent download: `user`'s own announce URL, a safe file name."""
    body = services.torrent_download_metainfo(user=user, torrent=torrent)
    return attachment_response(body, filename=f"{torrent.name}.torrent", content_type=services.TORRENT_CONTENT_TYPE)


class CommentViewSet(mixins.UpdateModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet):
    """PATCH/DELETE /api/comments/{id}: the author or a moderator."""

    serializer_class = CommentSerializer
    permission_classes = [IsAuthenticated]
    http_method_names = ["patch", "delete", "options"]
    queryset = Comment.objects.none()  # for the schema; get_object decides

    def get_object(self) -> Comment:
        return selectors.comment_get_visible(user=self.request.user, pk=self.kwargs["pk"])

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        comment = self.get_object()
        # A PATCH: `text` may be left out (the schema says so too); then nothing changes.
        serializer = CommentSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        comment = services.comment_update(actor=request.user, comment=comment, text=serializer.validated_data.get("text"))
        return Response(CommentSerializer(comment).data)

    def perform_destroy(self, instance: Comment) -> None:
        services.comment_delete(actor=self.request.user, comment=instance)


class BookmarkListView(APIView):
    """GET /api/bookmarks: the caller's bookmarks, newest first."""

    permission_classes = [IsAuthenticated]
    list_specs = {"get": selectors.PAGED_LIST}

    @extend_schema(responses=BookmarkSerializer(many=True))
    def get(self, request: Request) -> Response:
        page = _paged(request, selectors.bookmark_list(user=request.user))
        return page_response(page, BookmarkSerializer(page.items, many=True).data)


class StatsView(APIView):
    """GET /api/stats: site totals."""

    @extend_schema(responses=StatsSerializer)
    def get(self, request: Request) -> Response:
        return Response(StatsSerializer(selectors.stats_get()).data)
