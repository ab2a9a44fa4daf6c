"""Reads the pages need that the catalogue does not offer (yet).

Until the catalogue's selectors land on main these query the models
directly, with the same rules the API states: only forums the user may view,
only approved torrents unless the user uploaded them or moderates.
"""

from functools import reduce
from operator import or_
from typing import Any

from django.db.models import Q, QuerySet
from django.http import Http404

from tracker.access import user_level
from tracker.models import AccessLevel, Bookmark, Comment, Forum, Torrent, TorrentFile, TorrentStatus

SORT_FIELDS = {
    "created_at": "created_at",
    "name": "name",
    "size": "size",
    "seeders": "seeders",
    "leechers": "leechers",
    "completed": "completed",
}


def forum_list_visible(*, user: Any) -> list[Forum]:
    """Forums `user` may view, in display order, with their category."""
    return list(Forum.objects.filter(view_level__lte=user_level(user)).select_related("category"))


def _torrents_visible(user: Any) -> QuerySet[Torrent]:
    level = user_level(user)
    queryset = Torrent.objects.filter(forum__view_level__lte=level)
    if level < AccessLevel.MODERATOR:
        approved = Q(status=TorrentStatus.APPROVED)
        queryset = queryset.filter(approved | Q(uploader=user) if user.is_authenticated else approved)
    return queryset


def torrent_list(
    *, user: Any, search: str = "", forum: int | None = None, category: int | None = None, sort: str = "created_at", order: str = "desc"
) -> QuerySet[Torrent]:
    """Torrents `user` may see, filtered, searched (name, description, file names) and sorted."""
    queryset = _torrents_visible(user).select_related("forum", "forum__category", "uploader")
    if forum is not None:
        queryset = queryset.filter(forum_id=forum)
    if category is not None:
        queryset = queryset.filter(forum__category_id=category)
    if search:
        by_file = TorrentFile.objects.filter(path__icontains=search).values("torrent_id")
        queryset = queryset.filter(reduce(or_, [Q(name__icontains=search), Q(description__icontains=search), Q(pk__in=by_file)]))
    prefix = "-" if order == "desc" else ""
    return queryset.order_by(f"{prefix}{SORT_FIELDS[sort]}", f"{prefix}pk")


def torrent_get_visible(*, user: Any, torrent_id: int) -> Torrent:
    """The torrent if `user` may see it; 404 otherwise, so its existence does not leak."""
    torrent = _torrents_visible(user).select_related("forum", "forum__category", "uploader").defer("metainfo").filter(pk=torrent_id).first()
    if torrent is None:
        raise Http404("No such torrent.")
    return torrent


def torrent_files(*, torrent: Torrent, limit: int = 500) -> list[TorrentFile]:
    """The first `limit` files of `torrent`, by path."""
    return list(torrent.files.all()[:limit])


def comment_list(*, torrent: Torrent) -> list[Comment]:
    """The comments on `torrent`, oldest first, with their authors."""
    return list(torrent.comments.select_related("author"))


def bookmark_list(*, user: Any) -> list[Bookmark]:
    """`user`'s bookmarks, newest first, with their torrents."""
    return list(Bookmark.objects.filter(user=user).select_related("torrent").defer("torrent__metainfo", "torrent__description")[:200])
