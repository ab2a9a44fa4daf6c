"""django-filter FilterSets of the catalogue's list endpoints (search/sort/order are in api.filters)."""

import django_filters
from django import forms
from django.core.validators import RegexValidator
from django.db.models import Q, QuerySet

from tracker.models import Freeleech, Torrent, TorrentStatus

# Ids and sizes are 64-bit in the database; a larger number is a bad query, not a 500.
_BIGINT_MAX = 2**63 - 1

_HEX = RegexValidator(r"^(?:[0-9a-fA-F]{40}|[0-9a-fA-F]{64})$", "Must be 40 (v1) or 64 (v2) hexadecimal characters.")


class IntegerFilter(django_filters.NumberFilter):
    """A NumberFilter for whole numbers (ids, byte sizes): `1.5` is refused (422), not matched against nothing."""

    field_class = forms.IntegerField


class TorrentFilter(django_filters.FilterSet):
    """Filters of GET /api/torrents."""

    forum = IntegerFilter(field_name="forum_id", min_value=1, max_value=_BIGINT_MAX)
    category = IntegerFilter(field_name="forum__category_id", min_value=1, max_value=_BIGINT_MAX)
    uploader = IntegerFilter(field_name="uploader_id", min_value=1, max_value=_BIGINT_MAX)
    status = django_filters.ChoiceFilter(choices=TorrentStatus.choices)
    freeleech = django_filters.ChoiceFilter(choices=Freeleech.choices)
    seeded = django_filters.ChoiceFilter(
        choices=[("true", "true"), ("false", "false"), ("1", "1"), ("0", "0")],
        method="filter_seeded",
        label="Has seeders (true) or none (false)",
    )
    info_hash = django_filters.CharFilter(method="filter_info_hash", label="v1 (40 hex) or v2 (64 hex) info hash", validators=[_HEX])
    min_size = IntegerFilter(field_name="size", lookup_expr="gte", min_value=0, max_value=_BIGINT_MAX)
    max_size = IntegerFilter(field_name="size", lookup_expr="lte", min_value=0, max_value=_BIGINT_MAX)
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Torrent
        fields: list[str] = []

    def filter_seeded(self, queryset: QuerySet[Torrent], name: str, value: str) -> QuerySet[Torrent]:
        return queryset.filter(stats__seeders__gt=0) if value in ("true", "1") else queryset.filter(stats__seeders=0)

    def filter_info_hash(self, queryset: QuerySet[Torrent], name: str, value: str) -> QuerySet[Torrent]:
        value = value.lower()
        return queryset.filter(Q(info_hash=value) | Q(info_hash_v2=value) | Q(info_hash_v2_short=value))
