"""Shapes of a torrent's peers and of a user's snatch history."""

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from tracker.models import Peer, Snatch
from tracker.swarm.selectors import peer_view


class SwarmUserSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()


class PeerSerializer(serializers.ModelSerializer):
    """One peer as the torrent page shows it; `ip`/`port` are null unless the viewer moderates."""

    # The rules are tracker.swarm.selectors.peer_view's (context: `viewer`, `size`).

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

    def to_representation(self, instance: Peer) -> dict[str, Any]:
        self._view = peer_view(instance, viewer=self.context["viewer"], size=self.context["size"])
        return super().to_representation(instance)

    @extend_schema_field(SwarmUserSerializer(allow_null=True))
    def get_user(self, obj: Peer) -> dict[str, Any] | None:
        return self._view.user

    def get_client(self, obj: Peer) -> str:
        return self._view.client

    def get_progress(self, obj: Peer) -> float:
        """Percent done, from `left` and the torrent's size."""
        return self._view.progress

    def get_ip(self, obj: Peer) -> str | None:
        return self._view.ip

    def get_port(self, obj: Peer) -> int | None:
        return self._view.port


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
