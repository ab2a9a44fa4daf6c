"""The catalogue's API: categories, forums, torrents, files, comments, bookmarks, stats.

Views authenticate, authorize at request level, call one selector or
service and serialize. Visibility and object permissions live in
tracker.catalogue.selectors and tracker.catalogue.services.
"""

import logging
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.db.models import QuerySet
from django.http import HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions as drf
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import BaseParser, JSONParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import QueryApiKeyAuthentication
from accounts.models import ApiKeyScope
from api.errors import RateLimitExceeded, TokenInvalid
from api.middleware import envelope_exempt
from api.pagination import list_query, page_response
from api.parsers import FormParser, MultiPartParser
from api.renderers import EncodedJSON
from core.counting import budgeted_count
from core.errors import Forbidden, Invalid, TooLarge
from core.http import attachment_response
from core.listing import Page, page_of
from core.ratelimit import count_request
from tracker.catalogue import selectors, services, torznab
from tracker.catalogue.markup import markup_render
from tracker.catalogue.permissions import ReadOnlyOrAdmin, ReadOnlyOrAuthenticated
from tracker.catalogue.serializers import (
    TORRENT_LIST_ROWS,
    BookmarkSerializer,
    CategorySerializer,
    CommentSerializer,
    ForumSerializer,
    MarkupPreviewSerializer,
    StatsSerializer,
    TorrentDetailSerializer,
    TorrentFileSerializer,
    TorrentListSerializer,
    TorrentUpdateSerializer,
    TorrentUploadSerializer,
)
from tracker.models import Category, Comment, Forum, Torrent
from tracker.policy.selectors import announce_policy
from tracker.policy.snapshot import credit_shares

logger = logging.getLogger("api")

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
    pagination_class = None  # paged by list() itself, as every list: page/per_page and meta
    list_specs = {"list": selectors.PAGED_LIST}
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self) -> QuerySet[Category]:
        return selectors.category_list_visible(user=self.request.user)

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = _paged(request, self.get_queryset())
        return page_response(page, CategorySerializer(page.items, many=True, context=self.get_serializer_context()).data)

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
    pagination_class = None  # paged by list() itself, as every list: page/per_page and meta
    list_specs = {"list": selectors.PAGED_LIST}
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self) -> QuerySet[Forum]:
        return selectors.forum_list_visible(user=self.request.user)

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = _paged(request, self.get_queryset())
        return page_response(page, ForumSerializer(page.items, many=True, context=self.get_serializer_context()).data)

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
        responses={
            201: TorrentDetailSerializer,
            403: OpenApiResponse(
                description="The forum's upload level is above the caller's (FORBIDDEN), or the caller must confirm their "
                "email address first (EMAIL_NOT_CONFIRMED)"
            ),
            409: OpenApiResponse(description="The torrent (either info hash) is registered already"),
        },
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
    # What a personal API key needs beyond `read` (accounts.authentication.api_key_scope_required); other writes refuse keys.
    api_key_scopes = {"download": ApiKeyScope.DOWNLOAD, "create": ApiKeyScope.UPLOAD}
    queryset = Torrent.objects.none()  # for the schema; every action asks a selector

    def _torrent(self, *, with_metainfo: bool = False) -> Torrent:
        return selectors.torrent_get_visible(user=self.request.user, pk=self.kwargs["pk"], with_metainfo=with_metainfo)

    def _detail(self, torrent: Torrent, status: int = 200) -> Response:
        return self._shown(_detail_shown(torrent), status=status)

    def _shown(self, shown: tuple[dict[str, Any], services.MagnetParts], status: int = 200) -> Response:
        data, magnet = shown
        response = Response({**data, "magnet": magnet.link(self.request.user)}, status=status)
        add_never_cache_headers(response)  # the magnet link's announce URL carries the caller's passkey
        return response

    def list(self, request: Request) -> Response:
        query = list_query(request, selectors.TORRENT_LIST)
        page = selectors.torrent_page(user=request.user, query=query, rows=TORRENT_LIST_ROWS.values, shape=_encoded_rows, cache_as="api")
        return page_response(page, page.items)

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
        # Shared by the viewers of one access level (selectors.torrent_shown); the magnet is made per viewer.
        return self._shown(selectors.torrent_shown(user=request.user, pk=pk, shape=_detail_shown, cache_as="api"))

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
                description="The forum's download level is above the caller's (FORBIDDEN), the caller must confirm their email "
                "address first (EMAIL_NOT_CONFIRMED), or the caller lost download rights: "
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


def _encoded_rows(rows: list[Any]) -> EncodedJSON:
    """A page of the torrent list as its JSON rows, written once (a shared page is served as these bytes)."""
    return EncodedJSON(TORRENT_LIST_ROWS.data(rows))


def _detail_shown(torrent: Torrent) -> tuple[dict[str, Any], services.MagnetParts]:
    """A torrent's detail JSON but its magnet link, and what that link is made of: nothing of the viewer."""
    return dict(TorrentDetailSerializer(torrent).data), services.MagnetParts.of(torrent)


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


class MarkupPreviewView(APIView):
    """POST /api/markup/preview: a description's or comment's BBCode as the site will show it; nothing is saved."""

    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser, FormParser]

    @extend_schema(request=MarkupPreviewSerializer, responses=MarkupPreviewSerializer)
    def post(self, request: Request) -> Response:
        serializer = MarkupPreviewSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(MarkupPreviewSerializer({"html": markup_render(serializer.validated_data["text"])}).data)


class StatsView(APIView):
    """GET /api/stats: site totals."""

    @extend_schema(responses=StatsSerializer)
    def get(self, request: Request) -> Response:
        return Response(StatsSerializer(selectors.stats_get()).data)


class TorznabRenderer(BaseRenderer):
    """Torznab's documents are written by tracker.catalogue.torznab; this only names their media type."""

    media_type = "application/rss+xml"
    format = "xml"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        return data if isinstance(data, bytes) else b""


class AnyAccept(BaseContentNegotiation):
    """Torznab clients send all sorts of Accept headers; the answer is XML whatever they say."""

    def select_parser(self, request: Request, parsers: Iterable[BaseParser]) -> BaseParser | None:
        return next(iter(parsers), None)

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, renderer.media_type


_TORZNAB_XML = "application/xml"
_TORZNAB_ERRORS = {
    (status, _TORZNAB_XML): OpenApiResponse(OpenApiTypes.STR, description=f"<error code=... description=.../>: {what}")
    for status, what in (
        (400, "201 incorrect parameter, 202 no such function, 203 function not available, 200 missing parameter"),
        (401, "100 incorrect user credentials (a missing, unknown or revoked key), 200 missing parameter (no apikey)"),
        (403, "102 insufficient privileges: the key lacks the 'feed' scope"),
        (405, "203 function not available (only GET)"),
        (429, "500 request limit reached (the owner's per-minute budget); see Retry-After"),
        (500, "900 unknown error"),
    )
}


@extend_schema(
    summary="Torznab (Prowlarr, Jackett, Sonarr, Radarr)",
    parameters=[
        OpenApiParameter("t", str, enum=["caps", "search", "tvsearch", "movie"], required=True, description="The function."),
        OpenApiParameter("apikey", str, description="A personal API key with the `feed` scope (or send X-Api-Key)."),
        OpenApiParameter("q", str, description="Words of the title; each must appear in the name, description or a file path."),
        OpenApiParameter("cat", str, description="Comma-separated Newznab category ids (a parent, 5000, takes its subcategories)."),
        OpenApiParameter("season", int, description="tvsearch: season number (adds S01 to the search)."),
        OpenApiParameter("ep", int, description="tvsearch: episode number, with season (adds S01E02)."),
        OpenApiParameter("offset", int, description="Results to skip (default 0)."),
        OpenApiParameter("limit", int, description=f"Results to return (default {torznab.DEFAULT_LIMIT}, at most {torznab.MAX_LIMIT})."),
    ],
    responses={
        (200, "application/rss+xml"): OpenApiResponse(
            OpenApiTypes.STR, description="t=caps: the <caps> document (application/xml); searches: an RSS 2.0 channel of results"
        ),
        **_TORZNAB_ERRORS,
    },
)
class TorznabView(APIView):
    """GET /api/torznab?t=caps|search|tvsearch|movie: the catalogue for Torznab clients, in XML (never the JSON envelope).

    The `apikey` is a personal key with the `feed` scope; results are what its
    owner may see, newest first, with a download link that works with the same
    key. Errors are Newznab <error> elements with a matching HTTP status.
    """

    authentication_classes = [QueryApiKeyAuthentication]
    permission_classes = [IsAuthenticated]
    api_key_scopes = {"get": ApiKeyScope.FEED}
    api_envelope = False  # for the schema (api.schema): its errors are XML, declared above
    renderer_classes = [TorznabRenderer]
    content_negotiation_class = AnyAccept
    http_method_names = ["get", "head"]

    def get(self, request: Request) -> HttpResponse:
        function = request.query_params.get("t") or ""
        if not function:
            raise torznab.TorznabError(200, "Missing parameter")
        forums = list(selectors.forum_list_visible(user=request.user).filter(allows_torrents=True))
        if function == "caps":
            return self._xml(torznab.caps_xml(title=self._title(), forums=forums), content_type=_TORZNAB_XML)
        if function in torznab.UNAVAILABLE_FUNCTIONS:
            raise torznab.TorznabError(203, "Function not available")
        if function not in torznab.SEARCH_FUNCTIONS:
            raise torznab.TorznabError(202, "No such function")
        search = torznab.torznab_search_parse(request.query_params, function)
        forum_ids = torznab.forums_in_categories(forums, search.categories) if search.categories is not None else None
        queryset = selectors.torrent_find(user=request.user, terms=search.terms, forum_ids=forum_ids)
        torrents = list(queryset[search.offset : search.offset + search.limit])
        short_page = bool(torrents) and len(torrents) < search.limit  # it tells the total without counting
        # Counted within the lists' time budget: a broad search is estimated, and the response says so (torznab.results_xml).
        total = search.offset + len(torrents) if short_page else budgeted_count(queryset.order_by())
        body = torznab.results_xml(
            title=self._title(),
            self_url=request.build_absolute_uri(),
            site_url=request.build_absolute_uri("/"),
            torrents=torrents,
            offset=search.offset,
            total=total,
            page_url=lambda t: request.build_absolute_uri(reverse("web:torrent", args=[t.pk])),
            download_url=lambda t: self._download_url(request, t),
            terms=self._terms(request.user),
        )
        return self._xml(body, content_type="application/rss+xml")

    def _title(self) -> str:
        return "torrentpier"

    def _download_url(self, request: Request, torrent: Torrent) -> str:
        """The feeds' download link (web.feeds), which takes the same key: the client fetches it without logging in."""
        path = reverse("web:feed-download", args=[torrent.pk])
        key = QueryApiKeyAuthentication().raw_key(request) or ""
        return request.build_absolute_uri(f"{path}?{urlencode({'key': key})}")

    def _terms(self, user: Any) -> torznab.ItemTerms:
        """The volume factors (freeleech, site events, the member's own freeleech) and the hit-and-run rule."""
        now = timezone.now()
        policy = announce_policy(now)
        personal = user.freeleech_until is not None and user.freeleech_until > now

        def download_factor(torrent: Torrent) -> float:
            numerator, denominator, _upload = credit_shares(policy, torrent.freeleech, now)
            return 0.0 if personal else numerator / denominator

        upload = credit_shares(policy, "none", now)[2]
        return torznab.ItemTerms(
            download_factor=download_factor,
            upload_factor=float(upload),
            minimum_ratio=policy.hnr_ratio_pct / 100 if policy.hnr_seed and policy.hnr_ratio_pct else None,
            minimum_seed_seconds=policy.hnr_seed or None,
        )

    def _xml(self, body: bytes, *, content_type: str, status: int = 200) -> HttpResponse:
        response = HttpResponse(body, content_type=f"{content_type}; charset=utf-8", status=status)
        add_never_cache_headers(response)  # the download links carry the key
        return envelope_exempt(response)  # type: ignore[return-value]

    def handle_exception(self, exc: Exception) -> Response:
        """Every failure as a Newznab <error>, never the JSON envelope; a request past the owner's budget is error 500."""
        usage = count_request(self.request._request)  # counted once; the middleware then leaves the answer alone
        if usage["should_limit"]:
            exc = RateLimitExceeded(headers={"Retry-After": str(max(1, int(usage["time_left"])))})
        error = _torznab_error(exc)
        if error.code == 900:
            logger.exception("Unhandled error in Torznab", exc_info=exc)
        response = self._xml(torznab.error_xml(error.code, error.description), content_type=_TORZNAB_XML, status=error.status)
        for name, value in error.headers.items():
            response[name] = value
        return response  # type: ignore[return-value]  # DRF's finalize_response takes any HttpResponse


def _torznab_error(exc: Exception) -> torznab.TorznabError:
    """The Newznab error for `exc` (Prowlarr reads 100-199 as a bad key, "Request limit reached" as a limit)."""
    if isinstance(exc, torznab.TorznabError):
        return exc
    if isinstance(exc, RateLimitExceeded):
        return torznab.TorznabError(500, "Request limit reached", status=429, headers=exc.headers)
    if isinstance(exc, TokenInvalid):
        return torznab.TorznabError(100, "Incorrect user credentials", status=401)
    if isinstance(exc, drf.NotAuthenticated):
        return torznab.TorznabError(200, "Missing parameter", status=401)
    if isinstance(exc, Forbidden):
        return torznab.TorznabError(102, f"Insufficient privileges: {exc.message}", status=403)
    if isinstance(exc, drf.MethodNotAllowed):
        return torznab.TorznabError(203, "Function not available", status=405, headers={"Allow": "GET, HEAD"})
    return torznab.TorznabError(900, "Unknown error", status=500)
