"""The gate's optimistic path: the snatch's revision, and the function that fails a statement a concurrent announce overtook.

Most announces the gate is asked about (a new peer, a seeder turning
leecher) cannot be refused: the member has room under the peer limit, no
leech-slot band applies, no ratio watch, no warning. The announce statement
(tracker.swarm.sql's `gt`, tracker.swarm.batch's `aq`) judges those on its
own snapshot, without the member's lock and the function tracker_gate, and
checks at the snatch's row lock that the snatch's `revision` is still the
one its snapshot read: any other announce of the member on the torrent that
committed in between (a second new peer racing for the last place) bumped
it. Then `tracker_gate_conflict` fails the whole statement with a
serialization failure (SQLSTATE 40001) and nothing is written; the caller
runs it again through tracker_gate, under the lock (tracker.swarm.announce,
tracker.announce.asgi).
"""

from django.db import migrations, models

FUNCTIONS = r"""
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
        schema_editor.execute(FUNCTIONS, params=None)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


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
