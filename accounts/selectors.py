"""Reads of members: the user list and public profiles."""

from typing import Any

from django.db.models import Count, Q, QuerySet

from accounts.models import User
from core.errors import NotFound
from core.listing import ListQuery, ListSpec, Page, page_of

USER_LIST = ListSpec(
    search=True,
    sorts={"id": "id", "username": "username", "joined": "date_joined", "uploaded": "uploaded", "downloaded": "downloaded"},
    default_sort="id",
)


def user_list(*, search: str = "") -> QuerySet[User]:
    """Active members, optionally those whose username contains `search`."""
    queryset = User.objects.filter(is_active=True).order_by("id")
    if search:
        queryset = queryset.filter(username__icontains=search)
    return queryset


def user_page(*, query: ListQuery) -> Page:
    """A page of the member list (USER_LIST): searched by username, sorted."""
    return page_of(user_list(search=query.search).order_by(*query.ordering(USER_LIST)), page=query.page, per_page=query.per_page)


def user_get_profile(*, pk: Any) -> User:
    """The public profile of member `pk` with `torrents_uploaded` (approved torrents) annotated; 404 if none."""
    user = (
        User.objects.filter(is_active=True, pk=_int_pk(pk))
        .annotate(torrents_uploaded=Count("torrents", filter=Q(torrents__status="approved")))
        .first()
    )
    if user is None:
        raise NotFound("No such user.")
    return user


def _int_pk(pk: Any) -> int:
    try:
        value = int(pk)
    except (TypeError, ValueError):
        raise NotFound("No such user.") from None
    if not 0 < value < 2**63:
        raise NotFound("No such user.")
    return value
