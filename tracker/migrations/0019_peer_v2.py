"""Which peers announced under a hybrid torrent's v2 hash (issue 17).

libtorrent 2 (qBittorrent, Deluge, the Python binding) connects to a peer it
was handed in the reply to its v2 announce with a v2 handshake (the v2 hash,
truncated); a v1-only client (rTorrent 0.9, Transmission 3) drops it. So the
replies under the v2 hash carry only the peers that announced under it
(tracker.swarm.sql's _SELECTION), and the peer keeps that it did: a column
with a database default, so existing rows need no rewrite.
"""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("tracker", "0018_torrent_counts"),
    ]

    operations = [
        migrations.AddField(
            model_name="peer",
            name="v2",
            field=models.BooleanField(db_default=False, default=False, editable=False),
        ),
    ]
