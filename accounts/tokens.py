"""The API's JWTs: simplejwt's, carrying the member's token version so that raising it revokes them all."""

from typing import Any

from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import User

TOKEN_VERSION_CLAIM = "ver"


def refresh_token_for(user: User) -> RefreshToken:
    """A new refresh token for `user` (its `access_token` carries the same version claim)."""
    refresh = RefreshToken.for_user(user)
    refresh[TOKEN_VERSION_CLAIM] = user.token_version
    return refresh


def token_version_current(token: Any, user: Any) -> bool:
    """Was `token` issued since the member's last revocation (password change, ban)?

    A token without the claim was issued before the claim existed: version 0.
    """
    return token.get(TOKEN_VERSION_CLAIM, 0) == user.token_version
