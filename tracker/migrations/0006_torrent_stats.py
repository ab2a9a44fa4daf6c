"""Move seeders/leechers/completed out of tracker_torrent into tracker_torrentstats (one row per torrent).

Every announce that changes a count updated the wide torrent row: never a
HOT update (the counts are indexed for sorting), so each one also inserted
into every index of tracker_torrent, including the trigram GIN indexes over
name, description and file list, whose trigrams were extracted again each
time. The narrow table takes the same update with four small btrees.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("tracker", "0005_drop_redundant_indexes"),
    ]

    operations = [
        migrations.CreateModel(
            name="TorrentStats",
            fields=[
                (
                    "torrent",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="stats",
                        serialize=False,
                        to="tracker.torrent",
                    ),
                ),
                ("seeders", models.PositiveIntegerField(default=0)),
                ("leechers", models.PositiveIntegerField(default=0)),
                ("completed", models.PositiveIntegerField(default=0)),
            ],
            options={
                "verbose_name_plural": "torrent stats",
            },
        ),
        migrations.RunSQL(
            sql=(
                "INSERT INTO tracker_torrentstats (torrent_id, seeders, leechers, completed)"
                " SELECT id, seeders, leechers, completed FROM tracker_torrent"
            ),
            reverse_sql=(
                "UPDATE tracker_torrent SET"
                " seeders = (SELECT seeders FROM tracker_torrentstats WHERE torrent_id = tracker_torrent.id),"
                " leechers = (SELECT leechers FROM tracker_torrentstats WHERE torrent_id = tracker_torrent.id),"
                " completed = (SELECT completed FROM tracker_torrentstats WHERE torrent_id = tracker_torrent.id)"
                " WHERE EXISTS (SELECT 1 FROM tracker_torrentstats WHERE torrent_id = tracker_torrent.id)"
            ),
            elidable=False,
        ),
        migrations.RemoveIndex(
            model_name="torrent",
            name="torrent_seeders",
        ),
        migrations.RemoveIndex(
            model_name="torrent",
            name="torrent_leechers",
        ),
        migrations.RemoveIndex(
            model_name="torrent",
            name="torrent_completed",
        ),
        migrations.AddIndex(
            model_name="torrentstats",
            index=models.Index(fields=["seeders", "torrent"], name="torrentstats_seeders"),
        ),
        migrations.AddIndex(
            model_name="torrentstats",
            index=models.Index(fields=["leechers", "torrent"], name="torrentstats_leechers"),
        ),
        migrations.AddIndex(
            model_name="torrentstats",
            index=models.Index(fields=["completed", "torrent"], name="torrentstats_completed"),
        ),
        migrations.RemoveField(
            model_name="torrent",
            name="completed",
        ),
        migrations.RemoveField(
            model_name="torrent",
            name="leechers",
        ),
        migrations.RemoveField(
            model_name="torrent",
            name="seeders",
        ),
    ]
