"""Writes on users, and the failed-login lock-out."""

import logging
from typing import Any

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django_ratelimit.core import get_usage

from accounts.models import Role, User, generate_passkey
from accounts.signals import tracker_access_changed
from core.errors import Conflict, Forbidden, Invalid
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
    """Ban or unban `user`; their passkey stops (or starts) working at once."""
    user.is_banned = banned
    user.save(update_fields=["is_banned"])
    _tracker_access_changed(user, user.passkey)
    return user


LOGIN_FAILURE_GROUP = "login-failures"


def _login_failure_keys(request: HttpRequest, username: str) -> list[str]:
    return [f"ip:{client_ip(request)}", f"user:{username.lower()}"]


def _login_failure_usage(request: HttpRequest, key: str, *, increment: bool) -> dict[str, Any] | None:
    try:
        return get_usage(
            request,
            group=LOGIN_FAILURE_GROUP,
            key=lambda _g, _r: key,
            rate=f"{settings.LOGIN_FAILURE_LIMIT}/m",
            increment=increment,
        )
    except Exception:  # the cache is down: fail open, like the API's rate limit
        logger.warning("login-failure cache unreachable; failing open", exc_info=True)
        return None


def login_failures_exceeded(*, request: HttpRequest, username: str) -> int | None:
    """Decide whether a login for `username` from this client is locked out.

    Failures are counted per username and per client IP, shared by the API
    login and the login page. Returns the seconds until the lock-out ends,
    or None when another attempt may be made now.
    """
    for key in _login_failure_keys(request, username):
        usage = _login_failure_usage(request, key, increment=False)
        if usage and usage["count"] >= usage["limit"]:
            return max(1, int(usage["time_left"]))
    return None


def login_failure_record(*, request: HttpRequest, username: str) -> None:
    """Count one failed login against `username` and against the client IP."""
    for key in _login_failure_keys(request, username):
        _login_failure_usage(request, key, increment=True)


def user_register(*, username: str, email: str, password: str) -> User:
    """Create a member with role user; the password must pass Django's validators (422 otherwise).

    Closed registration (REGISTRATION_OPEN=0): 403. A taken username: 409.
    """
    if not settings.REGISTRATION_OPEN:
        raise Forbidden("Registration is closed.")
    if User.objects.filter(username__iexact=username).exists():
        raise Conflict("This username is taken.", details={"username": ["This username is taken."]})
    user = User(username=username, email=email, role=Role.USER)
    try:
        validate_password(password, user=user)
    except DjangoValidationError as exc:
        raise Invalid(details={"password": list(exc.messages)}) from None
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:
        raise Conflict("This username is taken.", details={"username": ["This username is taken."]}) from None
    return user


def user_set_role(*, user: User, role: str) -> User:
    """Give `user` the role user, moderator or admin."""
    user.role = role
    user.save(update_fields=["role"])
    _tracker_access_changed(user, user.passkey)
    return user
