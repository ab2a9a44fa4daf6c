"""The announce statement's text (tracker.swarm.announce.pg_positional): the rules' numbers are constants in it.

They are the same for every announce under one snapshot of the site's
policy, so they are written into the text once per snapshot instead of being
bound (and, on the ASGI front, encoded by asyncpg) on every announce; a new
snapshot gets new texts with its own numbers.
"""

import re
from datetime import UTC, datetime

import pytest
from django.db import connection

from tracker.policy.snapshot import AnnouncePolicy
from tracker.swarm.announce import announce_params, pg_positional
from tracker.swarm.sql import PG_STATEMENTS, POLICY_CONSTANTS, _literal, positional, ratio_below_inline


def policy(**changes) -> AnnouncePolicy:
    fields = dict(
        client_mode="allow", client_rules=(), blocked_ports=(), events=(), peers_per_torrent=3, slots_after=1 << 30,
        slots_max=0, slot_bands=((40, 1), (50, 2)), ratio_bands=((0, 0), (5 << 30, 40)), watch_days=14, max_warnings=3,
        hnr_seed=0, hnr_within=0, hnr_ratio_pct=0, hnr_exempt_freeleech=False, hnr_exempt_below=0, hnr_exempt_uploader=False,
    )  # fmt: skip
    return AnnouncePolicy(**fields | changes)


def params(snapshot: AnnouncePolicy | None, **changes) -> dict:
    fields = dict(
        user_id=1, torrent_id=2, freeleech="none", peer_id=b"-qB4520-abcdefghijkl", ip="10.0.0.1", port=6881,
        uploaded=0, downloaded=0, left=100, event="started", is_seeder=False, numwant=50,
        now=datetime(2026, 12, 3, tzinfo=UTC), policy=snapshot,
    )  # fmt: skip
    return announce_params(**fields | changes)


def test_the_rules_numbers_are_in_the_text_and_not_bound():
    sql, values = pg_positional(params(policy()))
    placeholders = len(set(re.findall(r"\$(\d+)::", sql)))
    assert placeholders == len(values)
    _, all_names = positional(PG_STATEMENTS[False, False])
    assert placeholders == len(all_names) - len(POLICY_CONSTANTS)
    assert "(3)::int8" in sql  # peers per torrent
    assert "'{40,50}'::int8[]" in sql and "'{1,2}'::int8[]" in sql  # the slot bands
    assert f"'{{0,{5 << 30}}}'::int8[]" in sql  # the ratio bands' minimum downloads


def test_one_text_per_snapshot_and_a_new_snapshot_gets_its_own_numbers():
    first = policy()
    assert pg_positional(params(first))[0] is pg_positional(params(first, left=50))[0]  # made once
    changed = policy(peers_per_torrent=7, max_warnings=5, slot_bands=())
    sql, _ = pg_positional(params(changed))
    assert "(7)::int8" in sql and "(3)::int8" not in sql
    assert "'{}'::int8[]" in sql
    # no rules at all: zeros and empty bands
    assert "(0)::int8" in pg_positional(params(None))[0]


def test_every_statement_variant_binds_the_same_values_it_names():
    for stopped, credit in PG_STATEMENTS:
        p = params(policy(), event="stopped" if stopped else "started", uploaded=int(credit), numwant=0 if stopped else 50)
        sql, values = pg_positional(p)
        assert len(set(re.findall(r"\$(\d+)::", sql))) == len(values)
        assert not re.search(r"%\(\w+\)s", sql)


@pytest.mark.parametrize("value", ["1; DROP TABLE tracker_peer", "1 OR true", ["7", "8); --"]])
def test_a_constant_is_only_ever_digits(value):
    with pytest.raises(ValueError):
        _literal(value, "int8[]" if isinstance(value, list) else "int8")
    assert _literal([7, 8], "int8[]") == "'{7,8}'::int8[]" and _literal(-2, "int8") == "(-2)::int8"


BANDS = [([], []), ([0], [60]), ([0, 5 << 30], [0, 40]), ([1 << 30, 0, 10 << 30], [30, 0, 70])]


@pytest.mark.django_db
@pytest.mark.parametrize(("minimums", "ratios"), BANDS)
def test_the_ratio_test_written_out_says_what_the_function_says(minimums, ratios):
    """ratio_below_inline against migration 0010's tracker_ratio_below, over totals on and around every band's edge."""
    if connection.vendor != "postgresql":
        pytest.skip("tracker_ratio_below is PostgreSQL's (the portable path computes the watch in Python)")
    edges = sorted({0, 1, *minimums, *(m - 1 for m in minimums if m), *(m + 1 for m in minimums), 20 << 30})
    cases = [(up, down) for down in edges for up in {0, 1, down * 29 // 100, down * 3 // 10, down * 4 // 10, down * 7 // 10, down}]
    values = ",".join(f"({up}::int8,{down}::int8)" for up, down in cases)
    call = "tracker_ratio_below(v.up,v.down,%(rbm)s::int8[],%(rbr)s::int8[])"
    inline = ratio_below_inline(call, minimums, ratios)
    assert "tracker_ratio_below" not in inline
    rbm, rbr = "'{" + ",".join(map(str, minimums)) + "}'::int8[]", "'{" + ",".join(map(str, ratios)) + "}'::int8[]"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT v.up, v.down, tracker_ratio_below(v.up, v.down, {rbm}, {rbr}), {inline} FROM (VALUES {values}) AS v(up, down)"
        )
        rows = cursor.fetchall()
    assert rows and all(function == written for _, _, function, written in rows), [r for r in rows if r[2] != r[3]]
    assert any(function for _, _, function, _ in rows) == any(ratios)


def test_the_batch_writes_out_its_ratio_test_for_its_bands():
    """tracker.swarm.batch.batch_sql: the users' update tests the ratio watch as an expression for the batch's bands."""
    from tracker.swarm.batch import PG_BATCH, PG_BATCH_NO_CREDIT, batch_sql

    assert "tracker_ratio_below(" in PG_BATCH  # what is written out
    credit = {"up": 1, "down": 0, "rbm": [0, 2**30], "rbr": [0, 50]}
    text = batch_sql([credit])
    assert "tracker_ratio_below" not in text and ">=1073741824 THEN 50 " in text
    other = batch_sql([{**credit, "rbr": [0, 60]}])
    assert ">=1073741824 THEN 60 " in other and "THEN 50 " not in other
    assert batch_sql([credit]) is text  # written once per set of bands
    assert batch_sql([{**credit, "up": 0}]) == PG_BATCH_NO_CREDIT  # nothing credited: no users' update at all
