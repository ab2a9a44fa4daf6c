"""Torrents per forum and status (TorrentCount), kept by triggers on tracker_torrent; filled from what exists.

PostgreSQL: statement-level triggers with transition tables, so a bulk
INSERT ... SELECT of a million rows adds one upsert per (forum, status), not
a million; count rows are written in key order, so two writers take their
row locks in one order. SQLite: row triggers, one upsert each.
"""

import django.db.models.deletion
from django.db import migrations, models


PG_FUNCTION = """
CREATE OR REPLACE FUNCTION tracker_torrent_count_keep() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO tracker_torrentcount AS c (forum_id, status, count)
        SELECT forum_id, status, count(*) FROM new_rows GROUP BY forum_id, status ORDER BY forum_id, status
        ON CONFLICT (forum_id, status) DO UPDATE SET count = c.count + EXCLUDED.count;
    ELSIF TG_OP = 'DELETE' THEN
        -- Only lowers rows that exist: a delete never creates a total (a flush that emptied the
        -- totals first must not get rows back pointing at forums it deletes next).
        UPDATE tracker_torrentcount AS c SET count = c.count - gone.n
        FROM (SELECT forum_id, status, count(*) AS n FROM old_rows GROUP BY forum_id, status ORDER BY forum_id, status) AS gone
        WHERE c.forum_id = gone.forum_id AND c.status = gone.status;
    ELSE
        INSERT INTO tracker_torrentcount AS c (forum_id, status, count)
        SELECT forum_id, status, sum(d) FROM (
            SELECT forum_id, status, -1 AS d FROM old_rows
            UNION ALL SELECT forum_id, status, 1 FROM new_rows
        ) AS moves GROUP BY forum_id, status HAVING sum(d) <> 0 ORDER BY forum_id, status
        ON CONFLICT (forum_id, status) DO UPDATE SET count = c.count + EXCLUDED.count;
    END IF;
    RETURN NULL;
END $$
"""
PG_TRIGGERS = [
    "CREATE TRIGGER torrent_count_insert AFTER INSERT ON tracker_torrent REFERENCING NEW TABLE AS new_rows"
    " FOR EACH STATEMENT EXECUTE FUNCTION tracker_torrent_count_keep()",
    "CREATE TRIGGER torrent_count_delete AFTER DELETE ON tracker_torrent REFERENCING OLD TABLE AS old_rows"
    " FOR EACH STATEMENT EXECUTE FUNCTION tracker_torrent_count_keep()",
    "CREATE TRIGGER torrent_count_update AFTER UPDATE ON tracker_torrent REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows"
    " FOR EACH STATEMENT EXECUTE FUNCTION tracker_torrent_count_keep()",
]


def _sqlite_upsert(forum: str, status: str, delta: str) -> str:
    return (
        f"INSERT INTO tracker_torrentcount (forum_id, status, count) VALUES ({forum}, {status}, {delta})"
        f" ON CONFLICT (forum_id, status) DO UPDATE SET count = count + ({delta});"
    )


# A torrent leaving a total only lowers it (never creates one: see the PostgreSQL function).
_SQLITE_LOWER = "UPDATE tracker_torrentcount SET count = count - 1 WHERE forum_id = OLD.forum_id AND status = OLD.status;"
SQLITE_TRIGGERS = [
    f"CREATE TRIGGER torrent_count_insert AFTER INSERT ON tracker_torrent BEGIN {_sqlite_upsert('NEW.forum_id', 'NEW.status', '1')} END",
    f"CREATE TRIGGER torrent_count_delete AFTER DELETE ON tracker_torrent BEGIN {_SQLITE_LOWER} END",
    "CREATE TRIGGER torrent_count_update AFTER UPDATE OF forum_id, status ON tracker_torrent"
    " WHEN OLD.forum_id IS NOT NEW.forum_id OR OLD.status IS NOT NEW.status BEGIN "
    f"{_SQLITE_LOWER} {_sqlite_upsert('NEW.forum_id', 'NEW.status', '1')} END",
]
TRIGGER_NAMES = ["torrent_count_insert", "torrent_count_delete", "torrent_count_update"]
FILL = (
    "INSERT INTO tracker_torrentcount (forum_id, status, count)"
    " SELECT forum_id, status, count(*) FROM tracker_torrent GROUP BY forum_id, status"
)


def create(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute("LOCK TABLE tracker_torrent IN SHARE ROW EXCLUSIVE MODE")  # no write between the fill and the triggers
        schema_editor.execute(PG_FUNCTION)
        for statement in PG_TRIGGERS:
            schema_editor.execute(statement)
    elif vendor == "sqlite":
        for statement in SQLITE_TRIGGERS:
            schema_editor.execute(statement)
    else:
        raise RuntimeError(f"TorrentCount has no triggers for {vendor}")
    schema_editor.execute(FILL)


def drop(apps, schema_editor):
    on = " ON tracker_torrent" if schema_editor.connection.vendor == "postgresql" else ""
    for name in TRIGGER_NAMES:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}{on}")
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS tracker_torrent_count_keep()")


class Migration(migrations.Migration):

    dependencies = [
        ('tracker', '0017_torrent_counts_fresh'),
    ]

    operations = [
        migrations.CreateModel(
            name='TorrentCount',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('status', models.CharField(choices=[('not_approved', 'Not approved'), ('approved', 'Approved'), ('checking', 'Being checked'), ('needs_edit', 'Needs editing'), ('duplicate', 'Duplicate'), ('closed', 'Closed'), ('consumed', 'Consumed (absorbed by another)'), ('closed_copyright', 'Closed (copyright holder)'), ('temporary', 'Temporary'), ('premoderation', 'Pre-moderation')], max_length=20)),
                ('count', models.BigIntegerField(default=0)),
                ('forum', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tracker.forum')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('forum', 'status'), name='torrentcount_forum_status')],
            },
        ),
        migrations.RunPython(create, drop, elidable=False),
    ]
