"""Who may see, upload to and download from a forum.

One place for the forum access levels, shared by the API, the tracker and
the pages.
"""

from typing import Any

from tracker.models import AccessLevel, Forum


def user_level(user: Any) -> AccessLevel:
    """The access level `user` holds: guest, user, moderator or admin.

    A member who may not log in (banned, deactivated) holds a guest's, should
    a session of theirs outlive the ban.
    """
    if user is None or not getattr(user, "is_authenticated", False) or not getattr(user, "can_log_in", True):
        return AccessLevel.GUEST
    if getattr(user, "is_admin", False):
        return AccessLevel.ADMIN
    if getattr(user, "is_moderator", False):
        return AccessLevel.MODERATOR
    return AccessLevel.USER


def can_view_forum(user: Any, forum: Forum) -> bool:
    """May `user` see `forum` and its torrents?"""
    return user_level(user) >= forum.view_level


def can_upload_to_forum(user: Any, forum: Forum) -> bool:
    """May `user` register a torrent in `forum`?"""
    level = user_level(user)
    return forum.allows_torrents and level >= AccessLevel.USER and level >= forum.upload_level and level >= forum.view_level


def can_download_from_forum(user: Any, forum: Forum) -> bool:
    """May `user` download (and announce) torrents of `forum`? Guests never may."""
    return level_may_download(level=user_level(user), view_level=forum.view_level, download_level=forum.download_level)


def level_may_download(*, level: int, view_level: int, download_level: int) -> bool:
    """The download rule on bare levels, for the announce's cached lookups (no user or forum rows)."""
    return level >= AccessLevel.USER and level >= download_level and level >= view_level
