"""Keys of the tracker's cached lookups, and their invalidation.

The announce caches info_hash -> torrent; anything that deletes a torrent,
freezes it or moves it between forums must call `torrent_cache_invalidate`.
"""

from tracker.lookups import lookups_invalidate
from tracker.models import Torrent


def torrent_cache_key(info_hash_hex: str) -> str:
    """The cache key for the torrent announced under a 20-byte hash (40 hex)."""
    return f"torrent:{info_hash_hex}"


def torrent_cache_invalidate(torrent: Torrent) -> None:
    """Forget every cached lookup of `torrent` (v1 hash and truncated v2 hash)."""
    keys = [torrent_cache_key(h) for h in (torrent.info_hash, torrent.info_hash_v2_short) if h]
    if keys:
        lookups_invalidate(*keys)
