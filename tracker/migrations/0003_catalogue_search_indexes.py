"""Trigram (pg_trgm) GIN indexes for the catalogue's substring search, on PostgreSQL only.

Search is `ILIKE '%term%'` over torrent names, descriptions and file paths
(see tracker.selectors.torrent_search). Trigram GIN indexes answer such
substring matches anywhere in a word (release names such as
"Ubuntu.24.04.x86_64" are not split into words the way full-text search
would need), for any language, with no extra column to keep in sync.
On SQLite this migration does nothing.
"""

from django.db import migrations

INDEXES = [
    ("torrent_name_trgm", "tracker_torrent", "name"),
    ("torrent_description_trgm", "tracker_torrent", "description"),
    ("torrentfile_path_trgm", "tracker_torrentfile", "path"),
]


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, table, column in INDEXES:
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {table} USING gin ({column} gin_trgm_ops)")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _table, _column in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("tracker", "0002_swarm_peer_previous_figures")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
