"""The operators' view of the swarm: live peers and snatch history (read-mostly)."""

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from core.units import bytes_text
from tracker.models import Peer, Snatch
from tracker.policy.clients import client_label


class TrafficColumns:
    """`uploaded` and `downloaded` in KiB/MiB/GiB, sortable by the bytes."""

    @admin.display(description="uploaded", ordering="uploaded")
    def uploaded_text(self, obj: Peer | Snatch) -> str:
        return bytes_text(obj.uploaded)

    @admin.display(description="downloaded", ordering="downloaded")
    def downloaded_text(self, obj: Peer | Snatch) -> str:
        return bytes_text(obj.downloaded)


@admin.register(Peer)
class PeerAdmin(TrafficColumns, admin.ModelAdmin):
    list_display = [
        "user",
        "torrent",
        "client",
        "progress",
        "is_seeder",
        "uploaded_text",
        "downloaded_text",
        "ip",
        "port",
        "last_announce",
    ]
    list_filter = ["is_seeder"]
    search_fields = ["user__username", "torrent__name", "ip"]
    list_select_related = ["torrent", "user"]
    raw_id_fields = ["torrent", "user"]
    readonly_fields = [
        "client",
        "peer_id",
        "created_at",
        "prev_uploaded",
        "prev_downloaded",
        "prev_left",
        "prev_is_seeder",
        "prev_announce",
    ]
    ordering = ["-last_announce"]
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Peer]:
        return super().get_queryset(request).defer("torrent__metainfo", "torrent__description")

    def has_add_permission(self, request: object) -> bool:
        """Peers come from announces only; a hand-made one would put the torrent's counts out of step."""
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False

    @admin.display(description="client")
    def client(self, obj: Peer) -> str:
        return client_label(bytes(obj.peer_id))

    @admin.display(description="progress", ordering="left")
    def progress(self, obj: Peer) -> str:
        """How much of the torrent the peer has: what it has `left` against the torrent's size."""
        size = obj.torrent.size
        if not size:
            return "-"
        return f"{max(0, size - obj.left) * 100 // size}%"


@admin.register(Snatch)
class SnatchAdmin(TrafficColumns, admin.ModelAdmin):
    list_display = [
        "user",
        "torrent",
        "uploaded_text",
        "downloaded_text",
        "seed_time",
        "is_seeding",
        "is_leeching",
        "completed_at",
        "last_announce",
    ]
    list_filter = ["is_seeding", "is_leeching"]
    search_fields = ["user__username", "torrent__name"]
    list_select_related = ["torrent", "user"]
    raw_id_fields = ["torrent", "user"]
    ordering = ["-last_announce"]
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Snatch]:
        return super().get_queryset(request).defer("torrent__metainfo", "torrent__description")

    def has_add_permission(self, request: object) -> bool:
        return False
