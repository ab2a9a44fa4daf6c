"""Invalidating the tracker's cached lookups (passkey -> user, info hash -> torrent).

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

from django.db import connection, transaction

from api.cache import cache_delete


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
