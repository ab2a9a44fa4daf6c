"""The announce's lookups (passkey -> user, info hash -> torrent): their cache keys, reads and invalidation.

Two caches hold them: the shared cache (Redis), read by every announce, and
the in-memory copies of the ASGI announce (tracker.announce.asgi), which
skip even that read. `lookups_invalidate` deletes the shared keys at once and
again after the transaction commits, then advances the PostgreSQL sequence
`tracker_lookup_generation`. Every ASGI announce statement compares the
generation its in-memory copies were read under with the sequence's value
and writes nothing on a mismatch, so an invalidation takes effect for the
very next announce, in every worker, with no message to deliver.

The order matters: the sequence advances only after the change is committed
and the keys are gone, so whatever a worker reads after the new generation
is visible is already the new truth.
"""

import logging
from typing import Any, NamedTuple

from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Q
from django.db.models.signals import post_delete, post_save

from accounts.models import User
from accounts.signals import tracker_access_changed
from core.cache import cache_delete, key_for_log
from core.logthrottle import log_failure
from tracker.catalogue.access import user_level
from tracker.catalogue.models import FROZEN_STATUSES, Torrent, TorrentStatus
from tracker.policy.models import ClientRule, LeechSlotBand, RatioBand, SiteEvent, SitePolicy
from tracker.policy.selectors import announce_policy
from tracker.policy.snapshot import AnnouncePolicy

logger = logging.getLogger("tracker.swarm")


def passkey_cache_key(passkey: str) -> str:
    """The shared-cache key under which the announce caches a passkey's user."""
    return f"passkey:{passkey}"


def torrent_cache_key(info_hash_hex: str) -> str:
    """The cache key for the torrent announced under a 20-byte hash (40 hex).

    Versioned with the shape of AnnounceTorrent: an entry pickled by an
    older release (a tuple of other fields, under `torrent:<hash>`) is never
    read as the new tuple. Change the version with the tuple's fields.
    """
    return f"torrent:v4:{info_hash_hex}"


def _legacy_torrent_cache_keys(info_hash_hex: str) -> list[str]:
    """The keys earlier releases cached AnnounceTorrent under (before `v2`, `v2` before the size, `v3` before by_v2).

    Their workers still read them while a deploy rolls, so an invalidation
    deletes them too; once no such worker runs, this can go.
    """
    return [f"torrent:{info_hash_hex}", f"torrent:v2:{info_hash_hex}", f"torrent:v3:{info_hash_hex}"]


def policy_cache_key() -> str:
    """The shared-cache key of the announce's snapshot of the site's rules (tracker.policy.snapshot).

    Versioned with AnnouncePolicy's fields, as torrent_cache_key is.
    """
    return "policy:v1"


def torrent_cache_invalidate(torrent: Torrent) -> None:
    """Forget every cached lookup of `torrent` (v1 hash and truncated v2 hash).

    Anything that deletes a torrent, freezes it, moves it between forums or
    changes what the announce reads of it must call this.
    """
    hashes = [h for h in (torrent.info_hash, torrent.info_hash_v2_short) if h]
    keys = [torrent_cache_key(h) for h in hashes] + [key for h in hashes for key in _legacy_torrent_cache_keys(h)]
    if keys:
        lookups_invalidate(*keys)


def _member_changed(sender: Any, *, passkey: str, **kwargs: Any) -> None:
    """A member's passkey, ban or role changed (accounts.signals): forget the passkey's cached lookup."""
    lookups_invalidate(passkey_cache_key(passkey))


def _policy_changed(sender: Any, **kwargs: Any) -> None:
    """A rule changed (the policy row, a band, a client rule, a site event): forget the announce's snapshot."""
    lookups_invalidate(policy_cache_key())


def connect_signals() -> None:
    """Listen to accounts (which does not import the tracker) and to the rules; called once by the app's ready()."""
    tracker_access_changed.connect(_member_changed, dispatch_uid="tracker.swarm.lookups")
    for model in (SitePolicy, RatioBand, LeechSlotBand, ClientRule, SiteEvent):
        for signal in (post_save, post_delete):
            signal.connect(_policy_changed, sender=model, dispatch_uid=f"tracker.swarm.lookups.policy.{model.__name__}")


def lookups_invalidate(*keys: str) -> None:
    """Forget the cached lookups under `keys`, now and once the current transaction commits."""
    cache_delete(*keys)
    transaction.on_commit(lambda: _after_commit(keys))


def _after_commit(keys: tuple[str, ...]) -> None:
    cache_delete(*keys)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT nextval('tracker_lookup_generation')")


def lookup_generation() -> int | None:
    """The current generation (PostgreSQL), or None where there is none."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT last_value FROM tracker_lookup_generation")
        return int(cursor.fetchone()[0])


# Cached lookups live this long; passkey reset, ban, torrent delete and freeze
# delete them at once, so the timeout only bounds other, rarer changes (a role
# or a forum's access level).
LOOKUP_TIMEOUT = 300
# A passkey or hash that is not there is remembered briefly, so garbage does not hit the database.
MISSING_TIMEOUT = 60
MISSING = 0


class AnnounceUser(NamedTuple):
    """What the announce needs to know about a passkey's owner."""

    id: int
    level: int
    is_active: bool
    is_banned: bool


class AnnounceTorrent(NamedTuple):
    """What the announce needs to know about a torrent.

    It is pickled into the shared cache: a change of its fields needs a new
    version in `torrent_cache_key`.
    """

    id: int
    is_frozen: bool
    view_level: int
    download_level: int
    freeleech: str
    is_approved: bool  # moderated (TorrentStatus.APPROVED); else only its uploader and moderators may announce
    uploader_id: int
    size: int  # bytes: small torrents may be exempt from hit-and-run
    # Looked up under the hybrid's truncated v2 hash (each hash has its own cache entry): the reply
    # carries only peers that announced under it (tracker.swarm.models.Peer.v2).
    by_v2: bool = False


def _user_load(passkey: str) -> AnnounceUser | None:
    user = User.objects.filter(passkey=passkey).first()
    if user is None:
        return None
    return AnnounceUser(user.pk, int(user_level(user)), user.is_active, user.is_banned)


def _torrent_load(info_hash_hex: str) -> AnnounceTorrent | None:
    row = (
        Torrent.objects.filter(Q(info_hash=info_hash_hex) | Q(info_hash_v2_short=info_hash_hex))
        .values_list("id", "status", "forum__view_level", "forum__download_level", "freeleech", "uploader_id", "size", "info_hash")
        .first()
    )
    if row is None:
        return None
    by_v2 = row[7] != info_hash_hex
    return AnnounceTorrent(
        row[0], row[1] in FROZEN_STATUSES, row[2], row[3], row[4], row[1] == TorrentStatus.APPROVED, row[5], row[6], by_v2
    )


def announce_lookup(
    *, passkey: str, info_hash_hex: str | None
) -> tuple[AnnounceUser | None, AnnounceTorrent | None, AnnouncePolicy | None]:
    """The passkey's user, the torrent announced under `info_hash_hex` and (for an announce) the site's rules.

    The keys are read in one cache round trip; whatever is missing is
    loaded from the database and cached (a miss is cached briefly too).
    """
    user_key = passkey_cache_key(passkey)
    keys = [user_key]
    torrent_key = torrent_cache_key(info_hash_hex) if info_hash_hex else None
    if torrent_key:
        keys += [torrent_key, policy_cache_key()]
    try:
        cached: dict[str, Any] = _cache_get_many(keys)
    except Exception as exc:
        log_failure(logger, logging.WARNING, "cache get_many failed", exc=exc)
        cached = {}
    user: Any = cached.get(user_key)
    if user is None:
        user = _user_load(passkey)
        _cache_set(user_key, user, LOOKUP_TIMEOUT if user else MISSING_TIMEOUT)
    torrent: Any = cached.get(torrent_key) if torrent_key else MISSING
    if torrent is None and torrent_key and info_hash_hex:
        torrent = _torrent_load(info_hash_hex)
        _cache_set(torrent_key, torrent, LOOKUP_TIMEOUT if torrent else MISSING_TIMEOUT)
    policy: Any = cached.get(policy_cache_key()) if torrent_key else None
    if policy is None and torrent_key:
        policy = announce_policy()
        _cache_set(policy_cache_key(), policy, LOOKUP_TIMEOUT)
    return (user or None), (torrent or None), policy


_redis_reader: tuple[Any, Any] | None = None


def _cache_get_many(keys: list[str]) -> dict[str, Any]:
    """`cache.get_many`, reusing one Redis client per process.

    Django's Redis backend builds a new redis-py client object (with its
    170-entry callback table) for every call, a cost the announce pays on every request.
    The client is thread-safe; other backends go through `cache.get_many`.
    """
    global _redis_reader
    if _redis_reader is None:
        backend = getattr(cache, "_cache", None)
        if backend is None or not hasattr(backend, "get_client") or not hasattr(backend, "_serializer"):
            return cache.get_many(keys)
        _redis_reader = (backend.get_client(), backend._serializer.loads)
    client, loads = _redis_reader
    values = client.mget([cache.make_and_validate_key(key) for key in keys])
    return {key: loads(value) for key, value in zip(keys, values, strict=True) if value is not None}


def _cache_set(key: str, value: Any, timeout: int) -> None:
    try:
        cache.set(key, value if value is not None else MISSING, timeout)
    except Exception as exc:
        log_failure(logger, logging.WARNING, "cache set failed for %s", key_for_log(key), exc=exc)


def cached_policy() -> AnnouncePolicy:
    """The announce's snapshot of the site's rules from the shared cache (loaded and cached when missing).

    For the pages and the API: they judge a member by the rules the announce applies.
    """
    try:
        policy = cache.get(policy_cache_key())
    except Exception as exc:
        log_failure(logger, logging.WARNING, "cache get failed", exc=exc)
        policy = None
    if not isinstance(policy, AnnouncePolicy):
        policy = announce_policy()
        _cache_set(policy_cache_key(), policy, LOOKUP_TIMEOUT)
    return policy
