"""Shapes of a torrent's peers and of a user's snatch history."""

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from tracker.models import Peer, Snatch
from tracker.swarm.selectors import peer_client_name


class SwarmUserSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()


class PeerSerializer(serializers.ModelSerializer):
    """One peer as the torrent page shows it; `ip`/`port` are null unless the viewer moderates."""

    user = serializers.SerializerMethodField()
    client = serializers.SerializerMethodField()
    progress = serializers.SerializerMethodField()
    last_seen = serializers.DateTimeField(source="last_announce")
    ip = serializers.SerializerMethodField()
    port = serializers.SerializerMethodField()

    class Meta:
        model = Peer
        fields = ["id", "user", "client", "is_seeder", "uploaded", "downloaded", "left", "progress", "last_seen", "ip", "port"]
        read_only_fields = fields

    def _moderator(self) -> bool:
        return bool(self.context.get("is_moderator"))

    @extend_schema_field(SwarmUserSerializer(allow_null=True))
    def get_user(self, obj: Peer) -> dict[str, Any] | None:
        if obj.user.hide_in_peers and not self._moderator() and obj.user_id != self.context.get("viewer_id"):
            return None
        return {"id": obj.user_id, "username": obj.user.username}

    def get_client(self, obj: Peer) -> str:
        return peer_client_name(bytes(obj.peer_id))

    def get_progress(self, obj: Peer) -> float:
        """Percent done, from `left` and the torrent's size."""
        size = self.context.get("size") or 0
        if size <= 0:
            return 100.0 if obj.left == 0 else 0.0
        return round(max(0.0, min(100.0, 100.0 * (size - obj.left) / size)), 1)

    def get_ip(self, obj: Peer) -> str | None:
        return obj.ip if self._moderator() else None

    def get_port(self, obj: Peer) -> int | None:
        return obj.port if self._moderator() else None


class SnatchTorrentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class SnatchSerializer(serializers.ModelSerializer):
    """One line of a user's history with a torrent."""

    torrent = SnatchTorrentSerializer(read_only=True)
    ratio = serializers.SerializerMethodField()

    class Meta:
        model = Snatch
        fields = [
            "id", "torrent", "uploaded", "downloaded", "ratio", "left", "seed_time", "is_seeding", "is_leeching",
            "first_announce", "last_announce", "completed_at", "times_completed",
        ]  # fmt: skip
        read_only_fields = fields

    def get_ratio(self, obj: Snatch) -> float | None:
        return round(obj.uploaded / obj.downloaded, 3) if obj.downloaded else None


class HistoryFilterSerializer(serializers.Serializer):
    """?seeding=, ?leeching=, ?completed= (true/false)."""

    seeding = serializers.BooleanField(required=False, allow_null=False)
    leeching = serializers.BooleanField(required=False, allow_null=False)
    completed = serializers.BooleanField(required=False, allow_null=False)

    def to_internal_value(self, data: Any) -> Any:
        return super().to_internal_value({k: v for k, v in data.items() if k in self.fields})
