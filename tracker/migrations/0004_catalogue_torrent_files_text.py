"""Torrent.files_text: the file paths of a torrent, searchable in the same row as its name.

Searching name, description and file paths as three trigram-indexed
columns of one table lets PostgreSQL choose per term: a BitmapOr of the
three indexes for a rare term, or a walk down the sort order with a filter
for a common one. A UNION with the file table (0003) forced it to
materialize every match, seconds for a common word on a million torrents.
On SQLite only the column is added (and filled).
"""

from django.db import migrations, models

FILES_TEXT_MAX = 65_536


def fill(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "UPDATE tracker_torrent t SET files_text = left(f.text, %s)"
            " FROM (SELECT torrent_id, string_agg(path, E'\\n' ORDER BY path, id) AS text"
            " FROM tracker_torrentfile GROUP BY torrent_id) f WHERE f.torrent_id = t.id",
            [FILES_TEXT_MAX],
        )
        return
    Torrent = apps.get_model("tracker", "Torrent")
    TorrentFile = apps.get_model("tracker", "TorrentFile")
    for torrent in Torrent.objects.filter(files_text="").only("id").iterator():
        paths = TorrentFile.objects.filter(torrent_id=torrent.pk).order_by("path", "id").values_list("path", flat=True)
        text = "\n".join(paths)[:FILES_TEXT_MAX]
        if text:
            Torrent.objects.filter(pk=torrent.pk).update(files_text=text)


def index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE INDEX IF NOT EXISTS torrent_files_text_trgm ON tracker_torrent USING gin (files_text gin_trgm_ops)")
    schema_editor.execute("DROP INDEX IF EXISTS torrentfile_path_trgm")


def unindex(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("DROP INDEX IF EXISTS torrent_files_text_trgm")
    schema_editor.execute("CREATE INDEX IF NOT EXISTS torrentfile_path_trgm ON tracker_torrentfile USING gin (path gin_trgm_ops)")


class Migration(migrations.Migration):
    dependencies = [("tracker", "0003_catalogue_search_indexes")]

    operations = [
        migrations.AddField(
            model_name="torrent",
            name="files_text",
            field=models.TextField(blank=True, default="", editable=False),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop, elidable=False),
        migrations.RunPython(index, unindex, elidable=False),
    ]
