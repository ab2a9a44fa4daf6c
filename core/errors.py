"""Errors the business logic raises, with no HTTP in them.

Services and selectors raise these; each front decides what they look like:
the API maps each class to its ErrorCode and status (api.exceptions), the
pages to an error page or a message beside a form field (web.errors).
"""

from typing import Any


class DomainError(Exception):
    """A refusal with a message for the person asking and optional details.

    `details` maps a field name to a list of messages (or, for a conflict,
    to what it conflicts with).
    """

    default_message = "The request could not be carried out."

    def __init__(self, message: str | None = None, *, details: dict[str, Any] | None = None) -> None:
        self.message = message or self.default_message
        self.details = details or {}
        super().__init__(self.message)


class NotFound(DomainError):
    """No such thing, or not one the caller may see."""

    default_message = "Resource not found."


class Forbidden(DomainError):
    """A known caller who may not do this."""

    default_message = "You do not have permission to perform this action."


class Conflict(DomainError):
    """The thing exists already, or something still depends on it."""

    default_message = "The resource already exists or conflicts with another."


class Invalid(DomainError):
    """The input is not acceptable; `details` says which field and why."""

    default_message = "Validation failed"


class TooLarge(DomainError):
    """The input is over a configured size limit."""

    default_message = "The request body is too large."


class InsufficientPoints(Conflict):
    """A purchase the member's bonus points do not cover (a conflict with their balance)."""

    default_message = "You do not have enough bonus points."


class DownloadSuspended(Forbidden):
    """The member has lost download rights under the site's rules (ratio watch ended, hit-and-run warnings)."""

    default_message = "Your download rights are suspended."


class EmailNotConfirmed(Forbidden):
    """A member who has not confirmed their email address yet (EMAIL_CONFIRMATION_REQUIRED): no downloads, no uploads.

    The message is the one every front shows (API, pages, feeds): it says what to do.
    """

    default_message = (
        "Confirm your email address first: follow the link in the mail we sent you, "
        "or ask for a new one on your profile. Until then you cannot download or upload torrents."
    )


class NoInvitesLeft(Conflict):
    """An invite the member has none left to send (a conflict with their count, as InsufficientPoints is with their balance)."""

    default_message = "You have no invites left."


class Throttled(DomainError):
    """Too many guesses of a secret (a code, a key) from one client: nothing more is checked for `retry_after` seconds."""

    default_message = "Too many attempts. Try again later."

    def __init__(self, message: str | None = None, *, retry_after: int, details: dict[str, Any] | None = None) -> None:
        super().__init__(message, details=details)
        self.retry_after = max(1, int(retry_after))


def pk_parse(pk: Any, message: str | None = None) -> int:
    """A primary key from a URL as an int; anything that is not a positive bigint is simply not found (NotFound(message))."""
    try:
        value = int(pk)
    except (TypeError, ValueError):
        raise NotFound(message) from None
    if not 0 < value < 2**63:
        raise NotFound(message)
    return value
