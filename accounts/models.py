"""The tracker's user: a Django user with a role, a passkey and transfer totals."""

import secrets

from django.contrib.auth.models import AbstractUser
from django.db import models


def generate_passkey() -> str:
    """A fresh random passkey: 32 lowercase hex characters."""
    return secrets.token_hex(16)


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

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(uploaded__gte=0), name="user_uploaded_non_negative"),
            models.CheckConstraint(condition=models.Q(downloaded__gte=0), name="user_downloaded_non_negative"),
        ]

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
