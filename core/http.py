"""HTTP helpers both fronts use (the API and the pages)."""

from urllib.parse import quote

from django.http import HttpResponse
from django.utils.cache import add_never_cache_headers


def content_disposition(filename: str) -> str:
    """A Content-Disposition header value safe for any file name (RFC 6266 / 5987)."""
    ascii_name = "".join(c if c.isascii() and c.isprintable() and c not in '"\\/' else "_" for c in filename)
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"


def attachment_response(body: bytes, *, filename: str, content_type: str) -> HttpResponse:
    """`body` as a file download named `filename`, never stored by a cache (a .torrent carries the passkey)."""
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = content_disposition(filename)
    response["Content-Length"] = str(len(body))
    add_never_cache_headers(response)
    return response
