"""Jobs on the swarm: expiring peers that went quiet, and repairing the torrents' counts."""

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, F, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from tracker.catalogue.models import Torrent, TorrentCount, TorrentStats
from tracker.swarm.announce import with_deadlock_retry
from tracker.swarm.models import Peer, Snatch
from tracker.swarm.sql import PG_EXPIRE


def peers_expire(*, now: datetime | None = None, batch_size: int = 5000) -> int:
    """Remove peers not seen for TRACKER_PEER_EXPIRY seconds; the torrents' counts follow exactly.

    Returns how many peers were removed. Works in batches so that no
    statement holds many locks for long.
    """
    cutoff = (now or timezone.now()) - timedelta(seconds=settings.TRACKER_PEER_EXPIRY)
    removed = 0
    while True:
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                with_deadlock_retry(cursor.execute, PG_EXPIRE, {"cutoff": cutoff, "batch": batch_size})
                count = cursor.fetchone()[0]
        else:
            count = _expire_portable(cutoff, batch_size)
        removed += count
        if count < batch_size:
            return removed


def _expire_portable(cutoff: datetime, batch_size: int) -> int:
    with transaction.atomic():
        rows = list(Peer.objects.filter(last_announce__lt=cutoff).values_list("id", "torrent_id", "user_id", "is_seeder")[:batch_size])
        if not rows:
            return 0
        Peer.objects.filter(pk__in=[r[0] for r in rows]).delete()
        per_torrent: dict[int, list[int]] = {}
        for _pk, torrent_id, _user_id, is_seeder in rows:
            counts = per_torrent.setdefault(torrent_id, [0, 0])
            counts[0 if is_seeder else 1] += 1
        for torrent_id, (seeders, leechers) in per_torrent.items():
            TorrentStats.objects.filter(pk=torrent_id).update(seeders=F("seeders") - seeders, leechers=F("leechers") - leechers)
        for _pk, torrent_id, user_id, _s in rows:
            if not Peer.objects.filter(torrent_id=torrent_id, user_id=user_id).exists():
                Snatch.objects.filter(torrent_id=torrent_id, user_id=user_id).update(is_seeding=False, is_leeching=False)
    return len(rows)


def _count_of(queryset: Any) -> Coalesce:
    """A correlated COUNT(*) of `queryset` per torrent, 0 when there are no rows."""
    counted = queryset.filter(torrent=OuterRef("pk")).order_by().values("torrent").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted), 0)


def torrent_counts_rebuild() -> int:
    """Recompute seeders, leechers and completed from the peer and snatch tables; return how many torrents changed.

    Announces and expiry keep the counts exact on their own; this repairs
    drift from outside them (a deleted account's peers go by cascade, a
    manual edit in the database). An announce racing with it may leave one
    count off until the next rebuild, which is why it is a repair tool for
    cron and not part of any request. A torrent missing its counts row
    (one inserted around Torrent.save) gets one.
    """
    missing = set(Torrent.objects.filter(stats__isnull=True).values_list("pk", flat=True))
    TorrentStats.objects.bulk_create([TorrentStats(torrent_id=pk) for pk in missing], ignore_conflicts=True)
    expected = {
        "seeders": _count_of(Peer.objects.filter(is_seeder=True)),
        "leechers": _count_of(Peer.objects.filter(is_seeder=False)),
        "completed": _count_of(Snatch.objects.filter(completed_at__isnull=False)),
    }
    drifted = (
        TorrentStats.objects.annotate(s=expected["seeders"], lc=expected["leechers"], c=expected["completed"])
        .filter(~Q(seeders=F("s")) | ~Q(leechers=F("lc")) | ~Q(completed=F("c")))
        .values_list("pk", flat=True)
    )
    ids = list(drifted)
    if ids:
        TorrentStats.objects.filter(pk__in=ids).update(**expected)
    return len(missing | set(ids))


def catalogue_totals_rebuild() -> int:
    """Make TorrentCount say what tracker_torrent holds; return how many (forum, status) totals were wrong.

    The triggers keep the totals in every statement that writes a torrent;
    only something that bypasses triggers (a restore with them disabled, a
    TRUNCATE of the torrents alone) leaves them wrong. On PostgreSQL the
    torrent table is locked against writes while it is counted, so no upload
    slips between the count and the repair.
    """
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("LOCK TABLE tracker_torrent IN SHARE MODE")
        actual = {
            (r["forum_id"], r["status"]): r["n"] for r in Torrent.objects.values("forum_id", "status").annotate(n=Count("id")).order_by()
        }
        kept = {(c.forum_id, c.status): c for c in TorrentCount.objects.select_for_update()}
        wrong = 0
        for key, row in kept.items():
            if row.count != actual.get(key, 0):
                row.count = actual.get(key, 0)
                row.save(update_fields=["count"])
                wrong += 1
        missing = [TorrentCount(forum_id=f, status=st, count=n) for (f, st), n in actual.items() if (f, st) not in kept]
        TorrentCount.objects.bulk_create(missing)
        return wrong + len(missing)
