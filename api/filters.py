"""The `search`, `sort` and `order` contract, shared by every list endpoint.

A view plugs in by declaring:

    search_fields = ["name", "description"]        # ORM lookups searched with icontains
    sort_fields = {"created_at": "created_at", "size": "size"}   # public name -> ORM field
    default_sort = "created_at"
    default_order = "desc"

and may override `search_queryset(queryset, term)` for a smarter search
(full-text on PostgreSQL, say).
"""

from functools import reduce
from operator import or_
from typing import Any

from django.db.models import Q, QuerySet
from rest_framework.filters import BaseFilterBackend
from rest_framework.request import Request

from core.errors import Invalid

ORDERS = ("asc", "desc")
SEARCH_MAX_LENGTH = 200


def parse_search(params: Any) -> str:
    """Return the stripped `search` term ("" when absent), or raise 422 when it is too long."""
    term = (params.get("search") or "").strip()
    if len(term) > SEARCH_MAX_LENGTH:
        raise Invalid(details={"search": [f"search must be at most {SEARCH_MAX_LENGTH} characters."]})
    if "\x00" in term:  # PostgreSQL cannot take a NUL in a string: refuse it here, not with a 500
        raise Invalid(details={"search": ["search must not contain NUL characters."]})
    return term


def parse_sort(params: Any, view: Any) -> tuple[str, str] | None:
    """Return (public sort name, order) from the query, or raise 422."""
    sort_fields: dict[str, str] = getattr(view, "sort_fields", {})
    if not sort_fields:
        return None
    details: dict[str, list[str]] = {}
    sort = params.get("sort") or getattr(view, "default_sort", next(iter(sort_fields)))
    order = (params.get("order") or getattr(view, "default_order", "asc")).lower()
    if sort not in sort_fields:
        details["sort"] = [f"Cannot sort by {sort!r}. Allowed fields: {', '.join(sort_fields)}."]
    if order not in ORDERS:
        details["order"] = ["order must be 'asc' or 'desc'."]
    if details:
        raise Invalid(details=details)
    return sort, order


class ContractFilterBackend(BaseFilterBackend):
    """Apply `search`, then `sort`/`order` (whitelisted), with a stable tie-breaker."""

    def filter_queryset(self, request: Request, queryset: QuerySet[Any], view: Any) -> QuerySet[Any]:
        params = request.query_params
        term = parse_search(params)
        if term:
            custom = getattr(view, "search_queryset", None)
            if custom is not None:
                queryset = custom(queryset, term)
            else:
                fields = getattr(view, "search_fields", [])
                if fields:
                    queryset = queryset.filter(reduce(or_, (Q(**{f"{f}__icontains": term}) for f in fields)))
        parsed = parse_sort(params, view)
        if parsed is not None:
            sort, order = parsed
            field = view.sort_fields[sort]
            prefix = "-" if order == "desc" else ""
            queryset = queryset.order_by(f"{prefix}{field}", f"{prefix}pk")
        return queryset

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        params: list[dict[str, Any]] = []
        if getattr(view, "search_fields", None) or getattr(view, "search_queryset", None):
            params.append({"name": "search", "in": "query", "required": False, "description": "Text search.", "schema": {"type": "string"}})
        sort_fields = getattr(view, "sort_fields", None)
        if sort_fields:
            params.append(
                {
                    "name": "sort",
                    "in": "query",
                    "required": False,
                    "description": "Field to sort by.",
                    "schema": {"type": "string", "enum": list(sort_fields)},
                }
            )
            params.append(
                {
                    "name": "order",
                    "in": "query",
                    "required": False,
                    "description": "Sort direction.",
                    "schema": {"type": "string", "enum": list(ORDERS)},
                }
            )
        return params
