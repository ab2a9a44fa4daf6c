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


def pk_parse(pk: Any, message: str | None = None) -> int:
    """A primary key from a URL as an int; anything that is not a positive bigint is simply not found (NotFound(message))."""
    try:
        value = int(pk)
    except (TypeError, ValueError):
        raise NotFound(message) from None
    if not 0 < value < 2**63:
        raise NotFound(message)
    return value
