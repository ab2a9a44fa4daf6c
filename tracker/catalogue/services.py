"""Writes on the catalogue: registering, editing, moderating and removing torrents; comments; bookmarks; forums.

Each function decides who may do the thing (raising Forbidden / NotFound /
Invalid / Conflict / TooLarge) and keeps the tracker's
caches honest: anything that deletes, freezes, unfreezes or moves a torrent
calls `torrent_cache_invalidate`.
"""

import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError, Q
from django.utils import timezone

from accounts.emails import email_confirmed_check
from accounts.models import announce_url_of
from core.cache import cache_stale, count_up, key_for_log
from core.errors import Conflict, Forbidden, Invalid, TooLarge
from core.logthrottle import log_failure
from tracker.catalogue.access import can_download_from_forum, can_upload_to_forum, can_view_forum, level_may_download, user_level
from tracker.catalogue.metainfo import MetainfoError, magnet_uri, metainfo_for_download, metainfo_parse
from tracker.catalogue.selectors import STATS_CACHE_KEY, TORRENT_LIST_GENERATION_KEY, torrent_visible_queryset
from tracker.models import Bookmark, Category, Comment, Forum, Torrent, TorrentFile, TorrentStatus, TorrentStatusChange
from tracker.policy.members import download_rights_check
from tracker.swarm.lookups import torrent_cache_invalidate

logger = logging.getLogger(__name__)

FILE_BATCH = 2000
TORRENT_CONTENT_TYPE = "application/x-bittorrent"
# Paths past this many characters are listed but not searched: a torrent of
# 100,000 files should not cost a megabyte of trigram index.
FILES_TEXT_MAX = 65_536


def lists_changed() -> None:
    """Start a new generation of cached list pages and counts (selectors.torrent_page, torrent_list_count); forget the site's totals.

    So the member who just uploaded (or the moderator who just approved or
    hid, edited or moved a torrent) sees the list with that change on the
    next page, not seconds or a minute later.
    """
    _next_list_generation()
    if transaction.get_connection().in_atomic_block:
        # Again once the change is committed: a reader between the two may have kept, under the first,
        # what it read before the commit (a page without the change, for up to its seconds).
        transaction.on_commit(_next_list_generation)
    cache_stale(STATS_CACHE_KEY)


def _next_list_generation() -> None:
    """Add one to the lists' generation (atomic in the cache: two changes at once are two generations)."""
    try:
        count_up(cache, TORRENT_LIST_GENERATION_KEY, 24 * 3600)
    except Exception as exc:  # the pages then live out their seconds
        log_failure(logger, logging.WARNING, "cache write failed for %s", key_for_log(TORRENT_LIST_GENERATION_KEY), exc=exc)


def _is_moderator(user: Any) -> bool:
    return bool(getattr(user, "is_moderator", False))


def announce_url_for(user: Any) -> str:
    """The user's personal announce URL (accounts.models.User.announce_url)."""
    return announce_url_of(user.passkey)


def _existing_torrent(*, uploader: Any, info_hash: str | None, info_hash_v2: str | None) -> Conflict | None:
    """A 409 naming the already registered torrent (by id and name only if the uploader may see it)."""
    match = Q(pk__in=[])
    if info_hash:
        match |= Q(info_hash=info_hash) | Q(info_hash_v2_short=info_hash)
    if info_hash_v2:
        match |= Q(info_hash_v2=info_hash_v2) | Q(info_hash=info_hash_v2[:40])
    existing = Torrent.objects.filter(match).only("id", "name").first()
    if existing is None:
        return None
    if torrent_visible_queryset(user=uploader).filter(pk=existing.pk).exists():
        return Conflict(
            f"This torrent is already registered as #{existing.pk} ({existing.name}).",
            details={"torrent": {"id": existing.pk, "name": existing.name}},
        )
    return Conflict("This torrent is already registered.")


def torrent_register(*, uploader: Any, forum: Forum, metainfo_bytes: bytes, name: str | None = None, description: str = "") -> Torrent:
    """Validate and register an uploaded .torrent in `forum`.

    Over TRACKER_MAX_TORRENT_SIZE: 413. Not a torrent we accept: 422 with
    the offending field. Forum not open to the uploader: 403 (404-style 422
    when they may not even see it). Already registered (either hash): 409.
    With TRACKER_FORCE_PRIVATE, `private=1` is set before hashing and the
    changed file is stored. With TRACKER_REQUIRE_APPROVAL, a non-moderator's
    torrent starts as not approved. A member who must confirm their email
    address first (accounts.emails): 403 EmailNotConfirmed, before anything else.
    """
    email_confirmed_check(user=uploader)
    if len(metainfo_bytes) > settings.TRACKER_MAX_TORRENT_SIZE:
        raise TooLarge(f"The .torrent file is larger than {settings.TRACKER_MAX_TORRENT_SIZE} bytes.")
    if not can_view_forum(uploader, forum):
        raise Invalid(details={"forum": ["No such forum."]})
    if not can_upload_to_forum(uploader, forum):
        raise Forbidden("You may not upload torrents to this forum.")
    try:
        parsed = metainfo_parse(metainfo_bytes, force_private=settings.TRACKER_FORCE_PRIVATE)
    except MetainfoError as exc:
        raise Invalid(f"Invalid .torrent file: {exc.message}", details={"file": [f"{exc.field}: {exc.message}"]}) from None
    conflict = _existing_torrent(uploader=uploader, info_hash=parsed.info_hash, info_hash_v2=parsed.info_hash_v2)
    if conflict is not None:
        raise conflict
    needs_approval = settings.TRACKER_REQUIRE_APPROVAL and not _is_moderator(uploader)
    try:
        with transaction.atomic():
            torrent = Torrent.objects.create(
                forum=forum,
                uploader=uploader,
                name=(name or parsed.name)[:255],
                description=description,
                info_hash=parsed.info_hash,
                info_hash_v2=parsed.info_hash_v2,
                size=parsed.size,
                piece_length=parsed.piece_length,
                file_count=len(parsed.files),
                is_private=parsed.is_private,
                metainfo=parsed.raw,
                files_text="\n".join(f.path for f in parsed.files)[:FILES_TEXT_MAX],
                status=TorrentStatus.NOT_APPROVED if needs_approval else TorrentStatus.APPROVED,
            )
            TorrentFile.objects.bulk_create(
                (TorrentFile(torrent=torrent, path=f.path, size=f.size) for f in parsed.files), batch_size=FILE_BATCH
            )
    except IntegrityError:
        # A concurrent upload of the same torrent won the race.
        raise _existing_torrent(uploader=uploader, info_hash=parsed.info_hash, info_hash_v2=parsed.info_hash_v2) or Conflict() from None
    lists_changed()
    return torrent


def torrent_set_status(*, torrent: Torrent, status: str, moderator: Any, reason: str = "") -> Torrent:
    """Move `torrent` to `status`, recording who did it, when and why; a no-op if unchanged."""
    if status == torrent.status:
        return torrent
    with transaction.atomic():
        TorrentStatusChange.objects.create(
            torrent=torrent, moderator=moderator, old_status=torrent.status, new_status=status, reason=reason[:200]
        )
        torrent.status = status
        torrent.save(update_fields=["status", "updated_at"])
    torrent_cache_invalidate(torrent)
    lists_changed()
    return torrent


def torrent_update(*, actor: Any, torrent: Torrent, data: dict[str, Any]) -> Torrent:
    """Apply an edit by `actor`: the uploader may change name, description and forum;
    moderators also status and freeleech. Others: 403.
    """
    moderator = _is_moderator(actor)
    if not moderator and torrent.uploader_id != actor.pk:
        raise Forbidden("Only the uploader or a moderator may edit this torrent.")
    moderated = sorted(k for k in ("status", "freeleech") if k in data)
    if moderated and not moderator:
        raise Forbidden(f"Only moderators may change {' and '.join(moderated)}.")
    fields: list[str] = []
    for key in ("name", "description", "freeleech"):
        if key in data and data[key] != getattr(torrent, key):
            setattr(torrent, key, data[key])
            fields.append(key)
    moved = "forum" in data and data["forum"].pk != torrent.forum_id
    if moved:
        forum = data["forum"]
        if not can_view_forum(actor, forum):
            raise Invalid(details={"forum": ["No such forum."]})
        if not (moderator or can_upload_to_forum(actor, forum)):
            raise Forbidden("You may not move torrents to this forum.")
        torrent.forum = forum
        fields.append("forum")
    with transaction.atomic():
        if fields:
            torrent.save(update_fields=[*fields, "updated_at"])
        if "status" in data:
            torrent_set_status(torrent=torrent, status=data["status"], moderator=actor)
    if fields:
        # The announce caches the torrent row (forum levels, freeleech): drop it.
        torrent_cache_invalidate(torrent)
    if fields:
        lists_changed()  # a name, a forum: what the lists show
    return torrent


def torrent_delete(*, actor: Any, torrent: Torrent) -> None:
    """Delete `torrent` (its files, peers, comments and bookmarks go too): uploader or moderator only."""
    if not _is_moderator(actor) and torrent.uploader_id != actor.pk:
        raise Forbidden("Only the uploader or a moderator may delete this torrent.")
    torrent_remove(torrent=torrent)


def torrent_remove(*, torrent: Torrent) -> None:
    """Delete `torrent` without a permission check (operators' admin site, jobs); caches are dropped."""
    torrent_cache_invalidate(torrent)
    torrent.delete()
    lists_changed()


def torrent_download_metainfo(*, user: Any, torrent: Torrent) -> bytes:
    """The .torrent for `user`: their own announce URL, `info` unchanged.

    Needs the forum's download level, a confirmed email address where one is
    required (accounts.emails.email_confirmed_check) and the member's download
    rights (tracker.policy.members.download_rights_check: a ratio watch that
    ended, too many hit-and-run warnings).
    """
    if not can_download_from_forum(user, torrent.forum):
        raise Forbidden("You may not download torrents from this forum.")
    email_confirmed_check(user=user)
    download_rights_check(user=user, torrent=torrent)
    raw = torrent.metainfo
    if raw is None:
        raw = Torrent.objects.values_list("metainfo", flat=True).get(pk=torrent.pk)
    return metainfo_for_download(bytes(raw), announce_url=announce_url_for(user))


@dataclass(frozen=True)
class MagnetParts:
    """What a torrent's magnet link is made of, but the viewer: kept with a shared detail (selectors.torrent_shown)."""

    name: str
    size: int
    info_hash: str | None
    info_hash_v2: str | None
    view_level: int
    download_level: int

    @classmethod
    def of(cls, torrent: Torrent) -> "MagnetParts":
        forum = torrent.forum
        return cls(torrent.name, torrent.size, torrent.info_hash, torrent.info_hash_v2, forum.view_level, forum.download_level)

    def link(self, user: Any) -> str:
        """The magnet link as `user` sees it: with their own tracker URL only if they may download the torrent."""
        may = level_may_download(level=user_level(user), view_level=self.view_level, download_level=self.download_level)
        return magnet_uri(
            name=self.name,
            size=self.size,
            info_hash=self.info_hash,
            info_hash_v2=self.info_hash_v2,
            announce_url=announce_url_for(user) if may else None,
        )


def torrent_magnet(*, user: Any, torrent: Torrent) -> str:
    """The magnet link as `user` sees it: with their own tracker URL only if they may download it."""
    return MagnetParts.of(torrent).link(user)


def comment_create(*, author: Any, torrent: Torrent, text: str) -> Comment:
    """Add `author`'s comment to `torrent` (the caller has checked the torrent is visible)."""
    return Comment.objects.create(torrent=torrent, author=author, text=text)


def _may_change_comment(actor: Any, comment: Comment) -> None:
    if comment.author_id != actor.pk and not _is_moderator(actor):
        raise Forbidden("Only the author or a moderator may change this comment.")


def comment_update(*, actor: Any, comment: Comment, text: str | None) -> Comment:
    """Edit a comment: its author or a moderator; stamps `edited_at`. No `text`: checked, left as it is."""
    _may_change_comment(actor, comment)
    if text is None:
        return comment
    comment.text = text
    comment.edited_at = timezone.now()
    comment.save(update_fields=["text", "edited_at"])
    return comment


def comment_delete(*, actor: Any, comment: Comment) -> None:
    """Delete a comment: its author or a moderator."""
    _may_change_comment(actor, comment)
    comment.delete()


def bookmark_add(*, user: Any, torrent: Torrent) -> Bookmark:
    """Bookmark `torrent` for `user`; idempotent."""
    bookmark, _created = Bookmark.objects.get_or_create(user=user, torrent=torrent)
    return bookmark


def bookmark_remove(*, user: Any, torrent: Torrent) -> None:
    """Remove `user`'s bookmark of `torrent`, if any; idempotent."""
    Bookmark.objects.filter(user=user, torrent=torrent).delete()


def category_create(*, data: dict[str, Any]) -> Category:
    """Create a category (admins only, checked by the view; the browse page's filters offer it)."""
    category = _save_unique(Category(**data))
    lists_changed()
    return category


def category_update(*, category: Category, data: dict[str, Any]) -> Category:
    """Change a category's name or order (the lists show its name)."""
    for key, value in data.items():
        setattr(category, key, value)
    category = _save_unique(category)
    lists_changed()
    return category


def category_delete(*, category: Category) -> None:
    """Delete an empty category; one that still has forums: 409."""
    try:
        category.delete()
    except ProtectedError:
        raise Conflict("The category still has forums; move or delete them first.") from None
    lists_changed()


def forum_create(*, data: dict[str, Any]) -> Forum:
    """Create a forum (the browse page's filters offer it)."""
    forum = _save_unique(Forum(**data))
    lists_changed()
    return forum


def forum_update(*, forum: Forum, data: dict[str, Any]) -> Forum:
    """Change a forum; its torrents' cached announce lookups are dropped when access levels change."""
    levels_changed = any(k in data and data[k] != getattr(forum, k) for k in ("view_level", "download_level"))
    for key, value in data.items():
        setattr(forum, key, value)
    forum = _save_unique(forum)
    if levels_changed:
        for torrent in Torrent.objects.filter(forum=forum).only("id", "info_hash", "info_hash_v2_short").iterator():
            torrent_cache_invalidate(torrent)
    lists_changed()  # its levels decide who sees its torrents, and the lists show its name
    return forum


def forum_delete(*, forum: Forum) -> None:
    """Delete an empty forum; one that still holds torrents: 409."""
    try:
        forum.delete()
    except ProtectedError:
        raise Conflict("The forum still holds torrents; move or delete them first.") from None
    lists_changed()


def _save_unique(obj: Any) -> Any:
    try:
        with transaction.atomic():
            obj.save()
    except IntegrityError:
        raise Conflict("A category or forum with this name already exists.") from None
    return obj


def torrent_set_freeleech(*, torrent: Torrent, freeleech: str) -> Torrent:
    """Set `torrent`'s freeleech (none, silver, gold); the announce's cached copy is dropped."""
    if freeleech != torrent.freeleech:
        torrent.freeleech = freeleech
        torrent.save(update_fields=["freeleech", "updated_at"])
        torrent_cache_invalidate(torrent)
        lists_changed()
    return torrent
