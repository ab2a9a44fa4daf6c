"""page/per_page pagination with the contract's meta block."""

import math
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response

from core.cache import cache_get, cache_set
from core.errors import Invalid

DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 100


def parse_positive_int(params: Any, name: str, default: int) -> int:
    """Read query parameter `name` as an integer >= 1, else raise 422."""
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise Invalid(details={name: [f"{name} must be an integer."]}) from None
    if value < 1:
        raise Invalid(details={name: [f"{name} must be at least 1."]})
    return value


class PagePagination(BasePagination):
    """Slice a queryset by `page` and `per_page` (default 50, clamped to 100)."""

    def paginate_queryset(self, queryset: QuerySet[Any] | Sequence[Any], request: Request, view: Any = None) -> list[Any]:
        params = request.query_params
        self.page = parse_positive_int(params, "page", 1)
        self.per_page = min(parse_positive_int(params, "per_page", DEFAULT_PER_PAGE), MAX_PER_PAGE)
        counter = getattr(view, "count_queryset", None)
        self.total = counter(queryset) if counter else _count(queryset)
        offset = (self.page - 1) * self.per_page
        if offset >= self.total:
            return []
        return list(queryset[offset : offset + self.per_page])

    def get_paginated_response(self, data: Any) -> Response:
        response = Response(data)
        response.pagination_meta = {  # type: ignore[attr-defined]
            "current_page": self.page,
            "per_page": self.per_page,
            "total": self.total,
            "total_pages": max(1, math.ceil(self.total / self.per_page)),
        }
        return response

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        """The whole page body as the API sends it: envelope, data list and meta."""
        from api.schema import page_envelope  # here: api.schema imports drf-spectacular, which loads this class

        return page_envelope(schema)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {
                "name": "page",
                "required": False,
                "in": "query",
                "description": "Page number (default 1).",
                "schema": {"type": "integer", "minimum": 1},
            },
            {
                "name": "per_page",
                "required": False,
                "in": "query",
                "description": f"Items per page (default {DEFAULT_PER_PAGE}, at most {MAX_PER_PAGE}).",
                "schema": {"type": "integer", "minimum": 1},
            },
        ]


def _count(queryset: QuerySet[Any] | Sequence[Any]) -> int:
    if isinstance(queryset, QuerySet):
        return queryset.count()
    return len(queryset)


def cached_count(queryset: QuerySet[Any], *, key: str, timeout: int | None = None) -> int:
    """Count `queryset`, reusing a cached figure for `timeout` seconds.

    It is OK for a page's `meta.total` to lag by a few seconds: a full count
    of a million rows on every page would cost far more than it is worth.
    """
    timeout = timeout if timeout is not None else getattr(settings, "API_COUNT_CACHE_SECONDS", 30)
    value = cache_get(key)
    if value is None:
        value = queryset.count()
        cache_set(key, value, timeout)
    return int(value)
