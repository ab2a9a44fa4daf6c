"""Bearer-token, API-key and session authentication, and the rule for who may authenticate."""

from typing import Any

from django.db.models import Exists
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.authentication import SessionAuthentication as DrfSessionAuthentication
from rest_framework.permissions import SAFE_METHODS
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken

from accounts.models import API_KEY_PREFIX, ApiKey, ApiKeyScope, User
from accounts.selectors import api_key_find
from accounts.services import api_key_used
from accounts.tokens import SESSION_CLAIM, token_version_current
from accounts.twofactor import two_factor_required
from api.errors import TokenInvalid
from core.errors import Forbidden
from core.net import client_ip


def user_may_authenticate(user: Any) -> bool:
    """simplejwt's USER_AUTHENTICATION_RULE: active and not banned."""
    return user is not None and user.is_active and not getattr(user, "is_banned", False)


def two_factor_gate(request: Any, user: Any, auth: Any) -> None:
    """TWO_FACTOR_REQUIRED_FOR_STAFF: a staff member without two-factor login may call only what lets them turn it on.

    That is the views whose `two_factor_exempt` names the request's method
    (/api/me/2fa*, GET /api/me, logout); anything else is 403, whichever
    credential came (token, session or API key). The member is authenticated
    before the refusal, so that it counts against their own budget.
    """
    view = (request.parser_context or {}).get("view")
    if request.method in getattr(view, "two_factor_exempt", ()) or not two_factor_required(user):
        return
    request.user, request.auth = user, auth
    raise Forbidden("Staff accounts must turn on two-factor login first: POST /api/me/2fa, then /api/me/2fa/confirm.")


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

    def authenticate(self, request: Any) -> tuple[Any, Any] | None:
        """A JWT's member; a personal API key (`Bearer tpk_...`) is left to ApiKeyAuthentication."""
        if _bearer_api_key(request) is not None:
            return None
        result = super().authenticate(request)
        if result is not None:
            two_factor_gate(request, *result)
        return result

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
        if result is not None:
            two_factor_gate(request, *result)
        return result


def _bearer_api_key(request: Any) -> str | None:
    """The API key of `Authorization: Bearer tpk_...`, or None when the header holds no key."""
    parts = get_authorization_header(request).split()
    if len(parts) == 2 and parts[0].lower() == b"bearer" and parts[1].startswith(API_KEY_PREFIX.encode()):
        return parts[1].decode("latin-1")
    return None


def api_key_scope_required(view: Any, request: Any) -> str | None:
    """The scope a personal API key needs to call `view` with `request`'s method; None: keys may not call it.

    A view names its needs in `api_key_scopes`, by viewset action or by HTTP
    method (`{"download": "download", "create": "upload"}`; a None value
    refuses keys). Anything it does not name: reading (GET, HEAD, OPTIONS)
    needs `read`, and every write is refused to keys (account changes, key
    management, logout...): a key does only what was granted to it.
    """
    declared: dict[str, str | None] = getattr(view, "api_key_scopes", {})
    method = request.method.lower()
    name = getattr(view, "action", None) or ("get" if method == "head" else method)
    if name in declared:
        return declared[name]
    return ApiKeyScope.READ if request.method in SAFE_METHODS else None


class ApiKeyAuthentication(BaseAuthentication):
    """A member's personal API key, sent as `Authorization: Bearer tpk_...` or `X-Api-Key: tpk_...`.

    An unknown or revoked key, or one whose owner is banned or deactivated, is
    TOKEN_INVALID. A known key then needs the scope the endpoint asks for
    (api_key_scope_required): without it the request is FORBIDDEN, naming the
    scope, and is still counted against the owner's rate limit. The key is
    never logged; its last use (time, address) is kept on its row.
    """

    def authenticate_header(self, request: Any) -> str:
        return 'Bearer realm="api"'

    def raw_key(self, request: Any) -> str | None:
        """The key the request carries, if any (the Bearer header first, then X-Api-Key)."""
        return _bearer_api_key(request) or request.META.get("HTTP_X_API_KEY") or None

    def authenticate(self, request: Any) -> tuple[Any, ApiKey] | None:
        raw = self.raw_key(request)
        if raw is None:
            return None
        key = api_key_find(raw=raw)
        if key is None or not user_may_authenticate(key.user):
            raise TokenInvalid("The API key is invalid or revoked.")
        api_key_used(key=key, ip=client_ip(request))
        view = (request.parser_context or {}).get("view")
        scope = api_key_scope_required(view, request)
        if scope is None or not key.has_scope(scope):
            # Authenticated as the owner before refusing, so that the refusal counts
            # against the owner's budget (core.ratelimit), as every use of the key does.
            request.user, request.auth = key.user, key
            if scope is None:
                raise Forbidden("API keys may not be used here; log in instead.")
            raise Forbidden(f"This API key lacks the '{scope}' scope.")
        two_factor_gate(request, key.user, key)
        return key.user, key


class QueryApiKeyAuthentication(ApiKeyAuthentication):
    """ApiKeyAuthentication that also reads the key from the query (`?apikey=`), as Torznab clients send it."""

    param = "apikey"

    def raw_key(self, request: Any) -> str | None:
        return super().raw_key(request) or request.query_params.get(self.param) or None
