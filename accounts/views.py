"""Login, token refresh, logout and the current user."""

from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate, logout
from django.db.models import QuerySet
from django.utils.cache import add_never_cache_headers
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import viewsets
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.authentication import user_may_authenticate
from accounts.models import User
from accounts.selectors import USER_LIST, api_key_list, user_get_profile, user_page
from accounts.serializers import (
    ApiKeyCreatedSerializer,
    ApiKeyCreateSerializer,
    ApiKeySerializer,
    LoginSerializer,
    LogoutSerializer,
    MeSerializer,
    MeWithStandingSerializer,
    PasskeySerializer,
    PublicUserSerializer,
    RefreshSerializer,
    RegisterSerializer,
    TokenResponseSerializer,
    UserAdminSerializer,
    UserAdminUpdateSerializer,
    UserProfileSerializer,
)
from accounts.services import (
    api_key_create,
    api_key_revoke,
    login_attempt_start,
    login_attempt_succeeded,
    user_passkey_reset,
    user_register,
    user_set_banned,
    user_set_role,
)
from accounts.tokens import refresh_token_for, session_revoke, token_version_current
from api.errors import AccountBanned, InvalidCredentials, RateLimitExceeded, TokenInvalid
from api.pagination import list_query, page_response
from core.errors import Forbidden


def _no_store(response: Response) -> Response:
    """For answers that carry a secret (tokens, a passkey): no cache may keep them."""
    add_never_cache_headers(response)
    return response


def _token_payload(refresh: RefreshToken, user: User | None = None) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "token": str(refresh.access_token),
        "refresh_token": str(refresh),
        "token_type": "Bearer",
        "expires_in": int(jwt_settings.ACCESS_TOKEN_LIFETIME.total_seconds()),
    }
    if user is not None:
        payload["user"] = MeSerializer(user).data
    return payload


class LoginView(APIView):
    """POST /api/login: username + password -> a Bearer token and a refresh token.

    Attempts are counted per username and per IP before the password is
    checked (accounts.services.login_attempt_start); after LOGIN_FAILURE_LIMIT
    failures in a minute further attempts get 429 until the window ends,
    however many are sent at once. A successful login is not a failure.
    """

    authentication_classes: list[Any] = []

    @extend_schema(
        request=LoginSerializer,
        responses={
            200: TokenResponseSerializer,
            401: OpenApiResponse(description="Wrong username or password (INVALID_CREDENTIALS)"),
            403: OpenApiResponse(description="The password is right but the account is banned (ACCOUNT_BANNED)"),
        },
        auth=[],
    )
    def post(self, request: Request) -> Response:
        serializer = LoginSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        username = serializer.validated_data["username"]
        attempt = login_attempt_start(request=request._request, username=username)
        if attempt.retry_after is not None:
            raise RateLimitExceeded("Too many failed logins. Try again later.", headers={"Retry-After": str(attempt.retry_after)})
        user = authenticate(request._request, username=username, password=serializer.validated_data["password"])
        if user is not None and user.is_active and user.is_banned:
            raise AccountBanned()  # as the login page says; the attempt stays counted
        if user is None or not user_may_authenticate(user):
            raise InvalidCredentials()  # the attempt stays counted: a failure
        login_attempt_succeeded(attempt)
        refresh = refresh_token_for(user)
        User.objects.filter(pk=user.pk).update(last_login=refresh.current_time)
        return _no_store(Response(_token_payload(refresh, user)))


class RefreshView(APIView):
    """POST /api/token/refresh: a refresh token -> a new token pair (the old refresh token is revoked).

    A refresh token issued before the member's last password change or ban is refused.
    """

    authentication_classes: list[Any] = []

    @extend_schema(
        request=RefreshSerializer,
        responses={
            200: TokenResponseSerializer,
            401: OpenApiResponse(description="Invalid, expired or revoked refresh token (TOKEN_INVALID)"),
        },
        auth=[],
    )
    def post(self, request: Request) -> Response:
        serializer = RefreshSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            old = RefreshToken(serializer.validated_data["refresh_token"])
            user_id = old.payload.get(jwt_settings.USER_ID_CLAIM)
            user = User.objects.filter(pk=user_id).first() if user_id is not None else None
            if user is None or not user_may_authenticate(user) or not token_version_current(old, user):
                raise TokenInvalid()
            old.blacklist()
        except TokenError as exc:
            raise TokenInvalid() from exc
        return _no_store(Response(_token_payload(refresh_token_for(user))))


class LogoutView(APIView):
    """POST /api/logout: revoke the given refresh token (or the Bearer token's own) and end the session; 204.

    The access tokens issued with that refresh token stop working too (accounts.authentication).
    """

    @extend_schema(request=LogoutSerializer, responses={204: None})
    def post(self, request: Request) -> Response:
        serializer = LogoutSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        raw = serializer.validated_data.get("refresh_token")
        if raw:
            try:
                RefreshToken(raw).blacklist()
            except TokenError as exc:
                raise TokenInvalid() from exc
        elif not request.user.is_authenticated:
            raise TokenInvalid("Send the refresh_token to revoke, or log in first.")
        else:
            session_revoke(request.auth)  # a Bearer logout: this token's refresh token, and with it this token
        if request.user.is_authenticated:
            logout(request._request)
        return Response(status=204)


class MeView(APIView):
    """GET /api/me: the current user, passkey included, and their standing under the tracker's rules."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=MeWithStandingSerializer)
    def get(self, request: Request) -> Response:
        return _no_store(Response(MeWithStandingSerializer(request.user).data))


class UserViewSet(viewsets.GenericViewSet):
    """Members (logged in only): list with username search, public profile; admins change role and ban."""

    permission_classes = [IsAuthenticated]
    serializer_class = UserProfileSerializer
    list_specs = {"list": USER_LIST}
    http_method_names = ["get", "patch", "head", "options"]

    def get_queryset(self) -> QuerySet[User]:
        return User.objects.none()  # for the schema; every action asks a selector

    @extend_schema(responses=PublicUserSerializer(many=True))
    def list(self, request: Request) -> Response:
        page = user_page(query=list_query(request, USER_LIST))
        return page_response(page, PublicUserSerializer(page.items, many=True).data)

    @extend_schema(responses=UserProfileSerializer, filters=False)
    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(UserProfileSerializer(user_get_profile(pk=pk, viewer=request.user)).data)

    @extend_schema(request=UserAdminUpdateSerializer, responses=UserAdminSerializer, filters=False)
    def partial_update(self, request: Request, pk: str) -> Response:
        if not getattr(request.user, "is_admin", False):
            raise Forbidden("Only admins may change members.")
        target = user_get_profile(pk=pk, viewer=request.user)
        serializer = UserAdminUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if target.pk == request.user.pk and (data.get("is_banned") or data.get("role", target.role) != target.role):
            raise Forbidden("Admins may not ban themselves or change their own role.")
        if target.is_superuser and not getattr(request.user, "is_superuser", False):
            raise Forbidden("Only a superuser may change a superuser.")
        if "role" in data:
            user_set_role(user=target, role=data["role"])
        if "is_banned" in data:
            user_set_banned(user=target, banned=data["is_banned"])
        return Response(UserAdminSerializer(user_get_profile(pk=pk, viewer=request.user)).data)


class RegisterView(APIView):
    """POST /api/register: a new member (when REGISTRATION_OPEN); 201 with the account."""

    authentication_classes: list[Any] = []

    @extend_schema(
        request=RegisterSerializer,
        responses={
            201: MeSerializer,
            403: OpenApiResponse(description="Registration is closed (REGISTRATION_OPEN=0)"),
            409: OpenApiResponse(description="The username, or a look-alike of it, is taken"),
        },
        auth=[],
    )
    def post(self, request: Request) -> Response:
        serializer = RegisterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = user_register(**serializer.validated_data)
        return _no_store(Response(MeSerializer(user).data, status=201))


class PasskeyView(APIView):
    """POST /api/me/passkey: a new passkey; the old one stops working at once."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses=PasskeySerializer)
    def post(self, request: Request) -> Response:
        user = request.user
        assert isinstance(user, User)  # IsAuthenticated
        passkey = user_passkey_reset(user=user)
        return _no_store(Response({"passkey": passkey, "announce_url": f"{settings.TRACKER_ANNOUNCE_URL}/announce/{passkey}"}))


# Key management is for the member themselves: a key may neither list, create nor revoke keys.
_NO_KEYS = {"get": None, "post": None, "delete": None}


class ApiKeyListView(APIView):
    """GET /api/me/keys: your API keys (never the keys themselves); POST: a new key, shown in this answer only."""

    permission_classes = [IsAuthenticated]
    api_key_scopes = _NO_KEYS

    @extend_schema(responses=ApiKeySerializer(many=True))
    def get(self, request: Request) -> Response:
        return _no_store(Response(ApiKeySerializer(api_key_list(user=request.user), many=True).data))

    @extend_schema(
        request=ApiKeyCreateSerializer,
        responses={201: ApiKeyCreatedSerializer, 409: OpenApiResponse(description="Too many live keys; revoke one first")},
    )
    def post(self, request: Request) -> Response:
        user = request.user
        assert isinstance(user, User)  # IsAuthenticated
        serializer = ApiKeyCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        key, raw = api_key_create(user=user, **serializer.validated_data)
        return _no_store(Response(ApiKeyCreatedSerializer(key, context={"key": raw}).data, status=201))


class ApiKeyDetailView(APIView):
    """DELETE /api/me/keys/{id}: revoke one of your keys; it stops working at once (204, also if revoked already)."""

    permission_classes = [IsAuthenticated]
    api_key_scopes = _NO_KEYS

    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: str) -> Response:
        user = request.user
        assert isinstance(user, User)  # IsAuthenticated
        api_key_revoke(user=user, pk=pk)
        return Response(status=204)
