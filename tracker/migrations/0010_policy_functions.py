"""The rules' PostgreSQL functions: the announce's gate and the ratio requirement (tracker.policy.standing in SQL).

`tracker_gate` is tracker.swarm.rules.gate_verdict over live rows, for the
announces of one statement (one, or a batch's): arrays in, one verdict per
announce out ('' or tracker.policy.standing.Refusal.code()). It takes the
members' advisory locks first, in ascending order and before the statement
takes any row lock, then reads with snapshots of its own (a VOLATILE
function's statements each take a new snapshot under READ COMMITTED), so it
sees every peer that a member's previous gated announce committed: two
announces racing for the last leech slot are judged one after the other.
Within one call, a member's announces are judged in order, each leech slot
given counted against the next (a member's totals are those before the
statement). It only reads; the calling statement writes (a function's write
to a row the statement also updates would fail it).

The bands come as arrays from the announce's policy snapshot
(tracker.policy.snapshot): ratios in integer hundredths, compared exactly.
"""

from django.db import migrations

FUNCTIONS = r"""
CREATE OR REPLACE FUNCTION tracker_ratio_required(p_down int8, p_rbm int8[], p_rbr int8[]) RETURNS int8
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT COALESCE((SELECT b.r FROM unnest(p_rbm, p_rbr) AS b(m, r) WHERE b.m <= p_down ORDER BY b.m DESC LIMIT 1), 0)
$$;

CREATE OR REPLACE FUNCTION tracker_ratio_below(p_up int8, p_down int8, p_rbm int8[], p_rbr int8[]) RETURNS bool
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT q.req > 0 AND p_up::numeric * 100 < q.req::numeric * p_down
    FROM (SELECT tracker_ratio_required(p_down, p_rbm, p_rbr) AS req) AS q
$$;

CREATE OR REPLACE FUNCTION tracker_gate(
    p_u int8[], p_t int8[], p_pid bytea[], p_seeder bool[], p_now timestamptz[], p_live timestamptz[],
    p_ppt int8, p_sla int8, p_slm int8, p_sbb int8[], p_sbs int8[], p_rbm int8[], p_rbr int8[], p_wd int8, p_mw int8
) RETURNS text[] LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_out text[] := array_fill(''::text, ARRAY[cardinality(p_u)]);
    v_order int[];
    v_i int;
    v_member int8;
    v_up int8;
    v_down int8;
    v_since timestamptz;
    v_req int8;
    v_slots int8;
    v_taken int8;
    v_here int8;
    v_leeching_here bool;
    v_warn int8;
    v_used int8;
BEGIN
    -- The members' locks first, in ascending order, before the statement takes any row lock;
    -- then their announces, member by member (one announce, the single statement's case: no sorting).
    IF cardinality(p_u) = 1 THEN
        PERFORM pg_advisory_xact_lock(1953653102, (p_u[1] % 2147483647)::int4);
        v_order := ARRAY[1];
    ELSE
        PERFORM pg_advisory_xact_lock(1953653102, (m.u % 2147483647)::int4)
        FROM (SELECT DISTINCT u FROM unnest(p_u) AS u ORDER BY u) AS m;
        SELECT array_agg(o.i::int ORDER BY o.u, o.i) INTO v_order FROM unnest(p_u) WITH ORDINALITY AS o(u, i);
    END IF;
    FOREACH v_i IN ARRAY v_order LOOP
        SELECT count(*), COALESCE(bool_or(NOT is_seeder), false) INTO v_here, v_leeching_here
        FROM tracker_peer
        WHERE user_id = p_u[v_i] AND torrent_id = p_t[v_i] AND peer_id <> p_pid[v_i] AND last_announce >= p_live[v_i];
        IF p_ppt > 0 AND v_here >= p_ppt THEN
            v_out[v_i] := 'peers ' || v_here || ' ' || p_ppt;
            CONTINUE;
        END IF;
        IF p_seeder[v_i] THEN
            CONTINUE;
        END IF;
        IF v_member IS DISTINCT FROM p_u[v_i] THEN  -- a leeching member's figures, once per call
            v_member := p_u[v_i];
            SELECT uploaded, downloaded, ratio_watch_since INTO v_up, v_down, v_since FROM accounts_user WHERE id = v_member;
            v_slots := NULL;
            IF v_down >= p_sla AND v_down > 0 THEN
                SELECT b.s INTO v_slots FROM unnest(p_sbb, p_sbs) AS b(r, s)
                WHERE v_up::numeric * 100 < b.r::numeric * v_down ORDER BY b.r LIMIT 1;
            END IF;
            IF p_slm > 0 AND (v_slots IS NULL OR v_slots > p_slm) THEN
                v_slots := p_slm;
            END IF;
            v_taken := 0;  -- leech slots this call gave the member
        END IF;
        IF v_since IS NOT NULL AND v_since + make_interval(days => p_wd::int) <= p_now[v_i] THEN
            v_req := tracker_ratio_required(v_down, p_rbm, p_rbr);
            IF v_req > 0 AND v_up::numeric * 100 < v_req::numeric * v_down THEN
                v_out[v_i] := 'ratio ' || v_up || ' ' || v_down || ' ' || v_req;
                CONTINUE;
            END IF;
        END IF;
        IF p_mw > 0 THEN
            SELECT count(*) INTO v_warn FROM tracker_hnrwarning
            WHERE user_id = v_member AND expires_at > p_now[v_i] AND cleared_at IS NULL;
            IF v_warn >= p_mw THEN
                v_out[v_i] := 'warnings ' || v_warn || ' ' || p_mw;
                CONTINUE;
            END IF;
        END IF;
        IF v_leeching_here OR v_slots IS NULL THEN
            CONTINUE;
        END IF;
        SELECT count(DISTINCT torrent_id) INTO v_used FROM tracker_peer
        WHERE user_id = v_member AND NOT is_seeder AND last_announce >= p_live[v_i] AND torrent_id <> p_t[v_i];
        IF v_used + v_taken >= v_slots THEN
            v_out[v_i] := 'slots ' || (v_used + v_taken) || ' ' || v_slots;
            CONTINUE;
        END IF;
        v_taken := v_taken + 1;
    END LOOP;
    RETURN v_out;
END
$$;
"""

DROP = """
DROP FUNCTION IF EXISTS tracker_gate(int8[], int8[], bytea[], bool[], timestamptz[], timestamptz[], int8, int8, int8, int8[], int8[], int8[], int8[], int8, int8);
DROP FUNCTION IF EXISTS tracker_ratio_below(int8, int8, int8[], int8[]);
DROP FUNCTION IF EXISTS tracker_ratio_required(int8, int8[], int8[]);
"""


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FUNCTIONS, params=None)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("tracker", "0009_policy"),
    ]

    operations = [migrations.RunPython(create, drop)]
