"""Writes on users, their API keys, and the failed-login lock-out."""

import ipaddress
import logging
import secrets
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from accounts.emails import email_confirmation_send
from accounts.invites import invite_guess_start, invite_redeem, registration_check
from accounts.models import API_KEY_ID_LENGTH, API_KEY_PREFIX, ApiKey, ApiKeyScope, Role, User, api_key_hash, generate_passkey
from accounts.signals import tracker_access_changed
from accounts.usernames import username_normalize, username_problems
from core.attempts import attempt_count, attempts_give_back
from core.errors import Conflict, Invalid, NotFound, pk_parse
from core.metrics import LOGIN_FAILURES
from core.net import client_ip

logger = logging.getLogger("accounts")


def _tracker_access_changed(user: User, passkey: str) -> None:
    tracker_access_changed.send(sender=User, user=user, passkey=passkey)


def user_passkey_reset(*, user: User) -> str:
    """Give `user` a new passkey; the old one stops working at once."""
    old = user.passkey
    user.passkey = generate_passkey()
    user.save(update_fields=["passkey"])
    _tracker_access_changed(user, old)
    return user.passkey


def user_set_banned(*, user: User, banned: bool) -> User:
    """Ban or unban `user`; their passkey stops (or starts) working at once.

    A ban also revokes every API token and session they hold, so that
    lifting it later brings none of them back: they log in again.
    """
    user.is_banned = banned
    user.save(update_fields=["is_banned"])
    if banned:
        user.tokens_revoke()
    _tracker_access_changed(user, user.passkey)
    return user


LOGIN_FAILURE_GROUP = "login-failures"


def _login_attempt_idents(request: HttpRequest | None, username: str) -> list[str]:
    idents = [f"user:{username_normalize(username).casefold()}"]
    if request is not None:
        idents.insert(0, f"ip:{client_ip(request)}")
    return idents


@dataclass
class LoginAttempt:
    """One login attempt, counted before its password is checked.

    `retry_after` is set when the attempt is refused (locked out): then no
    password may be checked. Otherwise the caller checks the password and
    calls `login_attempt_succeeded` if the login succeeds; a failed one
    stays counted.
    """

    retry_after: int | None = None
    counted: list[str] = field(default_factory=list)


def login_attempt_start(*, request: HttpRequest | None, username: str) -> LoginAttempt:
    """Count a login attempt for `username` from this client, and say whether its password may be checked.

    Attempts are counted per username (NFKC, any case) and per client IP,
    shared by the API login, the login page and the admin's. The count is
    raised *before* the password check, atomically in the shared cache, so
    that simultaneous guesses cannot all pass a check made before any of
    them is counted: at most LOGIN_FAILURE_LIMIT failed password checks per
    minute, however many arrive at once. A refused attempt checks nothing
    and is not counted; a successful login is given back.
    If the cache is unreachable the lock-out fails open, like the rate limit.
    """
    counted: list[str] = []
    retry_after: int | None = None
    for ident in _login_attempt_idents(request, username):
        try:
            key, count, time_left = attempt_count(LOGIN_FAILURE_GROUP, ident, settings.LOGIN_FAILURE_LIMIT)
        except Exception:  # the cache is down: fail open, like the API's rate limit
            logger.warning("login-failure cache unreachable; failing open", exc_info=True)
            continue
        counted.append(key)
        if count > settings.LOGIN_FAILURE_LIMIT:
            retry_after = max(retry_after or 1, time_left)
    if retry_after is not None:
        attempts_give_back(counted)
        LOGIN_FAILURES.labels("locked_out").inc()
        return LoginAttempt(retry_after=retry_after)
    return LoginAttempt(counted=counted)


def login_attempt_succeeded(attempt: LoginAttempt) -> None:
    """The attempt's password was right and the member logged in: it is not a failure."""
    attempts_give_back(attempt.counted)
    attempt.counted = []


def user_register(*, username: str, email: str, password: str, invite: str = "", request: HttpRequest | None = None) -> User:
    """Create a member with role user; the password must pass Django's validators (422 otherwise).

    The username is stored NFKC-normalised and must pass accounts.usernames
    (no invisible, control or bidi characters, no mixed alphabets): 422 on
    `username` otherwise. A taken username (compared after NFKC, in any
    case): 409. REGISTRATION_MODE (accounts.invites): closed is 403; invite
    needs an `invite` code (422 on `invite` without one, or with a bad one);
    a code, when given, is used in the insert's transaction and makes its
    sender the inviter. Bad codes are counted per IP of `request` (429 past
    INVITE_FAILURE_LIMIT a minute).
    """
    invite = registration_check(invite=invite)
    username = username_normalize(username)
    problems = username_problems(username)
    if problems:
        raise Invalid(details={"username": problems})
    if User.objects.filter(username__iexact=username).exists():
        raise Conflict("This username is taken.", details={"username": ["This username is taken."]})
    user = User(username=username, email=email, role=Role.USER)
    try:
        validate_password(password, user=user)
    except DjangoValidationError as exc:
        raise Invalid(details={"password": list(exc.messages)}) from None
    user.set_password(password)
    guess = invite_guess_start(request=request) if invite else None
    try:
        with transaction.atomic():
            user.save()
            if invite:
                invite_redeem(code=invite, user=user, guess=guess)
    except IntegrityError:
        raise Conflict("This username is taken.", details={"username": ["This username is taken."]}) from None
    email_confirmation_send(user)  # a mail server that is down is logged, not an error: the member may ask again
    return user


def user_privacy_set(*, user: User, hide_in_peers: bool | None = None, stats_public: bool | None = None) -> User:
    """Change what other members see of `user`: their name in peer lists, their transfer figures."""
    changed = []
    if hide_in_peers is not None:
        user.hide_in_peers = hide_in_peers
        changed.append("hide_in_peers")
    if stats_public is not None:
        user.stats_public = stats_public
        changed.append("stats_public")
    if changed:
        user.save(update_fields=changed)
    return user


def user_set_role(*, user: User, role: str) -> User:
    """Give `user` the role user, moderator or admin."""
    user.role = role
    user.save(update_fields=["role"])
    _tracker_access_changed(user, user.passkey)
    return user


# Live (unrevoked) keys a member may hold at once: enough for every tool, not a table to fill.
API_KEYS_MAX = 20
# A key's last use is written at most this often (and whenever its address changes): not one write per request.
API_KEY_USE_PRECISION = timedelta(minutes=1)


def api_key_create(*, user: User, name: str, scopes: list[str]) -> tuple[ApiKey, str]:
    """A new API key for `user` with `scopes`: the row and the key itself, which is shown once and never stored.

    422 without a name or a scope (or with an unknown one); 409 past API_KEYS_MAX live keys.
    """
    name = name.strip()
    details: dict[str, list[str]] = {}
    if not name:
        details["name"] = ["Give the key a name."]
    unknown = sorted(set(scopes) - set(ApiKeyScope.values))
    if unknown:
        details["scopes"] = [f"Unknown scope: {', '.join(unknown)}. Scopes: {', '.join(ApiKeyScope.values)}."]
    elif not scopes:
        details["scopes"] = ["Choose at least one scope."]
    if details:
        raise Invalid(details=details)
    if ApiKey.objects.filter(user=user, revoked_at__isnull=True).count() >= API_KEYS_MAX:
        raise Conflict(f"You have {API_KEYS_MAX} keys already; revoke one first.")
    ordered = [scope for scope in ApiKeyScope.values if scope in scopes]
    for _attempt in range(5):  # a prefix already taken (1 in 4 billion per key): draw again
        prefix = secrets.token_hex(API_KEY_ID_LENGTH // 2)
        raw = f"{API_KEY_PREFIX}{prefix}{secrets.token_urlsafe(32)}"
        try:
            with transaction.atomic():
                key = ApiKey.objects.create(user=user, name=name[:100], prefix=prefix, key_hash=api_key_hash(raw), scopes=ordered)
        except IntegrityError:
            continue
        return key, raw
    raise Conflict("Could not create a key; try again.")


def api_key_revoke(*, user: User, pk: object) -> ApiKey:
    """Revoke `user`'s key `pk` (it stops working at once); another member's key is 404. Revoking twice changes nothing."""
    key = ApiKey.objects.filter(user=user, pk=pk_parse(pk, "No such key.")).first()
    if key is None:
        raise NotFound("No such key.")
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
    return key


def api_key_revoke_any(*, key: ApiKey) -> None:
    """Revoke `key` whoever holds it (the operators' admin site)."""
    ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())


def api_key_used(*, key: ApiKey, ip: str) -> None:
    """Note that `key` was used just now from `ip` (the client's address; written at most once a minute per address)."""
    try:
        address: str | None = str(ipaddress.ip_address(ip))
    except ValueError:  # no REMOTE_ADDR (a test client, a unix socket)
        address = None
    now = timezone.now()
    if key.last_used_ip == address and key.last_used_at is not None and now - key.last_used_at < API_KEY_USE_PRECISION:
        return
    key.last_used_at, key.last_used_ip = now, address
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=now, last_used_ip=address)
