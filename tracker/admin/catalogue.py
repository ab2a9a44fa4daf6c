"""Operators' pages for the catalogue: searchable, filterable lists without N+1 queries, and moderation actions.

Changes made here go through tracker.catalogue.services where they have side effects
(status history, cache invalidation), exactly like the API's.
"""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse

from core.units import bytes_text
from tracker.admin.policy import ReasonForm, action_form
from tracker.catalogue import services
from tracker.models import Bookmark, Category, Comment, Forum, Freeleech, Torrent, TorrentFile, TorrentStatus, TorrentStatusChange
from tracker.swarm.lookups import torrent_cache_invalidate


class ListedInTheCatalogue(admin.ModelAdmin):
    """Categories and forums: the lists and the browse page's filters show them, so every write starts a new
    generation of the shared pages (services.lists_changed), as the services' own writes do."""

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        services.lists_changed()

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        super().delete_model(request, obj)
        services.lists_changed()

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        super().delete_queryset(request, queryset)
        services.lists_changed()


@admin.register(Category)
class CategoryAdmin(ListedInTheCatalogue):
    list_display = ["name", "order", "forum_count"]
    search_fields = ["name"]
    ordering = ["order", "id"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Category]:
        return super().get_queryset(request).annotate(forum_count=Count("forums"))

    @admin.display(description="forums", ordering="forum_count")
    def forum_count(self, obj: Category) -> int:
        return int(getattr(obj, "forum_count", 0))


@admin.register(Forum)
class ForumAdmin(ListedInTheCatalogue):
    # newznab_category: what Torznab clients (Prowlarr, Sonarr...) see the forum's torrents as (GET /api/torznab).
    list_display = ["name", "category", "order", "allows_torrents", "view_level", "upload_level", "download_level", "newznab_category"]
    list_filter = ["category", "allows_torrents", "view_level", "upload_level", "download_level", "newznab_category"]
    list_select_related = ["category"]
    search_fields = ["name", "description"]

    def save_model(self, request: HttpRequest, obj: Forum, form: Any, change: bool) -> None:
        if change:  # through the service, which also drops the announce's cached rows of its torrents
            data = {name: form.cleaned_data[name] for name in form.changed_data}
            services.forum_update(forum=Forum.objects.get(pk=obj.pk), data=data)
        else:
            super().save_model(request, obj, form, change)


class TorrentStatusChangeInline(admin.TabularInline):
    model = TorrentStatusChange
    extra = 0
    can_delete = False
    fields = ["changed_at", "moderator", "old_status", "new_status", "reason"]
    readonly_fields = ["changed_at", "moderator", "old_status", "new_status", "reason"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[TorrentStatusChange]:
        return super().get_queryset(request).select_related("moderator")


class TorrentForm(forms.ModelForm):
    """The torrent's page: a change of status needs its reason, like the status actions."""

    status_reason = forms.CharField(
        max_length=200, required=False, label="Reason for the status change", help_text="Kept in the status history."
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if "status" in self.changed_data and not data.get("status_reason", "").strip():
            self.add_error("status_reason", "Say why the status changes.")
        return data


@admin.register(Torrent)
class TorrentAdmin(admin.ModelAdmin):
    """Torrents are added by uploading a .torrent (the upload page and POST /api/torrents run its checks); here they are moderated."""

    list_display = ["name", "status", "size_text", "seeders", "leechers", "completed", "freeleech", "uploader", "forum", "created_at"]
    list_filter = ["status", "freeleech", "is_private", "forum__category", "forum"]
    list_select_related = ["forum", "uploader", "stats"]
    search_fields = ["name", "=info_hash", "=info_hash_v2", "uploader__username"]
    date_hierarchy = "created_at"
    raw_id_fields = ["uploader"]
    form = TorrentForm
    readonly_fields = [
        "info_hash",
        "info_hash_v2",
        "info_hash_v2_short",
        "size",
        "piece_length",
        "file_count",
        "is_private",
        "seeders",
        "leechers",
        "completed",
        "created_at",
        "updated_at",
    ]
    exclude = ["metainfo"]
    inlines = [TorrentStatusChangeInline]
    # Django's delete_selected stays: it goes through delete_queryset below.
    actions = ["approve", "close", "set_freeleech_none", "set_freeleech_silver", "set_freeleech_gold"]
    show_full_result_count = False  # a full count of every torrent on each page costs too much

    def has_add_permission(self, request: HttpRequest) -> bool:
        # A torrent without its metainfo breaks a check constraint (a 500): no "Add" here.
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Torrent]:
        return super().get_queryset(request).defer("metainfo")

    @admin.display(description="size", ordering="size")
    def size_text(self, obj: Torrent) -> str:
        return bytes_text(obj.size)

    # The counts live in TorrentStats: columns sortable through the relation.
    @admin.display(ordering="stats__seeders")
    def seeders(self, obj: Torrent) -> int:
        return obj.seeders

    @admin.display(ordering="stats__leechers")
    def leechers(self, obj: Torrent) -> int:
        return obj.leechers

    @admin.display(ordering="stats__completed")
    def completed(self, obj: Torrent) -> int:
        return obj.completed

    def save_model(self, request: HttpRequest, obj: Torrent, form: Any, change: bool) -> None:
        """Edits record status changes, drop the announce's cached copy and start a new generation of the lists, like the API's."""
        if not change:
            super().save_model(request, obj, form, change)
            return
        old = Torrent.objects.defer("metainfo").get(pk=obj.pk)
        new_status = obj.status
        obj.status = old.status
        super().save_model(request, obj, form, change)
        services.torrent_set_status(torrent=obj, status=new_status, moderator=request.user, reason=form.cleaned_data["status_reason"])
        torrent_cache_invalidate(obj)
        services.lists_changed()  # its name, forum, uploader or freeleech may show in the shared pages and details

    def delete_model(self, request: HttpRequest, obj: Torrent) -> None:
        services.torrent_remove(torrent=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Torrent]) -> None:
        for torrent in queryset:
            services.torrent_remove(torrent=torrent)

    def _set_status(self, request: HttpRequest, queryset: QuerySet[Torrent], status: str) -> TemplateResponse | None:
        """Ask the reason (the uploader is told the torrent's status: they deserve a why), then move the torrents."""
        label = TorrentStatus(status).label
        form = action_form(self, request, queryset, ReasonForm, f"Set the selected torrents to {label}")
        if isinstance(form, TemplateResponse):
            return form
        moved = [torrent for torrent in queryset if torrent.status != status]
        for torrent in moved:
            services.torrent_set_status(torrent=torrent, status=status, moderator=request.user, reason=form.cleaned_data["reason"])
        self.message_user(request, f"{len(moved)} torrent(s) set to {label}: {form.cleaned_data['reason']}", messages.SUCCESS)
        return None

    @admin.action(description="Approve selected torrents", permissions=["change"])
    def approve(self, request: HttpRequest, queryset: QuerySet[Torrent]) -> TemplateResponse | None:
        return self._set_status(request, queryset, TorrentStatus.APPROVED)

    @admin.action(description="Close selected torrents", permissions=["change"])
    def close(self, request: HttpRequest, queryset: QuerySet[Torrent]) -> TemplateResponse | None:
        return self._set_status(request, queryset, TorrentStatus.CLOSED)

    def _set_freeleech(self, request: HttpRequest, queryset: QuerySet[Torrent], freeleech: str) -> None:
        count = 0
        for torrent in queryset:
            services.torrent_set_freeleech(torrent=torrent, freeleech=freeleech)
            count += 1
        self.message_user(request, f"Freeleech set to {Freeleech(freeleech).label} on {count} torrent(s).", messages.SUCCESS)

    @admin.action(description="Freeleech: none", permissions=["change"])
    def set_freeleech_none(self, request: HttpRequest, queryset: QuerySet[Torrent]) -> None:
        self._set_freeleech(request, queryset, Freeleech.NONE)

    @admin.action(description="Freeleech: silver (half the download counted)", permissions=["change"])
    def set_freeleech_silver(self, request: HttpRequest, queryset: QuerySet[Torrent]) -> None:
        self._set_freeleech(request, queryset, Freeleech.SILVER)

    @admin.action(description="Freeleech: gold (no download counted)", permissions=["change"])
    def set_freeleech_gold(self, request: HttpRequest, queryset: QuerySet[Torrent]) -> None:
        self._set_freeleech(request, queryset, Freeleech.GOLD)


@admin.register(TorrentFile)
class TorrentFileAdmin(admin.ModelAdmin):
    list_display = ["path", "size_text", "torrent"]
    list_select_related = ["torrent"]
    search_fields = ["path"]
    raw_id_fields = ["torrent"]
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[TorrentFile]:
        return super().get_queryset(request).defer("torrent__metainfo", "torrent__description")

    @admin.display(description="size", ordering="size")
    def size_text(self, obj: TorrentFile) -> str:
        return bytes_text(obj.size)


@admin.register(TorrentStatusChange)
class TorrentStatusChangeAdmin(admin.ModelAdmin):
    list_display = ["torrent", "old_status", "new_status", "moderator", "reason", "changed_at"]
    list_filter = ["new_status", "old_status"]
    list_select_related = ["torrent", "moderator"]
    search_fields = ["torrent__name", "moderator__username", "reason"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[TorrentStatusChange]:
        return super().get_queryset(request).defer("torrent__metainfo", "torrent__description")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Comment)
class CommentAdmin(admin.ModelAdmin):
    list_display = ["short_text", "torrent", "author", "created_at", "edited_at"]
    list_filter = ["created_at"]
    list_select_related = ["torrent", "author"]
    search_fields = ["text", "author__username", "torrent__name"]
    raw_id_fields = ["torrent", "author"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Comment]:
        return super().get_queryset(request).defer("torrent__metainfo", "torrent__description")

    @admin.display(description="text")
    def short_text(self, obj: Comment) -> str:
        return obj.text if len(obj.text) <= 80 else obj.text[:79] + "…"


@admin.register(Bookmark)
class BookmarkAdmin(admin.ModelAdmin):
    list_display = ["user", "torrent", "created_at"]
    list_select_related = ["user", "torrent"]
    search_fields = ["user__username", "torrent__name"]
    raw_id_fields = ["user", "torrent"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Bookmark]:
        return super().get_queryset(request).defer("torrent__metainfo", "torrent__description")
