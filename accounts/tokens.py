"""The API's JWTs: simplejwt's, carrying the member's token version so that raising it revokes them all,
and the refresh token they came with, so that revoking that one revokes them too."""

from typing import Any

from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import User

TOKEN_VERSION_CLAIM = "ver"
# The jti of the refresh token an access token was issued with: once that refresh token is blacklisted
# (logout, or exchanged at /api/token/refresh), its access tokens are refused too.
SESSION_CLAIM = "sid"


def refresh_token_for(user: User) -> RefreshToken:
    """A new refresh token for `user` (its `access_token` carries the same version and session claims)."""
    refresh = RefreshToken.for_user(user)
    refresh[TOKEN_VERSION_CLAIM] = user.token_version
    refresh[SESSION_CLAIM] = refresh[jwt_settings.JTI_CLAIM]
    return refresh


def token_version_current(token: Any, user: Any) -> bool:
    """Was `token` issued since the member's last revocation (password change, ban)?

    A token without the claim was issued before the claim existed: version 0.
    """
    return token.get(TOKEN_VERSION_CLAIM, 0) == user.token_version


def session_revoke(access_token: Any) -> None:
    """Blacklist the refresh token `access_token` was issued with, which refuses both from now on."""
    session = access_token.get(SESSION_CLAIM) if access_token is not None else None
    if session is None:
        return
    outstanding = OutstandingToken.objects.filter(jti=str(session)).first()
    if outstanding is not None:
        BlacklistedToken.objects.get_or_create(token=outstanding)
