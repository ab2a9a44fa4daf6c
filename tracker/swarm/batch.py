"""Many announces in one PostgreSQL statement: the ASGI front's batches (tracker.announce.asgi).

The single announce statement (tracker.swarm.sql) pays its fixed costs on
every announce: executor start-up for a dozen plan nodes over four tables,
a commit, a round trip. Under load, the announces a worker has waiting are
sent together instead, as arrays, and this statement applies the same rules
to all of them at once, paying those costs once per batch (the README gives
the figures `tests/perf/announce` measured).

What a batch must hold, and why:
- at most one announce per peer (torrent, peer_id) and per snatch (user,
  torrent): a statement may change a row only once (the batcher keeps the
  rest for the next batch);
- the peer upserts and the snatch upserts run in sorted order, and the
  torrents' counts and users' totals are summed per row, so concurrent
  batches take their row locks in the same order;
- everything is one statement, so a batch is all-or-nothing; if it fails
  (a torrent deleted meanwhile, a lock wait cut short) the caller runs its
  announces one by one, so only the bad one fails;
- the announces the gate is asked about (they start a peer, or turn a
  seeder into a leecher: tracker.swarm.sql's `gt`) that the snapshot does
  not clear (`aq`, tracker.swarm.sql.gate_clear) are judged together by one
  call of `tracker_gate`, which takes their members' locks in ascending
  order before the statement takes any row lock; a refused one is answered
  with its reason and changes nothing. A member's announces in one batch are
  judged on their figures before the batch. One whose snatch's revision
  moved on since it was read (on the snapshot, or by tracker_gate) fails
  the batch (then each runs alone, and that one again under the lock);
- a reply's counts are the batch's update of them, or, for a torrent the
  batch did not move, read after the upserts in a fresh snapshot (as the
  single statement's: tracker.swarm.sql.fresh_counts).
"""

import functools
from typing import Any

from tracker.swarm.sql import (
    PEER_UPSERT_SET,
    SNATCH_UPSERT_SET,
    AnnounceResult,
    _compact,
    fresh_counts,
    gate_clear,
    hnr_columns,
    pg_result,
    ratio_below_inline,
    selection_addresses,
)

# The batch's columns, as arrays: (name in the statement, type, key in tracker.swarm.announce.announce_params).
_COLUMNS = [
    ("t", "int8", "t"), ("u", "int8", "u"), ("pid", "bytea", "pid"), ("ip", "inet", "ip"), ("port", "int4", "port"),
    ("compact", "bytea", "compact"), ("shuffle", "int4", "shuffle"), ("up", "int8", "up"), ("down", "int8", "down"),
    ("lft", "int8", "left"), ("seeder", "bool", "seeder"), ("ua", "text", "ua"), ("k", "text", "key"),
    ("ev", "text", "event"), ("dmul", "int8", "dmul"), ("ddiv", "int8", "ddiv"), ("s_in", "int4", "s_in"),
    ("l_in", "int4", "l_in"), ("state", "bool", "state"), ("seeding", "bool", "seeding"), ("leeching", "bool", "leeching"),
    ("numwant", "int8", "numwant"), ("r", "int4", "r"), ("wpid", "bool", "wpid"), ("live", "timestamptz", "live"),
    ("gen", "int8", "gen"), ("now", "timestamptz", "now"), ("umul", "int8", "umul"), ("gate", "bool", "gate"),
    ("hseed", "int8", "hseed"), ("hratio", "int8", "hratio"), ("hdue", "timestamptz", "hdue"), ("v2", "bool", "v2"),
]  # fmt: skip
# Parameters after the arrays, the same for every announce of the batch.
_EXPIRY = f"${len(_COLUMNS) + 1}::int8"
_RBM = f"${len(_COLUMNS) + 2}::int8[]"
_RBR = f"${len(_COLUMNS) + 3}::int8[]"
# The gate's numbers (tracker.swarm.announce.announce_params), after those.
_GATE_KEYS = ["ppt", "sla", "slm", "sbb", "sbs", "wd", "mw"]
_PPT, _SLA, _SLM, _SBB, _SBS, _WD, _MW = (
    f"${len(_COLUMNS) + 4 + n}::{typ}" for n, typ in enumerate(["int8", "int8", "int8", "int8[]", "int8[]", "int8", "int8"])
)
_SHARED = {"ppt": _PPT, "sla": _SLA, "slm": _SLM, "sbb": _SBB, "mw": _MW}


def _shared_or_row(name: str) -> str:
    """An announce's value `name` in the batch: a shared parameter, or its row's column in a0."""
    return _SHARED.get(name, f"a0.{name}")


_ARRAYS = ", ".join(f"${n}::{typ}[]" for n, (_, typ, _) in enumerate(_COLUMNS, start=1))
_NAMES = ", ".join(name for name, _, _ in _COLUMNS)

# Each CTE mirrors its namesake in tracker.swarm.sql, over every row of `a`.
_BATCH = f"""
WITH g AS (SELECT last_value AS gen FROM tracker_lookup_generation),
a0 AS (
    SELECT b.*, b.ev = 'stopped' AS stopped, (b.gen IS NULL OR b.gen = g.gen) AS fresh
    FROM unnest({_ARRAYS}) WITH ORDINALITY AS b({_NAMES}, i), g
),
aq AS (
    SELECT a0.i, sr.revision AS rev, {gate_clear(_shared_or_row)} AS clear
    FROM a0 LEFT JOIN tracker_snatch AS sr ON sr.user_id = a0.u AND sr.torrent_id = a0.t
    WHERE a0.gate AND a0.fresh AND NOT a0.stopped AND NOT EXISTS (
        SELECT 1 FROM tracker_peer AS lp WHERE lp.torrent_id = a0.t AND lp.peer_id = a0.pid
          AND (lp.user_id <> a0.u OR (lp.last_announce >= a0.live AND (NOT lp.is_seeder OR a0.seeder))))
),
ga AS (SELECT a0.* FROM a0 JOIN aq ON aq.i = a0.i WHERE NOT aq.clear),
gv AS (
    SELECT q.idx, r.verdicts, r.revisions
    FROM (SELECT array_agg(ga.i ORDER BY ga.i) AS idx, array_agg(ga.u ORDER BY ga.i) AS u, array_agg(ga.t ORDER BY ga.i) AS t,
                 array_agg(ga.pid ORDER BY ga.i) AS pid, array_agg(ga.seeder ORDER BY ga.i) AS seeder,
                 array_agg(ga.now ORDER BY ga.i) AS now, array_agg(ga.live ORDER BY ga.i) AS live
          FROM ga HAVING count(*) > 0) AS q,
         LATERAL tracker_gate(q.u, q.t, q.pid, q.seeder, q.now, q.live,
                              {_PPT}, {_SLA}, {_SLM}, {_SBB}, {_SBS}, {_RBM}, {_RBR}, {_WD}, {_MW}) AS r
),
a AS (
    SELECT a0.*, aq.i IS NOT NULL AS asked, COALESCE(gr.rev, aq.rev) AS rev, COALESCE(gr.verdict, '') AS refused
    FROM a0 LEFT JOIN aq ON aq.i = a0.i
    LEFT JOIN (SELECT v.i, v.verdict, v.rev FROM gv CROSS JOIN unnest(gv.idx, gv.verdicts, gv.revisions) AS v(i, verdict, rev)) AS gr
        ON gr.i = a0.i
),
p AS (
    INSERT INTO tracker_peer AS pe (
        torrent_id, user_id, peer_id, ip, port, compact, shuffle, uploaded, downloaded, "left", is_seeder,
        user_agent, "key", created_at, last_announce, v2)
    SELECT t, u, pid, ip, port, compact, shuffle, up, down, lft, seeder, ua, k, now, now, v2
    FROM a WHERE fresh AND NOT stopped AND refused = '' ORDER BY t, pid
{PEER_UPSERT_SET}
    RETURNING pe.torrent_id, pe.peer_id, pe.prev_uploaded, pe.prev_downloaded, pe.prev_left, pe.prev_is_seeder,
              pe.prev_announce
),
d AS (
    DELETE FROM tracker_peer AS pe USING a
    WHERE a.fresh AND a.stopped AND pe.torrent_id = a.t AND pe.peer_id = a.pid AND pe.user_id = a.u
    RETURNING pe.torrent_id, pe.peer_id, pe.uploaded, pe.downloaded, pe."left", pe.is_seeder, pe.last_announce
),
pp AS (SELECT * FROM p UNION ALL SELECT * FROM d),
x AS (
    SELECT a.t, a.u, a.lft, a.s_in, a.l_in, a.seeding, a.leeching, a.dmul, a.ddiv, a.umul, a.now, a.hseed, a.hratio, a.hdue,
        pp.prev_is_seeder,
        CASE WHEN pp.prev_uploaded IS NULL THEN 0
             WHEN a.up >= pp.prev_uploaded THEN a.up - pp.prev_uploaded
             ELSE a.up END AS up_delta,
        CASE WHEN pp.prev_downloaded IS NULL THEN 0
             WHEN a.down >= pp.prev_downloaded THEN a.down - pp.prev_downloaded
             ELSE a.down END AS down_delta,
        CASE WHEN pp.prev_is_seeder
             THEN LEAST(GREATEST(EXTRACT(EPOCH FROM (a.now - pp.prev_announce)), 0), {_EXPIRY})::bigint
             ELSE 0 END AS seed_delta,
        (a.lft = 0 AND CASE
            WHEN pp.prev_left IS NOT NULL THEN pp.prev_left > 0
            ELSE a.ev = 'completed' OR EXISTS (
                SELECT 1 FROM tracker_snatch AS os WHERE os.user_id = a.u AND os.torrent_id = a.t AND os."left" > 0)
         END) AS completing
    FROM a JOIN pp ON pp.torrent_id = a.t AND pp.peer_id = a.pid
),
s AS (
    INSERT INTO tracker_snatch AS sn (
        user_id, torrent_id, uploaded, downloaded, "left", seed_time, is_seeding, is_leeching,
        first_announce, last_announce, completed_at, times_completed, hnr_seed, hnr_ratio_pct, hnr_due, hnr_state,
        bonus_seed_time)
    SELECT u, t, up_delta, down_delta, lft, seed_delta, seeding, leeching, now, now,
           CASE WHEN completing THEN now END, completing::int, {hnr_columns("completing", "hseed", "hratio", "hdue")}, 0
    FROM x ORDER BY u, t
{SNATCH_UPSERT_SET}
    RETURNING sn.user_id, sn.torrent_id, sn.times_completed, sn.revision
),
tc AS (
    SELECT x.t,
           sum(x.s_in - (x.prev_is_seeder IS TRUE)::int) AS ds,
           sum(x.l_in - (x.prev_is_seeder IS FALSE)::int) AS dl,
           sum((x.completing AND s.times_completed = 1)::int) AS dc
    FROM x JOIN s ON s.user_id = x.u AND s.torrent_id = x.t
    GROUP BY x.t ORDER BY x.t
),
t AS (
    UPDATE tracker_torrentstats AS tt
    SET seeders = tt.seeders + tc.ds, leechers = tt.leechers + tc.dl, completed = tt.completed + tc.dc
    FROM tc
    WHERE tt.torrent_id = tc.t AND (tc.ds <> 0 OR tc.dl <> 0 OR tc.dc <> 0)
    RETURNING tt.torrent_id, tt.seeders, tt.leechers, tt.completed
){{credit}}
SELECT a.i, CASE WHEN a.stopped THEN a.fresh ELSE pp.torrent_id IS NOT NULL END AS accepted, a.fresh, g.gen,
       COALESCE(t.seeders, tor.seeders, 0), COALESCE(t.leechers, tor.leechers, 0),
       COALESCE(t.completed, tor.completed, 0), sel.v4, sel.v6,
       CASE WHEN a.asked AND sv.revision <> COALESCE(a.rev + 1, 0) THEN tracker_gate_conflict() ELSE a.refused END
FROM a CROSS JOIN g
LEFT JOIN pp ON pp.torrent_id = a.t AND pp.peer_id = a.pid
LEFT JOIN s AS sv ON sv.user_id = a.u AND sv.torrent_id = a.t
LEFT JOIN t ON t.torrent_id = a.t
{fresh_counts("t.torrent_id", "a.t")}
CROSS JOIN (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit
CROSS JOIN LATERAL (
    SELECT string_agg(CASE WHEN a.wpid THEN w.c4 || w.peer_id ELSE w.c4 END, ''::bytea) AS v4,
           string_agg(CASE WHEN a.wpid THEN w.c6 || w.peer_id ELSE w.c6 END, ''::bytea) AS v6
    FROM (SELECT q.* FROM (VALUES (a.r, 2147483647), (0, a.r)) AS h(lo, hi), LATERAL (
        SELECT {selection_addresses("sp", "a.live")}
        FROM tracker_peer AS sp
        WHERE sp.torrent_id = a.t AND sp.shuffle >= h.lo AND sp.shuffle < h.hi AND sp.peer_id <> a.pid
          AND sp.last_announce >= a.live AND (NOT a.seeder OR NOT sp.is_seeder) AND (NOT a.v2 OR sp.v2)
        ORDER BY sp.shuffle LIMIT a.numwant) AS q
    LIMIT a.numwant) AS w
) AS sel
ORDER BY a.i
"""  # noqa: S608 (constant fragments only)

# The users' totals (tracker.swarm.sql's `u`, summed per member), and the freeleech tokens the
# download credit asks about: left out of a batch whose announces' counters are all 0, which
# can credit nothing (as the single statement leaves out its `u`).
_CREDIT = f""",
uc AS (
    SELECT x.u, sum(x.up_delta * x.umul)::int8 AS up,
           sum(CASE WHEN x.down_delta = 0 OR EXISTS (
                   SELECT 1 FROM tracker_tokenuse AS tu WHERE tu.user_id = x.u AND tu.torrent_id = x.t AND tu.expires_at > x.now)
               THEN 0 ELSE x.down_delta * x.dmul / x.ddiv END)::int8 AS down,
           max(x.now) AS now
    FROM x GROUP BY x.u ORDER BY x.u
),
uu AS (
    UPDATE accounts_user AS au
    SET uploaded = au.uploaded + uc.up,
        downloaded = au.downloaded + CASE WHEN au.freeleech_until > uc.now THEN 0 ELSE uc.down END,
        ratio_watch_since = CASE WHEN tracker_ratio_below(
                au.uploaded + uc.up, au.downloaded + CASE WHEN au.freeleech_until > uc.now THEN 0 ELSE uc.down END, {_RBM}, {_RBR})
            THEN COALESCE(au.ratio_watch_since, uc.now) END
    FROM uc
    WHERE au.id = uc.u AND (uc.up > 0 OR (uc.down > 0 AND NOT COALESCE(au.freeleech_until > uc.now, false)))
    RETURNING 1
)"""  # noqa: S608 (constant fragments only)

PG_BATCH = _compact(_BATCH.replace("{credit}", _CREDIT))
PG_BATCH_NO_CREDIT = _compact(_BATCH.replace("{credit}", ""))


def batch_sql(batch: list[dict[str, Any]]) -> str:
    """The batch statement for these announces: PG_BATCH for their bands, or PG_BATCH_NO_CREDIT when none of them may credit anything.

    The announces of a batch share one snapshot of the rules (batch_args binds the first one's numbers for all).
    """
    if not any(params["up"] or params["down"] for params in batch):
        return PG_BATCH_NO_CREDIT
    first = batch[0]
    return _batch_for_bands(tuple(int(m) for m in first["rbm"]), tuple(int(r) for r in first["rbr"]))


@functools.lru_cache(maxsize=8)  # snapshots replace their bands
def _batch_for_bands(minimums: tuple[int, ...], ratios: tuple[int, ...]) -> str:
    """PG_BATCH with its ratio-watch test written out for these bands (sql.ratio_below_inline: an SQL function
    call costs some 20 us a member, the expression a fraction of one)."""
    return ratio_below_inline(PG_BATCH, list(minimums), list(ratios), bands_args=f",{_RBM},{_RBR})")


def batch_keys(params: dict[str, Any]) -> tuple[tuple[int, bytes], tuple[int, int]]:
    """The rows an announce changes that a batch may change only once: its peer and its snatch."""
    return (params["t"], params["pid"]), (params["u"], params["t"])


def batch_args(batch: list[dict[str, Any]]) -> list[Any]:
    """PG_BATCH's arguments for announces made by tracker.swarm.announce.announce_params (no two sharing batch_keys)."""
    first = batch[0]
    shared = [first["expiry"], first["rbm"], first["rbr"], *(first[key] for key in _GATE_KEYS)]
    return [[params[key] for params in batch] for _, _, key in _COLUMNS] + shared


def batch_results(rows: list[Any], size: int) -> list[AnnounceResult]:
    """One AnnounceResult per announce of the batch, in its order."""
    if len(rows) != size:
        raise RuntimeError(f"the batch statement answered {len(rows)} rows for {size} announces")
    return [pg_result(row[1:]) for row in rows]
