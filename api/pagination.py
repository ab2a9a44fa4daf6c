"""A page of a list (core.listing.Page) as the API sends it: the data in the envelope with `meta`."""

from typing import Any

from rest_framework.request import Request
from rest_framework.response import Response

from core.listing import ListQuery, ListSpec, Page, list_query_parse


def list_query(request: Request, spec: ListSpec) -> ListQuery:
    """The list request's parameters, validated against `spec` (422 VALIDATION_ERROR when they are wrong)."""
    return list_query_parse(request.query_params, spec)


def page_response(page: Page, data: Any) -> Response:
    """`data` (the page's items, serialized) with the contract's `meta`; the renderer adds the envelope."""
    response = Response(data)
    response.pagination_meta = {  # type: ignore[attr-defined]
        "current_page": page.number,
        "per_page": page.per_page,
        "total": page.total,
        "total_pages": page.total_pages,
    }
    if page.estimated:  # said only then: every other list's meta is the contract's, byte for byte
        response.pagination_meta["total_is_estimate"] = True  # type: ignore[attr-defined]
    return response
