"""The API's error codes, and the exception that carries one for errors only the API raises."""

from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    """Every error the API answers with; each has one fixed HTTP status."""

    BAD_REQUEST = "BAD_REQUEST"
    UNAUTHORIZED = "UNAUTHORIZED"
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    ACCOUNT_BANNED = "ACCOUNT_BANNED"
    TOKEN_INVALID = "TOKEN_INVALID"
    TWO_FACTOR_REQUIRED = "TWO_FACTOR_REQUIRED"
    FORBIDDEN = "FORBIDDEN"
    NOT_FOUND = "NOT_FOUND"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    CONFLICT = "CONFLICT"
    INSUFFICIENT_POINTS = "INSUFFICIENT_POINTS"
    INSUFFICIENT_INVITES = "INSUFFICIENT_INVITES"
    DOWNLOAD_SUSPENDED = "DOWNLOAD_SUSPENDED"
    EMAIL_NOT_CONFIRMED = "EMAIL_NOT_CONFIRMED"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
    VALIDATION_ERROR = "VALIDATION_ERROR"
    RATE_LIMIT_EXCEEDED = "RATE_LIMIT_EXCEEDED"
    SERVER_ERROR = "SERVER_ERROR"
    EMAIL_NOT_SENT = "EMAIL_NOT_SENT"

    @property
    def status(self) -> int:
        """The HTTP status this code is always sent with."""
        return _STATUS[self]

    @property
    def default_message(self) -> str:
        """The message used when the raiser gives none."""
        return _MESSAGES[self]


_STATUS = {
    ErrorCode.BAD_REQUEST: 400,
    ErrorCode.UNAUTHORIZED: 401,
    ErrorCode.INVALID_CREDENTIALS: 401,
    ErrorCode.ACCOUNT_BANNED: 403,
    ErrorCode.TOKEN_INVALID: 401,
    ErrorCode.TWO_FACTOR_REQUIRED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.METHOD_NOT_ALLOWED: 405,
    ErrorCode.CONFLICT: 409,
    ErrorCode.INSUFFICIENT_POINTS: 409,
    ErrorCode.INSUFFICIENT_INVITES: 409,
    ErrorCode.DOWNLOAD_SUSPENDED: 403,
    ErrorCode.EMAIL_NOT_CONFIRMED: 403,
    ErrorCode.PAYLOAD_TOO_LARGE: 413,
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: 415,
    ErrorCode.VALIDATION_ERROR: 422,
    ErrorCode.RATE_LIMIT_EXCEEDED: 429,
    ErrorCode.SERVER_ERROR: 500,
    ErrorCode.EMAIL_NOT_SENT: 503,
}

_MESSAGES = {
    ErrorCode.BAD_REQUEST: "The request could not be understood.",
    ErrorCode.UNAUTHORIZED: "Authentication credentials were not provided.",
    ErrorCode.INVALID_CREDENTIALS: "Invalid username or password.",
    # The login page says the same (web.forms).
    ErrorCode.ACCOUNT_BANNED: "This account is banned.",
    ErrorCode.TOKEN_INVALID: "The token is invalid or expired.",
    ErrorCode.TWO_FACTOR_REQUIRED: "Two-factor login: send a code from your app with this challenge to POST /api/login/2fa.",
    ErrorCode.FORBIDDEN: "You do not have permission to perform this action.",
    ErrorCode.NOT_FOUND: "Resource not found.",
    ErrorCode.METHOD_NOT_ALLOWED: "Method not allowed.",
    ErrorCode.CONFLICT: "The resource already exists or conflicts with another.",
    ErrorCode.INSUFFICIENT_POINTS: "You do not have enough bonus points.",
    ErrorCode.INSUFFICIENT_INVITES: "You have no invites left.",
    ErrorCode.DOWNLOAD_SUSPENDED: "Your download rights are suspended.",
    ErrorCode.EMAIL_NOT_CONFIRMED: "Confirm your email address first.",
    ErrorCode.PAYLOAD_TOO_LARGE: "The request body is too large.",
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: "Unsupported media type.",
    ErrorCode.VALIDATION_ERROR: "Validation failed",
    ErrorCode.RATE_LIMIT_EXCEEDED: "Too many requests. Please slow down.",
    ErrorCode.SERVER_ERROR: "Internal server error.",
    ErrorCode.EMAIL_NOT_SENT: "The mail could not be sent just now. Try again in a few minutes.",
}


class ApiError(Exception):
    """An error with a code, a message for the client and optional details.

    For what only the API says (a bad token, a wrong password, a rate
    limit): the business logic raises core.errors instead, which the
    exception handler maps to their codes (api.exceptions.DOMAIN_CODES).
    """

    code: ErrorCode = ErrorCode.BAD_REQUEST

    def __init__(
        self,
        message: str | None = None,
        *,
        code: ErrorCode | None = None,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        if code is not None:
            self.code = code
        self.message = message or self.code.default_message
        self.details = details or {}
        self.headers = headers or {}
        super().__init__(self.message)


class InvalidCredentials(ApiError):
    """401: the username or password is wrong (one message for both)."""

    code = ErrorCode.INVALID_CREDENTIALS


class AccountBanned(ApiError):
    """403: the password is right, but the account is banned (said only to who knows the password)."""

    code = ErrorCode.ACCOUNT_BANNED


class TokenInvalid(ApiError):
    """401: a bad, expired or revoked token."""

    code = ErrorCode.TOKEN_INVALID


class TwoFactorRequired(ApiError):
    """401: the password is right and the account has two-factor login: `details` carries the challenge for POST /api/login/2fa."""

    code = ErrorCode.TWO_FACTOR_REQUIRED


class RateLimitExceeded(ApiError):
    """429: too many requests in the current window."""

    code = ErrorCode.RATE_LIMIT_EXCEEDED


class EmailNotSent(ApiError):
    """503: the mail server did not take a mail the member asked for; nothing is lost by asking again later."""

    code = ErrorCode.EMAIL_NOT_SENT
