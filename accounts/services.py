"""Writes on users."""

from accounts.models import User, generate_passkey
from api.cache import cache_delete


def passkey_cache_key(passkey: str) -> str:
    """The shared-cache key under which the tracker caches a passkey's user."""
    return f"passkey:{passkey}"


def user_passkey_reset(*, user: User) -> str:
    """Give `user` a new passkey; the old one stops working at once."""
    old = user.passkey
    user.passkey = generate_passkey()
    user.save(update_fields=["passkey"])
    cache_delete(passkey_cache_key(old))
    return user.passkey


def user_set_banned(*, user: User, banned: bool) -> User:
    """Ban or unban `user`; their passkey stops (or starts) working at once."""
    user.is_banned = banned
    user.save(update_fields=["is_banned"])
    cache_delete(passkey_cache_key(user.passkey))
    return user
