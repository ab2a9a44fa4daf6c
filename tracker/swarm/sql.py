"""The announce and the expiry as single PostgreSQL statements (see tracker.swarm for the rules).

Each announce is one round trip: the peer upsert (or delete, on `stopped`)
takes the peer's row lock and hands back the figures of its previous
announce; the credits, the snatch upsert, the torrent counts and the peer
selection are all computed from that in the same statement. Its variants
(PG_STATEMENTS) leave out what an announce cannot need: the credit when both
counters are 0, the peer selection on a stop. Under load the ASGI front sends
many announces in one statement instead (tracker.swarm.batch), sharing the
upserts' clauses defined here.
"""

import re
from collections.abc import Callable
from typing import Any, NamedTuple


class AnnounceResult(NamedTuple):
    """What the announce answers: the swarm's counts and the chosen peers.

    The peers come packed, IPv4 and IPv6 apart: each entry is the peer's
    `compact` form (tracker.swarm.models.peer_compact), followed by its 20-byte
    peer_id when the announce asked for peer ids (`announce_params`).
    (A NamedTuple: one per announce, and cheaper to build than a frozen dataclass.)
    """

    accepted: bool
    seeders: int
    leechers: int
    completed: int
    peers4: bytes = b""
    peers6: bytes = b""
    # PostgreSQL: the lookup generation the statement saw (tracker.swarm.lookups), and
    # False when the caller's lookups were older than it (then nothing was written).
    generation: int | None = None
    fresh: bool = True
    # The gate's refusal (tracker.policy.standing.Refusal.code, e.g. "slots 2 2"; nothing was written), or "".
    refused: str = ""


def pg_result(row: Any) -> AnnounceResult:
    """The AnnounceResult of a PG_STATEMENTS statement's one row."""
    accepted, fresh, generation, seeders, leechers, completed, peers4, peers6, refused = row
    return AnnounceResult(
        bool(accepted), seeders, leechers, completed, bytes(peers4 or b""), bytes(peers6 or b""), generation, bool(fresh), refused or ""
    )


# What an announce's upserts do to an existing peer (`pe`) and snatch (`sn`),
# here and in tracker.swarm.batch. A peer keeps the figures of its previous
# announce in prev_*; a peer_id taken by another user's peer changes nothing.
# An announce from the other address family than the stored address (a
# dual-stack client announces over IPv4 and IPv6 with one peer_id) moves the
# stored address to alt_* (packed, and when it last announced); one from the
# same family keeps alt_*. So a peer has at most one address per family, and
# its counters, credits and seeder/leecher state stay one row's. A peer that
# announced under a hybrid's v2 hash once keeps `v2` (its twin announces the v1 hash).
PEER_UPSERT_SET = """
    ON CONFLICT (torrent_id, peer_id) DO UPDATE SET
        prev_uploaded = pe.uploaded,
        prev_downloaded = pe.downloaded,
        prev_left = pe."left",
        prev_is_seeder = pe.is_seeder,
        prev_announce = pe.last_announce,
        alt_compact = CASE WHEN octet_length(EXCLUDED.compact) <> octet_length(pe.compact) THEN pe.compact ELSE pe.alt_compact END,
        alt_announce = CASE WHEN octet_length(EXCLUDED.compact) <> octet_length(pe.compact)
            THEN pe.last_announce ELSE pe.alt_announce END,
        v2 = pe.v2 OR EXCLUDED.v2,
        ip = EXCLUDED.ip,
        port = EXCLUDED.port,
        compact = EXCLUDED.compact,
        uploaded = EXCLUDED.uploaded,
        downloaded = EXCLUDED.downloaded,
        "left" = EXCLUDED."left",
        is_seeder = EXCLUDED.is_seeder,
        user_agent = EXCLUDED.user_agent,
        "key" = EXCLUDED."key",
        last_announce = EXCLUDED.last_announce
    WHERE pe.user_id = EXCLUDED.user_id
"""
SNATCH_UPSERT_SET = """
    ON CONFLICT (user_id, torrent_id) DO UPDATE SET
        uploaded = sn.uploaded + EXCLUDED.uploaded,
        downloaded = sn.downloaded + EXCLUDED.downloaded,
        "left" = EXCLUDED."left",
        seed_time = sn.seed_time + EXCLUDED.seed_time,
        is_seeding = EXCLUDED.is_seeding,
        is_leeching = EXCLUDED.is_leeching,
        last_announce = EXCLUDED.last_announce,
        completed_at = COALESCE(sn.completed_at, EXCLUDED.completed_at),
        times_completed = sn.times_completed + EXCLUDED.times_completed,
        hnr_seed = CASE WHEN sn.times_completed = 0 THEN EXCLUDED.hnr_seed ELSE sn.hnr_seed END,
        hnr_ratio_pct = CASE WHEN sn.times_completed = 0 THEN EXCLUDED.hnr_ratio_pct ELSE sn.hnr_ratio_pct END,
        hnr_due = CASE WHEN sn.times_completed = 0 THEN EXCLUDED.hnr_due ELSE sn.hnr_due END,
        hnr_state = CASE WHEN sn.times_completed = 0 THEN EXCLUDED.hnr_state ELSE sn.hnr_state END,
        revision = sn.revision + 1
"""


# The hit-and-run requirement a snatch is inserted with (or, by SNATCH_UPSERT_SET, given at
# its first completion): the announce's terms if it completes, else nothing. Shared with the batch.
def hnr_columns(completing: str, seed: str, ratio: str, due: str) -> str:
    """The four hnr_* values of a snatch insert, for SQL expressions of `completing` and the terms."""
    return (
        f"CASE WHEN {completing} THEN {seed} END, CASE WHEN {completing} THEN {ratio} END, "
        f"CASE WHEN {completing} THEN {due} END, CASE WHEN {completing} AND {seed} IS NOT NULL THEN 'pending' ELSE '' END"
    )


# The download credit: none while a freeleech token runs on the torrent. (A statement whose
# counters are both 0 credits nothing and leaves the token's table out.)
_DOWN_CREDIT = """CASE WHEN d.down_delta = 0 OR EXISTS (
    SELECT 1 FROM tracker_tokenuse WHERE user_id = %(u)s AND torrent_id = %(t)s AND expires_at > %(now)s)
    THEN 0 ELSE d.down_delta * %(dmul)s / %(ddiv)s END"""

# Shared by announce and stop: `p` yields the previous figures of the peer
# (NULL for a brand-new one), or no row when nothing was changed; `x` the
# deltas to credit. Freeleech scales the download credit by
# %(dmul)s / %(ddiv)s (gold 0/1, silver 1/2, a site freeleech 0/1), a
# double-upload event the upload by %(umul)s; a freeleech token running on
# the torrent credits no download.
_DELTAS = """
x AS (
    SELECT d.*, d.up_delta * %(umul)s AS up_credit, {down_credit} AS down_credit FROM (
    SELECT
        CASE WHEN p.prev_uploaded IS NULL THEN 0
             WHEN %(up)s >= p.prev_uploaded THEN %(up)s - p.prev_uploaded
             ELSE %(up)s END AS up_delta,
        CASE WHEN p.prev_downloaded IS NULL THEN 0
             WHEN %(down)s >= p.prev_downloaded THEN %(down)s - p.prev_downloaded
             ELSE %(down)s END AS down_delta,
        p.prev_is_seeder,
        CASE WHEN p.prev_is_seeder
             THEN LEAST(GREATEST(EXTRACT(EPOCH FROM (%(now)s - p.prev_announce)), 0), %(expiry)s)::bigint
             ELSE 0 END AS seed_delta,
        (%(left)s = 0 AND CASE
            WHEN p.prev_left IS NOT NULL THEN p.prev_left > 0
            ELSE %(event)s = 'completed' OR EXISTS (
                SELECT 1 FROM tracker_snatch WHERE user_id = %(u)s AND torrent_id = %(t)s AND "left" > 0)
         END) AS completing
    FROM p) AS d
),"""

# The user's totals. Left out of announces whose counters are both 0: they
# can credit nothing (a delta is the new value or the growth to it). Personal
# freeleech (read on the locked row) credits no download; the ratio watch
# starts or ends with the new totals (tracker.policy.standing, the function
# tracker_ratio_below of migration 0010 over the bands %(rbm)s::int8[] / %(rbr)s::int8[]).
_CREDIT = """
u AS (
    UPDATE accounts_user AS au
    SET uploaded = au.uploaded + x.up_credit,
        downloaded = au.downloaded + CASE WHEN au.freeleech_until > %(now)s THEN 0 ELSE x.down_credit END,
        ratio_watch_since = CASE WHEN tracker_ratio_below(
                au.uploaded + x.up_credit, au.downloaded + CASE WHEN au.freeleech_until > %(now)s THEN 0 ELSE x.down_credit END,
                %(rbm)s::int8[], %(rbr)s::int8[])
            THEN COALESCE(au.ratio_watch_since, %(now)s) END
    FROM x
    WHERE au.id = %(u)s AND (x.up_credit > 0 OR (x.down_credit > 0 AND NOT COALESCE(au.freeleech_until > %(now)s, false)))
    RETURNING 1
),"""

# The snatch, then the torrent's counts: `t` reads `s` in its FROM, so the
# snatch row is locked before the counts row whatever the counts do, in the
# order batches (tracker.swarm.batch) lock them too. (Read only inside the
# SET, `s` ran after `t` when nothing completed: a batch and a single
# statement sharing a snatch and a torrent then waited on each other.)
_HISTORY = """
s AS (
    INSERT INTO tracker_snatch AS sn (
        user_id, torrent_id, uploaded, downloaded, "left", seed_time, is_seeding, is_leeching,
        first_announce, last_announce, completed_at, times_completed, hnr_seed, hnr_ratio_pct, hnr_due, hnr_state,
        bonus_seed_time)
    SELECT %(u)s, %(t)s, x.up_delta, x.down_delta, %(left)s, x.seed_delta, %(seeding)s, %(leeching)s,
           %(now)s, %(now)s, CASE WHEN x.completing THEN %(now)s END, x.completing::int, {hnr}, 0
    FROM x
    {snatch_set}
    RETURNING sn.times_completed, sn.revision
),
t AS (
    UPDATE tracker_torrentstats AS tt SET
        seeders = tt.seeders + %(s_in)s - (x.prev_is_seeder IS TRUE)::int,
        leechers = tt.leechers + %(l_in)s - (x.prev_is_seeder IS FALSE)::int,
        completed = tt.completed + (x.completing AND s.times_completed = 1)::int
    FROM x CROSS JOIN s
    WHERE tt.torrent_id = %(t)s AND (
        x.prev_is_seeder IS DISTINCT FROM %(state)s OR (x.completing AND s.times_completed = 1))
    RETURNING tt.seeders, tt.leechers, tt.completed
)
"""

# The final SELECT always yields one row, even for a torrent whose counts row is
# missing (a bulk load before recount_torrents): its reply then shows zeros
# instead of refusing an announce that was recorded.
#
# The counts are `t`'s when this announce moved them (its UPDATE read the row's
# latest version, under the row's lock). Otherwise they are read after the
# upsert, through tracker_torrent_counts (migration 0017), in a snapshot of
# their own: a twin announce of the same peer (dual-stack, hybrid, two fronts)
# that the upsert waited for has committed by then, and its change shows, where
# the statement's own snapshot (taken before the wait) would show the counts
# from before it (`fresh_counts`).
#
# It also commits the statement's transaction asynchronously (no
# WAL flush wait, via set_config(..., true)). A server crash may lose the last
# fraction of a second of announces, but each is all-or-nothing and counters
# are cumulative: the peer row keeps its older figures and the next announce
# credits the difference, exactly once.
_RESULT = """
SELECT {accepted} AS accepted, g.fresh, g.gen,
       COALESCE(t.seeders, tor.seeders, 0), COALESCE(t.leechers, tor.leechers, 0),
       COALESCE(t.completed, tor.completed, 0), sel.v4, sel.v6, {refused} AS refused
FROM g
LEFT JOIN t ON true
{fresh_counts}
CROSS JOIN (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit
{selection}"""

# `sel`, the peer selection: a window of up to %(numwant)s live peers in the swarm's
# `shuffle` order (a random number in [0, 2**31 - 1) each peer gets when it
# joins), starting at the random point %(r)s and wrapping round: the range
# [r, 2**31 - 1) first, then [0, r). The index on (torrent, shuffle) serves
# each range in order: no sort, and only the peers handed out are read. The
# entries come back packed as the reply carries them: address and port
# (BEP 23; 6 bytes IPv4, 18 IPv6), followed by the peer_id when %(wpid)s. A
# dual-stack peer comes in both lists, with its other family's address
# (alt_compact) while that announced within the expiry: `selection_addresses`.
# An announce under a hybrid's v2 hash (%(v2)s) is handed only the peers that
# announced under it too (tracker.swarm.models.Peer.v2).
_SELECTION = """
CROSS JOIN LATERAL (
    SELECT string_agg(CASE WHEN %(wpid)s THEN w.c4 || w.peer_id ELSE w.c4 END, ''::bytea) AS v4,
           string_agg(CASE WHEN %(wpid)s THEN w.c6 || w.peer_id ELSE w.c6 END, ''::bytea) AS v6
    FROM (SELECT q.* FROM (VALUES (%(r)s, 2147483647), (0, %(r)s)) AS h(lo, hi), LATERAL (
        SELECT {alt} FROM tracker_peer AS pp
        WHERE pp.torrent_id = %(t)s AND pp.shuffle >= h.lo AND pp.shuffle < h.hi AND pp.peer_id <> %(pid)s
          AND pp.last_announce >= %(live)s AND (NOT %(seeder)s OR NOT pp.is_seeder) AND (NOT %(v2)s OR pp.v2)
        ORDER BY pp.shuffle LIMIT %(numwant)s) AS q
    LIMIT %(numwant)s) AS w
) AS sel
"""


def selection_addresses(peer: str, live: str) -> str:
    """SQL of a chosen peer's columns c4 and c6 (its packed address in each family, or NULL) and its peer_id.

    `peer` names the tracker_peer row, `live` the cutoff of the peer expiry.
    The main address is live (the peer is chosen on its last_announce); the
    other family's only while its own announce is.
    """
    alt = f"({peer}.alt_announce >= {live})"
    return (
        ", ".join(
            f"CASE WHEN octet_length({peer}.compact) = {n} THEN {peer}.compact "
            f"WHEN {alt} AND octet_length({peer}.alt_compact) = {n} THEN {peer}.alt_compact END AS {name}"
            for n, name in ((6, "c4"), (18, "c6"))
        )
        + f", {peer}.peer_id"
    )


def fresh_counts(moved: str, torrent: str) -> str:
    """SQL joining `tor`, the torrent's counts read in a fresh snapshot (tracker_torrent_counts), unless `moved`
    (a column of the statement's own count update) is set: its reply's figures are then that update's."""
    return f"LEFT JOIN LATERAL (SELECT * FROM tracker_torrent_counts({torrent}) WHERE {moved} IS NULL) AS tor ON true"  # noqa: S608 (SQL names only)


# A stop hands out no peers.
_NO_SELECTION = "CROSS JOIN (SELECT NULL::bytea AS v4, NULL::bytea AS v6) AS sel"


# `g`: were the caller's lookups read under the current generation of
# tracker.swarm.lookups (or did it not say)? If not, nothing is written.
_GENERATION = """
WITH g AS (
    SELECT last_value AS gen, (%(gen)s::int8 IS NULL OR %(gen)s::int8 = last_value) AS fresh
    FROM tracker_lookup_generation
),"""


# `gt`, the gate (tracker.swarm.rules.gate_verdict). An announce that starts a
# peer, or turns a seeder into a leecher, is asked about (`ga`); re-announces
# of a live peer (nearly all announces) are not, nor is a peer_id another
# member's peer holds (the upsert refuses that one).
# - Most of the announces asked about cannot be refused, and the statement's
#   own snapshot shows it (gate_clear): those pass with no lock, and the
#   snatch's revision is read on the snapshot.
# - The rest, and every announce run again with %(exact)s, ask the function
#   tracker_gate (migrations 0010, 0011), which takes the member's advisory
#   lock and then counts their live peers with a snapshot of its own, so two
#   announces racing for a member's last leech slot are judged one after the
#   other; it hands back the snatch's revision as it read it.
# (OFFSET 0 plans the call's subquery apart, so its condition is a one-time
# filter that gates the call: a cleared announce never reaches the function.
# `ga` is MATERIALIZED: `gc` reads its `asked` twice, and inlined, its probe of
# the peer's row ran twice.)
# Either way the statement checks at the snatch's row lock that the revision
# is still that one (_REFUSED): another announce of the member on the
# torrent that committed in between bumped it, and then the statement fails,
# writing nothing, and the caller runs it again with %(exact)s.
def gate_clear(value: Callable[[str], str]) -> str:
    """SQL, true when the snapshot shows the gate cannot refuse the announce; `value(name)` spells its parameter `name`.

    No refusal is possible when the member has fewer than the peer limit's
    live peers on the torrent besides this one and, for a leecher, no leech
    slots apply (tracker_gate's bands), no ratio watch runs and no
    hit-and-run warning is active. Anything else goes to tracker_gate, which
    judges it exactly. Only the peer count can change under a racing
    announce of the same member on the same torrent, and the snatch's
    revision catches that; a member is judged by their figures before a
    racing announce's credit, as if it came second.
    """
    v = value
    return f"""(
    ({v("ppt")} = 0 OR (SELECT count(*) FROM tracker_peer AS gp WHERE gp.user_id = {v("u")} AND gp.torrent_id = {v("t")}
        AND gp.peer_id <> {v("pid")} AND gp.last_announce >= {v("live")}) < {v("ppt")})
    AND ({v("seeder")} OR (
        NOT EXISTS (SELECT 1 FROM accounts_user AS gu WHERE gu.id = {v("u")} AND (
            {v("slm")} > 0 OR gu.ratio_watch_since IS NOT NULL OR (gu.downloaded >= {v("sla")} AND gu.downloaded > 0 AND EXISTS (
                SELECT 1 FROM unnest({v("sbb")}) AS gb(r) WHERE gu.uploaded::numeric * 100 < gb.r::numeric * gu.downloaded))))
        AND ({v("mw")} = 0 OR NOT EXISTS (SELECT 1 FROM tracker_hnrwarning AS gw
            WHERE gw.user_id = {v("u")} AND gw.cleared_at IS NULL AND gw.expires_at > {v("now")}))))
)"""  # noqa: S608 (parameter names and columns only)


_GATE = """
ga AS MATERIALIZED (
    SELECT %(gate)s AND g.fresh AND NOT EXISTS (
        SELECT 1 FROM tracker_peer WHERE torrent_id = %(t)s AND peer_id = %(pid)s
          AND (user_id <> %(u)s OR (last_announce >= %(live)s AND (NOT is_seeder OR %(seeder)s)))) AS asked
    FROM g
),
gc AS MATERIALIZED (
    SELECT ga.asked, ga.asked AND NOT %(exact)s AND {clear} AS clear FROM ga
),
gt AS (
    SELECT gc.asked,
        CASE WHEN gc.clear THEN (SELECT revision FROM tracker_snatch WHERE user_id = %(u)s AND torrent_id = %(t)s)
             ELSE gj.revisions[1] END AS rev,
        COALESCE(gj.verdicts[1], '') AS refused
    FROM gc LEFT JOIN LATERAL (
        SELECT * FROM tracker_gate(ARRAY[%(u)s], ARRAY[%(t)s], ARRAY[%(pid)s], ARRAY[%(seeder)s], ARRAY[%(now)s], ARRAY[%(live)s],
                                   %(ppt)s, %(sla)s, %(slm)s, %(sbb)s, %(sbs)s, %(rbm)s, %(rbr)s, %(wd)s, %(mw)s)
        WHERE gc.asked AND NOT gc.clear OFFSET 0
    ) AS gj ON true
),"""

# The reply's `refused`: the gate's verdict, or the statement fails (SQLSTATE 40001, nothing
# written) when an announce judged on the snapshot finds its snatch's revision moved on.
_REFUSED = """(SELECT CASE WHEN gt.asked AND EXISTS (SELECT 1 FROM s WHERE s.revision <> COALESCE(gt.rev + 1, 0))
    THEN tracker_gate_conflict() ELSE gt.refused END FROM gt)"""

_UPSERT = """
p AS (
    INSERT INTO tracker_peer AS pe (
        torrent_id, user_id, peer_id, ip, port, compact, shuffle, uploaded, downloaded, "left", is_seeder,
        user_agent, "key", created_at, last_announce, v2)
    SELECT %(t)s, %(u)s, %(pid)s, %(ip)s, %(port)s, %(compact)s, %(shuffle)s, %(up)s, %(down)s, %(left)s,
           %(seeder)s, %(ua)s, %(key)s, %(now)s, %(now)s, %(v2)s
    FROM g CROSS JOIN gt WHERE g.fresh AND gt.refused = ''
    {peer_set}
    RETURNING pe.prev_uploaded, pe.prev_downloaded, pe.prev_left, pe.prev_is_seeder, pe.prev_announce
),"""

_DELETE = """
p AS (
    DELETE FROM tracker_peer
    WHERE torrent_id = %(t)s AND peer_id = %(pid)s AND user_id = %(u)s AND (SELECT fresh FROM g)
    RETURNING uploaded AS prev_uploaded, downloaded AS prev_downloaded, "left" AS prev_left,
              is_seeder AS prev_is_seeder, last_announce AS prev_announce
),"""


def _compact(sql: str) -> str:
    """One line, no optional spaces: under psycopg's 4 KiB limit for caching the parsed query.

    The fragments hold no string literal with spaces or punctuation in it, so
    dropping the spaces around brackets, commas and operators is safe.
    """
    return re.sub(r" ?([(),=+*/<>]) ?", r"\1", " ".join(sql.split()))


def _statement(*, stopped: bool, credit: bool) -> str:
    peer, accepted, selection, refused = (
        (_DELETE, "(SELECT fresh FROM g)::int", _NO_SELECTION, "''")
        if stopped
        else (_GATE + _UPSERT, "(SELECT count(*) FROM p)", _SELECTION.replace("{alt}", selection_addresses("pp", "%(live)s")), _REFUSED)
    )
    text = _GENERATION + peer + _DELTAS + (_CREDIT if credit else "") + _HISTORY + _RESULT
    hnr = hnr_columns("x.completing", "%(hseed)s::int8", "%(hratio)s::int8", "%(hdue)s::timestamptz")
    return _compact(
        text.format(
            accepted=accepted,
            selection=selection,
            refused=refused,
            peer_set=PEER_UPSERT_SET,
            fresh_counts=fresh_counts("t.seeders", "%(t)s"),
            snatch_set=SNATCH_UPSERT_SET,
            hnr=hnr,
            clear=gate_clear(lambda name: f"%({name})s"),
            down_credit=_DOWN_CREDIT if credit else "0",
        )
    )


# Built from the constant fragments above; values only ever travel as parameters
# (server-side and typed: integers as int8, hence few casts in the SQL).
# Keyed by (stopped, credit): `credit` when the announce's counters are not both 0.
PG_STATEMENTS = {(stopped, credit): _statement(stopped=stopped, credit=credit) for stopped in (False, True) for credit in (False, True)}

# The type of each named parameter, for drivers that bind by position and let
# PostgreSQL infer types (asyncpg): every placeholder gets its explicit cast,
# so integers are int8 wherever they appear (as psycopg's Int8 makes them).
PARAM_TYPES = {
    "t": "int8", "u": "int8", "pid": "bytea", "ip": "inet", "port": "int8", "up": "int8", "down": "int8",
    "left": "int8", "seeder": "bool", "ua": "text", "key": "text", "now": "timestamptz", "event": "text",
    "dmul": "int8", "ddiv": "int8", "numwant": "int8", "expiry": "int8", "live": "timestamptz", "seeding": "bool",
    "leeching": "bool", "s_in": "int8", "l_in": "int8", "state": "bool", "gen": "int8",
    "compact": "bytea", "shuffle": "int4", "r": "int4", "wpid": "bool",
    "umul": "int8", "gate": "bool", "exact": "bool", "ppt": "int8", "sla": "int8", "slm": "int8", "sbb": "int8[]", "sbs": "int8[]",
    "rbm": "int8[]", "rbr": "int8[]", "wd": "int8", "mw": "int8", "hseed": "int8", "hratio": "int8", "hdue": "timestamptz",
    "v2": "bool",
}  # fmt: skip


# The rules' numbers (tracker.swarm.announce._policy_numbers): the same for every announce under one
# snapshot of the site's policy, so `positional` can write them into the statement's text, once per
# snapshot, instead of binding them on every announce (five integers and four arrays fewer to encode).
POLICY_CONSTANTS = frozenset({"ppt", "sla", "slm", "sbb", "sbs", "rbm", "rbr", "wd", "mw"})


def _literal(value: Any, typ: str) -> str:
    """An integer (or a list of them) as an SQL constant of type `typ`: digits only, whatever `value` held."""
    if typ.endswith("[]"):
        return "'{" + ",".join(str(int(v)) for v in value) + "}'::" + typ
    return f"({int(value)})::{typ}"


_RATIO_BELOW = "tracker_ratio_below("
_RATIO_BANDS = ",%(rbm)s::int8[],%(rbr)s::int8[])"


def ratio_below_inline(sql: str, minimums: list[int], ratios: list[int], *, bands_args: str = _RATIO_BANDS) -> str:
    """`sql` with each call tracker_ratio_below(UP,DOWN,%(rbm)s::int8[],%(rbr)s::int8[]) written out for these bands.

    `bands_args`: how the calls' last two arguments and closing bracket are
    written (the batch statement binds the bands as $n parameters).

    The function (migration 0010) picks the band with the largest minimum at
    or below DOWN and compares in numeric; a call costs about 20 us (an SQL
    function with a FROM is not inlined), an expression a fraction of a
    microsecond. Here the same as one CASE over the bands, largest minimum
    first.
    """
    bands = sorted(zip((int(m) for m in minimums), (int(r) for r in ratios), strict=True), reverse=True)
    while (start := sql.find(_RATIO_BELOW)) >= 0:
        depth, args, arg_start, end = 0, [], start + len(_RATIO_BELOW), -1
        for i in range(arg_start, len(sql)):
            if sql[i] == "(":
                depth += 1
            elif sql[i] == ")":
                if depth == 0:
                    end = i
                    break
                depth -= 1
            elif sql[i] == "," and depth == 0:
                args.append(sql[arg_start:i])
                arg_start = i + 1
        args.append(sql[arg_start:end])
        if len(args) != 4 or "," + ",".join(args[2:]) + ")" != bands_args:
            raise ValueError(f"unexpected call of tracker_ratio_below: {sql[start : end + 1]}")
        up, down = args[0], args[1]
        required = "(CASE " + "".join(f"WHEN({down})>={m} THEN {r} " for m, r in bands) + "ELSE 0 END)" if bands else "0"
        below = f"({required}>0 AND({up})::numeric*100<{required}::numeric*({down}))"
        sql = sql[:start] + below + sql[end + 1 :]
    return sql


def positional(sql: str, constants: dict[str, Any] | None = None) -> tuple[str, tuple[str, ...]]:
    """`sql` with $1, $2... (each cast to its PARAM_TYPES type) for its %(name)s placeholders, and the names in order.

    `constants`: values written into the text instead, for those of their names in POLICY_CONSTANTS (and
    the ratio bands' test written out: ratio_below_inline).
    """
    names: list[str] = []
    if constants is not None:
        sql = ratio_below_inline(sql, constants["rbm"], constants["rbr"])

    def number(match: re.Match[str]) -> str:
        name = match[1]
        if constants is not None and name in POLICY_CONSTANTS:
            return _literal(constants[name], PARAM_TYPES[name])
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}::{PARAM_TYPES[name]}"

    return re.sub(r"%\((\w+)\)s", number, sql), tuple(names)


PG_EXPIRE = """
WITH d AS (
    DELETE FROM tracker_peer
    WHERE id IN (
        SELECT id FROM tracker_peer WHERE last_announce < %(cutoff)s
        LIMIT %(batch)s FOR UPDATE SKIP LOCKED)
    RETURNING torrent_id, user_id, is_seeder
),
agg AS (
    SELECT torrent_id, count(*) FILTER (WHERE is_seeder) AS s, count(*) FILTER (WHERE NOT is_seeder) AS l
    FROM d GROUP BY torrent_id
),
t AS (
    UPDATE tracker_torrentstats AS tt SET seeders = tt.seeders - agg.s, leechers = tt.leechers - agg.l
    FROM agg WHERE tt.torrent_id = agg.torrent_id
    RETURNING 1
),
sn AS (
    UPDATE tracker_snatch AS sn SET is_seeding = false, is_leeching = false
    FROM (SELECT DISTINCT user_id, torrent_id FROM d) AS g
    WHERE sn.user_id = g.user_id AND sn.torrent_id = g.torrent_id
      AND NOT EXISTS (
        SELECT 1 FROM tracker_peer AS live
        WHERE live.user_id = g.user_id AND live.torrent_id = g.torrent_id AND live.last_announce >= %(cutoff)s)
    RETURNING 1
)
SELECT count(*) FROM d
"""
