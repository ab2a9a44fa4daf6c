"""The reply's counts in a fresh snapshot: `tracker_torrent_counts` (issue 17).

Two announces of one peer at once (a dual-stack client over IPv4 and IPv6, a
hybrid torrent under both hashes, two fronts) are two statements on one peer
row: the second waits at the peer upsert for the first to commit. When the
second then changes no count itself, its reply read the torrent's counts on
the snapshot its statement started with, from before the first committed:
stale figures in the reply, though the stored ones were right.

The announce statements (tracker.swarm.sql's `_RESULT`, tracker.swarm.batch)
now read those counts through this function, after their upserts: a VOLATILE
function's query takes a snapshot of its own, so it sees the twin's commit.
(plpgsql: never inlined into the caller, and its plan is kept per session.)
"""

from django.db import migrations

FUNCTION = r"""
CREATE OR REPLACE FUNCTION tracker_torrent_counts(p_t int8, OUT seeders int8, OUT leechers int8, OUT completed int8)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    SELECT ts.seeders, ts.leechers, ts.completed INTO seeders, leechers, completed
    FROM tracker_torrentstats AS ts WHERE ts.torrent_id = p_t;
END
$$;
"""

DROP = "DROP FUNCTION IF EXISTS tracker_torrent_counts(int8);"


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FUNCTION)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("tracker", "0016_peer_alt_address")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
