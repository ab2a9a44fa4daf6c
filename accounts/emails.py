"""Mail to members: confirming their address, resetting a forgotten password; the links' tokens; who must confirm.

Both links carry the member's id (base64) and a token from a Django
PasswordResetTokenGenerator. The password reset's is Django's own: it hashes
the password and the last login, so it dies once used (or after any login).
The confirmation's hashes the address and the confirmation time, so it dies
once the address is confirmed, or when the address changes. Neither token is
stored or logged; a mail that cannot be sent is logged without its link.

Services level: the API views and the pages call these; nothing here knows
either front.
"""

import logging
import unicodedata
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.tokens import PasswordResetTokenGenerator, default_token_generator
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.mail import EmailMessage
from django.db import transaction
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.encoding import force_bytes
from django.utils.http import base36_to_int, urlsafe_base64_decode, urlsafe_base64_encode

from accounts.email_limits import confirmation_budget_spend, link_budget_spend, password_reset_budget_spend
from accounts.models import User
from core.errors import Conflict, EmailNotConfirmed, Invalid

logger = logging.getLogger("accounts.emails")

LINK_INVALID = "This link is invalid or has expired, or it was used already. Ask for a new one."
# The answer to every password reset request, whether or not an account has the address.
PASSWORD_RESET_ANSWER = (
    "If an account has this address, a mail with a link to choose a new password is on its way. "
    "If none arrives within a few minutes, look in your spam folder, or try the address you registered with."
)
PASSWORD_RESET_DONE = "Your password is changed. Log in with it: every other session and API token of yours has ended."
# Longer than any id or token we make (a bigint is 14 base64 characters, a token 6 + 1 + 32): longer is not looked at.
UID_MAX_LENGTH = 32
TOKEN_MAX_LENGTH = 64


class _TimedTokenGenerator(PasswordResetTokenGenerator):
    """Django's token generator with its lifetime read from the setting `timeout_setting`."""

    timeout_setting = "PASSWORD_RESET_TIMEOUT"

    def check_token(self, user: Any, token: str | None) -> bool:
        """Django's check (the HMAC against the secret and its fallbacks, in constant time), with this generator's lifetime."""
        if not (user and token) or len(token) > TOKEN_MAX_LENGTH:
            return False
        try:
            ts_b36, _hash = token.split("-")
            timestamp = base36_to_int(ts_b36)
        except ValueError:
            return False
        if not any(
            constant_time_compare(self._make_token_with_timestamp(user, timestamp, secret), token)
            for secret in [self.secret, *self.secret_fallbacks]
        ):
            return False
        return self._num_seconds(self._now()) - timestamp <= int(getattr(settings, self.timeout_setting))


class EmailConfirmationTokenGenerator(_TimedTokenGenerator):
    """Tokens of confirmation links: good for EMAIL_CONFIRMATION_TIMEOUT, for this address, until it is confirmed."""

    key_salt = "accounts.emails.EmailConfirmationTokenGenerator"
    timeout_setting = "EMAIL_CONFIRMATION_TIMEOUT"

    def _make_hash_value(self, user: Any, timestamp: int) -> str:
        confirmed = "" if user.email_confirmed_at is None else user.email_confirmed_at.replace(microsecond=0, tzinfo=None)
        return f"{user.pk}{user.email}{confirmed}{timestamp}"


confirmation_tokens = EmailConfirmationTokenGenerator()
# Django's own (the password, the last login and the address in the hash), so Django's password reset views would agree.
reset_tokens = default_token_generator


def uid_encode(user: User) -> str:
    """The member's id as it goes into a link."""
    return urlsafe_base64_encode(force_bytes(user.pk))


def _user_from_uid(uid: Any) -> User | None:
    """The member a link's id names; None for anything malformed (too long, not base64, not a positive id)."""
    if not isinstance(uid, str) or len(uid) > UID_MAX_LENGTH:
        return None
    try:
        raw = urlsafe_base64_decode(uid).decode("ascii")
    except (ValueError, UnicodeDecodeError):
        return None
    if not raw.isascii() or not raw.isdigit() or not 0 < int(raw) < 2**63:
        return None
    return User.objects.filter(pk=int(raw)).first()


def _link_user(*, uid: Any, token: Any, tokens: PasswordResetTokenGenerator) -> User:
    """The active member whose link this is; Invalid (422 on `token`) for a bad, expired, used or forged one."""
    user = _user_from_uid(uid)
    if user is None or not user.is_active or not isinstance(token, str) or not tokens.check_token(user, token):
        raise Invalid(LINK_INVALID, details={"token": [LINK_INVALID]})
    return user


@dataclass(frozen=True)
class _Mail:
    kind: str  # for the log: which mail could not be sent
    subject_template: str
    body_template: str


CONFIRMATION_MAIL = _Mail("confirmation", "email/email_confirmation_subject.txt", "email/email_confirmation.txt")
RESET_MAIL = _Mail("password reset", "email/password_reset_subject.txt", "email/password_reset.txt")


def _send(mail: _Mail, *, user: User, context: dict[str, Any]) -> bool:
    """Render `mail` for `user` and hand it to the mail server; False (logged, without the link) when it does not take it."""
    context = {"user": user, "site_url": settings.SITE_URL, **context}
    subject = " ".join(render_to_string(mail.subject_template, context).split())
    body = render_to_string(mail.body_template, context)
    try:
        EmailMessage(subject, body, to=[user.email]).send()  # from DEFAULT_FROM_EMAIL, through MAILERS["default"]
    except Exception as exc:  # SMTP refused, connection refused, timeout, TLS: any of them, the member may ask again
        # The exception's text is the server's answer (and the address at most), never the mail's body.
        logger.warning("The %s mail to member %s was not sent: %s: %s", mail.kind, user.pk, type(exc).__name__, str(exc)[:200])
        return False
    return True


def _hours(seconds: int) -> str:
    hours = max(1, round(seconds / 3600))
    return f"{hours} hour{'s' if hours != 1 else ''}" if hours < 48 else f"{round(hours / 24)} days"


def email_confirmation_send(user: User) -> bool:
    """Mail `user` a link that confirms their address; False if they have none or the server did not take it.

    Never raises for a mail server's failure: registration calls this, and an
    account must not fail to open because the mail server is down.
    """
    if not user.email:
        return False
    path = reverse("web:email-confirm", kwargs={"uidb64": uid_encode(user), "token": confirmation_tokens.make_token(user)})
    link = f"{settings.SITE_URL}{path}"
    return _send(CONFIRMATION_MAIL, user=user, context={"link": link, "valid_for": _hours(settings.EMAIL_CONFIRMATION_TIMEOUT)})


def email_confirmation_resend(*, user: User, request: HttpRequest | None = None) -> bool:
    """Another confirmation mail for `user`, who asked for it; False if the mail server did not take it.

    409 if the address is confirmed already, or the account has none; 429
    past EMAIL_SEND_LIMIT requests an hour (per member and per client IP).
    """
    if user.email_confirmed_at is not None:
        raise Conflict("Your email address is confirmed already.")
    if not user.email:
        raise Conflict("Your account has no email address; ask an operator to add one.")
    confirmation_budget_spend(user_pk=user.pk, request=request)
    return email_confirmation_send(user)


def email_confirmation_user(*, uid: Any, token: Any, request: HttpRequest | None = None) -> User:
    """The member a confirmation link is for, if it still works (422 on `token` otherwise); confirms nothing.

    Each try counts against the client's EMAIL_LINK_ATTEMPT_LIMIT an hour (429 past it).
    """
    link_budget_spend(request=request)
    return _link_user(uid=uid, token=token, tokens=confirmation_tokens)


def email_confirm(*, uid: Any, token: Any, request: HttpRequest | None = None) -> User:
    """Confirm the address of the member whose link this is (422 for a bad, expired or used link; 429 past the limit).

    The link dies with it: the confirmation time is part of its token.
    """
    user = email_confirmation_user(uid=uid, token=token, request=request)
    return email_mark_confirmed(user=user)


def email_mark_confirmed(*, user: User) -> User:
    """Note that `user` reads mail at their address (now), unless that is known already."""
    if user.email_confirmed_at is None:
        user.email_confirmed_at = timezone.now()
        user.save(update_fields=["email_confirmed_at"])
    return user


def email_confirmation_pending(user: Any) -> bool:
    """Whether `user` is held back until they confirm their address: EMAIL_CONFIRMATION_REQUIRED, unconfirmed, not staff.

    Moderators and admins are never held back; guests are not members at all.
    """
    return bool(
        settings.EMAIL_CONFIRMATION_REQUIRED
        and getattr(user, "is_authenticated", False)
        and getattr(user, "email_confirmed_at", None) is None
        and not getattr(user, "is_moderator", False)
    )


def email_confirmed_check(*, user: Any) -> None:
    """Refuse a download or an upload to a member who must confirm their address first (EmailNotConfirmed, 403)."""
    if email_confirmation_pending(user):
        raise EmailNotConfirmed()


def _same_address(a: str, b: str) -> bool:
    """Django's comparison for resets (CVE-2019-19844): NFKC and casefold, so that "ß" never matches "ss" by accident."""
    return unicodedata.normalize("NFKC", a).casefold() == unicodedata.normalize("NFKC", b).casefold()


def password_reset_request(*, email: str, request: HttpRequest | None = None) -> None:
    """Mail a password reset link to each active, unbanned account at `email`; the same for an address no account has.

    The caller answers the same whatever happens here (a mail sent, none,
    or one the server refused), so no answer tells whether an account has
    the address. Each account at the address gets its own mail, sent to the
    address as the account stores it. 429 past EMAIL_SEND_LIMIT requests an
    hour per client IP or per address, known or not.
    """
    password_reset_budget_spend(email=email, request=request)
    address = email.strip()
    if not address:
        return
    members = User.objects.filter(email__iexact=address, is_active=True, is_banned=False).order_by("pk")
    for user in members:
        if not user.has_usable_password() or not _same_address(address, user.email):
            continue
        path = reverse("web:password-reset-confirm", kwargs={"uidb64": uid_encode(user), "token": reset_tokens.make_token(user)})
        link = f"{settings.SITE_URL}{path}"
        _send(RESET_MAIL, user=user, context={"link": link, "valid_for": _hours(settings.PASSWORD_RESET_TIMEOUT)})


def password_reset_user(*, uid: Any, token: Any, request: HttpRequest | None = None) -> User:
    """The member a password reset link is for, if it still works (422 on `token` otherwise; 429 past the limit)."""
    link_budget_spend(request=request)
    user = _link_user(uid=uid, token=token, tokens=reset_tokens)
    if user.is_banned:
        raise Invalid(LINK_INVALID, details={"token": [LINK_INVALID]})
    return user


def password_reset_confirm(*, uid: Any, token: Any, new_password: str, request: HttpRequest | None = None) -> User:
    """Set the password of the member whose reset link this is; the link dies with it.

    A bad, expired, used or forged link: 422 on `token`. A password Django's
    validators refuse: 422 on `new_password`. Saving the password ends every
    API token and every session the member had (accounts.models.User.save).
    The mail reached them, so their address counts as confirmed from now on.
    """
    user = password_reset_user(uid=uid, token=token, request=request)
    try:
        validate_password(new_password, user=user)
    except DjangoValidationError as exc:
        raise Invalid(details={"new_password": list(exc.messages)}) from None
    with transaction.atomic():
        # Checked again on the locked row: of two uses of one link at once, the second sees the new password and fails.
        user = User.objects.select_for_update().get(pk=user.pk)
        if not reset_tokens.check_token(user, token):
            raise Invalid(LINK_INVALID, details={"token": [LINK_INVALID]})
        user.set_password(new_password)
        fields = ["password"]
        if user.email_confirmed_at is None:
            user.email_confirmed_at = timezone.now()
            fields.append("email_confirmed_at")
        user.save(update_fields=fields)
    return user
