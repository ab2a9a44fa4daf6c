"""The success envelope, added in one place."""

import json
from collections.abc import Mapping
from typing import Any

from rest_framework.renderers import JSONRenderer


class EncodedJSON:
    """A response's data already written as JSON, by the renderer's own rules (`encode`), to be sent as it is.

    For what is kept and served many times (a shared page of a list: its
    rows are written once when the page is made, not on every hit, and the
    cache holds bytes, cheap to unpickle). The envelope around it is still
    written per response, so `meta` and the rest stay the contract's.
    """

    __slots__ = ("encoded",)

    def __init__(self, data: Any) -> None:
        self.encoded = EnvelopeRenderer().render(data)

    def __getstate__(self) -> bytes:
        return self.encoded

    def __setstate__(self, state: bytes) -> None:
        self.encoded = state


# Stands for EncodedJSON's bytes in the envelope while it is written; the only string in it.
_ENCODED_MARK = "\x00encoded\x00"


class EnvelopeRenderer(JSONRenderer):
    """Wrap a view's data as {"success": true, "data": ...} (plus "meta" for pages).

    Error responses arrive already enveloped by the exception handler; 204
    responses have no body.
    """

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Mapping[str, Any] | None = None) -> bytes:
        response = (renderer_context or {}).get("response")
        if response is not None:
            if response.status_code == 204:
                return b""
            if getattr(response, "exception", False) or response.status_code >= 400:
                return super().render(data, accepted_media_type, renderer_context)
            encoded = data.encoded if isinstance(data, EncodedJSON) else None
            if encoded is not None and self.get_indent(accepted_media_type or "", renderer_context or {}) is not None:
                data, encoded = json.loads(encoded), None  # pretty-printed on request (Accept: ...; indent=4): written whole
            body: dict[str, Any] = {"success": True, "data": data if encoded is None else _ENCODED_MARK}
            meta = getattr(response, "pagination_meta", None)
            if meta is not None:
                body["meta"] = meta
            rendered = super().render(body, accepted_media_type, renderer_context)
            if encoded is None:
                return rendered
            mark = json.dumps(_ENCODED_MARK).encode()
            head, found, tail = rendered.partition(mark)
            if not found or mark in tail:  # cannot be: the envelope's other values are numbers and booleans
                raise ValueError("the envelope holds the encoded data's mark other than once")
            return head + encoded + tail
        if isinstance(data, EncodedJSON):
            return data.encoded
        return super().render(data, accepted_media_type, renderer_context)
