"""Drop indexes no query uses, which every write had to maintain.

The announce updates a torrent's counts (indexed columns, so never a HOT
update: every index of tracker_torrent gets a new entry) and upserts a peer
(its indexed last_announce changes, so the same holds for tracker_peer).
Gone: the varchar_pattern_ops "_like" twins PostgreSQL gets for unique or
indexed varchar fields (hashes and status are only matched exactly; the
hashes stay unique through constraints, status keeps a plain index), and
the foreign-key indexes that a composite index already leads with
(torrent.forum, peer.torrent, snatch.user).
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("tracker", "0004_catalogue_torrent_files_text"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name="peer",
            name="torrent",
            field=models.ForeignKey(
                db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name="peers", to="tracker.torrent"
            ),
        ),
        migrations.AlterField(
            model_name="snatch",
            name="user",
            field=models.ForeignKey(
                db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name="snatches", to=settings.AUTH_USER_MODEL
            ),
        ),
        migrations.AlterField(
            model_name="torrent",
            name="forum",
            field=models.ForeignKey(
                db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name="torrents", to="tracker.forum"
            ),
        ),
        migrations.AlterField(
            model_name="torrent",
            name="info_hash",
            field=models.CharField(blank=True, help_text="v1: SHA-1 of info, hex", max_length=40, null=True),
        ),
        migrations.AlterField(
            model_name="torrent",
            name="info_hash_v2",
            field=models.CharField(blank=True, help_text="v2: SHA-256 of info, hex", max_length=64, null=True),
        ),
        migrations.AlterField(
            model_name="torrent",
            name="info_hash_v2_short",
            field=models.CharField(blank=True, editable=False, max_length=40, null=True),
        ),
        migrations.AlterField(
            model_name="torrent",
            name="status",
            field=models.CharField(
                choices=[
                    ("not_approved", "Not approved"),
                    ("approved", "Approved"),
                    ("checking", "Being checked"),
                    ("needs_edit", "Needs editing"),
                    ("duplicate", "Duplicate"),
                    ("closed", "Closed"),
                    ("consumed", "Consumed (absorbed by another)"),
                    ("closed_copyright", "Closed (copyright holder)"),
                    ("temporary", "Temporary"),
                    ("premoderation", "Pre-moderation"),
                ],
                default="approved",
                max_length=20,
            ),
        ),
        migrations.AddIndex(
            model_name="torrent",
            index=models.Index(fields=["status"], name="torrent_status"),
        ),
        migrations.AddConstraint(
            model_name="torrent",
            constraint=models.UniqueConstraint(fields=("info_hash",), name="torrent_unique_info_hash"),
        ),
        migrations.AddConstraint(
            model_name="torrent",
            constraint=models.UniqueConstraint(fields=("info_hash_v2",), name="torrent_unique_info_hash_v2"),
        ),
        migrations.AddConstraint(
            model_name="torrent",
            constraint=models.UniqueConstraint(fields=("info_hash_v2_short",), name="torrent_unique_info_hash_v2_short"),
        ),
    ]
