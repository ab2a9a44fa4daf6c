"""OpenAPI schema generation (drf-spectacular) that knows our envelopes."""

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema


class EnvelopeAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema; envelope wrapping is added by the schema hooks."""


class BearerAuthenticationScheme(OpenApiAuthenticationExtension):
    """Describe BearerAuthentication as HTTP bearer (JWT)."""

    target_class = "accounts.authentication.BearerAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
