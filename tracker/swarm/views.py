"""GET /api/torrents/{id}/peers, GET /api/me/history, GET /api/users/{id}/history."""

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import NotAuthenticated
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from api.pagination import list_query, page_response
from core.errors import Forbidden, Invalid, NotFound
from core.listing import page_of
from tracker.catalogue.selectors import torrent_get_visible
from tracker.swarm.selectors import HISTORY_LIST, PEER_LIST, peers_visible_to, snatch_history, torrent_peers
from tracker.swarm.serializers import HistoryFilterSerializer, PeerSerializer, SnatchSerializer


class TorrentPeersView(APIView):
    """A torrent's live peers: seeders first. Hidden users show as null; IP and port for moderators only."""

    permission_classes = [IsAuthenticated]
    list_specs = {"get": PEER_LIST}

    @extend_schema(responses=PeerSerializer(many=True))
    def get(self, request: Request, pk: str) -> Response:
        torrent = torrent_get_visible(user=request.user, pk=pk)  # forum level and moderation: else 404
        if not peers_visible_to(request.user):  # IsAuthenticated has refused guests already; the page asks the same
            raise NotAuthenticated()
        query = list_query(request, PEER_LIST)
        page = page_of(torrent_peers(torrent=torrent), page=query.page, per_page=query.per_page)
        context = {"viewer": request.user, "size": torrent.size}
        return page_response(page, PeerSerializer(page.items, many=True, context=context).data)


_HISTORY_FILTERS = [
    OpenApiParameter(name, bool, description=f"true: only {name} snatches; false: only the others.")
    for name in ("seeding", "leeching", "completed")
]


class HistoryView(APIView):
    """A user's snatches (traffic, seed time, completion); the owner and moderators only.

    Rows of torrents the caller may not see are left out (tracker.swarm.selectors.snatch_history).
    """

    permission_classes = [IsAuthenticated]
    list_specs = {"get": HISTORY_LIST}

    def history_owner(self, pk: str | None) -> User:
        """Whose history: the caller's (/me/history) or user {id}'s, if the caller may see it."""
        viewer = self.request.user
        if pk is None:
            return viewer  # type: ignore[return-value]
        owner = User.objects.filter(pk=pk).first()
        if owner is None:
            raise NotFound("User not found.")
        if owner.pk != viewer.pk and not getattr(viewer, "is_moderator", False):
            raise Forbidden("Only the user and moderators may see this history.")
        return owner

    @extend_schema(parameters=_HISTORY_FILTERS, responses=SnatchSerializer(many=True))
    def get(self, request: Request, pk: str | None = None, **kwargs: Any) -> Response:
        owner = self.history_owner(pk)
        filters = HistoryFilterSerializer(data=request.query_params)
        if not filters.is_valid():
            raise Invalid(details=filters.errors)
        query = list_query(request, HISTORY_LIST)
        history = snatch_history(user=owner, filters=dict(filters.validated_data), viewer=request.user)
        snatches = history.order_by(*query.ordering(HISTORY_LIST))
        page = page_of(snatches, page=query.page, per_page=query.per_page)
        return page_response(page, SnatchSerializer(page.items, many=True).data)
