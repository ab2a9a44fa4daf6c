"""Invites: who may register (REGISTRATION_MODE), single-use codes members send by email, and their redemption.

A member with invites left (`User.invites`: granted by operators, bought in
the bonus store) creates an invite to an address: a random code, shown to
them once and mailed to the address, stored only as its SHA-256. Moderators
and admins invite without spending (INVITES_UNLIMITED_FOR_STAFF). Each code
opens one account, before it expires (INVITE_EXPIRY_DAYS) and unless its
sender revoked it (which gives the invite back). The new member's
`invited_by` is the sender: the edges of the invite tree
(accounts.invite_tree).

Registration checks a code inside the transaction that inserts the member,
with a conditional UPDATE, so one code never opens two accounts however many
registrations race for it; wrong codes are counted per client IP before
they are checked (core.attempts), INVITE_FAILURE_LIMIT a minute.
"""

import logging
import secrets
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from django.conf import settings
from django.contrib.auth.base_user import BaseUserManager
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils import timezone

from accounts.models import Invite, User, invite_code_hash
from core.attempts import Attempt, attempt_start, attempt_succeeded
from core.errors import Conflict, Forbidden, Invalid, NoInvitesLeft, NotFound, Throttled, pk_parse
from core.listing import ListSpec
from core.net import client_ip

logger = logging.getLogger("accounts")

# REGISTRATION_MODE's values.
OPEN, INVITE, CLOSED = "open", "invite", "closed"

# Every invite code starts with this (a code is told from an API key, tpk_, at a glance); 32 random characters follow.
INVITE_CODE_PREFIX = "tpi_"
# Longer than any code we issue: anything longer is not looked up at all.
INVITE_CODE_MAX_LENGTH = 100
# One message for every bad code (unknown, expired, revoked, used): it must not tell a guesser which.
INVITE_INVALID = "This invite code is invalid or has expired."
INVITE_REQUIRED = "Registration needs an invite code."
INVITE_FAILURE_GROUP = "invite-failures"

# An invite's state, as the lists show it.
PENDING, USED, REVOKED, EXPIRED = "pending", "used", "revoked", "expired"
INVITE_STATES = (PENDING, USED, REVOKED, EXPIRED)

# The member's invites (GET /api/me/invites, the profile): newest first.
INVITE_LIST = ListSpec(sorts={"created_at": "created_at", "expires_at": "expires_at"}, default_sort="created_at", default_order="desc")
# The most invites an admin may give one member through the API (a count, not a table to fill).
INVITES_GRANT_MAX = 10_000


def registration_mode() -> str:
    """open, invite or closed (REGISTRATION_MODE)."""
    return str(settings.REGISTRATION_MODE)


def registration_check(*, invite: str) -> str:
    """Whether a registration may go ahead under REGISTRATION_MODE: the invite code it carries, stripped.

    Closed: 403. Invite: 422 on `invite` without a code. Open: a code is
    optional, and honoured when given (it records the inviter).
    """
    mode = registration_mode()
    if mode == CLOSED:
        raise Forbidden("Registration is closed.")
    code = (invite or "").strip()
    if mode == INVITE and not code:
        raise Invalid(details={"invite": [INVITE_REQUIRED]})
    return code


def invites_unlimited(user: Any) -> bool:
    """Whether `user` sends invites without spending any: moderators and admins, while INVITES_UNLIMITED_FOR_STAFF."""
    return bool(settings.INVITES_UNLIMITED_FOR_STAFF and getattr(user, "is_moderator", False))


def invite_state(invite: Invite, now: datetime | None = None) -> str:
    """pending, used, revoked or expired: what the invite is now (a used one stays used, whatever its expiry)."""
    if invite.used_at is not None:
        return USED
    if invite.revoked_at is not None:
        return REVOKED
    return EXPIRED if invite.expires_at <= (now or timezone.now()) else PENDING


def invite_state_q(state: str, now: datetime) -> Q:
    """The invites in `state` (one of INVITE_STATES) at `now`, as a filter."""
    unused = Q(used_at__isnull=True)
    return {
        USED: Q(used_at__isnull=False),
        REVOKED: unused & Q(revoked_at__isnull=False),
        EXPIRED: unused & Q(revoked_at__isnull=True, expires_at__lte=now),
        PENDING: unused & Q(revoked_at__isnull=True, expires_at__gt=now),
    }[state]


def invite_list(*, user: Any, state: str | None = None) -> QuerySet[Invite]:
    """`user`'s invites with their invitees, newest first; only those in `state` when given (Invalid for an unknown one)."""
    invites = Invite.objects.filter(inviter=user).select_related("used_by").order_by("-created_at", "-id")
    if state:
        if state not in INVITE_STATES:
            raise Invalid(details={"state": [f"Unknown state {state!r}. Allowed: {', '.join(INVITE_STATES)}."]})
        invites = invites.filter(invite_state_q(state, timezone.now()))
    return invites


class NewInvite(NamedTuple):
    """An invite just made: its row, the code (shown to the sender this once, never stored), its link, and whether the mail went."""

    invite: Invite
    code: str
    link: str
    emailed: bool


def invite_link(code: str) -> str:
    """The registration page with the code filled in, on the site's address (SITE_URL; the announce base until it is set)."""
    base = str(getattr(settings, "SITE_URL", "") or settings.TRACKER_ANNOUNCE_URL).rstrip("/")
    return f"{base}/register/?invite={code}"


def _email_clean(email: str) -> str:
    email = BaseUserManager.normalize_email((email or "").strip())
    try:
        validate_email(email)
    except DjangoValidationError:
        raise Invalid(details={"email": ["Enter a valid email address."]}) from None
    if len(email) > 254:
        raise Invalid(details={"email": ["Ensure this field has no more than 254 characters."]})
    return email


def invite_create(*, inviter: User, email: str) -> NewInvite:
    """A new invite from `inviter` to `email`, mailed there; its code is in the answer only (stored hashed).

    Spends one of the inviter's invites (not for staff while
    INVITES_UNLIMITED_FOR_STAFF) with a conditional UPDATE, in the same
    transaction as the row: two creations at once with one invite left make
    exactly one invite, the other is NoInvitesLeft (409). 403 while
    registration is closed (no code could be used). A mail that cannot be
    sent does not undo the invite: `emailed` is False and the sender passes
    the code on themselves.
    """
    if registration_mode() == CLOSED:
        raise Forbidden("Registration is closed: an invite could not be used.")
    email = _email_clean(email)
    code = f"{INVITE_CODE_PREFIX}{secrets.token_urlsafe(24)}"
    now = timezone.now()
    with transaction.atomic():
        if not invites_unlimited(inviter):
            spent = User.objects.filter(pk=inviter.pk, invites__gt=0).update(invites=F("invites") - 1)
            if not spent:
                raise NoInvitesLeft()
        invite = Invite.objects.create(
            inviter=inviter, email=email, code_hash=invite_code_hash(code), expires_at=now + timedelta(days=settings.INVITE_EXPIRY_DAYS)
        )
    inviter.refresh_from_db(fields=["invites"])
    link = invite_link(code)
    return NewInvite(invite, code, link, _invite_mail(invite=invite, inviter=inviter, link=link))


def _invite_mail(*, invite: Invite, inviter: User, link: str) -> bool:
    """Mail the invite's link to its address; False (and a warning that names neither the code nor the address) if it fails."""
    context = {"inviter": inviter.username, "link": link, "expires_at": invite.expires_at}
    subject = " ".join(render_to_string("email/invite_subject.txt", context).split())
    body = render_to_string("email/invite.txt", context)
    try:
        send_mail(subject, body, None, [invite.email])
    except Exception as exc:  # the mail server is down or refuses: the invite stands, its sender is told
        logger.warning("invite %s: its mail could not be sent (%s)", invite.pk, type(exc).__name__)
        return False
    return True


def invite_revoke(*, inviter: User, pk: object) -> Invite:
    """Revoke `inviter`'s unused invite `pk` (its code stops working) and give the invite back.

    Another member's invite is 404; a used one 409. Revoking twice changes
    nothing. An expired invite may be revoked too, to get it back.
    """
    invite = _invite_revoked(Invite.objects.filter(inviter=inviter, pk=pk_parse(pk, "No such invite.")))
    inviter.refresh_from_db(fields=["invites"])
    return invite


def invite_revoke_any(*, invite: Invite) -> Invite:
    """Revoke `invite` whoever sent it (the operators' admin site); the sender gets it back. A used one is Conflict."""
    return _invite_revoked(Invite.objects.filter(pk=invite.pk))


def _invite_revoked(invites: QuerySet[Invite]) -> Invite:
    """Revoke the one invite in `invites` under its row lock, so that a registration using it at once either wins or fails."""
    with transaction.atomic():
        invite = invites.select_for_update().select_related("inviter").first()
        if invite is None:
            raise NotFound("No such invite.")
        if invite.used_at is not None:
            raise Conflict("This invite was used: it cannot be revoked.")
        if invite.revoked_at is None:
            invite.revoked_at = timezone.now()
            invite.save(update_fields=["revoked_at"])
            if not invites_unlimited(invite.inviter):  # what staff sent cost nothing, so nothing comes back
                User.objects.filter(pk=invite.inviter_id).update(invites=F("invites") + 1)
    return invite


def invite_guess_start(*, request: HttpRequest | None) -> Attempt:
    """Count a registration's invite code against its client's IP before the code is checked (Throttled, 429, past the limit).

    INVITE_FAILURE_LIMIT wrong codes a minute per IP; a right code is given
    back (invite_redeem). Without a request nothing is counted.
    """
    if request is None:
        return Attempt()
    attempt = attempt_start(group=INVITE_FAILURE_GROUP, ident=f"ip:{client_ip(request)}", limit=settings.INVITE_FAILURE_LIMIT)
    if attempt.retry_after is not None:
        raise Throttled(f"Too many invalid invite codes. Try again in {attempt.retry_after} seconds.", retry_after=attempt.retry_after)
    return attempt


def invite_redeem(*, code: str, user: User, guess: Attempt | None = None) -> Invite:
    """Use invite `code` for the new member `user` (inside the transaction that inserted them): they are its sender's invitee.

    The code must be pending (unused, unrevoked, unexpired) and its sender
    still a member in good standing (not banned, active); otherwise Invalid on
    `invite` with one message for every case. It is claimed by an UPDATE
    whose WHERE says it is still unused: of two registrations racing with one
    code, the second finds nothing to claim (PostgreSQL re-checks the row
    once the first commits; SQLite runs them one after the other), fails, and
    its transaction, with its member, is rolled back. A good code gives
    back its `guess` (invite_guess_start): it is not held against the client.
    """
    invalid = Invalid(details={"invite": [INVITE_INVALID]})
    if not code.startswith(INVITE_CODE_PREFIX) or len(code) > INVITE_CODE_MAX_LENGTH:
        raise invalid
    now = timezone.now()
    invite = Invite.objects.select_related("inviter").filter(code_hash=invite_code_hash(code)).first()
    if invite is None or invite_state(invite, now) != PENDING or not invite.inviter.can_log_in:
        raise invalid
    claimed = Invite.objects.filter(pk=invite.pk, used_at__isnull=True, revoked_at__isnull=True, expires_at__gt=now).update(
        used_by=user, used_at=now
    )
    if claimed != 1:
        raise invalid
    User.objects.filter(pk=user.pk).update(invited_by=invite.inviter)
    user.invited_by = invite.inviter
    invite.used_by, invite.used_at = user, now
    if guess is not None:
        attempt_succeeded(guess)
    return invite


def user_set_invites(*, user: User, invites: int) -> User:
    """Set how many invites `user` may still send (an admin's grant): 0 to INVITES_GRANT_MAX."""
    if not 0 <= invites <= INVITES_GRANT_MAX:
        raise Invalid(details={"invites": [f"Give between 0 and {INVITES_GRANT_MAX} invites."]})
    User.objects.filter(pk=user.pk).update(invites=invites)
    user.invites = invites
    return user
