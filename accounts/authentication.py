"""Bearer-token authentication and the rule for who may authenticate."""

from typing import Any

from django.db.models import Exists
from rest_framework.authentication import SessionAuthentication as DrfSessionAuthentication
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken

from accounts.models import User
from accounts.tokens import SESSION_CLAIM, token_version_current
from api.errors import TokenInvalid


def user_may_authenticate(user: Any) -> bool:
    """simplejwt's USER_AUTHENTICATION_RULE: active and not banned."""
    return user is not None and user.is_active and not getattr(user, "is_banned", False)


class BearerAuthentication(JWTAuthentication):
    """simplejwt's JWT authentication that also refuses banned users and revoked tokens.

    A token issued before the member's last password change or ban carries
    an older token version and is refused, and so is one whose refresh token
    was blacklisted since (logout, or exchanged for a new pair). Any failure
    (bad signature, expired, revoked, banned, a malformed Bearer header) is
    TOKEN_INVALID.
    """

    def authenticate_header(self, request: Any) -> str:
        return 'Bearer realm="api"'

    def get_raw_token(self, header: bytes) -> bytes | None:
        """The token of `Bearer <token>`; "Bearer" alone or with more than one value is TOKEN_INVALID, in a plain sentence."""
        try:
            return super().get_raw_token(header)
        except AuthenticationFailed as exc:
            raise TokenInvalid("The Authorization header must be 'Bearer <token>'.") from exc

    def get_user(self, validated_token: Any) -> Any:
        """The token's member, in one query that also tells whether its session (refresh token) was revoked."""
        user_id = validated_token.get(jwt_settings.USER_ID_CLAIM)
        if user_id is None:
            raise TokenInvalid()
        try:
            queryset = User.objects.filter(**{jwt_settings.USER_ID_FIELD: user_id})
        except (TypeError, ValueError):
            raise TokenInvalid() from None
        session = validated_token.get(SESSION_CLAIM)
        if session is not None:
            queryset = queryset.annotate(session_revoked=Exists(BlacklistedToken.objects.filter(token__jti=str(session))))
        try:
            user = queryset.first()
        except (TypeError, ValueError):
            raise TokenInvalid() from None
        if user is None or not user_may_authenticate(user) or not token_version_current(validated_token, user):
            raise TokenInvalid()
        if getattr(user, "session_revoked", False):
            raise TokenInvalid()
        return user


class SessionAuthentication(DrfSessionAuthentication):
    """DRF's session authentication (CSRF enforced on unsafe methods) for active, unbanned users.

    A session that belongs to a banned user counts as no login at all.
    """

    def authenticate(self, request: Any) -> tuple[Any, None] | None:
        result = super().authenticate(request)
        if result is not None and not user_may_authenticate(result[0]):
            return None
        return result
