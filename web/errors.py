"""The catalogue's errors, as the pages show them.

The services and selectors raise the API's errors (api.errors); a page turns
a 404 or 403 into Django's error pages and puts a 422 / 409 / 413 next to
the form field it is about.
"""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django import forms
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponseBase

from api.errors import ApiError, ErrorCode, NotFound


def api_errors_as_pages(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """Let a page view call services freely: NOT_FOUND becomes a 404 page, FORBIDDEN a 403 page."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        try:
            return view(request, *args, **kwargs)
        except NotFound as exc:
            raise Http404(exc.message) from None
        except ApiError as exc:
            if exc.code == ErrorCode.FORBIDDEN:
                raise PermissionDenied(exc.message) from None
            raise

    return wrapped


def form_add_api_error(form: forms.Form, error: ApiError, *, default_field: str | None = None) -> None:
    """Show `error` on `form`: each entry of its details next to its field, the rest above the form.

    Details about fields the form does not have, or a detail that is not a
    list of messages (a 409's pointer to the existing torrent), go on
    `default_field` when given.
    """
    placed = False
    for field, messages in error.details.items():
        if isinstance(messages, list | tuple) and all(isinstance(m, str) for m in messages):
            target = field if field in form.fields else default_field
            for message in messages:
                form.add_error(target, message if target == field else f"{field}: {message}")
            placed = True
    if not placed:
        form.add_error(default_field, error.message)
