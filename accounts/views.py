"""Login, token refresh, logout and the current user."""

from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate, logout
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, viewsets
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.authentication import user_may_authenticate
from accounts.emails import (
    PASSWORD_RESET_ANSWER,
    PASSWORD_RESET_DONE,
    email_confirm,
    email_confirmation_resend,
    password_reset_confirm,
    password_reset_request,
)
from accounts.invite_tree import invite_tree
from accounts.invites import INVITE_LIST, INVITE_STATES, invite_create, invite_list, invite_revoke, user_set_invites
from accounts.models import User, announce_url_of
from accounts.selectors import USER_LIST, api_key_list, user_get_profile, user_page
from accounts.serializers import (
    ApiKeyCreatedSerializer,
    ApiKeyCreateSerializer,
    ApiKeySerializer,
    DetailSerializer,
    EmailConfirmationSentSerializer,
    EmailConfirmedSerializer,
    EmailLinkSerializer,
    InviteCreatedSerializer,
    InviteCreateSerializer,
    InviteSerializer,
    InviteTreeSerializer,
    LoginSerializer,
    LogoutSerializer,
    MeSerializer,
    MeWithStandingSerializer,
    PasskeySerializer,
    PasswordResetConfirmSerializer,
    PasswordResetRequestSerializer,
    PrivacySerializer,
    PublicUserSerializer,
    RecoveryCodesSerializer,
    RefreshSerializer,
    RegisterSerializer,
    TokenResponseSerializer,
    TwoFactorCodeSerializer,
    TwoFactorEnrolmentSerializer,
    TwoFactorLoginSerializer,
    TwoFactorPasswordCodeSerializer,
    TwoFactorStatusSerializer,
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
    user_privacy_set,
    user_register,
    user_set_banned,
    user_set_role,
)
from accounts.tokens import refresh_token_for, session_revoke, token_version_current
from accounts.twofactor import (
    login_challenge_issue,
    login_challenge_user,
    two_factor_disable,
    two_factor_enabled,
    two_factor_enrol_confirm,
    two_factor_enrol_start,
    two_factor_login_check,
    two_factor_recovery_codes_regenerate,
    two_factor_status,
)
from api.errors import AccountBanned, EmailNotSent, InvalidCredentials, RateLimitExceeded, TokenInvalid, TwoFactorRequired
from api.pagination import list_query, page_response
from core.errors import Forbidden
from core.listing import page_of


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


def _login_response(user: User) -> Response:
    """A completed login: a new token pair and the member, never cached; the member's last login is now."""
    refresh = refresh_token_for(user)
    User.objects.filter(pk=user.pk).update(last_login=refresh.current_time)
    return _no_store(Response(_token_payload(refresh, user)))


# What django.utils.cache.add_never_cache_headers writes, for an error answer that carries a secret (a login challenge).
NO_STORE = "max-age=0, no-cache, no-store, must-revalidate, private"

# Safe methods only, or every method: what a staff member without two-factor login may still call
# under TWO_FACTOR_REQUIRED_FOR_STAFF (accounts.authentication.two_factor_gate).
READING = frozenset({"GET", "HEAD", "OPTIONS"})
ANY_METHOD = frozenset({"GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"})


class LoginView(APIView):
    """POST /api/login: username + password -> a Bearer token and a refresh token.

    Attempts are counted per username and per IP before the password is
    checked (accounts.services.login_attempt_start); after LOGIN_FAILURE_LIMIT
    failures in a minute further attempts get 429 until the window ends,
    however many are sent at once. A successful login is not a failure.
    For a member with two-factor login the right password gets no token but
    401 TWO_FACTOR_REQUIRED with a challenge for POST /api/login/2fa.
    """

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]  # open to guests even when SITE_MEMBERS_ONLY

    @extend_schema(
        request=LoginSerializer,
        responses={
            200: TokenResponseSerializer,
            401: OpenApiResponse(
                description="Wrong username or password (INVALID_CREDENTIALS); or the password is right and the account has "
                "two-factor login (TWO_FACTOR_REQUIRED): `details.challenge` and a code go to POST /api/login/2fa "
                "within `details.expires_in` seconds"
            ),
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
        if two_factor_enabled(user):
            challenge = {"challenge": login_challenge_issue(user=user), "expires_in": settings.TWO_FACTOR_CHALLENGE_SECONDS}
            raise TwoFactorRequired(details=challenge, headers={"Cache-Control": NO_STORE})
        return _login_response(user)


class LoginTwoFactorView(APIView):
    """POST /api/login/2fa: the challenge of a TWO_FACTOR_REQUIRED answer and a code -> the tokens POST /api/login gives.

    The code is the app's current one or a recovery code (which is spent);
    each works once. Codes are counted against the member's username and the
    caller's IP like passwords (accounts.twofactor.two_factor_login_check):
    past LOGIN_FAILURE_LIMIT failures a minute, 429 for this and for
    POST /api/login, the login page and the admin's. A forged or expired
    challenge, or one whose login is done, is TOKEN_INVALID: log in again.
    """

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]  # open to guests even when SITE_MEMBERS_ONLY

    @extend_schema(
        request=TwoFactorLoginSerializer,
        responses={
            200: TokenResponseSerializer,
            401: OpenApiResponse(
                description="A wrong, expired or used code (INVALID_CREDENTIALS); a forged, expired or spent challenge (TOKEN_INVALID)"
            ),
        },
        auth=[],
    )
    def post(self, request: Request) -> Response:
        serializer = TwoFactorLoginSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = login_challenge_user(challenge=serializer.validated_data["challenge"])
        if user is None:
            raise TokenInvalid("The login challenge is invalid or expired; log in again.")
        if not two_factor_login_check(request=request._request, user=user, code=serializer.validated_data["code"]):
            raise InvalidCredentials("Invalid two-factor code.")  # the attempt stays counted: a failure
        return _login_response(user)


class RefreshView(APIView):
    """POST /api/token/refresh: a refresh token -> a new token pair (the old refresh token is revoked).

    A refresh token issued before the member's last password change or ban is refused.
    """

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]  # open to guests even when SITE_MEMBERS_ONLY

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

    permission_classes = [AllowAny]  # a refresh token alone may be revoked, even when SITE_MEMBERS_ONLY
    two_factor_exempt = ANY_METHOD

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
    two_factor_exempt = READING

    @extend_schema(responses=MeWithStandingSerializer)
    def get(self, request: Request) -> Response:
        return _no_store(Response(MeWithStandingSerializer(request.user).data))

    @extend_schema(request=PrivacySerializer, responses=MeWithStandingSerializer)
    def patch(self, request: Request) -> Response:
        """PATCH /api/me: your privacy (hide_in_peers, stats_public); 422 for anything that is not a boolean."""
        serializer = PrivacySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user_privacy_set(user=request.user, **serializer.validated_data)  # type: ignore[arg-type]
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
        page = user_page(query=list_query(request, USER_LIST), viewer=request.user)
        return page_response(page, PublicUserSerializer(page.items, many=True, context={"request": request}).data)

    @extend_schema(responses=UserProfileSerializer, filters=False)
    def retrieve(self, request: Request, pk: str) -> Response:
        profile = user_get_profile(pk=pk, viewer=request.user)
        return Response(UserProfileSerializer(profile, context={"request": request}).data)

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
        if target.pk == request.user.pk and data.get("invites", target.invites) != target.invites:
            raise Forbidden("Admins may not give themselves invites.")
        if target.is_superuser and not getattr(request.user, "is_superuser", False):
            raise Forbidden("Only a superuser may change a superuser.")
        if "role" in data:
            user_set_role(user=target, role=data["role"])
        if "is_banned" in data:
            user_set_banned(user=target, banned=data["is_banned"])
        if "invites" in data:
            user_set_invites(user=target, invites=data["invites"])
        profile = user_get_profile(pk=pk, viewer=request.user)
        return Response(UserAdminSerializer(profile, context={"request": request}).data)


class RegisterView(APIView):
    """POST /api/register: a new member (REGISTRATION_MODE open, or invite with an invite code); 201 with the account.

    Wrong invite codes are counted per IP before they are checked: past
    INVITE_FAILURE_LIMIT a minute, 429 until the minute is over.
    """

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]  # open to guests even when SITE_MEMBERS_ONLY

    @extend_schema(
        request=RegisterSerializer,
        responses={
            201: MeSerializer,
            403: OpenApiResponse(description="Registration is closed (REGISTRATION_MODE=closed)"),
            409: OpenApiResponse(description="The username, or a look-alike of it, is taken"),
            422: OpenApiResponse(description="Invalid fields; in invite mode no invite code, or one invalid, used, revoked or expired"),
        },
        auth=[],
    )
    def post(self, request: Request) -> Response:
        serializer = RegisterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = user_register(**serializer.validated_data, request=request._request)
        return _no_store(Response(MeSerializer(user).data, status=201))


class PasskeyView(APIView):
    """POST /api/me/passkey: a new passkey; the old one stops working at once."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses=PasskeySerializer)
    def post(self, request: Request) -> Response:
        user = request.user
        assert isinstance(user, User)  # IsAuthenticated
        passkey = user_passkey_reset(user=user)
        return _no_store(Response({"passkey": passkey, "announce_url": announce_url_of(passkey)}))


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


# Two-factor login is the member's own account: no API key may read or change it (a key is its own
# credential, and keeps working whatever the owner's login settings). A staff member who must turn
# it on (TWO_FACTOR_REQUIRED_FOR_STAFF) may call these, and nothing else but GET /api/me and logout.
_TWO_FACTOR_NO_KEYS = {"get": None, "post": None}


class _TwoFactorSettingsView(APIView):
    """The member's own two-factor settings: logged in, never with an API key, allowed to staff who must still enrol."""

    permission_classes = [IsAuthenticated]
    api_key_scopes = _TWO_FACTOR_NO_KEYS
    two_factor_exempt = ANY_METHOD

    def member_input(self, request: Request, serializer_class: type[serializers.Serializer]) -> tuple[User, dict[str, Any]]:
        """The member and their validated input (422 in the envelope otherwise)."""
        user = request.user
        assert isinstance(user, User)  # IsAuthenticated
        serializer = serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        return user, serializer.validated_data


class TwoFactorPasswordSerializer(serializers.Serializer):
    """The member's current password, to start setting up two-factor login."""

    password = serializers.CharField(
        max_length=4096,
        trim_whitespace=False,
        style={"input_type": "password"},
        help_text="Your current password: a session or token alone cannot put a new phone on the account.",
    )


class TwoFactorView(_TwoFactorSettingsView):
    """GET /api/me/2fa: whether two-factor login is on; POST {password}: start setting it up (a new secret, shown in this answer).

    Starting needs the current password; wrong guesses count as failed logins
    (429 past the lock-out, for this and every login).
    """

    @extend_schema(responses=TwoFactorStatusSerializer)
    def get(self, request: Request) -> Response:
        user = request.user
        assert isinstance(user, User)  # IsAuthenticated
        return _no_store(Response(TwoFactorStatusSerializer(two_factor_status(user=user)).data))

    @extend_schema(
        request=TwoFactorPasswordSerializer,
        responses={
            201: TwoFactorEnrolmentSerializer,
            409: OpenApiResponse(description="Two-factor login is on already; turn it off first"),
            422: OpenApiResponse(description="The password is missing or wrong (`details.password`)"),
            429: OpenApiResponse(description="Too many failed logins (wrong passwords or codes) for this member or address"),
        },
    )
    def post(self, request: Request) -> Response:
        user, data = self.member_input(request, TwoFactorPasswordSerializer)
        enrolment = two_factor_enrol_start(request=request._request, user=user, password=data["password"])
        return _no_store(Response(TwoFactorEnrolmentSerializer(enrolment).data, status=201))


class TwoFactorConfirmView(_TwoFactorSettingsView):
    """POST /api/me/2fa/confirm: a code from the app just set up turns two-factor login on; the ten recovery codes, shown once."""

    @extend_schema(
        request=TwoFactorCodeSerializer,
        responses={
            200: RecoveryCodesSerializer,
            409: OpenApiResponse(description="No set-up is pending (POST /api/me/2fa first), or two-factor login is on already"),
        },
    )
    def post(self, request: Request) -> Response:
        user, data = self.member_input(request, TwoFactorCodeSerializer)
        codes = two_factor_enrol_confirm(user=user, code=data["code"], request=request._request)
        return _no_store(Response({"recovery_codes": codes}))


class TwoFactorDisableView(_TwoFactorSettingsView):
    """POST /api/me/2fa/disable: turn two-factor login off, with the password and a code (or a recovery code); 204.

    Wrong guesses count as failed logins (429 past the lock-out).
    """

    @extend_schema(
        request=TwoFactorPasswordCodeSerializer,
        responses={204: None, 409: OpenApiResponse(description="Two-factor login is not on")},
    )
    def post(self, request: Request) -> Response:
        user, data = self.member_input(request, TwoFactorPasswordCodeSerializer)
        two_factor_disable(request=request._request, user=user, **data)
        return Response(status=204)


class TwoFactorRecoveryCodesView(_TwoFactorSettingsView):
    """POST /api/me/2fa/recovery-codes: ten new recovery codes (the old ones stop working), with the password and a code.

    Wrong guesses count as failed logins (429 past the lock-out).
    """

    @extend_schema(
        request=TwoFactorPasswordCodeSerializer,
        responses={200: RecoveryCodesSerializer, 409: OpenApiResponse(description="Two-factor login is not on")},
    )
    def post(self, request: Request) -> Response:
        user, data = self.member_input(request, TwoFactorPasswordCodeSerializer)
        codes = two_factor_recovery_codes_regenerate(request=request._request, user=user, **data)
        return _no_store(Response({"recovery_codes": codes}))


_INVITE_STATE = OpenApiParameter("state", str, enum=list(INVITE_STATES), description="Only invites in this state.")


class InviteListView(APIView):
    """GET /api/me/invites: your invites and what became of them (never their codes); POST: a new invite, mailed, its code shown once.

    Each invite spends one of your invites (`invites` in GET /api/me), unless
    you are staff while INVITES_UNLIMITED_FOR_STAFF; a revoked one gives it back.
    """

    permission_classes = [IsAuthenticated]
    list_specs = {"get": INVITE_LIST}

    @extend_schema(parameters=[_INVITE_STATE], responses=InviteSerializer(many=True))
    def get(self, request: Request) -> Response:
        query = list_query(request, INVITE_LIST)
        invites = invite_list(user=request.user, state=request.query_params.get("state") or None).order_by(*query.ordering(INVITE_LIST))
        page = page_of(invites, page=query.page, per_page=query.per_page)
        return page_response(page, InviteSerializer(page.items, many=True, context={"now": timezone.now()}).data)

    @extend_schema(
        request=InviteCreateSerializer,
        responses={
            201: InviteCreatedSerializer,
            403: OpenApiResponse(description="Registration is closed: an invite could not be used"),
            409: OpenApiResponse(description="You have no invites left (INSUFFICIENT_INVITES)"),
        },
    )
    def post(self, request: Request) -> Response:
        user = request.user
        assert isinstance(user, User)  # IsAuthenticated
        serializer = InviteCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        new = invite_create(inviter=user, email=serializer.validated_data["email"])
        return _no_store(Response(InviteCreatedSerializer(new.invite, context={"new": new}).data, status=201))


class InviteDetailView(APIView):
    """DELETE /api/me/invites/{id}: revoke one of your unused invites (its code stops working) and get it back; 204."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses={204: None, 409: OpenApiResponse(description="The invite was used: it cannot be revoked")})
    def delete(self, request: Request, pk: str) -> Response:
        user = request.user
        assert isinstance(user, User)  # IsAuthenticated
        invite_revoke(inviter=user, pk=pk)
        return Response(status=204)


class InviteesView(APIView):
    """GET /api/users/{id}/invitees: the invite tree below a member, for moderators (403 for others).

    Each node: the member's figures (uploaded, downloaded, ratio, ratio watch,
    ban) and their branch's totals (themselves and everyone below). At most
    INVITE_TREE_MAX_DEPTH (10) levels and INVITE_TREE_MAX_NODES (1000)
    members, read one level per query; `truncated` says when members were
    left out.
    """

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=InviteTreeSerializer)
    def get(self, request: Request, pk: str) -> Response:
        return Response(InviteTreeSerializer(invite_tree(viewer=request.user, ref=pk, by_name=False)).data)


class PasswordResetView(APIView):
    """POST /api/password/reset: mail a link to choose a new password to the account(s) at `email`.

    The answer is the same, 200 with the same body, whether or not an
    account has the address (banned and deactivated ones get no mail);
    429 past EMAIL_SEND_LIMIT requests an hour per client IP or per address.
    """

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]  # open to guests even when SITE_MEMBERS_ONLY

    @extend_schema(request=PasswordResetRequestSerializer, responses={200: DetailSerializer}, auth=[])
    def post(self, request: Request) -> Response:
        serializer = PasswordResetRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        password_reset_request(email=serializer.validated_data["email"], request=request._request)
        return Response({"detail": PASSWORD_RESET_ANSWER})


class PasswordResetConfirmView(APIView):
    """POST /api/password/reset/confirm: the link's uid and token and a new password; the link dies with it.

    Every API token and session the member had ends (accounts.models.User.save).
    A bad, expired, used or forged link: 422 on `token`; a weak password: 422 on
    `new_password`; 429 past EMAIL_LINK_ATTEMPT_LIMIT tries an hour per client IP.
    """

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]  # open to guests even when SITE_MEMBERS_ONLY

    @extend_schema(request=PasswordResetConfirmSerializer, responses={200: DetailSerializer}, auth=[])
    def post(self, request: Request) -> Response:
        serializer = PasswordResetConfirmSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        password_reset_confirm(request=request._request, **serializer.validated_data)
        return Response({"detail": PASSWORD_RESET_DONE})


class EmailConfirmView(APIView):
    """POST /api/email/confirm: the uid and token of a confirmation link; the member's address is confirmed.

    No login needed: the link is the proof. A bad, expired, used or forged
    link: 422 on `token`; 429 past EMAIL_LINK_ATTEMPT_LIMIT tries an hour per client IP.
    """

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]  # open to guests even when SITE_MEMBERS_ONLY

    @extend_schema(request=EmailLinkSerializer, responses={200: EmailConfirmedSerializer}, auth=[])
    def post(self, request: Request) -> Response:
        serializer = EmailLinkSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = email_confirm(request=request._request, **serializer.validated_data)
        return Response({"email_confirmed": True, "email_confirmed_at": user.email_confirmed_at})


class EmailConfirmationView(APIView):
    """POST /api/me/email/confirmation: mail another confirmation link to your address.

    409 if it is confirmed already (or the account has none); 429 past
    EMAIL_SEND_LIMIT an hour; 503 EMAIL_NOT_SENT if the mail server did not
    take the mail (ask again later). API keys may not ask (an account change).
    """

    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=None,
        responses={
            200: EmailConfirmationSentSerializer,
            409: OpenApiResponse(description="Your address is confirmed already, or your account has none"),
            503: OpenApiResponse(description="The mail server did not take the mail; ask again later (EMAIL_NOT_SENT)"),
        },
    )
    def post(self, request: Request) -> Response:
        user = request.user
        assert isinstance(user, User)  # IsAuthenticated
        if not email_confirmation_resend(user=user, request=request._request):
            raise EmailNotSent()
        return _no_store(Response({"detail": f"A confirmation mail is on its way to {user.email}.", "email": user.email}))
