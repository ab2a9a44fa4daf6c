"""Shapes of the catalogue's input and output. No business logic: services decide."""

from typing import Any

from django.db.models.functions import Coalesce
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.rows import RowPlan, ValuesField
from tracker.catalogue.markup import MAX_TEXT, markup_render
from tracker.models import AccessLevel, Bookmark, Category, Comment, Forum, Freeleech, Torrent, TorrentFile, TorrentStatus

LEVEL_NAMES = {level.value: level.name.lower() for level in AccessLevel}


@extend_schema_field({"type": "string", "pattern": "^(guest|user|moderator|admin)$", "description": "guest, user, moderator or admin"})
class AccessLevelField(serializers.ChoiceField):
    """An access level as its name: guest, user, moderator, admin."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=list(LEVEL_NAMES.values()), **kwargs)

    def to_representation(self, value: Any) -> str:
        return LEVEL_NAMES[int(value)]

    def to_internal_value(self, data: Any) -> Any:
        name = super().to_internal_value(data)
        return next(level for level, label in LEVEL_NAMES.items() if label == name)


class ForumSerializer(serializers.ModelSerializer):
    view_level = AccessLevelField(required=False)
    upload_level = AccessLevelField(required=False)
    download_level = AccessLevelField(required=False)

    class Meta:
        model = Forum
        fields = ["id", "category", "name", "description", "order", "allows_torrents", "view_level", "upload_level", "download_level"]
        # Uniqueness is the service's to decide (409), not a serializer's 422.
        validators: list[Any] = []


class CategorySerializer(serializers.ModelSerializer):
    forums = serializers.SerializerMethodField()

    class Meta:
        model = Category
        fields = ["id", "name", "order", "forums"]
        read_only_fields = ["forums"]
        extra_kwargs: dict[str, Any] = {"name": {"validators": []}}

    @extend_schema_field(ForumSerializer(many=True))
    def get_forums(self, obj: Category) -> Any:
        return ForumSerializer(getattr(obj, "visible_forums", []), many=True).data


class UserRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()


class ForumRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class RefField(ValuesField, serializers.Field):
    """A related row as `{"id": ..., <label>: ...}`, read straight off the object: what a nested
    ref serializer gives, byte for byte, without building one per request and one field per key
    (a list of 50 torrents had 150 nested serializations). The schema shows `schema`."""

    def __init__(self, label: str, schema: type[serializers.Serializer], **kwargs: Any) -> None:
        self.label_attr, self.schema = label, schema
        super().__init__(**kwargs)  # output only (these serializers never read a body); read_only would change the schema

    def to_representation(self, value: Any) -> dict[str, Any]:
        return {"id": value.id, self.label_attr: str(getattr(value, self.label_attr))}

    # A list's rows read with values() (api.rows): the related row's id and label are two columns.
    def values_columns(self, path: str) -> list[str]:
        return [f"{path}__id", f"{path}__{self.label_attr}"]

    def from_values(self, row: Any, path: str) -> dict[str, Any] | None:
        pk = row[f"{path}__id"]
        return None if pk is None else {"id": pk, self.label_attr: str(row[f"{path}__{self.label_attr}"])}


class RefFieldSchema(OpenApiSerializerFieldExtension):
    """RefField in the schema: the ref serializer's component, as the nested serializer was."""

    target_class = RefField

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> Any:
        return auto_schema.resolve_serializer(self.target.schema, direction).ref


class TorrentListSerializer(serializers.ModelSerializer):
    """A torrent in a list."""

    forum = RefField("name", ForumRefSerializer)
    category = RefField("name", ForumRefSerializer, source="forum.category")
    uploader = RefField("username", UserRefSerializer)
    # Properties reading the torrent's TorrentStats row (select_related("stats")).
    seeders = serializers.IntegerField(read_only=True)
    leechers = serializers.IntegerField(read_only=True)
    completed = serializers.IntegerField(read_only=True)

    class Meta:
        model = Torrent
        fields = [
            "id",
            "name",
            "forum",
            "category",
            "uploader",
            "info_hash",
            "info_hash_v2",
            "size",
            "file_count",
            "is_private",
            "status",
            "freeleech",
            "seeders",
            "leechers",
            "completed",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


# The torrent list's rows as values() (api.rows): the swarm counts come from the stats row, 0 without one.
TORRENT_LIST_ROWS = RowPlan(
    TorrentListSerializer,
    sources={name: Coalesce(f"stats__{name}", 0) for name in ("seeders", "leechers", "completed")},
)


class TorrentDetailSerializer(TorrentListSerializer):
    """One torrent: the list fields plus description (as written, and as HTML), piece length and magnet link."""

    description_html = serializers.SerializerMethodField()
    magnet = serializers.SerializerMethodField()

    class Meta(TorrentListSerializer.Meta):
        fields = [*TorrentListSerializer.Meta.fields, "description", "description_html", "piece_length", "magnet"]
        read_only_fields = fields

    def get_description_html(self, obj: Torrent) -> str:
        """The description's BBCode as sanitized HTML (tracker.catalogue.markup), as the torrent page shows it."""
        return markup_render(obj.description)

    def get_magnet(self, obj: Torrent) -> str:
        """Empty here: the link carries the viewer's passkey, so the view puts it in (services.MagnetParts)."""
        return ""


class TorrentUploadSerializer(serializers.Serializer):
    file = serializers.FileField(allow_empty_file=True)
    forum = serializers.IntegerField(min_value=1)
    name = serializers.CharField(max_length=255, required=False, allow_blank=True)
    description = serializers.CharField(max_length=100_000, required=False, allow_blank=True, default="")


class TorrentUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=255, required=False)
    description = serializers.CharField(max_length=100_000, required=False, allow_blank=True)
    forum = serializers.PrimaryKeyRelatedField(queryset=Forum.objects.all(), required=False)
    status = serializers.ChoiceField(choices=TorrentStatus.choices, required=False)
    freeleech = serializers.ChoiceField(choices=Freeleech.choices, required=False)


class TorrentFileSerializer(serializers.ModelSerializer):
    class Meta:
        model = TorrentFile
        fields = ["path", "size"]
        read_only_fields = fields


class CommentSerializer(serializers.ModelSerializer):
    author = UserRefSerializer(read_only=True)
    text = serializers.CharField(max_length=10_000, trim_whitespace=True)
    text_html = serializers.SerializerMethodField()

    class Meta:
        model = Comment
        fields = ["id", "torrent", "author", "text", "text_html", "created_at", "edited_at"]
        read_only_fields = ["id", "torrent", "author", "text_html", "created_at", "edited_at"]

    def get_text_html(self, obj: Comment) -> str:
        """The comment's BBCode as sanitized HTML, as the torrent page shows it."""
        return markup_render(obj.text)


class StrictTextField(serializers.CharField):
    """A string, as the schema says: a number or a boolean is refused (422), not turned into text."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return str(super().to_internal_value(data))


class MarkupPreviewSerializer(serializers.Serializer):
    """POST /api/markup/preview: BBCode in (a description's limit), its HTML out."""

    text = StrictTextField(max_length=MAX_TEXT, allow_blank=True, trim_whitespace=False, write_only=True)
    html = serializers.CharField(read_only=True)


class BookmarkSerializer(serializers.ModelSerializer):
    torrent = TorrentListSerializer(read_only=True)

    class Meta:
        model = Bookmark
        fields = ["torrent", "created_at"]
        read_only_fields = fields


class StatsSerializer(serializers.Serializer):
    users = serializers.IntegerField()
    torrents = serializers.IntegerField()
    total_size = serializers.IntegerField()
    seeders = serializers.IntegerField()
    leechers = serializers.IntegerField()
    peers = serializers.IntegerField()
