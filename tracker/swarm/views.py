"""GET /api/torrents/{id}/peers, GET /api/me/history, GET /api/users/{id}/history."""

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.generics import ListAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import User
from api.filters import ContractFilterBackend
from core.errors import Forbidden, Invalid, NotFound
from tracker.catalogue.access import can_view_forum
from tracker.models import Peer, Snatch, Torrent
from tracker.swarm.selectors import snatch_history, torrent_peers
from tracker.swarm.serializers import HistoryFilterSerializer, PeerSerializer, SnatchSerializer


class TorrentPeersView(ListAPIView):
    """A torrent's live peers: seeders first. Hidden users show as null; IP and port for moderators only."""

    serializer_class = PeerSerializer
    permission_classes = [IsAuthenticated]
    queryset = Peer.objects.none()  # for the schema generator; get_queryset decides

    def get_queryset(self) -> QuerySet[Peer]:
        torrent = Torrent.objects.select_related("forum").filter(pk=self.kwargs["pk"]).first()
        if torrent is None or not can_view_forum(self.request.user, torrent.forum):
            raise NotFound("Torrent not found.")
        self.torrent = torrent
        return torrent_peers(torrent=torrent)

    def get_serializer_context(self) -> dict[str, Any]:
        user = self.request.user
        torrent = getattr(self, "torrent", None)
        return {
            **super().get_serializer_context(),
            "is_moderator": getattr(user, "is_moderator", False),
            "viewer_id": user.pk,
            "size": torrent.size if torrent else 0,
        }


_HISTORY_FILTERS = [
    OpenApiParameter(name, bool, description=f"true: only {name} snatches; false: only the others.")
    for name in ("seeding", "leeching", "completed")
]


class HistoryView(ListAPIView):
    """A user's snatches (traffic, seed time, completion); the owner and moderators only."""

    serializer_class = SnatchSerializer
    permission_classes = [IsAuthenticated]
    filter_backends = [ContractFilterBackend]
    sort_fields = {
        "last_announce": "last_announce", "first_announce": "first_announce", "uploaded": "uploaded",
        "downloaded": "downloaded", "seed_time": "seed_time", "completed_at": "completed_at",
    }  # fmt: skip
    default_sort = "last_announce"
    default_order = "desc"

    def history_owner(self) -> User:
        """Whose history: the caller's (/me/history) or user {id}'s, if the caller may see it."""
        viewer = self.request.user
        pk = self.kwargs.get("pk")
        if pk is None:
            return viewer  # type: ignore[return-value]
        owner = User.objects.filter(pk=pk).first()
        if owner is None:
            raise NotFound("User not found.")
        if owner.pk != viewer.pk and not getattr(viewer, "is_moderator", False):
            raise Forbidden("Only the user and moderators may see this history.")
        return owner

    def get_queryset(self) -> QuerySet[Snatch]:
        owner = self.history_owner()
        filters = HistoryFilterSerializer(data=self.request.query_params)
        if not filters.is_valid():
            raise Invalid(details=filters.errors)
        return snatch_history(user=owner, filters=dict(filters.validated_data))

    @extend_schema(parameters=_HISTORY_FILTERS)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)
