"""A PostgreSQL sequence that counts invalidations of the tracker's cached lookups.

The ASGI announce keeps the lookups it read in memory and has its statement
check, in the same round trip, that no invalidation happened since
(tracker.lookups). A sequence because its value is seen by every session at
once, outside any transaction, and a test database flush leaves it alone.
"""

from django.db import migrations


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("CREATE SEQUENCE IF NOT EXISTS tracker_lookup_generation")
        # A new sequence reports last_value 1 both before and after its first
        # nextval(); taking that first value here makes every later one visible.
        schema_editor.execute("SELECT nextval('tracker_lookup_generation')")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP SEQUENCE IF EXISTS tracker_lookup_generation")


class Migration(migrations.Migration):
    dependencies = [
        ("tracker", "0006_torrent_stats"),
    ]

    operations = [migrations.RunPython(create, drop)]
