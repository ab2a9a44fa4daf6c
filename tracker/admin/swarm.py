"""The operators' view of the swarm: live peers and snatch history (read-mostly)."""

from django.contrib import admin

from tracker.models import Peer, Snatch


@admin.register(Peer)
class PeerAdmin(admin.ModelAdmin):
    list_display = ["id", "torrent", "user", "ip", "port", "is_seeder", "uploaded", "downloaded", "left", "last_announce"]
    list_filter = ["is_seeder"]
    search_fields = ["user__username", "torrent__name", "ip"]
    list_select_related = ["torrent", "user"]
    raw_id_fields = ["torrent", "user"]
    readonly_fields = ["peer_id", "created_at", "prev_uploaded", "prev_downloaded", "prev_left", "prev_is_seeder", "prev_announce"]
    ordering = ["-last_announce"]
    show_full_result_count = False

    def has_add_permission(self, request: object) -> bool:
        """Peers come from announces only; a hand-made one would put the torrent's counts out of step."""
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False


@admin.register(Snatch)
class SnatchAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "user",
        "torrent",
        "uploaded",
        "downloaded",
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

    def has_add_permission(self, request: object) -> bool:
        return False
