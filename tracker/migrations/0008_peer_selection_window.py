"""Peer selection reads a window of the swarm in a random order kept on each peer.

Peers get `compact` (address and port packed as replies carry them) and
`shuffle` (their place in the swarm's random order); the index on
(torrent, shuffle) replaces (torrent, is_seeder), and last_announce loses its
index (only expire_peers reads by it), so a re-announce that changes no
indexed column can be a HOT update. On PostgreSQL the table keeps 15% of each
page free for those updates.
"""

import random

from django.db import migrations, models

import tracker.models


def fill_peers(apps, schema_editor):
    """Existing peers: pack their address and give each its own random place."""
    Peer = apps.get_model("tracker", "Peer")
    batch = []
    for peer in Peer.objects.only("id", "ip", "port").iterator(chunk_size=2000):
        peer.compact = tracker.models.peer_compact(str(peer.ip), peer.port)
        peer.shuffle = random.randrange(tracker.models.SHUFFLE_END)
        batch.append(peer)
        if len(batch) == 2000:
            Peer.objects.bulk_update(batch, ["compact", "shuffle"])
            batch = []
    Peer.objects.bulk_update(batch, ["compact", "shuffle"])


def page_room(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE tracker_peer SET (fillfactor = 85)")


def page_room_undo(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE tracker_peer RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [
        ("tracker", "0007_lookup_generation"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="peer", name="peer_torrent_seeder"),
        migrations.AddField(
            model_name="peer",
            name="compact",
            field=models.BinaryField(default=b"", editable=False, max_length=18),
        ),
        migrations.AddField(
            model_name="peer",
            name="shuffle",
            field=models.IntegerField(default=tracker.models.peer_shuffle, editable=False),
        ),
        migrations.RunPython(fill_peers, migrations.RunPython.noop),
        migrations.AlterField(model_name="peer", name="last_announce", field=models.DateTimeField()),
        migrations.AddIndex(
            model_name="peer",
            index=models.Index(fields=["torrent", "shuffle"], name="peer_torrent_shuffle"),
        ),
        migrations.RunPython(page_room, page_room_undo),
    ]
