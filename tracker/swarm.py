"""Writes on the swarm: the announce (peer upsert + transfer accounting + peer selection), scrape, expiry.

Accounting rules, in one place:
- a peer's counters are compared with the ones stored at its previous
  announce; the difference is credited. A counter that went down means the
  client restarted: the new value is credited (never a negative).
- a brand-new peer is credited nothing for the counters it starts with
  (UNIT3D's rule): they may come from another tracker or a previous session
  we already credited, and we cannot tell which.
- freeleech: gold credits no download, silver half. Snatches record the real
  traffic; the user's totals get the credited figures.
- `completed` counts once per (user, torrent): on `event=completed`, or when
  `left` reaches 0 (aria2 never sends `completed`).

On PostgreSQL the whole announce is one statement (a chain of data-modifying
CTEs): the peer upsert locks the peer row and copies its previous figures
into `prev_*` columns, and every other change is computed from what that
upsert returns, so concurrent duplicates of one peer serialize on the row
and nothing is counted twice. Elsewhere (SQLite) the same rules run in
Python inside one transaction, which SQLite's IMMEDIATE mode serializes.
"""

from datetime import datetime, timedelta
from typing import Any, NamedTuple

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, Count, F, OuterRef, Q, Subquery, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import User
from tracker.models import Freeleech, Peer, Snatch, Torrent, TorrentStats, peer_compact, peer_shuffle
from tracker.swarm_pg import PG_EXPIRE, PG_STATEMENTS, PG_STATEMENTS_POSITIONAL

DEADLOCK_RETRIES = 3


class AnnounceResult(NamedTuple):
    """What the announce answers: the swarm's counts and the chosen peers.

    The peers come packed, IPv4 and IPv6 apart: each entry is the peer's
    `compact` form (tracker.models.peer_compact), followed by its 20-byte
    peer_id when the announce asked for peer ids (`announce_params`).
    (A NamedTuple: one per announce, and cheaper to build than a frozen dataclass.)
    """

    accepted: bool
    seeders: int
    leechers: int
    completed: int
    peers4: bytes = b""
    peers6: bytes = b""
    # PostgreSQL: the lookup generation the statement saw (tracker.lookups), and
    # False when the caller's lookups were older than it (then nothing was written).
    generation: int | None = None
    fresh: bool = True


def transfer_credit(*, new: int, previous: int | None) -> int:
    """Bytes to credit for a counter now at `new` that stood at `previous` (None: a brand-new peer)."""
    if previous is None:
        return 0
    return new - previous if new >= previous else new


# Freeleech scales the download credit by a fraction (numerator, denominator):
# gold counts nothing, silver half. The SQL statements take the same two numbers.
DOWNLOAD_CREDIT_SHARE: dict[str, tuple[int, int]] = {Freeleech.GOLD: (0, 1), Freeleech.SILVER: (1, 2)}


def download_credit(*, delta: int, freeleech: str) -> int:
    """The part of a download delta that counts against the user under the torrent's freeleech."""
    numerator, denominator = DOWNLOAD_CREDIT_SHARE.get(freeleech, (1, 1))
    return delta * numerator // denominator


def _is_completing(*, left: int, prev_left: int | None, event: str, snatch_left: int | None) -> bool:
    """Did this announce finish the download? `left` reached 0, or the client said so."""
    if left != 0:
        return False
    if prev_left is not None:
        return prev_left > 0
    return event == "completed" or (snatch_left is not None and snatch_left > 0)


def announce_params(
    *,
    user_id: int,
    torrent_id: int,
    freeleech: str,
    peer_id: bytes,
    ip: str,
    port: int,
    uploaded: int,
    downloaded: int,
    left: int,
    event: str,
    is_seeder: bool,
    numwant: int,
    key: str = "",
    user_agent: str = "",
    now: datetime | None = None,
    generation: int | None = None,
    with_peer_ids: bool = False,
) -> dict[str, Any]:
    """The named parameters of one announce, as PG_STATEMENTS and the portable path take them.

    `generation`: the lookup generation under which the caller read the user
    and the torrent from memory (tracker.lookups); the statement writes
    nothing if it has moved on since. None for lookups just read.
    `with_peer_ids`: hand the chosen peers back with their peer ids.
    """
    moment = now or timezone.now()
    stopped = event == "stopped"
    # download_credit's rule, for the SQL: down_delta * dmul / ddiv.
    dmul, ddiv = DOWNLOAD_CREDIT_SHARE.get(freeleech, (1, 1))
    return {
        "t": torrent_id,
        "u": user_id,
        "pid": peer_id,
        "ip": ip,
        "port": port,
        "up": uploaded,
        "down": downloaded,
        "left": left,
        "seeder": is_seeder,
        "ua": user_agent.replace("\x00", "")[:255],  # PostgreSQL text cannot hold a NUL
        "key": key[:64],
        "now": moment,
        "event": event,
        "free": freeleech,
        "dmul": dmul,
        "ddiv": ddiv,
        "numwant": numwant,
        "compact": b"" if stopped else peer_compact(ip, port),
        "shuffle": peer_shuffle(),
        "r": peer_shuffle(),  # where this announce's window of peers starts
        "wpid": with_peer_ids,
        "expiry": settings.TRACKER_PEER_EXPIRY,
        "live": moment - timedelta(seconds=settings.TRACKER_PEER_EXPIRY),
        "seeding": is_seeder and not stopped,
        "leeching": not is_seeder and not stopped,
        "s_in": int(is_seeder and not stopped),
        "l_in": int(not is_seeder and not stopped),
        "state": None if stopped else is_seeder,
        # Lookups read from memory say under which generation (see tracker.lookups); None: just read.
        "gen": generation,
    }


def peer_announce(params: dict[str, Any]) -> AnnounceResult:
    """Record one announce of (torrent, peer_id) and pick up to `numwant` peers for it.

    `params` comes from `announce_params`. `accepted` is False when the
    peer_id belongs to another user's peer in this swarm (nothing is
    changed then).
    """
    if connection.vendor == "postgresql":
        return _with_deadlock_retry(_announce_pg, params)
    return _announce_portable(params)


def _with_deadlock_retry(func: Any, *args: Any) -> Any:
    from django.db import OperationalError
    from psycopg.errors import DeadlockDetected

    for attempt in range(DEADLOCK_RETRIES):
        try:
            return func(*args)
        except OperationalError as exc:
            if not isinstance(exc.__cause__, DeadlockDetected) or attempt == DEADLOCK_RETRIES - 1:
                raise
    raise AssertionError("unreachable")


def _pg_cursor() -> Any:
    """A server-binding cursor whose statements are prepared once per connection.

    Django's default psycopg cursor binds client-side and can't prepare; the
    announce statement is long, so re-parsing and re-planning it on every
    call would cost more than running it. Other queries on the connection
    keep Django's cursor (client-side binding never prepares).
    """
    import psycopg

    connection.ensure_connection()
    raw = connection.connection
    raw.prepare_threshold = 0
    return connection._prepare_cursor(psycopg.Cursor(raw))  # type: ignore[attr-defined]


def pg_statement(params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The announce's one PostgreSQL statement and its parameters.

    Integers go as int8, so one prepared plan serves every announce whatever
    the values' sizes.
    """
    from psycopg.types.numeric import Int8

    sql = PG_STATEMENTS[_statement_key(params)]
    return sql, {k: Int8(v) if type(v) is int else v for k, v in params.items()}


def _statement_key(params: dict[str, Any]) -> tuple[bool, bool]:
    """Which of PG_STATEMENTS: (stopped, may credit the user: a counter is not 0)."""
    return params["event"] == "stopped", bool(params["up"] or params["down"])


def pg_positional(params: dict[str, Any]) -> tuple[str, list[Any]]:
    """The announce statement with $n placeholders (typed casts) and its values in order, for asyncpg."""
    sql, names = PG_STATEMENTS_POSITIONAL[_statement_key(params)]
    return sql, [params[name] for name in names]


def pg_result(row: Any) -> AnnounceResult:
    """The AnnounceResult of a PG_STATEMENTS statement's one row."""
    accepted, fresh, generation, seeders, leechers, completed, peers4, peers6 = row
    return AnnounceResult(bool(accepted), seeders, leechers, completed, bytes(peers4 or b""), bytes(peers6 or b""), generation, bool(fresh))


def _announce_pg(params: dict[str, Any]) -> AnnounceResult:
    sql, values = pg_statement(params)
    with _pg_cursor() as cursor:
        cursor.execute(sql, values)
        return pg_result(cursor.fetchone())


def _announce_portable(p: dict[str, Any]) -> AnnounceResult:
    stopped = p["event"] == "stopped"
    with transaction.atomic():
        peer = Peer.objects.filter(torrent_id=p["t"], peer_id=p["pid"]).first()
        if peer is not None and peer.user_id != p["u"]:
            return AnnounceResult(False, 0, 0, 0)
        if stopped and peer is None:
            counts = TorrentStats.objects.filter(pk=p["t"]).values_list("seeders", "leechers", "completed").first() or (0, 0, 0)
            return AnnounceResult(True, *counts)
        prev = peer
        if stopped:
            Peer.objects.filter(pk=peer.pk).delete()  # type: ignore[union-attr]
        elif peer is None:
            Peer.objects.create(
                torrent_id=p["t"], user_id=p["u"], peer_id=p["pid"], ip=p["ip"], port=p["port"], uploaded=p["up"],
                downloaded=p["down"], left=p["left"], is_seeder=p["seeder"], user_agent=p["ua"], key=p["key"],
                last_announce=p["now"], shuffle=p["shuffle"],
            )  # fmt: skip
        else:
            Peer.objects.filter(pk=peer.pk).update(
                prev_uploaded=peer.uploaded, prev_downloaded=peer.downloaded, prev_left=peer.left,
                prev_is_seeder=peer.is_seeder, prev_announce=peer.last_announce, ip=p["ip"], port=p["port"], compact=p["compact"],
                uploaded=p["up"], downloaded=p["down"], left=p["left"], is_seeder=p["seeder"], user_agent=p["ua"],
                key=p["key"], last_announce=p["now"],
            )  # fmt: skip
        _account_portable(p, prev, stopped)
        counts = TorrentStats.objects.filter(pk=p["t"]).values_list("seeders", "leechers", "completed").first() or (0, 0, 0)
        peers4, peers6 = bytearray(), bytearray()
        if p["numwant"] > 0 and not stopped:
            qs = Peer.objects.filter(torrent_id=p["t"], last_announce__gte=p["live"]).exclude(peer_id=p["pid"])
            if p["seeder"]:
                qs = qs.filter(is_seeder=False)
            # The statement's window: shuffle order from r, wrapping round.
            wrapped = Case(When(shuffle__gte=p["r"], then=Value(0)), default=Value(1))
            for chosen in qs.order_by(wrapped, "shuffle").only("compact", "peer_id")[: p["numwant"]]:
                entry = bytes(chosen.compact) + (bytes(chosen.peer_id) if p["wpid"] else b"")
                (peers4 if len(chosen.compact) == 6 else peers6).extend(entry)
    return AnnounceResult(True, *counts, bytes(peers4), bytes(peers6))


def _account_portable(p: dict[str, Any], prev: Peer | None, stopped: bool) -> None:
    """Credit the user, update the snatch and the torrent's counts (SQLite path of the PG statement)."""
    up = transfer_credit(new=p["up"], previous=prev.uploaded if prev else None)
    down = transfer_credit(new=p["down"], previous=prev.downloaded if prev else None)
    credit_down = download_credit(delta=down, freeleech=p["free"])
    if up or credit_down:
        User.objects.filter(pk=p["u"]).update(uploaded=F("uploaded") + up, downloaded=F("downloaded") + credit_down)
    seed = 0
    if prev is not None and prev.is_seeder:
        seed = int(min(max((p["now"] - prev.last_announce).total_seconds(), 0), p["expiry"]))
    snatch = Snatch.objects.filter(user_id=p["u"], torrent_id=p["t"]).first()
    completing = _is_completing(
        left=p["left"], prev_left=prev.left if prev else None, event=p["event"], snatch_left=snatch.left if snatch else None
    )
    seeding, leeching = (False, False) if stopped else (p["seeder"], not p["seeder"])
    first_completion = completing and (snatch is None or snatch.times_completed == 0)
    if snatch is None:
        Snatch.objects.create(
            user_id=p["u"], torrent_id=p["t"], uploaded=up, downloaded=down, left=p["left"], seed_time=seed,
            is_seeding=seeding, is_leeching=leeching, first_announce=p["now"], last_announce=p["now"],
            completed_at=p["now"] if completing else None, times_completed=int(completing),
        )  # fmt: skip
    else:
        Snatch.objects.filter(pk=snatch.pk).update(
            uploaded=F("uploaded") + up, downloaded=F("downloaded") + down, left=p["left"], seed_time=F("seed_time") + seed,
            is_seeding=seeding, is_leeching=leeching, last_announce=p["now"],
            completed_at=snatch.completed_at or (p["now"] if completing else None),
            times_completed=F("times_completed") + int(completing),
        )  # fmt: skip
    was_seeder = None if prev is None else prev.is_seeder
    now_seeder = None if stopped else p["seeder"]
    seeders = int(now_seeder is True) - int(was_seeder is True)
    leechers = int(now_seeder is False) - int(was_seeder is False)
    if seeders or leechers or first_completion:
        TorrentStats.objects.filter(pk=p["t"]).update(
            seeders=F("seeders") + seeders, leechers=F("leechers") + leechers, completed=F("completed") + int(first_completion)
        )


def torrent_scrape(*, info_hashes: list[bytes]) -> dict[bytes, tuple[int, int, int]]:
    """BEP 48 figures per requested 20-byte hash: (complete, downloaded, incomplete); unknown hashes left out."""
    wanted = {h.hex(): h for h in info_hashes}
    rows = Torrent.objects.filter(Q(info_hash__in=wanted) | Q(info_hash_v2_short__in=wanted)).values_list(
        "info_hash", "info_hash_v2_short", "stats__seeders", "stats__completed", "stats__leechers"
    )
    files: dict[bytes, tuple[int, int, int]] = {}
    for v1, v2_short, seeders, completed, leechers in rows:
        for hex_hash in (v1, v2_short):
            if hex_hash in wanted:
                # No counts row (a bulk load before recount_torrents): zeros, as the announce answers.
                files[wanted[hex_hash]] = (seeders or 0, completed or 0, leechers or 0)
    return files


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
                _with_deadlock_retry(cursor.execute, PG_EXPIRE, {"cutoff": cutoff, "batch": batch_size})
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
