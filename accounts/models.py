"""The tracker's user: a Django user with a role, a passkey and transfer totals; their personal API keys."""

import hashlib
import secrets
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.urls import reverse
from django.utils.crypto import salted_hmac


def generate_passkey() -> str:
    """A fresh random passkey: 32 lowercase hex characters."""
    return secrets.token_hex(16)


def announce_url_of(passkey: str) -> str:
    """The announce URL that carries `passkey` (see User.announce_url)."""
    return f"{settings.TRACKER_ANNOUNCE_URL}/announce?uk={passkey}"


class Role(models.TextChoices):
    USER = "user", "User"
    MODERATOR = "moderator", "Moderator"
    ADMIN = "admin", "Admin"


class User(AbstractUser):
    """A member. `passkey` authenticates their BitTorrent client to the tracker."""

    email = models.EmailField(blank=True)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.USER)
    passkey = models.CharField(max_length=32, unique=True, default=generate_passkey, editable=False)
    uploaded = models.BigIntegerField(default=0)
    downloaded = models.BigIntegerField(default=0)
    is_banned = models.BooleanField(default=False)
    hide_in_peers = models.BooleanField(default=False, help_text="Hide my name in torrent peer lists.")
    stats_public = models.BooleanField(
        default=True, help_text="Show my uploaded, downloaded and ratio to other members (moderators always see them)."
    )
    # Written into every API token at issue; raising it (tokens_revoke) ends all tokens and sessions issued before.
    token_version = models.PositiveIntegerField(default=0, editable=False)
    # The tracker's rules (tracker.policy): when the member's ratio fell below the
    # requirement (NULL: not on watch), personal freeleech, tokens and points.
    ratio_watch_since = models.DateTimeField(null=True, blank=True)
    freeleech_until = models.DateTimeField(null=True, blank=True, help_text="Personal freeleech: downloads count nothing until then.")
    freeleech_tokens = models.PositiveIntegerField(default=0)
    # The sum of the member's bonus ledger, kept in the same transaction as each row.
    bonus_points = models.DecimalField(max_digits=14, decimal_places=2, default=0, editable=False)
    # When the member proved they read mail at `email` (NULL: not yet); see EMAIL_CONFIRMATION_REQUIRED.
    email_confirmed_at = models.DateTimeField(null=True, blank=True)
    # Who invited the member (REGISTRATION_MODE=invite), and how many invites they may still send.
    invited_by = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="invitees")
    invites = models.PositiveIntegerField(default=0, help_text="Invites this member may still send.")

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(uploaded__gte=0), name="user_uploaded_non_negative"),
            models.CheckConstraint(condition=models.Q(downloaded__gte=0), name="user_downloaded_non_negative"),
        ]

    def save(self, **kwargs: Any) -> None:
        """Save; a changed password (set_password, then save) revokes the member's tokens and other sessions.

        This catches every way a password changes: the password page, the
        admin site, `manage.py changepassword`, a reset. A hasher upgrade at
        login is not a change (Django clears `_password` before that save).
        A full save of a row that exists never writes `token_version`: a copy
        read before a revocation must not bring the revoked tokens back.
        """
        password_changed = getattr(self, "_password", None) is not None and not self._state.adding
        if kwargs.get("update_fields") is None and not self._state.adding and not kwargs.get("force_insert"):
            deferred = self.get_deferred_fields()  # as Django's own full save of a partly loaded row
            kwargs["update_fields"] = [
                f.name for f in self._meta.concrete_fields if not f.primary_key and f.name != "token_version" and f.attname not in deferred
            ]
        super().save(**kwargs)
        if password_changed:
            self.tokens_revoke()

    def tokens_revoke(self) -> None:
        """End every API token (access and refresh) and every session issued to this member so far."""
        User.objects.filter(pk=self.pk).update(token_version=models.F("token_version") + 1)
        self.refresh_from_db(fields=["token_version"])

    def get_session_auth_hash(self) -> str:
        """Django's session check: a hash of the password and of the token version.

        So a revocation ends the member's sessions too. Until the first one
        the hash stays Django's, so that no one is logged out by this change.
        """
        if not self.token_version:
            return super().get_session_auth_hash()
        return self._session_auth_hash(secret=None)

    def get_session_auth_fallback_hash(self) -> Iterator[str]:
        if not self.token_version:
            yield from super().get_session_auth_fallback_hash()
            return
        for fallback_secret in settings.SECRET_KEY_FALLBACKS:
            yield self._session_auth_hash(secret=fallback_secret)

    def _session_auth_hash(self, *, secret: str | bytes | None) -> str:
        value = f"{self.token_version}:{self.password}"
        return salted_hmac("accounts.User.get_session_auth_hash", value, secret=secret, algorithm="sha256").hexdigest()

    @property
    def announce_url(self) -> str:
        """The member's announce URL: `/announce?uk=<passkey>`.

        Strict BEP 48 clients (Transmission) derive a scrape URL only from an
        announce URL whose last path segment starts with "announce", and
        libtorrent (qBittorrent, Deluge) refuses a tracker on the same machine
        (its SSRF mitigation) unless the path starts with "/announce": the
        passkey goes in TorrentPier's `uk` parameter. The older
        `/announce/<passkey>` form keeps working for the torrents already out.
        """
        return announce_url_of(self.passkey)

    def get_absolute_url(self) -> str:
        """The member's page on the site (the admin's "View on site")."""
        return reverse("web:user", args=[self.username])

    @property
    def is_moderator(self) -> bool:
        """Moderators and admins (and Django superusers) moderate."""
        return self.role in (Role.MODERATOR, Role.ADMIN) or self.is_superuser

    @property
    def is_admin(self) -> bool:
        """Admins (and Django superusers) administer."""
        return self.role == Role.ADMIN or self.is_superuser

    @property
    def ratio(self) -> float | None:
        """uploaded / downloaded, or None before anything was downloaded."""
        if self.downloaded == 0:
            return None
        return round(self.uploaded / self.downloaded, 3)

    @property
    def can_log_in(self) -> bool:
        """Active and not banned."""
        return self.is_active and not self.is_banned


# Every API key starts with this, so that `Authorization: Bearer <key>` tells a key from a JWT at a glance.
API_KEY_PREFIX = "tpk_"
# The characters after API_KEY_PREFIX that name a key (shown in lists, never secret).
API_KEY_ID_LENGTH = 8


class ApiKeyScope(models.TextChoices):
    """What a personal API key may do: read, download .torrent files, upload, read feeds and Torznab."""

    READ = "read", "Read"
    DOWNLOAD = "download", "Download .torrent files"
    UPLOAD = "upload", "Upload torrents"
    FEED = "feed", "Feeds and Torznab"


def api_key_hash(raw: str) -> str:
    """The SHA-256 (hex) of a full API key, as stored: the key itself never is."""
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiKey(models.Model):
    """A member's personal API key: a name, scopes, and the hash of the key shown once at creation.

    `prefix` (the characters after "tpk_") finds the row; the hash of the
    whole key is then compared in constant time. Revoked keys are kept, so
    that the list still says when each was last used.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=API_KEY_ID_LENGTH, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, editable=False)
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_used_ip = models.GenericIPAddressField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "API key"
        indexes = [models.Index(fields=["user", "-created_at"], name="apikey_user_created")]

    def __str__(self) -> str:
        return f"{self.label}… ({self.name})"

    @property
    def label(self) -> str:
        """How the key begins ("tpk_" and its prefix): enough to recognise it, nothing to use."""
        return f"{API_KEY_PREFIX}{self.prefix}"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def has_scope(self, scope: str) -> bool:
        """Whether the key was given `scope`."""
        return scope in (self.scopes or [])


def invite_code_hash(raw: str) -> str:
    """The SHA-256 (hex) of an invite code, as stored: the code itself never is."""
    return hashlib.sha256(raw.encode()).hexdigest()


class Invite(models.Model):
    """A single-use invitation to register, sent by a member to an address; stored by the hash of its code.

    Used when `used_by` is set, revoked when `revoked_at` is, void after
    `expires_at`. The row stays after use: it is the edge of the invite tree.
    """

    inviter = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="invites_sent")
    email = models.EmailField()
    code_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_by = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="invite_used", editable=False
    )
    used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["inviter", "-created_at"], name="invite_inviter_created")]

    def __str__(self) -> str:
        return f"invite to {self.email} by {self.inviter_id}"


class TwoFactorDevice(models.Model):
    """A member's authenticator app for two-factor login (TOTP, RFC 6238): its secret and the last time step it proved.

    One per member; it counts only once `confirmed_at` is set (enrolment ends
    with a right code), and until then a new enrolment replaces it. Checking a
    code needs the secret itself, so it is kept as it is, as every TOTP server
    keeps it; it is shown during enrolment only, never in the admin or the API
    after. `last_step` is the 30-second step of the last code accepted: a code
    of that step or an earlier one is refused, so a code cannot be used twice.
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="two_factor_device")
    secret = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    confirmed_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_step = models.BigIntegerField(default=0, editable=False)

    class Meta:
        verbose_name = "two-factor device"

    def __str__(self) -> str:
        return f"two-factor device of {self.user_id}"


def recovery_code_hash(raw: str) -> str:
    """The SHA-256 (hex) of a normalised recovery code, as stored: the code itself never is."""
    return hashlib.sha256(raw.encode()).hexdigest()


class RecoveryCode(models.Model):
    """One of a member's single-use recovery codes for two-factor login (for a lost phone), stored by its hash.

    Spent when `used_at` is set. A new set (enrolment, regeneration) deletes the old one.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="recovery_codes")
    code_hash = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    used_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "code_hash"], name="recoverycode_user_hash")]

    def __str__(self) -> str:
        return f"recovery code of {self.user_id}"
