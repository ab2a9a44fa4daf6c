"""Reads of members: the user list and public profiles; their API keys."""

import hmac
from collections.abc import Callable
from typing import Any

from django.db.models import Case, Count, F, Q, QuerySet, Value, When

from accounts.models import API_KEY_ID_LENGTH, API_KEY_PREFIX, ApiKey, User, api_key_hash
from core.errors import NotFound, pk_parse
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


# Sorts that would rank members by figures they may hide (stats_public).
_FIGURE_SORTS = {"uploaded", "downloaded"}


def user_page(*, query: ListQuery, viewer: Any = None) -> Page:
    """A page of the member list (USER_LIST): searched by username, sorted.

    Sorted by a transfer figure, the members whose figures `viewer` may not
    see (user_stats_visible) come after all the others, by id: the order
    never tells what they hide.
    """
    ordering: list[Any] = list(query.ordering(USER_LIST))
    sort = query.sort or USER_LIST.default_sort
    if sort in _FIGURE_SORTS and not getattr(viewer, "is_moderator", False):
        shown = Q(stats_public=True) | Q(pk=getattr(viewer, "pk", None))
        ordering = [Case(When(shown, then=Value(0)), default=Value(1)), *ordering]
        field = USER_LIST.sorts[sort]
        figure = Case(When(shown, then=F(field)), default=Value(None))
        ordering[1] = figure.desc(nulls_last=True) if query.order == "desc" else figure.asc(nulls_last=True)
    queryset = user_list(search=query.search).order_by(*ordering)
    return page_of(queryset, page=query.page, per_page=query.per_page)


# Which of a member's uploads a viewer may count, as a filter through the member's `torrents`: the
# catalogue's visibility rule, which accounts does not import. The tracker sets it when it loads
# (tracker.apps); until then profiles count nothing rather than what the viewer may not see.
_uploads_visible: Callable[[Any], Q] | None = None


def uploads_rule_set(rule: Callable[[Any], Q]) -> None:
    """Count a profile's `torrents_uploaded` with `rule(viewer)` (called once by the tracker's ready())."""
    global _uploads_visible
    _uploads_visible = rule


# The member's standing under the tracker's rules, for GET /api/me: the tracker sets it when it loads
# (tracker.apps), as it sets the uploads rule; accounts does not import the tracker.
_standing: Callable[[Any], dict[str, Any]] | None = None


def standing_rule_set(rule: Callable[[Any], dict[str, Any]]) -> None:
    """Describe a member's standing with `rule(user)` in GET /api/me (called once by the tracker's ready())."""
    global _standing
    _standing = rule


def member_standing_summary(user: Any) -> dict[str, Any] | None:
    """The member's standing (tracker.policy.members.Standing as a dict), or None without a tracker."""
    return _standing(user) if _standing is not None else None


def _profiles(viewer: Any) -> QuerySet[User]:
    """Active members with `torrents_uploaded`: the ones of their torrents `viewer` may see."""
    queryset = User.objects.filter(is_active=True)
    if _uploads_visible is not None:
        queryset = queryset.annotate(torrents_uploaded=Count("torrents", filter=_uploads_visible(viewer)))
    return queryset


def user_get_profile(*, pk: Any, viewer: Any = None) -> User:
    """The public profile of member `pk` with `torrents_uploaded` annotated; 404 if none.

    `torrents_uploaded` counts the member's torrents `viewer` may see, the
    ones GET /api/torrents?uploader=<pk> lists to them: a torrent in a forum
    above their level, or waiting for a moderator, is in no count of theirs.
    """
    user = _profiles(viewer).filter(pk=pk_parse(pk, "No such user.")).first()
    if user is None:
        raise NotFound("No such user.")
    return user


def user_get_public(*, username: str, viewer: Any = None) -> User:
    """The public profile of the member called `username` (the member page), as user_get_profile; 404 if none."""
    user = _profiles(viewer).filter(username=username).first()
    if user is None:
        raise NotFound("No such user.")
    return user


def user_stats_visible(user: Any, viewer: Any) -> bool:
    """Whether `viewer` may see `user`'s uploaded, downloaded and ratio: their own, a moderator, or the member shows them."""
    if viewer is not None and getattr(viewer, "pk", None) == user.pk:
        return True
    return bool(user.stats_public or getattr(viewer, "is_moderator", False))


# Longer than any key we issue (tpk_ + 8 + 43): anything longer is not looked up at all.
_API_KEY_MAX_LENGTH = 100


def api_key_list(*, user: Any) -> QuerySet[ApiKey]:
    """`user`'s API keys, revoked ones included, newest first."""
    return ApiKey.objects.filter(user=user).order_by("-created_at", "-id")


def api_key_find(*, raw: str) -> ApiKey | None:
    """The live key `raw` is, with its owner loaded; None for a malformed, unknown or revoked key.

    The row is found by the key's non-secret prefix and the hash of the
    whole key compared in constant time, so no timing tells how much of a
    guess was right. Whether the owner may still use it is the caller's
    question (accounts.authentication).
    """
    if not raw.startswith(API_KEY_PREFIX) or not API_KEY_ID_LENGTH + len(API_KEY_PREFIX) < len(raw) <= _API_KEY_MAX_LENGTH:
        return None
    prefix = raw[len(API_KEY_PREFIX) : len(API_KEY_PREFIX) + API_KEY_ID_LENGTH]
    key = ApiKey.objects.select_related("user").filter(prefix=prefix).first()
    if key is None or not hmac.compare_digest(key.key_hash, api_key_hash(raw)):
        return None
    return None if key.is_revoked else key
