"""What must hold in the drills' database after any run: counts equal the tables, credits equal the snatches."""

from typing import Any


def torrent_counts(stack: Any, torrent_ids: list[int]) -> dict[int, tuple[int, int, int]]:
    """torrent id -> (seeders, leechers, completed) as the torrent's counts row says."""
    rows = stack.sql("SELECT torrent_id, seeders, leechers, completed FROM tracker_torrentstats WHERE torrent_id = ANY(%s)", [torrent_ids])
    return {tid: (seeders, leechers, completed) for tid, seeders, leechers, completed in rows}


def table_counts(stack: Any, torrent_ids: list[int]) -> dict[int, tuple[int, int, int]]:
    """torrent id -> (seeders, leechers, completed) counted in the peer and snatch tables."""
    rows = stack.sql(
        """
        SELECT t.id,
               (SELECT count(*) FROM tracker_peer p WHERE p.torrent_id = t.id AND p.is_seeder),
               (SELECT count(*) FROM tracker_peer p WHERE p.torrent_id = t.id AND NOT p.is_seeder),
               (SELECT count(*) FROM tracker_snatch s WHERE s.torrent_id = t.id AND s.completed_at IS NOT NULL)
        FROM tracker_torrent t WHERE t.id = ANY(%s)
        """,
        [torrent_ids],
    )
    return {tid: (seeders, leechers, completed) for tid, seeders, leechers, completed in rows}


def half_written(stack: Any, torrent_ids: list[int]) -> list[str]:
    """Every way the tables could disagree: counts rows against peers and snatches, members' totals against their snatches."""
    counts = torrent_counts(stack, torrent_ids)
    tables = table_counts(stack, torrent_ids)
    found = [f"torrent {t}: counts {counts.get(t)} but tables {tables[t]}" for t in torrent_ids if counts.get(t) != tables[t]]
    rows = stack.sql(
        """
        SELECT u.id, u.uploaded, u.downloaded, COALESCE(sum(s.uploaded), 0), COALESCE(sum(s.downloaded), 0)
        FROM accounts_user u JOIN tracker_snatch s ON s.user_id = u.id
        WHERE u.id IN (SELECT user_id FROM tracker_snatch WHERE torrent_id = ANY(%s))
        GROUP BY u.id
        """,
        [torrent_ids],
    )
    found += [
        f"user {u}: totals {(up, down)} but snatches {(s_up, s_down)}" for u, up, down, s_up, s_down in rows if (up, down) != (s_up, s_down)
    ]
    return found


def assert_tables_consistent(stack: Any, torrent_ids: list[int]) -> None:
    found = half_written(stack, torrent_ids)
    assert not found, found[:20]
