"""The swarm's tables: live peers and each member's history with a torrent."""

import random
import socket
from typing import Any

from django.conf import settings
from django.db import models

from tracker.catalogue.models import Torrent


def peer_compact(ip: str, port: int) -> bytes:
    """A peer as the compact reply carries it: packed address and port (BEP 23: 6 bytes IPv4; BEP 7: 18 IPv6)."""
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    return socket.inet_pton(family, ip) + port.to_bytes(2, "big")


SHUFFLE_END = 2**31 - 1  # Peer.shuffle lies in [0, SHUFFLE_END)


def peer_shuffle() -> int:
    """A new peer's place in its swarm's random order (see tracker.swarm.sql's peer selection)."""
    return random.randrange(SHUFFLE_END)


class Peer(models.Model):
    """A live client in a torrent's swarm, identified by (torrent, peer_id)."""

    # Indexed by peer_unique_torrent_peer_id (torrent first), not on its own.
    torrent = models.ForeignKey(Torrent, on_delete=models.CASCADE, related_name="peers", db_index=False)
    # Indexed by peer_user_torrent (user first), not on its own.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="peers", db_index=False)
    peer_id = models.BinaryField(max_length=20)
    ip = models.GenericIPAddressField()
    port = models.PositiveIntegerField()
    uploaded = models.BigIntegerField(default=0)
    downloaded = models.BigIntegerField(default=0)
    left = models.BigIntegerField(default=0)
    is_seeder = models.BooleanField(default=False)
    user_agent = models.CharField(max_length=255, blank=True)
    key = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Not indexed: only expire_peers (cron) looks peers up by it. Without the
    # index, a re-announce that changes no indexed column is a HOT update.
    last_announce = models.DateTimeField()
    # `ip` and `port` packed as replies carry them, kept in step by save() and the announce.
    compact = models.BinaryField(max_length=18, default=b"", editable=False)
    shuffle = models.IntegerField(default=peer_shuffle, editable=False)
    # A dual-stack client announces from an IPv4 and an IPv6 address with one peer_id: one peer,
    # reachable on both. The announce keeps the other family's address here (packed as `compact`)
    # and when it last announced from it; the peer selection hands it out while that is within the
    # peer expiry, in the reply's list of its family (tracker.swarm.sql's PEER_UPSERT_SET).
    alt_compact = models.BinaryField(max_length=18, null=True, blank=True, editable=False)
    alt_announce = models.DateTimeField(null=True, blank=True, editable=False)
    # Announced under the torrent's v2 hash (a hybrid's BEP 52 client): only such peers go in the
    # replies to announces under that hash, since a client connects to what it is handed there
    # with a v2 handshake, which a v1-only client (rTorrent, Transmission 3) drops.
    v2 = models.BooleanField(default=False, db_default=False, editable=False)
    # The figures as of the previous announce (NULL after the first one). The
    # announce upsert copies them under the row lock, so credits and
    # seeder/leecher changes are computed from the locked row in one statement.
    prev_uploaded = models.BigIntegerField(null=True, blank=True, editable=False)
    prev_downloaded = models.BigIntegerField(null=True, blank=True, editable=False)
    prev_left = models.BigIntegerField(null=True, blank=True, editable=False)
    prev_is_seeder = models.BooleanField(null=True, blank=True, editable=False)
    prev_announce = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["torrent", "peer_id"], name="peer_unique_torrent_peer_id")]
        indexes = [
            # The peer selection reads a window of a swarm in shuffle order.
            models.Index(fields=["torrent", "shuffle"], name="peer_torrent_shuffle"),
            # The announce's gate counts a member's peers on a torrent, and their torrents (tracker_gate).
            models.Index(fields=["user", "torrent"], name="peer_user_torrent"),
        ]

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.compact = peer_compact(str(self.ip), self.port)
        super().save(*args, **kwargs)


class Snatch(models.Model):
    """A user's history with one torrent: traffic, seed time, completion."""

    # Indexed by snatch_unique_user_torrent (user first), not on its own.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="snatches", db_index=False)
    torrent = models.ForeignKey(Torrent, on_delete=models.CASCADE, related_name="snatches")
    uploaded = models.BigIntegerField(default=0)
    downloaded = models.BigIntegerField(default=0)
    left = models.BigIntegerField(null=True, blank=True)
    seed_time = models.BigIntegerField(default=0, help_text="seconds")
    is_seeding = models.BooleanField(default=False)
    is_leeching = models.BooleanField(default=False)
    first_announce = models.DateTimeField()
    last_announce = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)
    # How often the user finished downloading it (a re-download counts again);
    # the torrent's `completed` counts only the first, when this becomes 1.
    times_completed = models.PositiveIntegerField(default=0)
    # The hit-and-run requirement, frozen when the download first completes
    # (tracker.policy): seed `hnr_seed` seconds or reach `hnr_ratio_pct`/100 on
    # it by `hnr_due`. NULL: no requirement (exempt, or never completed).
    hnr_seed = models.BigIntegerField(null=True, blank=True, help_text="seconds")
    hnr_ratio_pct = models.PositiveIntegerField(null=True, blank=True)
    hnr_due = models.DateTimeField(null=True, blank=True)
    hnr_state = models.CharField(max_length=8, blank=True, default="", db_default="")
    # The seed time already paid in bonus points (tracker.policy.bonus).
    bonus_seed_time = models.BigIntegerField(default=0, db_default=0, help_text="seconds")
    # One more for each PostgreSQL announce that updates the row: the gate judges most new peers
    # on their statement's snapshot and checks here, under the row's lock, that no other announce
    # of the member on the torrent came in between (tracker.swarm.sql's `gt`).
    revision = models.BigIntegerField(default=0, db_default=0, editable=False)

    class Meta:
        ordering = ["-last_announce", "-id"]
        verbose_name_plural = "snatches"
        constraints = [models.UniqueConstraint(fields=["user", "torrent"], name="snatch_unique_user_torrent")]
        # The hit-and-run job reads the pending requirements by deadline.
        indexes = [models.Index(fields=["hnr_due"], name="snatch_hnr_pending", condition=models.Q(hnr_state="pending"))]
