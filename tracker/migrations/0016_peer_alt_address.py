"""A peer's other address: a dual-stack client announces over IPv4 and IPv6 with one peer_id (issue 17).

The announce keeps the other family's packed address and the time it last
announced from it (tracker.swarm.sql's PEER_UPSERT_SET); existing peers have none.
"""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('tracker', '0015_torrent_covering_indexes'),
    ]

    operations = [
        migrations.AddField(
            model_name='peer',
            name='alt_announce',
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name='peer',
            name='alt_compact',
            field=models.BinaryField(blank=True, max_length=18, null=True),
        ),
    ]
