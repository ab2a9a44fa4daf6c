"""Writes on users."""

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction

from accounts.models import Role, User, generate_passkey
from api.cache import cache_delete
from api.errors import Conflict, Forbidden, ValidationFailed


def passkey_cache_key(passkey: str) -> str:
    """The shared-cache key under which the tracker caches a passkey's user."""
    return f"passkey:{passkey}"


def user_passkey_reset(*, user: User) -> str:
    """Give `user` a new passkey; the old one stops working at once."""
    old = user.passkey
    user.passkey = generate_passkey()
    user.save(update_fields=["passkey"])
    cache_delete(passkey_cache_key(old))
    return user.passkey


def user_set_banned(*, user: User, banned: bool) -> User:
    """Ban or unban `user`; their passkey stops (or starts) working at once."""
    user.is_banned = banned
    user.save(update_fields=["is_banned"])
    cache_delete(passkey_cache_key(user.passkey))
    return user


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
        raise ValidationFailed(details={"password": list(exc.messages)}) from None
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
    cache_delete(passkey_cache_key(user.passkey))
    return user
