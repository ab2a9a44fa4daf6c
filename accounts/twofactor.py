"""Two-factor login (TOTP, RFC 6238): enrolment, recovery codes, checking a code, and the login challenge.

A member turns it on in two steps: `two_factor_enrol_start`, given their
current password, makes a secret (shown as text, as an otpauth:// URI and as
a QR code drawn here), and
`two_factor_enrol_confirm` takes a code from the app, switches it on and hands
out ten single-use recovery codes, once. From then on the right password earns
a login challenge (`login_challenge_issue`: signed, short-lived, good for that
one login) instead of a session or a token; the challenge with a right code
completes the login. Every code checked at login, every password checked to
start a set-up, and every password-and-code check that turns it off or renews
the recovery codes, is counted as a login attempt on the member's username
(accounts.services.login_attempt_start), so guessing codes meets the lock-out
that guessing passwords does, shared by the API, the login page and the admin.
Each wrong code is counted in core.metrics.LOGIN_FAILURES as "code", each wrong
password checked here as "password" (user.check_password sends no
user_login_failed signal, which counts authenticate's).
"""

import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import pyotp
import segno
from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone
from pyotp.exceptions import OTPVerificationError

from accounts.models import RecoveryCode, TwoFactorDevice, User, recovery_code_hash
from accounts.services import LoginAttempt, login_attempt_start, login_attempt_succeeded
from core.errors import Conflict, Invalid, Throttled
from core.metrics import LOGIN_FAILURES

logger = logging.getLogger("accounts")

TOTP_DIGITS = 6
TOTP_INTERVAL = 30
# A code of the step before or after the current one counts too: a phone's clock a little off, a code sent as it turned.
TOTP_VALID_WINDOW = 1
RECOVERY_CODE_COUNT = 10
# Crockford's base32 (no i, l, o, u): twelve of them are 60 random bits, typed or read out without confusion.
RECOVERY_CODE_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
RECOVERY_CODE_LENGTH = 12
# Longer input is no code of ours: refused before any work is done on it.
CODE_MAX_LENGTH = 64
LOCKED_OUT_MESSAGE = "Too many failed logins. Try again later."
WRONG_CODE_MESSAGE = "This code is wrong, expired or used already."
WRONG_PASSWORD_MESSAGE = "Your password is wrong."
ENABLED_ALREADY_MESSAGE = "Two-factor login is on already; turn it off first to set up another app."
_CHALLENGE_SALT = "accounts.twofactor.login-challenge"
_TOTP_CODE = re.compile(rf"[0-9]{{{TOTP_DIGITS}}}")
# What people type for the letters Crockford's alphabet leaves out, and the separators they add.
_RECOVERY_TYPOS = str.maketrans({"o": "0", "i": "1", "l": "1", "-": None, " ": None})


def is_staff_member(user: Any) -> bool:
    """Moderators, admins and Django staff: whom TWO_FACTOR_REQUIRED_FOR_STAFF is about."""
    return bool(user.is_staff or user.is_superuser or user.is_moderator)


def two_factor_enabled(user: Any) -> bool:
    """Whether `user` logs in with a code besides the password (an enrolment was confirmed)."""
    return TwoFactorDevice.objects.filter(user=user, confirmed_at__isnull=False).exists()


def two_factor_required(user: Any) -> bool:
    """Whether `user` must turn two-factor login on before anything else: staff under TWO_FACTOR_REQUIRED_FOR_STAFF without it.

    Asks the database only when the setting is on and the user is staff, so it
    costs nothing on an ordinary member's request.
    """
    if not settings.TWO_FACTOR_REQUIRED_FOR_STAFF or not getattr(user, "is_authenticated", False):
        return False
    return is_staff_member(user) and not two_factor_enabled(user)


@dataclass(frozen=True)
class TwoFactorStatus:
    """A member's two-factor login as they see it: on since when, recovery codes left, and whether the site requires it of them."""

    enabled: bool
    enabled_at: datetime | None
    recovery_codes_left: int
    required: bool


def two_factor_status(*, user: User) -> TwoFactorStatus:
    """Whether `user` has two-factor login on, since when, how many recovery codes they have left, whether they must turn it on."""
    device = TwoFactorDevice.objects.filter(user=user, confirmed_at__isnull=False).first()
    left = RecoveryCode.objects.filter(user=user, used_at__isnull=True).count() if device is not None else 0
    required = bool(settings.TWO_FACTOR_REQUIRED_FOR_STAFF and is_staff_member(user) and device is None)
    enabled_at = device.confirmed_at if device is not None else None
    return TwoFactorStatus(enabled=device is not None, enabled_at=enabled_at, recovery_codes_left=left, required=required)


@dataclass(frozen=True)
class Enrolment:
    """What an authenticator app needs: the secret as text and as an otpauth:// URI, and that URI as a QR code.

    `qr_code` is an SVG in a data: URI (the pages' CSP allows img-src data:),
    drawn here, so that no other service ever sees the secret.
    """

    secret: str
    otpauth_uri: str
    qr_code: str


def _totp(secret: str) -> pyotp.TOTP:
    return pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_INTERVAL)


def _issuer() -> str:
    """The name the app shows above the account: TWO_FACTOR_ISSUER, else the tracker's host."""
    return settings.TWO_FACTOR_ISSUER or urlsplit(settings.TRACKER_ANNOUNCE_URL).hostname or "TorrentPier"


def _enrolment(user: User, secret: str) -> Enrolment:
    uri = _totp(secret).provisioning_uri(name=user.get_username(), issuer_name=_issuer())
    qr_code = segno.make(uri, error="m").svg_data_uri(scale=5, dark="#000", light="#fff")  # dark on white in dark mode too
    return Enrolment(secret=secret, otpauth_uri=uri, qr_code=qr_code)


def two_factor_enrol_start(*, request: HttpRequest | None, user: User, password: str) -> Enrolment:
    """A new secret for `user`'s authenticator app, not in force until a code from it confirms it (two_factor_enrol_confirm).

    Only with the member's current `password`, so that a stolen session alone
    cannot put its own phone on the account and shut the owner out: 422 on
    `password` if wrong, counted as a failed login (Throttled past the
    lock-out, before the password is looked at). 409 if two-factor login is
    on already (turn it off first), before any password is checked. A set-up
    left unconfirmed is replaced, so only the secret last shown can be confirmed.
    """
    if two_factor_enabled(user):
        raise Conflict(ENABLED_ALREADY_MESSAGE)
    login_attempt_succeeded(_password_check(request, user, password))
    secret = pyotp.random_base32()  # 32 characters: 160 bits, RFC 4226's recommended length
    try:
        with transaction.atomic():
            if TwoFactorDevice.objects.filter(user=user, confirmed_at__isnull=False).exists():
                raise Conflict(ENABLED_ALREADY_MESSAGE)
            TwoFactorDevice.objects.filter(user=user).delete()
            TwoFactorDevice.objects.create(user=user, secret=secret)
    except IntegrityError:  # another set-up of the same member committed in between
        raise Conflict("Another set-up started at the same time; start again.") from None
    return _enrolment(user, secret)


def two_factor_enrolment_pending(*, user: User) -> Enrolment | None:
    """The set-up `user` started and has not confirmed yet (to show its QR code again), or None."""
    device = TwoFactorDevice.objects.filter(user=user, confirmed_at__isnull=True).first()
    return _enrolment(user, device.secret) if device is not None else None


def _totp_step(secret: str, code: str) -> int | None:
    """The time step `code` belongs to, within TOTP_VALID_WINDOW steps of now; None if it is no current code of `secret`."""
    code = code.strip().replace(" ", "")
    if len(code) > CODE_MAX_LENGTH or not _TOTP_CODE.fullmatch(code):
        return None
    try:
        return int(_totp(secret).verify_and_get_timecode(code, valid_window=TOTP_VALID_WINDOW))
    except OTPVerificationError:
        return None


def _step_claim(device: TwoFactorDevice, step: int, **changes: Any) -> bool:
    """Record `step` as the device's last, in one conditional UPDATE: False if that step or a later one was used already.

    So a code is good once, also when two requests bring it at the same moment.
    """
    return TwoFactorDevice.objects.filter(pk=device.pk, last_step__lt=step).update(last_step=step, **changes) == 1


def _recovery_codes_new(user: User) -> list[str]:
    """A fresh set of RECOVERY_CODE_COUNT recovery codes for `user` (the old ones stop working), as the member is shown them."""
    RecoveryCode.objects.filter(user=user).delete()
    codes = ["".join(secrets.choice(RECOVERY_CODE_ALPHABET) for _ in range(RECOVERY_CODE_LENGTH)) for _ in range(RECOVERY_CODE_COUNT)]
    RecoveryCode.objects.bulk_create([RecoveryCode(user=user, code_hash=recovery_code_hash(code)) for code in codes])
    return [f"{code[:4]}-{code[4:8]}-{code[8:]}" for code in codes]


def two_factor_enrol_confirm(*, user: User, code: str, request: HttpRequest | None = None) -> list[str]:
    """Switch two-factor login on with a code from the app just set up; the recovery codes, shown this once.

    422 on `code` if it is not a current code of the new secret; 409 if no
    set-up is pending (never started, replaced, or confirmed already). Each
    code is counted as a login attempt first (Throttled past the lock-out),
    so that a stolen session cannot guess its way into a set-up the member
    left unfinished; a right one is given back.
    """
    device = TwoFactorDevice.objects.filter(user=user).first()
    if device is None or device.confirmed_at is not None:
        raise Conflict("Two-factor login is on already." if device is not None else "Start setting up two-factor login first.")
    attempt = _attempt_start(request, user)
    step = _totp_step(device.secret, code)
    with transaction.atomic():
        if step is None or not _step_claim(device, step, confirmed_at=timezone.now()):
            raise Invalid(details={"code": [WRONG_CODE_MESSAGE]})
        codes = _recovery_codes_new(user)
    login_attempt_succeeded(attempt)
    logger.info("two-factor login turned on for user %s", user.pk)
    return codes


def _recovery_code_spend(user: User, code: str) -> bool:
    """Spend one of `user`'s unused recovery codes, in one conditional UPDATE: False if `code` is none of them."""
    normalised = code.strip().lower().translate(_RECOVERY_TYPOS)
    if len(normalised) != RECOVERY_CODE_LENGTH or not set(normalised) <= set(RECOVERY_CODE_ALPHABET):
        return False
    unused = RecoveryCode.objects.filter(user=user, code_hash=recovery_code_hash(normalised), used_at__isnull=True)
    return unused.update(used_at=timezone.now()) == 1


def two_factor_code_valid(*, user: User, code: str) -> bool:
    """Whether `code` is a current code of `user`'s app, or one of their unused recovery codes (then spent); each works once.

    Counts nothing: the callers below count the attempt first.
    """
    if len(code) > CODE_MAX_LENGTH:
        return False
    device = TwoFactorDevice.objects.filter(user=user, confirmed_at__isnull=False).first()
    if device is None:
        return False
    step = _totp_step(device.secret, code)
    if step is not None:
        return _step_claim(device, step)
    return _recovery_code_spend(user, code)


def _attempt_start(request: HttpRequest | None, user: User) -> LoginAttempt:
    """Count a guess at `user`'s secrets as a login attempt (per username and per IP); Throttled (429) once locked out."""
    attempt = login_attempt_start(request=request, username=user.get_username())
    if attempt.retry_after is not None:
        raise Throttled(LOCKED_OUT_MESSAGE, retry_after=attempt.retry_after)
    return attempt


def two_factor_login_check(*, request: HttpRequest | None, user: User, code: str) -> bool:
    """The second step of a login: whether `code` is right for `user`.

    Counted as a login attempt before the check (Throttled past the lock-out)
    and given back when right, as a password is in the first step.
    """
    attempt = _attempt_start(request, user)
    if not two_factor_code_valid(user=user, code=code):
        LOGIN_FAILURES.labels("code").inc()
        return False
    login_attempt_succeeded(attempt)
    return True


def _password_check(request: HttpRequest | None, user: User, password: str) -> LoginAttempt:
    """`user`'s current password, counted as a login attempt first: Throttled past the lock-out, 422 on `password` if wrong.

    The attempt is the caller's to give back (login_attempt_succeeded) once all
    it asks for is right; a wrong password stays counted, and is counted in the
    metric here, since check_password (unlike authenticate) sends no
    user_login_failed.
    """
    attempt = _attempt_start(request, user)
    if not user.check_password(password):
        LOGIN_FAILURES.labels("password").inc()
        raise Invalid(details={"password": [WRONG_PASSWORD_MESSAGE]})
    return attempt


def _password_and_code_check(*, request: HttpRequest | None, user: User, password: str, code: str) -> None:
    """Both factors, for a change to two-factor login itself: 409 if it is off, 422 naming the wrong one, Throttled past the lock-out.

    A stolen session alone cannot turn it off or read new recovery codes, and
    guesses here count as failed logins. The code is not looked at (nor a
    recovery code spent) while the password is wrong.
    """
    if not two_factor_enabled(user):
        raise Conflict("Two-factor login is not on.")
    attempt = _password_check(request, user, password)
    if not two_factor_code_valid(user=user, code=code):
        LOGIN_FAILURES.labels("code").inc()
        raise Invalid(details={"code": [WRONG_CODE_MESSAGE]})
    login_attempt_succeeded(attempt)


def two_factor_disable(*, request: HttpRequest | None, user: User, password: str, code: str) -> None:
    """Turn `user`'s two-factor login off, with their password and a code (or a recovery code); the recovery codes go too."""
    _password_and_code_check(request=request, user=user, password=password, code=code)
    two_factor_remove(user=user)


def two_factor_remove(*, user: User) -> None:
    """Turn `user`'s two-factor login off with no questions: the admin's action, for a member who lost app and codes."""
    with transaction.atomic():
        TwoFactorDevice.objects.filter(user=user).delete()
        RecoveryCode.objects.filter(user=user).delete()
    logger.info("two-factor login turned off for user %s", user.pk)


def two_factor_recovery_codes_regenerate(*, request: HttpRequest | None, user: User, password: str, code: str) -> list[str]:
    """New recovery codes for `user` (the old ones stop working), with their password and a code; shown this once."""
    _password_and_code_check(request=request, user=user, password=password, code=code)
    with transaction.atomic():
        codes = _recovery_codes_new(user)
    logger.info("new recovery codes for user %s", user.pk)
    return codes


def _last_login_mark(user: User) -> str:
    return user.last_login.isoformat() if user.last_login else ""


def login_challenge_issue(*, user: User) -> str:
    """A challenge for `user`, who gave the right password: it completes this one login with a code.

    Signed with SECRET_KEY under a salt of its own (so no other signed value
    passes for one), it lasts TWO_FACTOR_CHALLENGE_SECONDS and names the
    member's token version and last login: a password change or a ban voids it,
    and so does the login it completes (or any other), so it works once.
    """
    return signing.dumps({"u": user.pk, "v": user.token_version, "l": _last_login_mark(user)}, salt=_CHALLENGE_SALT)


def login_challenge_user(*, challenge: str) -> User | None:
    """The member a challenge from login_challenge_issue was made for, while it holds; None if forged, expired or spent."""
    try:
        data = signing.loads(challenge, salt=_CHALLENGE_SALT, max_age=settings.TWO_FACTOR_CHALLENGE_SECONDS)
    except signing.BadSignature:  # SignatureExpired is one
        return None
    if not isinstance(data, dict) or not isinstance(data.get("u"), int):
        return None
    user = User.objects.filter(pk=data["u"]).first()
    if user is None or not user.can_log_in or data.get("v") != user.token_version or data.get("l") != _last_login_mark(user):
        return None
    return user if two_factor_enabled(user) else None
