"""Reads of the catalogue: what a user may see, filtered, searched and sorted.

The API views and the HTML pages both call these; every visibility rule
lives here (forum view levels, unapproved torrents) so the two never drift.
"""

import hashlib
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import BooleanField, Count, Prefetch, Q, QuerySet, Sum
from django.db.models.expressions import RawSQL

from accounts.models import User
from core.cache import cache_get, cached_count, cached_generation, cached_value
from core.counting import plus
from core.errors import NotFound, pk_parse
from core.listing import DEFAULT_PER_PAGE, ListQuery, ListSpec, Page, page_of
from tracker.catalogue.access import user_level
from tracker.catalogue.filters import TorrentFilter
from tracker.models import AccessLevel, Bookmark, Category, Comment, Forum, Peer, Torrent, TorrentCount, TorrentFile, TorrentStatus

# The torrent list (API and pages): its filters, search and sorts (public name -> ORM field).
TORRENT_LIST = ListSpec(
    search=True,
    sorts={
        "created_at": "created_at",
        "name": "name",
        "size": "size",
        "seeders": "stats__seeders",
        "leechers": "stats__leechers",
        "completed": "stats__completed",
    },
    default_sort="created_at",
    default_order="desc",
    filterset=TorrentFilter,
)
# Lists that are only paged: a torrent's files and comments, a member's bookmarks.
PAGED_LIST = ListSpec()
TORRENT_LIST_GENERATION_KEY = "torrents:list-generation"


def forum_list_visible(*, user: Any) -> QuerySet[Forum]:
    """Forums `user` may see, in display order, with their category."""
    return Forum.objects.filter(view_level__lte=user_level(user)).select_related("category")


def forum_get_visible(*, user: Any, pk: Any) -> Forum:
    """The forum `pk` if `user` may see it; otherwise 404."""
    forum = forum_list_visible(user=user).filter(pk=pk_parse(pk)).first()
    if forum is None:
        raise NotFound("No such forum.")
    return forum


def category_list_visible(*, user: Any) -> QuerySet[Category]:
    """Every category, each with only the forums `user` may see (prefetched as `visible_forums`)."""
    return Category.objects.prefetch_related(Prefetch("forums", queryset=forum_list_visible(user=user), to_attr="visible_forums"))


def category_get(*, user: Any, pk: Any) -> Category:
    """The category `pk` (categories are public; their hidden forums are not listed)."""
    category = category_list_visible(user=user).filter(pk=pk_parse(pk)).first()
    if category is None:
        raise NotFound("No such category.")
    return category


def member_id_by_username(*, username: str) -> int | None:
    """The id of the member called exactly `username` (for the uploader filter, which takes ids), or None."""
    return User.objects.filter(username=username).values_list("pk", flat=True).first()


def torrent_visible_q(*, level: int, user_id: int | None, through: str = "") -> Q:
    """The rule of who sees a torrent, as a filter: in a forum `level` may view, and approved unless
    `user_id` uploaded it or `level` moderates.

    On bare values (the tracker's cached AnnounceUser has just an id and a
    level), and on rows that point at a torrent with `through` ("torrent__").
    """
    visible = Q(**{f"{through}forum__view_level__lte": level})
    if level < AccessLevel.MODERATOR:
        approved = Q(**{f"{through}status": TorrentStatus.APPROVED})
        own = Q(**{f"{through}uploader_id": user_id}) if level >= AccessLevel.USER and user_id is not None else None
        visible &= approved | own if own is not None else approved
    return visible


def uploads_visible_q(viewer: Any) -> Q:
    """torrent_visible_q through a member's `torrents`: the uploads on their profile `viewer` may count."""
    return torrent_visible_q(level=user_level(viewer), user_id=getattr(viewer, "pk", None), through="torrents__")


def torrent_visible_queryset(*, user: Any) -> QuerySet[Torrent]:
    """Torrents `user` may see: in forums they may view, and approved unless they uploaded it or moderate.

    The metainfo bytes are deferred: lists never need them. The swarm counts
    (TorrentStats) come in the same query.
    """
    return _visible(level=user_level(user), user_id=getattr(user, "pk", None))


def _visible(*, level: int, user_id: int | None) -> QuerySet[Torrent]:
    """torrent_visible_queryset on bare values (user_id None: what every viewer of `level` sees)."""
    queryset = Torrent.objects.filter(torrent_visible_q(level=level, user_id=user_id))
    return queryset.select_related("forum__category", "uploader", "stats").defer("metainfo", "description")


def torrent_get_visible(*, user: Any, pk: Any, with_metainfo: bool = False) -> Torrent:
    """The torrent `pk` if `user` may see it (else 404), with its description."""
    queryset = torrent_visible_queryset(user=user).defer(None)  # keeps its select_related
    if not with_metainfo:
        queryset = queryset.defer("metainfo")
    torrent = queryset.filter(pk=pk_parse(pk)).first()
    if torrent is None:
        raise NotFound("No such torrent.")
    return torrent


def torrent_shown(*, user: Any, pk: Any, shape: Callable[[Torrent], Any], cache_as: str) -> Any:
    """`shape(torrent)` for the torrent `pk` if `user` may see it (else 404), as torrent_get_visible reads it.

    With TORRENT_LIST_CACHE_SECONDS, what `shape` makes (the caller's name
    for it: `cache_as`) is shared by every viewer of the same access level,
    under the lists' generation, as a page of the list is (list_shared): an
    edit, a status or forum change shows on the very next request, and only
    the swarm's counts may lag by those seconds. So `shape` must hold
    nothing of the viewer (the caller adds that: the magnet's passkey).
    A torrent the level does not see may still be the viewer's own upload:
    that one is read for them alone and never shared.
    """
    key = pk_parse(pk)
    if settings.TORRENT_LIST_CACHE_SECONDS <= 0:
        return shape(torrent_get_visible(user=user, pk=key))
    level = user_level(user)

    def compute() -> Any:
        torrent = _visible(level=level, user_id=None).defer(None).defer("metainfo", *_UPLOADER_BEYOND_NAME).filter(pk=key).first()
        return None if torrent is None else shape(torrent)

    shown = list_shared(f"torrent:{cache_as}", level=level, what=key, compute=compute)
    if shown is not None:
        return shown
    if not AccessLevel.USER <= level < AccessLevel.MODERATOR:  # a guest owns nothing; a moderator's level sees every status
        raise NotFound("No such torrent.")
    return shape(torrent_get_visible(user=user, pk=key))


def _escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def torrent_search(*, queryset: QuerySet[Torrent], term: str) -> QuerySet[Torrent]:
    """Narrow `queryset` to torrents whose name, description or a file path contains `term` (case-insensitive).

    Three ILIKE tests on columns of the torrent row itself (file paths are
    copied into `files_text` at registration), each with a pg_trgm GIN index
    on PostgreSQL: the planner ORs the indexes for a rare term and walks
    the sort order with a filter for a common one. SQLite's LIKE is
    case-insensitive for ASCII and needs no index at our scale.
    """
    op = "ILIKE" if connection.vendor == "postgresql" else "LIKE"
    table = connection.ops.quote_name(Torrent._meta.db_table)
    sql = " OR ".join(f"{table}.{column} {op} %s ESCAPE '\\'" for column in ("name", "description", "files_text"))
    like = f"%{_escape_like(term)}%"
    # The term is a bound parameter; only our own column names are in the SQL.
    return queryset.filter(RawSQL(f"({sql})", [like, like, like], output_field=BooleanField()))  # noqa: S611


def torrent_list(*, user: Any, query: ListQuery) -> QuerySet[Torrent]:
    """Torrents `user` may see, narrowed by the list's filters and search, in its sort order (TORRENT_LIST)."""
    queryset = torrent_visible_queryset(user=user)
    if query.filters is not None:
        queryset = query.filters.filter_queryset(queryset)
    if query.search:
        queryset = torrent_search(queryset=queryset, term=query.search)
    if _sorts_by_count(query):
        # An inner join (every torrent has its counts row): PostgreSQL can then
        # walk the counts index in order and stop at the page, which it cannot
        # do through the outer join select_related makes.
        queryset = queryset.filter(stats__isnull=False)
    return queryset.order_by(*query.ordering(TORRENT_LIST))


def _sorts_by_count(query: ListQuery) -> bool:
    return TORRENT_LIST.sorts[query.sort or TORRENT_LIST.default_sort].startswith("stats__")


def torrent_page(
    *,
    user: Any,
    query: ListQuery,
    rows: Callable[[QuerySet[Torrent]], QuerySet[Any]] | None = None,
    shape: Callable[[list[Any]], Any] | None = None,
    cache_as: str | None = None,
) -> Page:
    """One page of torrent_list, with its cached count (torrent_list_count).

    `rows` reshapes the list before it is cut (the API reads it as values()
    rows, api.rows); without it the page holds Torrent instances. `shape`
    then turns the page's rows into what the caller shows (the API's JSON
    rows), once per cached page.

    With `cache_as` (the caller's name for what `rows` and `shape` make), the
    page is shared for TORRENT_LIST_CACHE_SECONDS by every viewer who sees
    the same list: one access level, and for a member no unapproved upload of
    their own in it (those lists are theirs alone and never cached). Every
    change of what a list holds (a registration, a deletion, a status or forum
    change: services.lists_changed) starts a new generation, which the next
    request sees; the swarm's counts in the rows may lag by those seconds.
    """

    shared = cache_as is not None and settings.TORRENT_LIST_CACHE_SECONDS > 0
    level = user_level(user)
    # Asked once where a page may be shared: a member's own waiting uploads make their list theirs alone,
    # and a member without any has none to count (elsewhere they are counted, found or not).
    own_waiting = AccessLevel.USER <= level < AccessLevel.MODERATOR and (not shared or _has_own_unapproved(user))

    def count() -> int:
        return torrent_list_count(user=user, query=query, own_waiting=own_waiting)

    def compute() -> Page:
        listed: QuerySet[Any] = torrent_list(user=user, query=query)
        # As instances, the uploader is read for their name alone: a page kept in the cache holds nothing else of them.
        queryset = rows(listed) if rows is not None else listed.defer(*_UPLOADER_BEYOND_NAME)
        page = page_of(queryset, page=query.page, per_page=query.per_page, count=count, keys_from=listed)
        return page if shape is None else replace(page, items=shape(page.items))

    if not shared or own_waiting:
        return compute()
    given = sorted((k, repr(v)) for k, v in _given_filters(query).items())
    what = (given, query.search, query.sort, query.order, query.page, query.per_page)
    return list_shared(f"page:{cache_as}", level=level, what=what, compute=compute)


def _given_filters(query: ListQuery) -> dict[str, Any]:
    """The list's filters that were given a value."""
    filters = query.filters.form.cleaned_data if query.filters is not None else {}
    return {k: v for k, v in filters.items() if v not in (None, "")}


def list_shared(name: str, *, level: int, what: Any, compute: Callable[[], Any]) -> Any:
    """`compute()`, shared for TORRENT_LIST_CACHE_SECONDS by every viewer of access `level` asking for `what`.

    For what a list's page shows and depends on nothing but the viewer's
    level and the request (`what`, any value with a stable repr): a page of
    rows (torrent_page), the browse page's filter form. It lives under the
    lists' generation, so every change of what the lists hold or show
    (services.lists_changed) is seen by the very next request. The caller
    decides that the viewer's own state is not in it.
    """
    seconds = settings.TORRENT_LIST_CACHE_SECONDS
    if seconds <= 0:
        return compute()
    digest = hashlib.sha256(repr(what).encode()).hexdigest()[:32]
    return cached_generation(f"torrents:{name}:{level}:{digest}", TORRENT_LIST_GENERATION_KEY, compute, fresh_seconds=seconds)


# Every column of the uploader's row but the key and the name (password hash, passkey, address, totals...).
_UPLOADER_BEYOND_NAME = tuple(f"uploader__{f.name}" for f in User._meta.concrete_fields if f.name not in ("id", "username"))


def _has_own_unapproved(user: Any) -> bool:
    """Has `user` uploads that only they see in the lists? Kept under the lists' generation, as a page is.

    Whatever gives a member such an upload or takes it away (a registration,
    a status change, a deletion, a change of uploader in the admin) is a
    change of what the lists hold, so the next request asks again.
    """
    return bool(
        cached_generation(
            f"torrents:own-waiting:{user.pk}",
            TORRENT_LIST_GENERATION_KEY,
            lambda: _own_unapproved(user).exists(),
            fresh_seconds=settings.TORRENT_LIST_CACHE_SECONDS,
        )
    )


def _own_unapproved(user: Any) -> QuerySet[Torrent]:
    """A member's uploads that only they (and moderators) see in the lists."""
    return Torrent.objects.filter(uploader=user).exclude(status=TorrentStatus.APPROVED)


def torrent_uploads_page(*, user: Any, uploader: Any, page: int, per_page: int = DEFAULT_PER_PAGE) -> Page:
    """A page of `uploader`'s torrents that `user` may see (as GET /api/torrents?uploader= lists them), newest first."""
    queryset = torrent_visible_queryset(user=user).filter(uploader=uploader).order_by("-created_at", "-pk")
    return page_of(queryset, page=page, per_page=per_page)


# The filters a list's total can be summed for from TorrentCount (kept per forum and status).
_MAINTAINED_FILTERS = {"forum", "category", "status"}


def _maintained_total(*, level: int, filters: dict[str, Any]) -> int | None:
    """How many torrents `level` sees without counting them: approved ones (every status for moderators)
    in the forums it may view, narrowed by forum, category and status; None for other filters."""
    if set(filters) - _MAINTAINED_FILTERS:
        return None
    rows = TorrentCount.objects.filter(forum__view_level__lte=level)
    if "forum" in filters:
        rows = rows.filter(forum_id=filters["forum"])
    if "category" in filters:
        rows = rows.filter(forum__category_id=filters["category"])
    if "status" in filters:
        rows = rows.filter(status=filters["status"])
    if level < AccessLevel.MODERATOR:
        rows = rows.filter(status=TorrentStatus.APPROVED)
    return int(rows.aggregate(total=Sum("count"))["total"] or 0)


def torrent_list_count(*, user: Any, query: ListQuery, own_waiting: bool = True) -> int:
    """`meta.total` of a torrent list: summed from TorrentCount where the filters allow, else counted and cached briefly.

    Without a search and filtered by nothing but forum, category and status,
    the total is a sum of maintained counts (_maintained_total): exact, and
    never a count of the rows. Otherwise the big part is counted once per
    (filters, access level) and cached.

    A member's list also holds their own unapproved torrents; those are
    counted apart (a small indexed count), so every member shares the
    cached count of the approved ones instead of paying a full count each.
    The figure carries a generation bumped by every registration, deletion and
    status or forum change, so a change shows on the next count; other drift
    (seeders for `seeded`) is bounded by API_COUNT_CACHE_SECONDS. One caller
    recounts at a time; the others meanwhile have the last figure.
    `own_waiting=False`: the caller knows the member has no unapproved
    upload (torrent_page asked), so none is counted.
    """
    level = user_level(user)
    given = _given_filters(query)
    maintained = None if query.search else _maintained_total(level=level, filters=given)
    member = AccessLevel.USER <= level < AccessLevel.MODERATOR

    def counted() -> QuerySet[Torrent]:
        # Counted without the sort: sorting by a count inner-joins the counts table
        # (see torrent_list), and the number of rows is the same without that join.
        # Built only when something is counted from it: a guest's or a moderator's maintained total needs none.
        return torrent_list(user=user, query=replace(query, sort=None)).order_by()

    def own(queryset: QuerySet[Torrent]) -> int:
        return queryset.filter(uploader=user).exclude(status=TorrentStatus.APPROVED).count() if own_waiting else 0

    if maintained is not None:
        return maintained + (own(counted()) if member else 0)
    queryset = counted()
    relevant = sorted((k, repr(v)) for k, v in given.items())
    digest = hashlib.sha256(repr((relevant, query.search)).encode()).hexdigest()[:32]
    generation = cache_get(TORRENT_LIST_GENERATION_KEY) or 0
    key = f"torrents:count:{level}:{digest}"
    if member:
        return plus(cached_count(queryset.filter(status=TorrentStatus.APPROVED), key=key, version=generation), own(queryset))
    return cached_count(queryset, key=key, version=generation)


def torrent_find(*, user: Any, terms: list[str], forum_ids: list[int] | None = None) -> QuerySet[Torrent]:
    """Torrents `user` may see holding every one of `terms` (torrent_search), in `forum_ids` if given; newest first.

    For Torznab clients, which send a title of several words ("Show Name"):
    each word is searched on its own, so "Show.Name.S01E02" is found.
    """
    queryset = torrent_list(user=user, query=ListQuery(sort=TORRENT_LIST.default_sort, order=TORRENT_LIST.default_order))
    for term in terms:
        queryset = torrent_search(queryset=queryset, term=term)
    if forum_ids is not None:
        queryset = queryset.filter(forum_id__in=forum_ids)
    return queryset


def torrent_files(*, torrent: Torrent) -> QuerySet[TorrentFile]:
    """The files of `torrent`, sorted by path."""
    return TorrentFile.objects.filter(torrent=torrent).order_by("path", "id")


def comment_list(*, torrent: Torrent) -> QuerySet[Comment]:
    """Comments on `torrent`, oldest first, with their authors."""
    return Comment.objects.filter(torrent=torrent).select_related("author").order_by("created_at", "id")


def comment_get_visible(*, user: Any, pk: Any) -> Comment:
    """The comment `pk` if `user` may see its torrent; otherwise 404."""
    comment = Comment.objects.select_related("author", "torrent").filter(pk=pk_parse(pk)).first()
    if comment is None or not torrent_visible_queryset(user=user).filter(pk=comment.torrent_id).exists():
        raise NotFound("No such comment.")
    return comment


def bookmark_list(*, user: Any) -> QuerySet[Bookmark]:
    """`user`'s bookmarks of torrents they may still see, newest first."""
    visible = torrent_visible_queryset(user=user).values("pk")
    return (
        Bookmark.objects.filter(user=user, torrent__in=visible)
        .select_related("torrent__forum__category", "torrent__uploader", "torrent__stats")
        .defer("torrent__metainfo", "torrent__description")
        .order_by("-created_at", "-id")
    )


STATS_CACHE_KEY = "stats:site:public"  # not the old key, whose figures counted every torrent


def stats_get() -> dict[str, int]:
    """Site totals: users, torrents, total size, seeders, leechers, peers (cached for a minute).

    One request at a time recounts them (core.cache.cached_value).

    One figure for everyone, so it counts what everyone may see: the torrents
    a guest sees (approved, in forums open to guests) and their peers, for
    guests, members and moderators alike. Torrents waiting for a moderator and
    those of members-only forums are in no one's totals.
    """
    return dict(cached_value(STATS_CACHE_KEY, _stats_count, fresh_seconds=getattr(settings, "STATS_CACHE_SECONDS", 60)))


def _stats_count() -> dict[str, int]:
    public = torrent_visible_q(level=AccessLevel.GUEST, user_id=None)
    totals = Torrent.objects.filter(public).aggregate(
        torrents=Count("id"), total_size=Sum("size"), seeders=Sum("stats__seeders"), leechers=Sum("stats__leechers")
    )
    stats = {
        "users": User.objects.filter(is_active=True).count(),
        "torrents": totals["torrents"] or 0,
        "total_size": totals["total_size"] or 0,
        "seeders": totals["seeders"] or 0,
        "leechers": totals["leechers"] or 0,
        "peers": Peer.objects.filter(torrent_visible_q(level=AccessLevel.GUEST, user_id=None, through="torrent__")).count(),
    }
    return stats
