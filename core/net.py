"""Who is asking: the client's IP address."""

import ipaddress
import socket

from django.conf import settings
from django.http import HttpRequest


def _is_trusted(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return any(addr in net for net in settings.TRUSTED_PROXIES)


def is_plain_ipv4(value: str) -> bool:
    """Whether `value` is an IPv4 address in canonical dotted-decimal form (what str(IPv4Address) gives).

    inet_pton takes exactly four decimal octets without leading zeros, as
    ipaddress does, and costs a fraction of parsing with it.
    """
    try:
        socket.inet_pton(socket.AF_INET, value)
    except (OSError, ValueError):  # ValueError: an embedded NUL
        return False
    return True


def client_ip(request: HttpRequest) -> str:
    """Return the client address: REMOTE_ADDR, or X-Forwarded-For via a trusted proxy."""
    return client_ip_from(request.META.get("REMOTE_ADDR", ""), request.META.get("HTTP_X_FORWARDED_FOR", ""))


def client_ip_from(remote: str, forwarded: str) -> str:
    """The client address given the peer address `remote` and the X-Forwarded-For header `forwarded`.

    X-Forwarded-For is believed only when `remote` is one of TRUSTED_PROXIES.
    It is read right to left and the first address that is not a trusted
    proxy is the client; anything a client could forge to the left of that
    is ignored.
    """
    if not settings.TRUSTED_PROXIES and is_plain_ipv4(remote):
        return remote  # already the canonical form (the common case, and the cheapest)
    try:
        addr = ipaddress.ip_address(remote)
    except ValueError:
        return remote
    if not settings.TRUSTED_PROXIES or not _is_trusted(addr):
        return str(addr)
    for item in reversed([part.strip() for part in forwarded.split(",") if part.strip()]):
        try:
            hop = ipaddress.ip_address(item)
        except ValueError:
            break
        if not _is_trusted(hop):
            return str(hop)
        addr = hop
    return str(addr)
