"""Helpers for the mail tests: the links in the mails Django's test backend keeps, a mail server that is down."""

import re
import socket
from typing import Any

from django.core import mail

LINK = re.compile(r"(?P<base>https?://[^/\s]+)(?P<path>/(?P<kind>email/confirm|password/reset)/(?P<uid>[^/\s]+)/(?P<token>[^/\s]+)/)")


def links_in(message: Any) -> list[re.Match[str]]:
    """Every confirmation or reset link in a mail's body."""
    return list(LINK.finditer(message.body))


def only_link(kind: str) -> re.Match[str]:
    """The one link of `kind` ("email/confirm" or "password/reset") in the one mail sent so far."""
    assert len(mail.outbox) == 1, [m.subject for m in mail.outbox]
    links = [link for link in links_in(mail.outbox[0]) if link["kind"] == kind]
    assert len(links) == 1, mail.outbox[0].body
    return links[0]


def closed_port() -> int:
    """A local TCP port nothing listens on (bound, then let go): connecting to it is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def mail_server_down(settings: Any) -> None:
    """Send mail through Django's real SMTP backend to a port where no server answers."""
    options = {"host": "127.0.0.1", "port": closed_port(), "timeout": 2}
    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.smtp.EmailBackend", "OPTIONS": options}}
