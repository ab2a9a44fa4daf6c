"""The success envelope, added in one place."""

from collections.abc import Mapping
from typing import Any

from rest_framework.renderers import JSONRenderer


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
            body: dict[str, Any] = {"success": True, "data": data}
            meta = getattr(response, "pagination_meta", None)
            if meta is not None:
                body["meta"] = meta
            return super().render(body, accepted_media_type, renderer_context)
        return super().render(data, accepted_media_type, renderer_context)
