"""The announce's writes: the peer upsert, the accounting and the peer selection, on any database.

What an announce changes is specified once, in tracker.swarm.rules. On
PostgreSQL the whole announce is one statement (tracker.swarm.sql, a chain of
data-modifying CTEs): the peer upsert locks the peer row and copies its
previous figures into `prev_*` columns, and every other change is computed
from what that upsert returns, so concurrent duplicates of one peer
serialize on the row and nothing is counted twice. Elsewhere (SQLite) the
portable path applies the rules in Python inside one transaction, which
SQLite's IMMEDIATE mode serializes.
"""

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, F, Value, When
from django.utils import timezone

from accounts.models import User
from tracker.catalogue.models import TorrentStats
from tracker.swarm.models import Peer, Snatch, peer_compact, peer_shuffle
from tracker.swarm.rules import AnnounceIn, Effects, PeerBefore, SnatchBefore, announce_effects, download_share
from tracker.swarm.sql import PG_STATEMENTS, PG_STATEMENTS_POSITIONAL, AnnounceResult, pg_result

DEADLOCK_RETRIES = 3


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
    and the torrent from memory (tracker.swarm.lookups); the statement writes
    nothing if it has moved on since. None for lookups just read.
    `with_peer_ids`: hand the chosen peers back with their peer ids.
    """
    moment = now or timezone.now()
    stopped = event == "stopped"
    # The download credit's share (tracker.swarm.rules), for the SQL: down_delta * dmul / ddiv.
    dmul, ddiv = download_share(freeleech)
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
        # Lookups read from memory say under which generation (see tracker.swarm.lookups); None: just read.
        "gen": generation,
    }


def peer_announce(params: dict[str, Any]) -> AnnounceResult:
    """Record one announce of (torrent, peer_id) and pick up to `numwant` peers for it.

    `params` comes from `announce_params`. `accepted` is False when the
    peer_id belongs to another user's peer in this swarm (nothing is
    changed then).
    """
    if connection.vendor == "postgresql":
        return with_deadlock_retry(announce_statement, params)
    return announce_portable(params)


def with_deadlock_retry(func: Any, *args: Any) -> Any:
    """Call `func(*args)`, again if PostgreSQL broke a deadlock by failing it (up to DEADLOCK_RETRIES times)."""
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


def announce_statement(params: dict[str, Any]) -> AnnounceResult:
    """Run the single PostgreSQL statement (tracker.swarm.sql) for one announce on Django's connection."""
    sql, values = pg_statement(params)
    with _pg_cursor() as cursor:
        cursor.execute(sql, values)
        return pg_result(cursor.fetchone())


def announce_portable(p: dict[str, Any]) -> AnnounceResult:
    """Apply tracker.swarm.rules to the rows, in one transaction: SQLite's path (and the specification's reference)."""
    stopped = p["event"] == "stopped"
    with transaction.atomic():
        peer = Peer.objects.filter(torrent_id=p["t"], peer_id=p["pid"]).first()
        if peer is not None and peer.user_id != p["u"]:
            if not stopped:
                return AnnounceResult(False, 0, 0, 0)
            peer = None  # another member's peer_id: a stop changes nothing, as for a peer we do not know
        snatch = Snatch.objects.filter(user_id=p["u"], torrent_id=p["t"]).first()
        effects = announce_effects(
            peer=PeerBefore(peer.uploaded, peer.downloaded, peer.left, peer.is_seeder, peer.last_announce) if peer else None,
            snatch=SnatchBefore(snatch.left, snatch.times_completed) if snatch else None,
            announce=AnnounceIn(p["up"], p["down"], p["left"], p["event"], p["seeder"], p["now"], p["free"], p["expiry"]),
        )
        if effects.recorded:
            _peer_write(p, peer, stopped)
            _effects_apply(p, snatch, effects)
        counts = TorrentStats.objects.filter(pk=p["t"]).values_list("seeders", "leechers", "completed").first() or (0, 0, 0)
        peers4, peers6 = (b"", b"") if stopped else _peers_select(p)
    return AnnounceResult(True, *counts, peers4, peers6)


def _peer_write(p: dict[str, Any], peer: Peer | None, stopped: bool) -> None:
    """The peer row after the announce: gone on a stop, else the announce's figures (the previous ones in prev_*)."""
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


def _effects_apply(p: dict[str, Any], snatch: Snatch | None, e: Effects) -> None:
    """Credit the member, record the snatch and move the torrent's counts as `e` says."""
    if e.credit_up or e.credit_down:
        User.objects.filter(pk=p["u"]).update(uploaded=F("uploaded") + e.credit_up, downloaded=F("downloaded") + e.credit_down)
    seeding, leeching = e.state is True, e.state is False
    completed_at = p["now"] if e.completing else None
    if snatch is None:
        Snatch.objects.create(
            user_id=p["u"], torrent_id=p["t"], uploaded=e.traffic_up, downloaded=e.traffic_down, left=p["left"],
            seed_time=e.seed_time, is_seeding=seeding, is_leeching=leeching, first_announce=p["now"],
            last_announce=p["now"], completed_at=completed_at, times_completed=int(e.completing),
        )  # fmt: skip
    else:
        Snatch.objects.filter(pk=snatch.pk).update(
            uploaded=F("uploaded") + e.traffic_up, downloaded=F("downloaded") + e.traffic_down, left=p["left"],
            seed_time=F("seed_time") + e.seed_time, is_seeding=seeding, is_leeching=leeching, last_announce=p["now"],
            completed_at=snatch.completed_at or completed_at, times_completed=F("times_completed") + int(e.completing),
        )  # fmt: skip
    if e.seeders or e.leechers or e.first_completion:
        TorrentStats.objects.filter(pk=p["t"]).update(
            seeders=F("seeders") + e.seeders, leechers=F("leechers") + e.leechers, completed=F("completed") + int(e.first_completion)
        )


def _peers_select(p: dict[str, Any]) -> tuple[bytes, bytes]:
    """The statement's window of peers: live ones in shuffle order from `r`, wrapping round; leechers only for a seeder."""
    peers4, peers6 = bytearray(), bytearray()
    if p["numwant"] <= 0:
        return b"", b""
    qs = Peer.objects.filter(torrent_id=p["t"], last_announce__gte=p["live"]).exclude(peer_id=p["pid"])
    if p["seeder"]:
        qs = qs.filter(is_seeder=False)
    wrapped = Case(When(shuffle__gte=p["r"], then=Value(0)), default=Value(1))
    for chosen in qs.order_by(wrapped, "shuffle").only("compact", "peer_id")[: p["numwant"]]:
        entry = bytes(chosen.compact) + (bytes(chosen.peer_id) if p["wpid"] else b"")
        (peers4 if len(chosen.compact) == 6 else peers6).extend(entry)
    return bytes(peers4), bytes(peers6)
