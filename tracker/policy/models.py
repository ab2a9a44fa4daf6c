"""The private tracker's rules as data: what operators set in the admin, and what members earn and spend.

One `SitePolicy` row holds the numbers (its defaults are the shipped rules);
tables beside it hold the ratio bands, the leech-slot bands, the client rules
and the site-wide events. Members' state lives where the announce already
writes: the user's row (ratio watch, personal freeleech, tokens, points) and
the snatch (the hit-and-run requirement frozen at completion); the rest here
(token uses, warnings, the points ledger, the audit trail).
"""

from decimal import Decimal

from django.conf import settings
from django.db import models

from tracker.catalogue.models import Torrent
from tracker.swarm.models import Snatch

GIB = 1024**3
MIB = 1024**2


class ClientMode(models.TextChoices):
    ALLOW = "allow", "Allow-list: only the allowed clients (deny rules first)"
    DENY = "deny", "Deny-list: every client but the denied ones"
    OFF = "off", "Off: any client"


class SitePolicy(models.Model):
    """The site's rules, one row (pk 1). Changed in the admin; the announce reads it through its cached lookups."""

    # Ratio standing
    ratio_watch_days = models.PositiveSmallIntegerField(
        default=14, help_text="Days a member below the required ratio has to recover before losing download rights."
    )
    # Leech slots and peer limits
    peers_per_torrent = models.PositiveSmallIntegerField(
        default=3, help_text="At most this many peers (clients) per member on one torrent. 0: no limit."
    )
    leech_slots_after = models.BigIntegerField(
        default=5 * GIB, help_text="Bytes downloaded before the ratio-scaled leech slots apply (new members leech freely)."
    )
    leech_slots_max = models.PositiveSmallIntegerField(
        default=0, help_text="At most this many torrents leeching at once for every member, whatever their ratio. 0: no limit."
    )
    # Client rules
    client_mode = models.CharField(max_length=8, choices=ClientMode.choices, default=ClientMode.ALLOW)
    blocked_ports = models.CharField(
        max_length=400,
        blank=True,
        default="1-1023, 1214, 4662, 6346-6347, 6699",
        help_text="Ports a client may not announce (comma-separated ports and ranges): the system ports (HTTP, mail, "
        "Direct Connect...), Kazaa, eDonkey, Gnutella, WinMX: ports ISPs throttle or block.",
    )
    # Hit-and-run
    hnr_seed_hours = models.PositiveSmallIntegerField(
        default=72, help_text="Hours a completed download must be seeded (0: no hit-and-run rule)."
    )
    hnr_within_days = models.PositiveSmallIntegerField(default=14, help_text="... within this many days of completing it.")
    hnr_ratio = models.DecimalField(
        max_digits=5, decimal_places=2, default=Decimal("1.00"), help_text="... or reach this ratio on that torrent (0: seed time only)."
    )
    hnr_grace_hours = models.PositiveSmallIntegerField(
        default=24, help_text="Hours after the deadline before a failed snatch becomes a warning (time to finish seeding)."
    )
    hnr_warning_days = models.PositiveSmallIntegerField(default=30, help_text="Days a hit-and-run warning stays active.")
    hnr_max_warnings = models.PositiveSmallIntegerField(
        default=3, help_text="This many active warnings remove download rights until one expires or is cleared (0: never)."
    )
    hnr_exempt_freeleech = models.BooleanField(
        default=True, help_text="No hit-and-run on a download that counted nothing (gold or a site freeleech)."
    )
    hnr_exempt_below = models.BigIntegerField(default=100 * MIB, help_text="No hit-and-run on torrents smaller than this many bytes.")
    hnr_exempt_uploader = models.BooleanField(default=True, help_text="No hit-and-run for the uploader of a torrent.")
    # Freeleech tokens
    token_hours = models.PositiveSmallIntegerField(default=48, help_text="Hours a freeleech token keeps a torrent's download uncounted.")
    # Bonus points (see the README for the formula)
    bonus_base = models.DecimalField(
        max_digits=6, decimal_places=2, default=Decimal("1.00"), help_text="Points per hour for seeding one torrent, before the weights."
    )
    bonus_age_weight = models.DecimalField(
        max_digits=6, decimal_places=2, default=Decimal("1.00"), help_text="Extra share for a torrent a year old or older (rises linearly)."
    )
    bonus_need_weight = models.DecimalField(
        max_digits=6,
        decimal_places=2,
        default=Decimal("2.00"),
        help_text="Extra share divided by the torrent's seeders (a lone seeder gets it all).",
    )
    price_upload_gib = models.PositiveIntegerField(default=100, help_text="Points for one GiB of upload credit.")
    price_token = models.PositiveIntegerField(default=500, help_text="Points for one freeleech token.")
    price_warning = models.PositiveIntegerField(default=1000, help_text="Points to clear one active hit-and-run warning.")
    price_invite = models.PositiveIntegerField(default=5000, help_text="Points for one invite (sold while REGISTRATION_MODE is invite).")

    class Meta:
        verbose_name = verbose_name_plural = "site policy"

    def __str__(self) -> str:
        return "Site policy"


class RatioBand(models.Model):
    """From `min_downloaded` bytes downloaded on, a member must keep `required_ratio` (Gazelle's table)."""

    min_downloaded = models.BigIntegerField(unique=True, help_text="Bytes downloaded from which this band applies.")
    required_ratio = models.DecimalField(max_digits=4, decimal_places=2)

    class Meta:
        ordering = ["min_downloaded"]

    def __str__(self) -> str:
        return f"from {self.min_downloaded / GIB:g} GiB: {self.required_ratio}"


class LeechSlotBand(models.Model):
    """A member whose ratio is below `ratio_below` may leech at most `slots` torrents at once (TorrentPier's rule)."""

    ratio_below = models.DecimalField(max_digits=4, decimal_places=2, unique=True)
    slots = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["ratio_below"]

    def __str__(self) -> str:
        return f"ratio below {self.ratio_below}: {self.slots} slots"


class ClientRule(models.Model):
    """A BitTorrent client allowed or denied, by peer_id prefix and version range (tracker.policy.clients)."""

    name = models.CharField(max_length=64)
    prefix = models.CharField(max_length=8, help_text='What the peer_id starts with: "-qB", "-TR", "A2-"...')
    min_version = models.CharField(max_length=16, blank=True, help_text='Oldest version the rule covers, e.g. "4.3" (empty: any).')
    max_version = models.CharField(max_length=16, blank=True, help_text="Newest version the rule covers (empty: any).")
    user_agent = models.CharField(
        max_length=200, blank=True, help_text="A regular expression a non-empty User-Agent must match for this peer_id (empty: no check)."
    )
    allow = models.BooleanField(default=True, help_text="Allow (on) or deny (off) the clients this rule covers.")
    enabled = models.BooleanField(default=True)
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return f"{'allow' if self.allow else 'deny'} {self.name} ({self.prefix})"


class EventKind(models.TextChoices):
    FREELEECH = "freeleech", "Freeleech: downloads count nothing"
    DOUBLE_UPLOAD = "double_upload", "Double upload: uploads count twice"


class SiteEvent(models.Model):
    """A site-wide freeleech or double-upload window, set by admins."""

    kind = models.CharField(max_length=16, choices=EventKind.choices)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    note = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-starts_at"]
        constraints = [models.CheckConstraint(condition=models.Q(ends_at__gt=models.F("starts_at")), name="siteevent_ends_after_start")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.starts_at:%Y-%m-%d %H:%M} to {self.ends_at:%Y-%m-%d %H:%M}"


class TokenUse(models.Model):
    """A freeleech token spent by a member on a torrent: their download on it counts nothing until `expires_at`."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="token_uses", db_index=False)
    torrent = models.ForeignKey(Torrent, on_delete=models.CASCADE, related_name="token_uses")
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["user", "torrent"], name="tokenuse_unique_user_torrent")]


class HnrState(models.TextChoices):
    NONE = "", "No requirement"
    PENDING = "pending", "Pending"
    MET = "met", "Met"
    FAILED = "failed", "Failed"
    PARDONED = "pardoned", "Pardoned"


class HnrWarning(models.Model):
    """A hit-and-run warning: a snatch not seeded as required. Active until it expires or is cleared."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="hnr_warnings")
    snatch = models.OneToOneField(Snatch, null=True, blank=True, on_delete=models.SET_NULL, related_name="hnr_warning")
    torrent_name = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    cleared_at = models.DateTimeField(null=True, blank=True)
    cleared_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    cleared_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "expires_at"], name="hnrwarning_user_expires")]


class LedgerKind(models.TextChoices):
    SEEDING = "seeding", "Earned by seeding"
    UPLOAD_CREDIT = "upload_credit", "Bought upload credit"
    TOKEN = "token", "Bought a freeleech token"
    WARNING = "warning", "Cleared a hit-and-run warning"
    INVITE = "invite", "Bought an invite"
    ADJUST = "adjust", "Adjusted by staff"


class LedgerEntry(models.Model):
    """One earning or spending of bonus points. A member's balance (User.bonus_points) is the sum of their rows."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="ledger", db_index=False)
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    kind = models.CharField(max_length=16, choices=LedgerKind.choices)
    # Seeding earnings: the hour they were credited for (one row per member per hour, see tracker.policy.jobs).
    period = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "ledger entries"
        indexes = [models.Index(fields=["user", "-created_at", "-id"], name="ledger_user_created")]
        constraints = [
            models.UniqueConstraint(fields=["user", "period"], condition=models.Q(kind="seeding"), name="ledger_one_seeding_row_per_hour"),
        ]


class PolicyChange(models.Model):
    """The audit trail: who changed which rule, from what to what."""

    at = models.DateTimeField()
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    action = models.CharField(max_length=16)  # "change", "add", "delete", or an admin action's name
    target = models.CharField(max_length=200)  # "site policy", "ratio band 5 GiB", "member alice"...
    changes = models.JSONField(default=dict, blank=True)  # {field: [before, after]}
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
