"""The gate's optimistic path: the snatch's revision, tracker_gate returning the revisions it read, and the conflict.

Most announces the gate is asked about (a new peer, a seeder turning
leecher) cannot be refused: the member has room under the peer limit, no
leech-slot band applies, no ratio watch, no warning. The announce statement
(tracker.swarm.sql's `gt`, tracker.swarm.batch's `aq`) judges those on its
own snapshot, with no lock and no call of tracker_gate, and reads the
snatch's `revision` there; the rest ask tracker_gate, which now also hands
back each snatch's revision as it read it under the member's lock. Every
announce the gate was asked about then checks, at the snatch's row lock,
that the revision is still that one plus its own update: any other
announce of the member on the torrent that committed in between (a second
new peer racing for the last place) bumped it. If not,
`tracker_gate_conflict` fails the whole statement with a serialization
failure (SQLSTATE 40001) and nothing is written; the caller runs it again
through tracker_gate (tracker.swarm.announce, tracker.announce.asgi), whose
fresh read sees the racing announce.
"""

import importlib

from django.db import migrations, models

OLD_GATE = (
    "DROP FUNCTION IF EXISTS tracker_gate(int8[], int8[], bytea[], bool[], timestamptz[], timestamptz[], "
    "int8, int8, int8, int8[], int8[], int8[], int8[], int8, int8);"
)

FUNCTIONS = r"""
CREATE FUNCTION tracker_gate(
    p_u int8[], p_t int8[], p_pid bytea[], p_seeder bool[], p_now timestamptz[], p_live timestamptz[],
    p_ppt int8, p_sla int8, p_slm int8, p_sbb int8[], p_sbs int8[], p_rbm int8[], p_rbr int8[], p_wd int8, p_mw int8,
    OUT verdicts text[], OUT revisions int8[]
) LANGUAGE plpgsql VOLATILE AS $$
DECLARE
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
    verdicts := array_fill(''::text, ARRAY[cardinality(p_u)]);
    revisions := array_fill(NULL::int8, ARRAY[cardinality(p_u)]);
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
        -- The snatch's revision now, under the lock: the statement checks it at the row lock (migration 0011).
        revisions[v_i] := (SELECT revision FROM tracker_snatch WHERE user_id = p_u[v_i] AND torrent_id = p_t[v_i]);
        SELECT count(*), COALESCE(bool_or(NOT is_seeder), false) INTO v_here, v_leeching_here
        FROM tracker_peer
        WHERE user_id = p_u[v_i] AND torrent_id = p_t[v_i] AND peer_id <> p_pid[v_i] AND last_announce >= p_live[v_i];
        IF p_ppt > 0 AND v_here >= p_ppt THEN
            verdicts[v_i] := 'peers ' || v_here || ' ' || p_ppt;
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
                verdicts[v_i] := 'ratio ' || v_up || ' ' || v_down || ' ' || v_req;
                CONTINUE;
            END IF;
        END IF;
        IF p_mw > 0 THEN
            SELECT count(*) INTO v_warn FROM tracker_hnrwarning
            WHERE user_id = v_member AND expires_at > p_now[v_i] AND cleared_at IS NULL;
            IF v_warn >= p_mw THEN
                verdicts[v_i] := 'warnings ' || v_warn || ' ' || p_mw;
                CONTINUE;
            END IF;
        END IF;
        IF v_leeching_here OR v_slots IS NULL THEN
            CONTINUE;
        END IF;
        SELECT count(DISTINCT torrent_id) INTO v_used FROM tracker_peer
        WHERE user_id = v_member AND NOT is_seeder AND last_announce >= p_live[v_i] AND torrent_id <> p_t[v_i];
        IF v_used + v_taken >= v_slots THEN
            verdicts[v_i] := 'slots ' || (v_used + v_taken) || ' ' || v_slots;
            CONTINUE;
        END IF;
        v_taken := v_taken + 1;
    END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION tracker_gate_conflict() RETURNS text LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    RAISE EXCEPTION 'another announce of this member on this torrent came in between: judge it again under the lock'
        USING ERRCODE = 'serialization_failure';
END
$$;
"""

DROP = "DROP FUNCTION IF EXISTS tracker_gate_conflict();"


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(OLD_GATE, params=None)
        schema_editor.execute(FUNCTIONS, params=None)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)
        schema_editor.execute(OLD_GATE, params=None)
        previous = importlib.import_module("tracker.migrations.0010_policy_functions")
        schema_editor.execute(previous.FUNCTIONS, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("tracker", "0010_policy_functions"),
    ]

    operations = [
        migrations.AddField(
            model_name="snatch",
            name="revision",
            field=models.BigIntegerField(db_default=0, default=0, editable=False),
        ),
        migrations.RunPython(create, drop),
    ]
