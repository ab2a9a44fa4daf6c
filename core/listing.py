"""List queries: `page`/`per_page`, `search`, `sort`/`order` and a list's own filters, read once; and a page of results.

A list declares what it takes in a `ListSpec` (beside its selector). The
front validates the request's parameters against it (`list_query_parse`,
an `Invalid` with field details when they are wrong), the selector owns
the query and its count, and `page_of` cuts the page. The API renders it
in the envelope with `meta`, the pages with their pager; the API's
OpenAPI schema reads the same spec.
"""

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db.models import QuerySet

from core.counting import Estimate
from core.errors import Invalid

DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 100
ORDERS = ("asc", "desc")
SEARCH_MAX_LENGTH = 200
# The database's largest offset (a signed 64-bit integer): a page beyond it is Invalid, not a 500 from the driver.
MAX_ROW = 2**63 - 1
# The highest page number: with per_page at most MAX_PER_PAGE, no page starts past MAX_ROW.
MAX_PAGE = MAX_ROW // MAX_PER_PAGE


@dataclass(frozen=True)
class ListSpec:
    """What one list endpoint takes: whether it searches, its sorts (public name -> ORM field), its FilterSet."""

    search: bool = False
    sorts: Mapping[str, str] = field(default_factory=dict)
    default_sort: str = ""
    default_order: str = "asc"
    # A django-filter FilterSet class validating (and applying) the list's own filters.
    filterset: Any = None


@dataclass(frozen=True)
class ListQuery:
    """A list request, validated: the search term, the sort, the page, and the bound FilterSet (if any)."""

    search: str = ""
    sort: str | None = None
    order: str = "asc"
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE
    filters: Any = None  # the spec's FilterSet bound to the parameters, valid

    def ordering(self, spec: ListSpec) -> tuple[str, str]:
        """The ORM `order_by` for the sort: its field, then the primary key as a stable tie-breaker."""
        prefix = "-" if self.order == "desc" else ""
        return f"{prefix}{spec.sorts[self.sort or spec.default_sort]}", f"{prefix}pk"


def parse_positive_int(params: Mapping[str, Any], name: str, default: int) -> int:
    """Read query parameter `name` as an integer >= 1, else Invalid."""
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


def parse_search(params: Mapping[str, Any]) -> str:
    """The stripped `search` term ("" when absent); too long or holding a NUL: Invalid."""
    term = (params.get("search") or "").strip()
    if len(term) > SEARCH_MAX_LENGTH:
        raise Invalid(details={"search": [f"search must be at most {SEARCH_MAX_LENGTH} characters."]})
    if "\x00" in term:  # PostgreSQL cannot take a NUL in a string: refuse it here, not with a 500
        raise Invalid(details={"search": ["search must not contain NUL characters."]})
    return term


def parse_sort(params: Mapping[str, Any], spec: ListSpec) -> tuple[str, str] | None:
    """(public sort name, order) from the query, or Invalid naming the allowed sorts; None for a list without sorts."""
    if not spec.sorts:
        return None
    details: dict[str, list[str]] = {}
    sort = params.get("sort") or spec.default_sort or next(iter(spec.sorts))
    order = (params.get("order") or spec.default_order).lower()
    if sort not in spec.sorts:
        details["sort"] = [f"Cannot sort by {sort!r}. Allowed fields: {', '.join(spec.sorts)}."]
    if order not in ORDERS:
        details["order"] = ["order must be 'asc' or 'desc'."]
    if details:
        raise Invalid(details=details)
    return sort, order


def _names_a_filter(params: Mapping[str, Any], filterset: Any) -> bool:
    """Whether the request names any of the FilterSet's parameters (a filter's own, or one of its
    suffixed ones); without one there is nothing to validate or apply, and building a FilterSet
    (a deep copy of every filter, a form) is a tenth of an unfiltered list's cost."""
    names = filterset.base_filters
    return any(key in names or any(key.startswith(f"{name}_") for name in names) for key in params)


def list_query_parse(params: Mapping[str, Any], spec: ListSpec) -> ListQuery:
    """Validate a list request's parameters against `spec`: filters, then search, sort and order, then the page."""
    filters = None
    if spec.filterset is not None and _names_a_filter(params, spec.filterset):
        filters = spec.filterset(params)
        if not filters.is_valid():
            raise Invalid(details={k: [str(m) for m in v] for k, v in filters.errors.items()})
    term = parse_search(params) if spec.search else ""
    sort, order = parse_sort(params, spec) or (None, "asc")
    page = parse_positive_int(params, "page", 1)
    per_page = min(parse_positive_int(params, "per_page", DEFAULT_PER_PAGE), MAX_PER_PAGE)
    if page > MAX_PAGE:
        raise Invalid(details={"page": [f"page must be at most {MAX_PAGE}."]})
    return ListQuery(search=term, sort=sort, order=order, page=page, per_page=per_page, filters=filters)


@dataclass(frozen=True)
class Page:
    """One page of a list: its items and where it sits among the others."""

    items: list[Any]
    number: int
    per_page: int
    total: int
    # The total is an estimate (core.counting.Estimate): a count that could not be had cheaply.
    estimated: bool = False

    @property
    def total_pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.total_pages

    @property
    def previous_number(self) -> int:
        return self.number - 1

    @property
    def next_number(self) -> int:
        return self.number + 1

    @property
    def window(self) -> list[int]:
        """Page numbers to link to: the first, the last and two either side of this one."""
        near = set(range(max(1, self.number - 2), min(self.total_pages, self.number + 2) + 1))
        return sorted(near | {1, self.total_pages})


# From this many rows skipped on, a page is read in two steps (a deferred join): first the keys of
# its rows, walking the sort's index and reading nothing else, then those rows with their related
# rows. A plain OFFSET would build every skipped row, joins and all, only to throw it away.
DEFERRED_JOIN_OFFSET = 500


def _slice(queryset: QuerySet[Any], offset: int, limit: int, keys_from: QuerySet[Any] | None = None) -> list[Any]:
    """Rows offset .. offset + limit of `queryset`, in its order (`keys_from`'s, which holds the same rows: see page_of)."""
    if offset < DEFERRED_JOIN_OFFSET:
        return list(queryset[offset : offset + limit])
    keys = list((queryset if keys_from is None else keys_from).values_list("pk", flat=True)[offset : offset + limit])
    if not keys:
        return []
    pk = queryset.model._meta.pk.attname
    # Model instances, or values() rows (api.rows), which then carry the primary key under its column's name.
    rows = {row[pk] if isinstance(row, dict) else row.pk: row for row in queryset.order_by().filter(pk__in=keys)}
    return [rows[key] for key in keys if key in rows]  # a row deleted between the two steps is left out


def page_of(
    queryset: QuerySet[Any],
    *,
    page: int,
    per_page: int,
    count: Callable[[], int] | None = None,
    keys_from: QuerySet[Any] | None = None,
) -> Page:
    """Slice page `page` out of `queryset`, with as exact a total as is cheap.

    `keys_from`: the same rows in the same order, before `queryset` read
    related rows' columns into them (values() over joins, api.rows), for the
    deep pages' key step: its joins would otherwise stay in that step, one
    probe of each related table per skipped row.

    A short page tells the total exactly, so small lists are never counted.
    Otherwise the total is `count()` (which may answer from a cache, as the
    torrent list's does), or the queryset's count.
    """
    offset = (page - 1) * per_page
    items = _slice(queryset, offset, per_page, keys_from)
    if len(items) < per_page and (items or offset == 0):
        return Page(items=items, number=page, per_page=per_page, total=offset + len(items))
    total = count() if count is not None else queryset.count()
    estimated = isinstance(total, Estimate)
    if items:
        total = max(total, offset + len(items))
    return Page(items=items, number=page, per_page=per_page, total=int(total), estimated=estimated)
