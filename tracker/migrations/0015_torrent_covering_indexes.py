"""Covering indexes for the torrent list's deep pages, on PostgreSQL only.

A deep page is read in two steps (core.listing.page_of): the keys of its rows
in the list's order, then those rows. The first step filters every skipped
row by what the viewer may see: its status, forum and uploader. These indexes
carry those three columns, so the step reads the index and never the table:
one in the default order (newest first, the key breaking ties) and one by key,
for the sorts that walk the swarm counts' indexes and join back to the
torrent. On SQLite this migration does nothing.
"""

from django.db import migrations

INDEXES = [
    ("torrent_created_visible", "tracker_torrent (created_at, id) INCLUDE (status, forum_id, uploader_id)"),
    ("torrent_id_visible", "tracker_torrent (id) INCLUDE (status, forum_id, uploader_id)"),
]


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, definition in INDEXES:
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {definition}")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _definition in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("tracker", "0014_torrent_status_change_reason")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
