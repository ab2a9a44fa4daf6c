"""The business logic's errors (core.errors), as the pages show them.

A page turns NotFound and Forbidden into Django's 404 and 403 pages and puts
Invalid, Conflict and TooLarge next to the form field they are about.
"""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django import forms
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponseBase

from core.errors import DomainError, Forbidden, NotFound


def domain_errors_as_pages(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """Let a page view call services freely: NOT_FOUND becomes a 404 page, FORBIDDEN a 403 page."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        try:
            return view(request, *args, **kwargs)
        except NotFound as exc:
            raise Http404(exc.message) from None
        except Forbidden as exc:
            raise PermissionDenied(exc.message) from None

    return wrapped


def form_add_domain_error(form: forms.Form, error: DomainError, *, default_field: str | None = None) -> None:
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
