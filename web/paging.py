"""Page-number pagination for the pages."""

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

PER_PAGE = 50


@dataclass(frozen=True)
class Page:
    """One page of a list: its items and where it sits among the others."""

    items: list[Any]
    number: int
    per_page: int
    total: int

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


def page_get(queryset: QuerySet[Any], *, number: int, per_page: int = PER_PAGE, count: Callable[[QuerySet[Any]], int]) -> Page:
    """Slice page `number` out of `queryset`, with as exact a total as is cheap.

    A short page tells the total exactly, so small lists are never counted
    and a new torrent shows at once. Otherwise the total is counted once per
    `count(queryset)` is asked, which may answer from a cache (the torrent
    list's cached count, as for the API's `meta.total`).
    """
    offset = (number - 1) * per_page
    items = list(queryset[offset : offset + per_page])
    if len(items) < per_page and (items or offset == 0):
        return Page(items=items, number=number, per_page=per_page, total=offset + len(items))
    total = count(queryset)
    if items:
        total = max(total, offset + len(items))
    return Page(items=items, number=number, per_page=per_page, total=total)
