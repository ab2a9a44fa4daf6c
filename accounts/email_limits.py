"""How often mail may be asked for, and mailed links tried: hourly budgets in the shared cache.

Each budget is django-ratelimit's fixed window (an hour here), counted with
an atomic add-or-incr in Django's default cache: Redis when REDIS_URL is set,
so every process and machine shares one count. A request is counted before
anything is looked up, whether or not an account has the address it names,
so the answer to an unknown address is the same as to a known one, 429
included. If the cache is unreachable the budgets fail open, as the API's
rate limit does, and say so in the log.
"""

import logging

from django.conf import settings
from django.http import HttpRequest
from django_ratelimit.core import get_usage

from core.errors import Throttled
from core.net import client_ip

logger = logging.getLogger("api.ratelimit")  # the name operators filter on (README)

PASSWORD_RESET_GROUP = "email-password-reset"
CONFIRMATION_GROUP = "email-confirmation-send"
LINK_GROUP = "email-link"


def _spend(*, group: str, idents: list[str], limit: int, message: str) -> None:
    """Count one request against each of `idents`' hourly budget in `group`; Throttled when any is past `limit`."""
    retry_after: int | None = None
    for ident in idents:
        try:
            usage = get_usage(None, group=group, key=lambda _group, _request, ident=ident: ident, rate=f"{limit}/h", increment=True)
        except Exception:  # the cache is down: fail open, like the API's rate limit
            logger.warning("%s budget cache unreachable; failing open", group, exc_info=True)
            continue
        if usage is not None and usage["should_limit"]:
            retry_after = max(retry_after or 1, int(usage["time_left"]))
    if retry_after is not None:
        raise Throttled(message, retry_after=retry_after)


def _ip(request: HttpRequest | None) -> list[str]:
    return [f"ip:{client_ip(request)}"] if request is not None else []


def password_reset_budget_spend(*, email: str, request: HttpRequest | None) -> None:
    """Count a password reset request per client IP and per address (any case): EMAIL_SEND_LIMIT an hour each.

    The address's budget keeps anyone from flooding one inbox from many
    addresses; the IP's keeps one client from trying address after address.
    """
    _spend(
        group=PASSWORD_RESET_GROUP,
        idents=[*_ip(request), f"email:{email.strip().casefold()}"],
        limit=settings.EMAIL_SEND_LIMIT,
        message="Too many password reset requests. Try again later.",
    )


def confirmation_budget_spend(*, user_pk: int, request: HttpRequest | None) -> None:
    """Count a request for another confirmation mail, per member and per client IP: EMAIL_SEND_LIMIT an hour each."""
    _spend(
        group=CONFIRMATION_GROUP,
        idents=[f"user:{user_pk}", *_ip(request)],
        limit=settings.EMAIL_SEND_LIMIT,
        message="Too many confirmation mails asked for. Try again later.",
    )


def link_budget_spend(*, request: HttpRequest | None) -> None:
    """Count one try of a mailed link (confirmation or password reset) from this client: EMAIL_LINK_ATTEMPT_LIMIT an hour.

    The tokens are HMACs no one guesses; this keeps a client from trying
    many, and a script from using the check as an oracle at any speed.
    """
    _spend(
        group=LINK_GROUP,
        idents=_ip(request),
        limit=settings.EMAIL_LINK_ATTEMPT_LIMIT,
        message="Too many tries of mailed links. Try again later.",
    )
