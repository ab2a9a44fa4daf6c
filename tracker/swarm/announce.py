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
from core.metrics import ANNOUNCE_RETRIES
from tracker.catalogue.models import TorrentStats
from tracker.policy.models import HnrState, HnrWarning, TokenUse
from tracker.policy.snapshot import AnnouncePolicy, credit_shares, hnr_terms
from tracker.policy.standing import watch_since_after
from tracker.swarm.models import Peer, Snatch, peer_compact, peer_shuffle
from tracker.swarm.rules import AnnounceIn, Effects, GateIn, PeerBefore, SnatchBefore, announce_effects, gate_verdict
from tracker.swarm.sql import PG_STATEMENTS, AnnounceResult, pg_result, positional

DEADLOCK_RETRIES = 3
# How many gate conflicts an announce outlives. A gate conflict means another announce of the member on the
# torrent committed meanwhile (tracker.swarm.sql's `gt`); judged again under the member's lock, it can still
# lose once to each racing announce that the snapshot cleared without the lock, so a member's few clients
# starting at once need more than DEADLOCK_RETRIES (seen: four new peers on a limit of three). Lock waits
# cut short and deadlocks still end an announce at their third, so a held lock fails it within three lock
# timeouts, as before.
GATE_CONFLICT_RETRIES = 8


def retries_exhausted(failures: list[int], gate_conflict: bool) -> bool:
    """Count one failed run of an announce statement in `failures` ([lock failures, gate conflicts]): True once
    its kind has failed DEADLOCK_RETRIES (a lock or a deadlock) or GATE_CONFLICT_RETRIES times."""
    failures[gate_conflict] += 1
    return failures[gate_conflict] >= (GATE_CONFLICT_RETRIES if gate_conflict else DEADLOCK_RETRIES)


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
    policy: AnnouncePolicy | None = None,
    torrent_size: int = 0,
    uploader: bool = False,
    v2: bool = False,
) -> dict[str, Any]:
    """The named parameters of one announce, as PG_STATEMENTS and the portable path take them.

    `generation`: the lookup generation under which the caller read the user
    and the torrent from memory (tracker.swarm.lookups); the statement writes
    nothing if it has moved on since. None for lookups just read.
    `with_peer_ids`: hand the chosen peers back with their peer ids.
    `policy`: the site's rules (tracker.policy.snapshot); None applies none of
    them (no gate, no events, no hit-and-run), as before the rules existed.
    `v2`: announced under a hybrid torrent's v2 hash (its truncated BEP 52
    hash): the reply carries only the peers that announced under it too.
    """
    moment = now or timezone.now()
    stopped = event == "stopped"
    # The credit's shares (tracker.swarm.rules), for the SQL: down_delta * dmul / ddiv, up_delta * umul.
    dmul, ddiv, umul = credit_shares(policy, freeleech, moment)
    hseed, hratio, hdue = hnr_terms(policy, size=torrent_size, uploader=uploader, download_counted=dmul > 0, now=moment)
    gate = policy is not None and not stopped
    return (
        {
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
            "umul": umul,
            "policy": policy,
            # The gate (tracker.swarm.sql's `gt`); its numbers from the policy come in below.
            "gate": gate,
            # True: judge it under the member's lock even if the snapshot clears it (a retry after a racing announce).
            "exact": False,
            # The hit-and-run terms a first completion freezes on the snatch (None: exempt).
            "hseed": hseed,
            "hratio": hratio,
            "hdue": hdue,
            "v2": v2,
        }
        | _policy_numbers(policy)
    )


# What is the same for every announce under one policy snapshot, kept per snapshot: the rules' numbers, and
# the announce statements with those written in (by tracker.swarm.sql.PG_STATEMENTS key, made on first use).
Statements = dict[tuple[bool, bool], tuple[str, tuple[str, ...]]]
_NO_POLICY: tuple[dict[str, Any], Statements] = (
    {"ppt": 0, "sla": 0, "slm": 0, "sbb": [], "sbs": [], "rbm": [], "rbr": [], "wd": 0, "mw": 0},
    {},
)
_policy_memo: dict[int, tuple[AnnouncePolicy, dict[str, Any], Statements]] = {}


def _policy_numbers(policy: AnnouncePolicy | None) -> dict[str, Any]:
    """The statement's parameters from the policy snapshot."""
    return _per_policy(policy)[0]


def _per_policy(policy: AnnouncePolicy | None) -> tuple[dict[str, Any], Statements]:
    """The snapshot's numbers and its statements so far (see _policy_memo)."""
    if policy is None:
        return _NO_POLICY
    kept = _policy_memo.get(id(policy))
    if kept is not None and kept[0] is policy:
        return kept[1], kept[2]
    numbers = {
        "ppt": policy.peers_per_torrent,
        "sla": policy.slots_after,
        "slm": policy.slots_max,
        "sbb": [b for b, _ in policy.slot_bands],
        "sbs": [n for _, n in policy.slot_bands],
        "rbm": [m for m, _ in policy.ratio_bands],
        "rbr": [r for _, r in policy.ratio_bands],
        "wd": policy.watch_days,
        "mw": policy.max_warnings,
    }
    if len(_policy_memo) > 8:  # snapshots replaced by newer ones
        _policy_memo.clear()
    _policy_memo[id(policy)] = (policy, numbers, {})
    return numbers, _policy_memo[id(policy)][2]


def peer_announce(params: dict[str, Any]) -> AnnounceResult:
    """Record one announce of (torrent, peer_id) and pick up to `numwant` peers for it.

    `params` comes from `announce_params`. `accepted` is False when the
    peer_id belongs to another user's peer in this swarm (nothing is
    changed then).
    """
    if connection.vendor == "postgresql":
        return announce_retried(params)
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


def announce_retried(params: dict[str, Any]) -> AnnounceResult:
    """The announce statement, again after a deadlock, and again judged under the member's lock when the gate's check
    found a racing announce of the member on the torrent (a serialization failure: tracker.swarm.sql's `gt`)."""
    from django.db import OperationalError
    from psycopg.errors import DeadlockDetected, SerializationFailure

    failures = [0, 0]
    while True:
        try:
            return announce_statement(params)
        except OperationalError as exc:
            if not isinstance(exc.__cause__, DeadlockDetected | SerializationFailure):
                raise
            gate_conflict = isinstance(exc.__cause__, SerializationFailure)
            if retries_exhausted(failures, gate_conflict):
                raise
            ANNOUNCE_RETRIES.labels("wsgi", "gate_conflict" if gate_conflict else "lock").inc()
            if gate_conflict:
                params = {**params, "exact": True}


def _pg_cursor() -> Any:
    """A server-binding cursor with PostgreSQL's own $n placeholders, whose statements are prepared once per connection.

    Django's default psycopg cursor binds client-side and can't prepare; the
    announce statement is long, so re-parsing and re-planning it on every
    call would cost more than running it. A raw cursor also skips psycopg's
    conversion of `%(name)s` placeholders, which it caches only for queries
    under 4 KiB and 50 parameters. Other queries on the connection keep
    Django's cursor (client-side binding never prepares).
    """
    import psycopg

    connection.ensure_connection()
    raw = connection.connection
    raw.prepare_threshold = 0
    return connection._prepare_cursor(psycopg.RawCursor(raw))  # type: ignore[attr-defined]


def pg_statement(params: dict[str, Any]) -> tuple[str, list[Any]]:
    """The announce's one PostgreSQL statement ($n placeholders, each cast to its type) and its values, for psycopg.

    Integers go as int8, so one prepared plan serves every announce whatever
    the values' sizes.
    """
    from psycopg.types.numeric import Int8

    sql, values = pg_positional(params)
    return sql, [Int8(v) if type(v) is int else v for v in values]


def _statement_key(params: dict[str, Any]) -> tuple[bool, bool]:
    """Which of PG_STATEMENTS: (stopped, may credit the user: a counter is not 0)."""
    return params["event"] == "stopped", bool(params["up"] or params["down"])


def pg_positional(params: dict[str, Any]) -> tuple[str, list[Any]]:
    """The announce statement with $n placeholders (typed casts) and its values in order, for asyncpg and psycopg.

    The rules' numbers are constants in its text (tracker.swarm.sql.POLICY_CONSTANTS), so there is one
    text per statement and policy snapshot, made once; a new snapshot (an operator changed a rule) makes
    new ones, which the drivers prepare on first use.
    """
    key = _statement_key(params)
    numbers, statements = _per_policy(params["policy"])
    made = statements.get(key)
    if made is None:
        made = statements[key] = positional(PG_STATEMENTS[key], numbers)
    sql, names = made
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
        if p["gate"] and not _passes_gate_unasked(p, peer):
            refusal = gate_verdict(_gate_in(p), p["policy"])
            if refusal is not None:
                return AnnounceResult(False, 0, 0, 0, refused=refusal.code())
        snatch = Snatch.objects.filter(user_id=p["u"], torrent_id=p["t"]).first()
        # The member's totals, ratio watch and personal freeleech, when the announce may credit anything.
        member = (
            User.objects.filter(pk=p["u"]).values_list("uploaded", "downloaded", "ratio_watch_since", "freeleech_until").get()
            if p["up"] or p["down"]
            else None
        )
        effects = announce_effects(
            peer=PeerBefore(peer.uploaded, peer.downloaded, peer.left, peer.is_seeder, peer.last_announce) if peer else None,
            snatch=SnatchBefore(snatch.left, snatch.times_completed) if snatch else None,
            announce=AnnounceIn(
                p["up"], p["down"], p["left"], p["event"], p["seeder"], p["now"], p["free"], p["expiry"],
                umul=p["umul"], uncounted=_download_uncounted(p, member), share=(p["dmul"], p["ddiv"]),
            ),
        )  # fmt: skip
        if effects.recorded:
            _peer_write(p, peer, stopped)
            _effects_apply(p, snatch, effects, member)
        counts = TorrentStats.objects.filter(pk=p["t"]).values_list("seeders", "leechers", "completed").first() or (0, 0, 0)
        peers4, peers6 = (b"", b"") if stopped else _peers_select(p)
    return AnnounceResult(True, *counts, peers4, peers6)


def _passes_gate_unasked(p: dict[str, Any], peer: Peer | None) -> bool:
    """A live peer of the member re-announcing, still leeching or seeding as before: the gate does not judge it."""
    return peer is not None and peer.last_announce >= p["live"] and (not peer.is_seeder or p["seeder"])


def _gate_in(p: dict[str, Any]) -> GateIn:
    """The live figures the gate judges, read in the announce's transaction (SQLite's is serialized)."""
    mine = Peer.objects.filter(user_id=p["u"], last_announce__gte=p["live"]).exclude(torrent_id=p["t"], peer_id=p["pid"])
    here = list(mine.filter(torrent_id=p["t"]).values_list("is_seeder", flat=True))
    elsewhere = mine.filter(is_seeder=False).exclude(torrent_id=p["t"]).values("torrent_id").distinct().count()
    user = User.objects.filter(pk=p["u"]).values_list("uploaded", "downloaded", "ratio_watch_since").get()
    warnings = HnrWarning.objects.filter(user_id=p["u"], cleared_at__isnull=True, expires_at__gt=p["now"]).count()
    return GateIn(p["seeder"], len(here), not all(here), elsewhere, *user, warnings, p["now"])


def _download_uncounted(p: dict[str, Any], member: tuple[Any, ...] | None) -> bool:
    """A freeleech token running on the torrent, or the member's personal freeleech: no download is credited."""
    if member is None or not p["down"]:
        return False
    if member[3] is not None and member[3] > p["now"]:
        return True
    return TokenUse.objects.filter(user_id=p["u"], torrent_id=p["t"], expires_at__gt=p["now"]).exists()


def _peer_write(p: dict[str, Any], peer: Peer | None, stopped: bool) -> None:
    """The peer row after the announce: gone on a stop, else the announce's figures (the previous ones in prev_*)."""
    if stopped:
        Peer.objects.filter(pk=peer.pk).delete()  # type: ignore[union-attr]
    elif peer is None:
        Peer.objects.create(
            torrent_id=p["t"], user_id=p["u"], peer_id=p["pid"], ip=p["ip"], port=p["port"], uploaded=p["up"],
            downloaded=p["down"], left=p["left"], is_seeder=p["seeder"], user_agent=p["ua"], key=p["key"],
            last_announce=p["now"], shuffle=p["shuffle"], v2=p["v2"],
        )  # fmt: skip
    else:
        # The other address family than the stored address's: that one becomes the alternative (tracker.swarm.sql).
        other_family = len(p["compact"]) != len(peer.compact)
        alt = {"alt_compact": bytes(peer.compact), "alt_announce": peer.last_announce} if other_family else {}
        Peer.objects.filter(pk=peer.pk).update(
            prev_uploaded=peer.uploaded, prev_downloaded=peer.downloaded, prev_left=peer.left,
            prev_is_seeder=peer.is_seeder, prev_announce=peer.last_announce, ip=p["ip"], port=p["port"], compact=p["compact"],
            uploaded=p["up"], downloaded=p["down"], left=p["left"], is_seeder=p["seeder"], user_agent=p["ua"],
            key=p["key"], last_announce=p["now"], v2=peer.v2 or p["v2"], **alt,
        )  # fmt: skip


def _effects_apply(p: dict[str, Any], snatch: Snatch | None, e: Effects, member: tuple[Any, ...] | None) -> None:
    """Credit the member, record the snatch and move the torrent's counts as `e` says."""
    if (e.credit_up or e.credit_down) and member is not None:
        up, down, since = member[0] + e.credit_up, member[1] + e.credit_down, member[2]
        bands = p["policy"].ratio_bands if p["policy"] else ()
        since = watch_since_after(uploaded=up, downloaded=down, watch_since=since, now=p["now"], bands=bands)
        User.objects.filter(pk=p["u"]).update(uploaded=up, downloaded=down, ratio_watch_since=since)
    seeding, leeching = e.state is True, e.state is False
    completed_at = p["now"] if e.completing else None
    # The hit-and-run requirement, frozen at the first completion (tracker.swarm.rules).
    first = e.completing and (snatch is None or snatch.times_completed == 0)
    hnr = {"hnr_seed": p["hseed"], "hnr_ratio_pct": p["hratio"], "hnr_due": p["hdue"]} if first else {}
    if first:
        hnr["hnr_state"] = HnrState.PENDING if p["hseed"] is not None else HnrState.NONE
    if snatch is None:
        Snatch.objects.create(
            user_id=p["u"], torrent_id=p["t"], uploaded=e.traffic_up, downloaded=e.traffic_down, left=p["left"],
            seed_time=e.seed_time, is_seeding=seeding, is_leeching=leeching, first_announce=p["now"],
            last_announce=p["now"], completed_at=completed_at, times_completed=int(e.completing), **hnr,
        )  # fmt: skip
    else:
        Snatch.objects.filter(pk=snatch.pk).update(
            uploaded=F("uploaded") + e.traffic_up, downloaded=F("downloaded") + e.traffic_down, left=p["left"],
            seed_time=F("seed_time") + e.seed_time, is_seeding=seeding, is_leeching=leeching, last_announce=p["now"],
            completed_at=snatch.completed_at or completed_at, times_completed=F("times_completed") + int(e.completing), **hnr,
        )  # fmt: skip
    if e.seeders or e.leechers or e.first_completion:
        TorrentStats.objects.filter(pk=p["t"]).update(
            seeders=F("seeders") + e.seeders, leechers=F("leechers") + e.leechers, completed=F("completed") + int(e.first_completion)
        )


def _peers_select(p: dict[str, Any]) -> tuple[bytes, bytes]:
    """The statement's window of peers: live ones in shuffle order from `r`, wrapping round; leechers only for a seeder.

    Each chosen peer comes with its address, and a dual-stack one also with
    its other family's while that announced within the expiry (alt_*).
    """
    peers4, peers6 = bytearray(), bytearray()
    if p["numwant"] <= 0:
        return b"", b""
    qs = Peer.objects.filter(torrent_id=p["t"], last_announce__gte=p["live"]).exclude(peer_id=p["pid"])
    if p["seeder"]:
        qs = qs.filter(is_seeder=False)
    if p["v2"]:  # under a hybrid's v2 hash: the peers that announced under it (tracker.swarm.sql)
        qs = qs.filter(v2=True)
    wrapped = Case(When(shuffle__gte=p["r"], then=Value(0)), default=Value(1))
    chosen = qs.order_by(wrapped, "shuffle").values_list("compact", "alt_compact", "alt_announce", "peer_id")
    for compact, alt_compact, alt_announce, pid in chosen[: p["numwant"]]:
        tail = bytes(pid) if p["wpid"] else b""
        alt = bytes(alt_compact) if alt_compact is not None and alt_announce is not None and alt_announce >= p["live"] else b""
        for size, peers in ((6, peers4), (18, peers6)):  # as tracker.swarm.sql.selection_addresses
            address = bytes(compact) if len(compact) == size else alt if len(alt) == size else None
            if address is not None:
                peers.extend(address + tail)
    return bytes(peers4), bytes(peers6)
