"""Where the site's mail goes (Django's MAILERS), from the environment: `EMAIL_URL`, the usual `EMAIL_*` variables, or the console.

`EMAIL_URL` says it in one value (`smtp://user:pass@host:587?tls=1`,
`smtps://user:pass@host`, `console:`); the `EMAIL_HOST`, `EMAIL_PORT`,
`EMAIL_HOST_USER`, `EMAIL_HOST_PASSWORD`, `EMAIL_USE_TLS` and `EMAIL_USE_SSL`
variables say the same in Django's own words. Setting both is refused: which
one wins would be a guess. With neither, mail is printed on the console, so
`make run` shows it. A bad value stops the process naming the variable, never
echoing the password.
"""

import os
import re
from dataclasses import dataclass
from email.utils import parseaddr
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

from torrentpier.env import env_bool, env_int, env_str

SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
CONSOLE_BACKEND = "django.core.mail.backends.console.EmailBackend"
# Seconds an SMTP connection may take: a mail server that hangs must not hold a request (and its worker) for ever.
DEFAULT_TIMEOUT = 10
_SMTP_VARIABLES = ("EMAIL_HOST", "EMAIL_PORT", "EMAIL_HOST_USER", "EMAIL_HOST_PASSWORD", "EMAIL_USE_TLS", "EMAIL_USE_SSL")
_URL_OPTIONS = {"tls", "ssl", "timeout"}
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


@dataclass(frozen=True)
class MailConfig:
    """Where mail goes: a backend and, for SMTP, the server and how to talk to it."""

    backend: str = CONSOLE_BACKEND
    host: str = "localhost"
    port: int = 25
    user: str = ""
    password: str = ""
    use_tls: bool = False
    use_ssl: bool = False
    timeout: int = DEFAULT_TIMEOUT

    def mailer(self) -> dict[str, Any]:
        """The entry of Django's MAILERS setting (Django 6.1's successor of the EMAIL_* settings) this describes."""
        if self.backend != SMTP_BACKEND:
            return {"BACKEND": self.backend}
        options = {"host": self.host, "port": self.port, "use_tls": self.use_tls, "use_ssl": self.use_ssl, "timeout": self.timeout}
        if self.user or self.password:
            options |= {"username": self.user, "password": self.password}
        return {"BACKEND": self.backend, "OPTIONS": options}


def _bad(message: str) -> ImproperlyConfigured:
    return ImproperlyConfigured(f"EMAIL_URL {message}")


def _flag(options: dict[str, list[str]], name: str) -> bool:
    value = options.get(name, ["0"])[-1].strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise _bad(f"option {name}= must be 1 or 0; got {value!r}")


def _url_options(query: str) -> dict[str, list[str]]:
    try:
        options = parse_qs(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError:
        raise _bad("has a malformed query (use ?tls=1, ?ssl=1, ?timeout=SECONDS)") from None
    unknown = sorted(set(options) - _URL_OPTIONS)
    if unknown:
        raise _bad(f"has unknown options {unknown} (known: tls, ssl, timeout)")
    return options


def _timeout(options: dict[str, list[str]], default: int) -> int:
    raw = options.get("timeout", [str(default)])[-1]
    if not raw.isdigit() or int(raw) < 1:
        raise _bad(f"option timeout= must be a whole number of seconds, at least 1; got {raw!r}")
    return int(raw)


def email_url_parse(url: str, *, default_timeout: int = DEFAULT_TIMEOUT) -> MailConfig:
    """The mail settings an EMAIL_URL names: `smtp://[user[:password]@]host[:port][?tls=1|ssl=1][&timeout=S]`,
    `smtps://...` (TLS from the first byte, port 465), or `console:`.

    User and password are percent-decoded (`%40` for an `@` in a user name). A
    malformed value is ImproperlyConfigured naming EMAIL_URL; the message never
    holds the password, which is why the URL itself is never quoted in it.
    """
    scheme = url.split(":", 1)[0].strip().lower() if ":" in url else ""
    if scheme == "console":
        if url.strip().lower() not in ("console:", "console://"):
            raise _bad("console: takes nothing after the scheme")
        return MailConfig(timeout=default_timeout)
    if scheme not in ("smtp", "smtps"):
        # The scheme is named only when it looks like one: in "user:password@host" it would be the user name.
        named = repr(scheme) if "://" in url and re.fullmatch(r"[a-z][a-z0-9+.-]{0,15}", scheme) else "an unknown"
        raise _bad(f"must be smtp://..., smtps://... or console:; got {named} scheme")
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise _bad("has a malformed host or port") from None
    if not parts.hostname or port == 0:
        raise _bad("names no host, or port 0 (smtp://host:587)")
    if parts.path not in ("", "/") or parts.fragment:
        raise _bad("takes no path: smtp://user:password@host:port?tls=1")
    options = _url_options(parts.query)
    use_ssl = scheme == "smtps" or _flag(options, "ssl")
    use_tls = _flag(options, "tls")
    if use_ssl and use_tls:
        raise _bad("asks for both TLS from the start (smtps, ssl=1) and STARTTLS (tls=1); choose one")
    return MailConfig(
        backend=SMTP_BACKEND,
        host=parts.hostname,
        port=port or (465 if use_ssl else 587 if use_tls else 25),
        user=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        use_tls=use_tls,
        use_ssl=use_ssl,
        timeout=_timeout(options, default_timeout),
    )


def mail_config() -> MailConfig:
    """The mail settings of this process's environment (see the module's docstring)."""
    url = env_str("EMAIL_URL").strip()
    smtp_set = [name for name in _SMTP_VARIABLES if os.environ.get(name, "").strip()]
    if url and smtp_set:
        raise ImproperlyConfigured(f"EMAIL_URL and {', '.join(smtp_set)} are both set; set EMAIL_URL or the EMAIL_* variables, not both")
    timeout = env_int("EMAIL_TIMEOUT", DEFAULT_TIMEOUT, minimum=1)
    if url:
        return email_url_parse(url, default_timeout=timeout)
    if not smtp_set:
        return MailConfig(timeout=timeout)
    use_tls, use_ssl = env_bool("EMAIL_USE_TLS", False), env_bool("EMAIL_USE_SSL", False)
    if use_tls and use_ssl:
        raise ImproperlyConfigured("EMAIL_USE_TLS and EMAIL_USE_SSL are both on; choose one")
    if not env_str("EMAIL_HOST").strip():
        raise ImproperlyConfigured(f"EMAIL_HOST must be set with {', '.join(smtp_set)}")
    return MailConfig(
        backend=SMTP_BACKEND,
        host=env_str("EMAIL_HOST").strip(),
        port=env_int("EMAIL_PORT", 465 if use_ssl else 587 if use_tls else 25, minimum=1),
        user=env_str("EMAIL_HOST_USER"),
        password=env_str("EMAIL_HOST_PASSWORD"),
        use_tls=use_tls,
        use_ssl=use_ssl,
        timeout=timeout,
    )


def from_address(name: str, value: str) -> str:
    """`value` (variable `name`) if it is a sender mail servers take: an address, optionally with a display name."""
    _display, address = parseaddr(value)
    local, _at, domain = address.rpartition("@")
    if not local or not domain or any(c.isspace() for c in address):
        raise ImproperlyConfigured(f"{name} must be an address (noreply@example.org, or TorrentPier <noreply@example.org>); got {value!r}")
    return value


def site_url(name: str, value: str) -> str:
    """`value` (variable `name`) without its trailing slash, if it is an http(s) URL with a host and no query."""
    try:
        parts = urlsplit(value.strip())
        parts.port  # noqa: B018  # raises on a malformed port
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be http(s)://host[:port][/path]; got {value!r}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment or parts.username:
        raise ImproperlyConfigured(f"{name} must be http(s)://host[:port][/path] (the address members open); got {value!r}")
    return value.strip().rstrip("/")
