"""Bearer-token authentication and the rule for who may authenticate."""

from typing import Any

from rest_framework.authentication import SessionAuthentication as DrfSessionAuthentication
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed
from rest_framework_simplejwt.models import TokenUser

from accounts.tokens import token_version_current
from api.errors import TokenInvalid


def user_may_authenticate(user: Any) -> bool:
    """simplejwt's USER_AUTHENTICATION_RULE: active and not banned."""
    return user is not None and user.is_active and not getattr(user, "is_banned", False)


class BearerAuthentication(JWTAuthentication):
    """simplejwt's JWT authentication that also refuses banned users and revoked tokens.

    A token issued before the member's last password change or ban carries
    an older token version and is refused. Any failure (bad signature,
    expired, revoked, banned) is TOKEN_INVALID.
    """

    def authenticate_header(self, request: Any) -> str:
        return 'Bearer realm="api"'

    def get_user(self, validated_token: Any) -> Any:
        try:
            user = super().get_user(validated_token)
        except AuthenticationFailed as exc:
            raise TokenInvalid() from exc
        if isinstance(user, TokenUser) or not user_may_authenticate(user) or not token_version_current(validated_token, user):
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
